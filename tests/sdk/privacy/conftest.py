"""Fixtures of the privacy tests: a real SQLite key store under a fresh master key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meshkit.privacy.keys import MASTER_KEY_ENV, LocalKeyStore, new_master_key


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = new_master_key()
    monkeypatch.setenv(MASTER_KEY_ENV, key)
    return key


@pytest.fixture
def store(tmp_path: Path, master_key: str) -> Iterator[LocalKeyStore]:
    with LocalKeyStore.open(tmp_path / "state") as s:
        yield s
