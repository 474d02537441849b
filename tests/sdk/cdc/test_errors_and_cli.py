"""Bad configuration gets a message saying how to fix it; the cdc CLI verbs."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from confluent_kafka.admin import AdminClient
from psycopg2.extensions import make_dsn, parse_dsn
from typer.testing import CliRunner

from meshkit.cdc import Capture, catalog
from meshkit.cdc.config import build_config
from meshkit.cli import app
from meshkit.errors import ConfigError, ServiceError
from meshkit.local.postgres import Postgres
from meshkit.local.settings import LocalSettings
from tests.sdk.cdc.helpers import Env, read_topic, running

pytestmark = pytest.mark.services


def _with_user(dsn: str, user: str) -> str:
    return make_dsn(**{**parse_dsn(dsn), "user": user})


def _dbname(dsn: str) -> str:
    return str(parse_dsn(dsn)["dbname"])


def _prepare_error(config_kwargs: dict[str, object], env: Env) -> str:
    config = env.config(["public.present"], **config_kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as info:
        Capture(config).prepare()
    return str(info.value)


@pytest.fixture
def present(cdc_env: Env) -> Env:
    cdc_env.sql("CREATE TABLE IF NOT EXISTS present (id int PRIMARY KEY)")
    return cdc_env


def test_wrong_dsn(present: Env) -> None:
    message = _prepare_error({"dsn": "postgresql://postgres@127.0.0.1:1/postgres"}, present)
    assert "cannot connect to the source database postgresql://postgres@127.0.0.1:1/postgres" in (
        message
    )
    assert "fix: check host, port, database name, user and password" in message


def test_password_is_never_printed(present: Env) -> None:
    message = _prepare_error({"dsn": "postgresql://u:hunter2@127.0.0.1:1/db"}, present)
    assert "hunter2" not in message
    assert "u:***@127.0.0.1:1/db" in message


def test_missing_table(present: Env) -> None:
    config = present.config(["public.present", "public.absent", "other.nothing"])
    with pytest.raises(ConfigError) as info:
        Capture(config).prepare()
    message = str(info.value)
    assert (
        f"table(s) not found in database {_dbname(present.dsn)!r}: public.absent, other.nothing"
        in message
    )
    assert "fix: create them, or correct the 'tables' list" in message


def test_role_without_replication(present: Env) -> None:
    role = f"cdc_plain_{_dbname(present.dsn)}"
    present.sql(f"CREATE ROLE {role} LOGIN", f"GRANT SELECT ON present TO {role}")
    try:
        message = _prepare_error({"dsn": _with_user(present.dsn, role)}, present)
    finally:
        present.sql(f"DROP OWNED BY {role}", f"DROP ROLE {role}")
    assert f"role {role!r} may not read a replication stream" in message
    assert f'fix: ALTER ROLE "{role}" WITH REPLICATION;' in message


@pytest.mark.slow
def test_wal_level_not_logical(tmp_path: Path, kafka_broker: str) -> None:
    # a second server, started by the local stack's own code, then set back to replica
    server = Postgres(LocalSettings(state_dir=tmp_path / "pg-replica", postgres_port=0))
    server.start()
    try:
        dsn = server.dsn()
        assert dsn is not None
        with contextlib.closing(psycopg2.connect(dsn)) as conn:
            conn.autocommit = True
            conn.cursor().execute("ALTER SYSTEM SET wal_level = replica")
        server.stop()
        server.start()
        dsn = server.dsn()
        assert dsn is not None
        config = build_config(
            dsn=dsn, tables=["public.x"], topic_prefix="p", bootstrap_servers=kafka_broker
        )
        with pytest.raises(ConfigError) as info:
            Capture(config).prepare()
    finally:
        server.stop()
    message = str(info.value)
    assert "has wal_level=replica; CDC needs logical decoding" in message
    assert "fix: run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL" in message


def test_bad_config_file(tmp_path: Path) -> None:
    path = tmp_path / "cdc.yaml"
    path.write_text("dsn: x\ntables: [public.a]\nslot: Bad-Name\nsnapshot_mode: sometimes\n")
    result = CliRunner().invoke(app, ["cdc", "connector-config", "--config", str(path)])
    assert result.exit_code == 1
    message = str(result.exception)
    assert f"{path}: field 'slot': Value error, use 1-63 lowercase letters" in message
    assert f"{path}: field 'snapshot_mode': Input should be 'initial' or 'no_data'" in message


def test_cli_run_reports_bad_config_without_traceback(present: Env) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from meshkit.cli import main; main()", "cdc", "run", "-q",
         "--dsn", present.dsn, "--table", "public.absent", "--topic-prefix", "x",
         "--bootstrap-servers", present.bootstrap, "--state-dir", str(present.state_dir)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"table(s) not found in database {_dbname(present.dsn)!r}: public.absent" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_status_and_reset(present: Env) -> None:
    present.sql("CREATE TABLE IF NOT EXISTS statused (id int PRIMARY KEY)")
    config = present.config(["public.statused"], snapshot_mode="no_data")
    with running(config):
        present.sql("INSERT INTO statused SELECT generate_series(1, 100)")
        read_topic(present.bootstrap, f"{config.topic_prefix}.public.statused", count=100)
    common = ["--dsn", present.dsn, "--slot", config.slot, "--publication", config.publication,
              "--state-dir", str(present.state_dir)]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, ["cdc", "status", *common, "--format", "json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["exists"] is True
    assert status["active"] is False
    assert status["publication_tables"] == ["public.statused"]
    assert status["events_total"] == 100
    assert status["snapshot_completed"] is True
    assert status["confirmed_lsn"].count("/") == 1
    assert status["lag_bytes"] >= 0
    assert status["warnings"] == []
    # the retained-WAL warning, with a threshold of 0 bytes
    cfg_file = present.state_dir / "cdc.yaml"
    cfg_file.write_text("wal_warn_bytes: 0\n")
    result = runner.invoke(app, ["cdc", "status", "--config", str(cfg_file), *common])
    assert "no capture is reading it; start 'meshkit cdc run', or drop the slot" in result.output

    result = runner.invoke(app, ["cdc", "reset", *common], input="n\n")
    assert result.exit_code == 1
    assert "nothing dropped" in result.output
    result = runner.invoke(app, ["cdc", "reset", *common, "--yes"])
    assert result.exit_code == 0, result.output
    assert f"slot {config.slot}: dropped; publication {config.publication}: dropped" in (
        result.output
    )
    result = runner.invoke(app, ["cdc", "status", *common])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_slot_that_outlived_its_topics_is_refused(present: Env) -> None:
    present.sql("CREATE TABLE IF NOT EXISTS outlived (id int PRIMARY KEY)")
    present.sql("INSERT INTO outlived VALUES (1) ON CONFLICT DO NOTHING")
    config = present.config(["public.outlived"])
    topic = f"{config.topic_prefix}.public.outlived"
    with running(config):
        read_topic(present.bootstrap, topic, count=1)
    # the broker's data is wiped, PostgreSQL keeps the slot
    admin = AdminClient({"bootstrap.servers": present.bootstrap})
    admin.delete_topics([topic])[topic].result(15)
    capture = Capture(config)
    with pytest.raises(ServiceError) as info:
        capture.prepare()
    catalog.close_quietly(capture._meta)
    message = str(info.value)
    assert f"replication slot {config.slot} has captured into topic(s)" in message
    assert topic in message
    assert "run 'meshkit cdc reset'" in message
    common = ["--dsn", present.dsn, "--slot", config.slot, "--publication", config.publication,
              "--state-dir", str(present.state_dir)]  # fmt: skip
    result = CliRunner().invoke(app, ["cdc", "reset", *common, "--yes"])
    assert result.exit_code == 0, result.output
    # after the reset the capture snapshots into a new topic: the row is there again
    with running(config):
        events = read_topic(present.bootstrap, topic, count=1)
    assert len(events) == 1
