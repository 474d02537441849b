"""Tables come from the contracts' CDC input ports; a source change that breaks one is
reported, and its events still flow to the raw topic."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshkit.cdc.sources import load_sources
from meshkit.cli import app
from meshkit.errors import ConfigError
from tests.sdk.cdc.helpers import Env, read_topic, wait_slot_released

CONTRACTS = Path(__file__).parents[2] / "fixtures" / "cdc" / "contracts"


def test_sources_from_contracts() -> None:
    sources = load_sources(CONTRACTS)
    assert sources.domain == "billing"
    assert sources.topic_prefix == "billing.cdc"
    assert sources.tables == ("public.cdc_accounts",)
    assert load_sources(CONTRACTS, database="billing").tables == ("public.cdc_accounts",)
    with pytest.raises(ConfigError, match="no contract has a CDC input port for database 'crm'"):
        load_sources(CONTRACTS, database="crm")


def test_connector_config_from_contracts() -> None:
    result = CliRunner().invoke(
        app, ["cdc", "connector-config", "--contracts", str(CONTRACTS), "--dsn",
              "postgresql://cdc@billing-db:5432/billing"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"topic.prefix": "billing.cdc"' in result.stdout
    assert '"table.include.list": "public.cdc_accounts"' in result.stdout
    assert '"slot.name": "meshkit_billing"' in result.stdout


@pytest.mark.services
@pytest.mark.slow
def test_breaking_change_is_reported_and_events_still_flow(cdc_env: Env, tmp_path: Path) -> None:
    cdc_env.sql(
        "DROP TABLE IF EXISTS cdc_accounts",
        "CREATE TABLE cdc_accounts (id int PRIMARY KEY, plan text, balance_cents int, note text)",
        "INSERT INTO cdc_accounts VALUES (1, 'free', 0, 'x')",
        "SELECT pg_drop_replication_slot('meshkit_billing') FROM pg_replication_slots "
        "WHERE slot_name = 'meshkit_billing'",
    )
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from meshkit.cli import main; main()", "cdc", "run", "-q",
             "--contracts", str(CONTRACTS), "--dsn", cdc_env.dsn,
             "--bootstrap-servers", cdc_env.bootstrap, "--state-dir", str(cdc_env.state_dir)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        topic = "billing.cdc.public.cdc_accounts"
        assert len(read_topic(cdc_env.bootstrap, topic, count=1, timeout=60)) == 1  # snapshot
        cdc_env.sql(
            "ALTER TABLE cdc_accounts DROP COLUMN note",  # not read by the contract
            "INSERT INTO cdc_accounts VALUES (2, 'pro', 100)",
            "ALTER TABLE cdc_accounts DROP COLUMN balance_cents",  # read by the mapping
            "INSERT INTO cdc_accounts VALUES (3, 'plus')",
        )
        events = read_topic(cdc_env.bootstrap, topic, count=3, timeout=60)
        deadline = time.monotonic() + 60  # a condition, polled: the capture reports it
        while "contract broken" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()
        wait_slot_released(cdc_env.dsn, "meshkit_billing")
    assert [e.value["after"] for e in events[1:]] == [
        {"id": 2, "plan": "pro", "balance_cents": 100},
        {"id": 3, "plan": "plus"},
    ]
    output = " ".join(log.read_text().split())
    assert "schema change public.cdc_accounts: dropped note" in output
    assert (
        "contract broken: schema change in public.cdc_accounts breaks contract billing.account "
        "(CDC input port 'accounts'): dropped balance_cents; events still flow to the raw topic"
        in output
    )
    assert output.count("contract broken") == 1
