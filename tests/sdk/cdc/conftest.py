from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk.cdc.helpers import Env


@pytest.fixture
def cdc_env(postgres: str, kafka_broker: str, tmp_path: Path) -> Env:
    """The session's PostgreSQL and broker, and a state directory for this test."""
    return Env(dsn=postgres, bootstrap=kafka_broker, state_dir=tmp_path / "cdc-state")
