"""Shared fixtures: meshkit's embedded services (a real broker, PostgreSQL, ...) on demand."""

import base64
import os

import pytest

pytest_plugins = ["meshkit.testing"]


@pytest.fixture(autouse=True)
def local_keys(tmp_path, monkeypatch):
    """A fresh local key store per test (the master key never leaves the test)."""
    monkeypatch.setenv("MESHKIT_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("MESHKIT_PRIVACY_STATE_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("MESHKIT_ENV", "local")
    return tmp_path / "keys"
