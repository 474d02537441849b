"""Fixtures of the port tests: the customer contract and a masker with a real key store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meshkit.contracts import Contract
from meshkit.privacy import LocalKeyStore, Masker
from tests.sdk.ports.helpers import load


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load("customer")


@pytest.fixture(scope="session")
def masker(
    contract: Contract, tmp_path_factory: pytest.TempPathFactory, session_master_key: str
) -> Iterator[Masker]:
    """The contract's masker over a key store in a temporary directory."""
    store_dir: Path = tmp_path_factory.mktemp("keys")
    with LocalKeyStore.open(store_dir) as store:
        store.create_token_key("customer")
        yield Masker.from_contract(contract, store=store)
