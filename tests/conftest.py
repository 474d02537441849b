from collections.abc import Iterator

import pytest

from meshkit.privacy.keys import MASTER_KEY_ENV, new_master_key

pytest_plugins = ["meshkit.testing"]


@pytest.fixture(scope="session")
def session_master_key() -> Iterator[str]:
    """One master key in ``MESHKIT_MASTER_KEY`` for every session-wide key store (the ports
    and the streaming tests each keep one; with a key each, whichever fixture ran last
    would lock the other's store out, depending on the order tests were selected in)."""
    mp = pytest.MonkeyPatch()
    key = new_master_key()
    mp.setenv(MASTER_KEY_ENV, key)
    yield key
    mp.undo()
