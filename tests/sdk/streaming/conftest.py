"""Fixtures of the streaming tests: contracts and a masker over a real key store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meshkit.contracts import Contract
from meshkit.privacy import LocalKeyStore, Masker
from tests.sdk.streaming.helpers import load


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load("customer")


@pytest.fixture(scope="session")
def keystore_dir(tmp_path_factory: pytest.TempPathFactory, session_master_key: str) -> Path:
    """A key store directory with the 'customer' token key, its master key in the env."""
    directory: Path = tmp_path_factory.mktemp("keys")
    with LocalKeyStore.open(directory) as store:
        store.create_token_key("customer")
    return directory


@pytest.fixture(scope="session")
def masker(contract: Contract, keystore_dir: Path) -> Iterator[Masker]:
    with LocalKeyStore.open(keystore_dir) as store:
        yield Masker.from_contract(contract, store=store)
