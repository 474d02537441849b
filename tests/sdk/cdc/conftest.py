from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk.cdc.helpers import Env


@pytest.fixture
def cdc_env(postgres_database: str, kafka_broker: str, tmp_path: Path) -> Env:
    """A fresh database on the session's PostgreSQL, the broker, and a state directory."""
    return Env(dsn=postgres_database, bootstrap=kafka_broker, state_dir=tmp_path / "cdc-state")
