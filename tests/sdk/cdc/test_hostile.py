"""Hostile and careless input to the capture: names that try to break out of SQL, names
Kafka cannot carry, tables the application could no longer update once published,
unchanged TOAST values of every type, key columns that do not exist, and DSNs that carry
a password into an error message."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka.admin import AdminClient
from psycopg2.extensions import make_dsn, parse_dsn
from typer.testing import CliRunner

from meshkit.cdc import Capture, CaptureConfig, Progress, build_config, catalog
from meshkit.cdc.catalog import TableName
from meshkit.cdc.debezium import UNAVAILABLE
from meshkit.cdc.sources import load_sources
from meshkit.cli import app
from meshkit.contracts import parse_contract
from meshkit.errors import ConfigError, MeshkitError
from meshkit.privacy import Masker
from meshkit.redaction import MALFORMED_DSN, redact_dsn
from meshkit.streaming import MapStep, Pipeline, parse_envelopes
from meshkit.streaming.records import RawMessage, SourcePosition
from tests.sdk.cdc.helpers import Env, Running, read_topic, running

pytestmark = pytest.mark.services

EVIL = 'evil" ; DROP TABLE victim; --'


def _refused(config: CaptureConfig) -> MeshkitError:
    """The error a capture run refuses with (failing the test if it streams instead)."""
    stop = threading.Event()

    def streaming(progress: Progress) -> None:
        if progress.phase == "streaming":
            stop.set()

    try:
        Capture(config, on_progress=streaming).run(stop)
    except MeshkitError as exc:
        return exc
    raise AssertionError("the capture started streaming instead of refusing")


def _exists(env: Env, what: str, name: str) -> bool:
    queries = {
        "table": "SELECT 1 FROM pg_class WHERE relname = %s",
        "publication": "SELECT 1 FROM pg_publication WHERE pubname = %s",
        "slot": "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s",
    }
    return bool(env.sql(queries[what], args=(name,)))


# ------------------------------------------------------------------ SQL identifiers


def test_evil_table_name_does_not_drop_victim(cdc_env: Env) -> None:
    cdc_env.sql(
        "CREATE TABLE victim (id int PRIMARY KEY)",
        'CREATE TABLE "evil"" ; DROP TABLE victim; --" (id int PRIMARY KEY)',
    )
    conn = catalog.connect(cdc_env.dsn)
    try:
        catalog.ensure_publication(conn, "p_evil", [TableName("public", EVIL)])
        catalog.ensure_publication(conn, "p_evil", [TableName("public", EVIL)])  # ALTER path
        assert catalog.drop_publication(conn, "p_evil")
    finally:
        catalog.close_quietly(conn)
    assert _exists(cdc_env, "table", "victim")
    assert _exists(cdc_env, "table", EVIL)


def test_weird_column_and_table_names_snapshot_and_stream(cdc_env: Env) -> None:
    cdc_env.sql(
        'CREATE TABLE "Mixed-Case" ("i""d" int PRIMARY KEY, "we""ird" text, "select" int)',
        """INSERT INTO "Mixed-Case" VALUES (1, 'snap', 10)""",
    )
    config = cdc_env.config(["public.Mixed-Case"])
    with running(config):
        cdc_env.sql(
            """INSERT INTO "Mixed-Case" VALUES (2, 'stream', 20)""",
            """UPDATE "Mixed-Case" SET "we""ird" = 'changed' WHERE "i""d" = 1""",
        )
        events = read_topic(cdc_env.bootstrap, f"{config.topic_prefix}.public.Mixed-Case", count=3)
    assert [(e.value["op"], e.key, e.value["after"]) for e in events] == [
        ("r", {'i"d': 1}, {'i"d': 1, 'we"ird': "snap", "select": 10}),
        ("c", {'i"d': 2}, {'i"d': 2, 'we"ird': "stream", "select": 20}),
        ("u", {'i"d': 1}, {'i"d': 1, 'we"ird': "changed", "select": 10}),
    ]


def test_table_names_kafka_cannot_carry_are_refused_at_lint(tmp_path: Path) -> None:
    long_name = "t" * 245
    for table, why in [
        (EVIL, "not a valid Kafka topic name"),
        ("with space", "not a valid Kafka topic name"),
        ("tablé", "not a valid Kafka topic name"),
        (long_name, "longer than 249 characters"),
    ]:
        with pytest.raises(ConfigError) as info:
            build_config(dsn="postgresql://x@h/db", tables=[f"public.{table}"], topic_prefix="p")
        message = str(info.value)
        assert f"table 'public.{table}'" in message or f'table "public.{table}"' in message
        assert why in message
        assert "fix:" in message
    # through every verb that reads the configuration (here: connector-config)
    path = tmp_path / "cdc.yaml"
    path.write_text("dsn: postgresql://x@h/db\ntopic_prefix: p\ntables: ['public.with space']\n")
    result = CliRunner().invoke(app, ["cdc", "connector-config", "--config", str(path)])
    assert result.exit_code == 1
    assert "table 'public.with space'" in str(result.exception)
    with pytest.raises(ConfigError, match="topic_prefix"):
        build_config(dsn="postgresql://x@h/db", tables=["public.ok"], topic_prefix="p q")


# ------------------------------------------------------------- pre-flight checks


@pytest.mark.parametrize(
    ("ddl", "identity"),
    [
        ("CREATE TABLE {t} (id int, n int)", "DEFAULT"),
        ("CREATE TABLE {t} (id int PRIMARY KEY, n int); ALTER TABLE {t} REPLICA IDENTITY NOTHING",
         "NOTHING"),
        ("CREATE TABLE {t} (id int NOT NULL, n int); CREATE UNIQUE INDEX {t}_ix ON {t} (id);"
         "ALTER TABLE {t} REPLICA IDENTITY USING INDEX {t}_ix; DROP INDEX {t}_ix", "INDEX"),
    ],
)  # fmt: skip
def test_table_without_replica_identity_is_refused_before_anything(
    cdc_env: Env, ddl: str, identity: str
) -> None:
    table = f"noident_{identity.lower()}"
    cdc_env.sql(*ddl.format(t=table).split(";"), f"INSERT INTO {table} VALUES (1, 0)")
    cdc_env.sql("CREATE TABLE IF NOT EXISTS fine (id int PRIMARY KEY)")
    config = cdc_env.config(["public.fine", f"public.{table}"])
    error = _refused(config)
    assert isinstance(error, ConfigError)
    message = str(error)
    assert f"public.{table}" in message
    assert "public.fine" not in message
    assert "UPDATE and DELETE" in message
    assert f'ALTER TABLE "public"."{table}" ADD PRIMARY KEY' in message
    assert f'ALTER TABLE "public"."{table}" REPLICA IDENTITY FULL' in message
    assert "REPLICA IDENTITY USING INDEX" in message
    # nothing was created, and the application can still update and delete its rows
    assert not _exists(cdc_env, "publication", config.publication)
    assert not _exists(cdc_env, "slot", config.slot)
    cdc_env.sql(f"UPDATE {table} SET n = 1", f"DELETE FROM {table}")
    # the fix works
    cdc_env.sql(f"ALTER TABLE {table} REPLICA IDENTITY FULL")
    with running(config):
        cdc_env.sql(f"INSERT INTO {table} VALUES (2, 0)", f"UPDATE {table} SET n = 5")
        events = read_topic(cdc_env.bootstrap, f"{config.topic_prefix}.public.{table}", count=2)
    assert [e.value["after"] for e in events] == [{"id": 2, "n": 0}, {"id": 2, "n": 5}]


def test_a_run_that_fails_at_start_leaves_no_publication_or_slot(cdc_env: Env) -> None:
    cdc_env.sql(
        "CREATE TABLE bulky (id int PRIMARY KEY, body text)",
        "INSERT INTO bulky VALUES (1, repeat('x', 50000))",
    )
    # the producer refuses the snapshot's row: the run fails after creating its slot
    config = cdc_env.config(["public.bulky"], producer={"message.max.bytes": 10_000})
    _refused(config)
    assert not _exists(cdc_env, "publication", config.publication)
    assert not _exists(cdc_env, "slot", config.slot)
    # a publication and slot that existed before a failing run are kept
    ok = cdc_env.config(["public.bulky"], slot=config.slot, publication=config.publication)
    cdc_env.sql("DELETE FROM bulky")
    with running(ok):
        pass
    failing = cdc_env.config(
        ["public.bulky"], slot=config.slot, publication=config.publication,
        key_columns={"public.bulky": ["nope"]},
    )  # fmt: skip
    assert isinstance(_refused(failing), ConfigError)
    assert _exists(cdc_env, "publication", config.publication)
    assert _exists(cdc_env, "slot", config.slot)


def test_unknown_key_columns_are_refused(cdc_env: Env) -> None:
    cdc_env.sql("CREATE TABLE keyed (id int PRIMARY KEY, code text)")
    config = cdc_env.config(["public.keyed"], key_columns={"public.keyed": ["code", "kode"]})
    message = str(_refused(config))
    assert "key_columns of public.keyed: no column 'kode'" in message
    assert "columns: id, code" in message
    assert not _exists(cdc_env, "publication", config.publication)
    other = cdc_env.config(["public.keyed"], key_columns={"public.other": ["id"]})
    assert "key_columns names public.other, which is not captured" in str(_refused(other))
    good = cdc_env.config(["public.keyed"], key_columns={"public.keyed": ["code"]})
    with running(good):
        cdc_env.sql("INSERT INTO keyed VALUES (1, 'A-1')")
        (event,) = read_topic(cdc_env.bootstrap, f"{good.topic_prefix}.public.keyed", count=1)
    assert event.key == {"code": "A-1"}


def test_a_key_column_dropped_while_capturing_stops_the_capture(cdc_env: Env) -> None:
    cdc_env.sql("CREATE TABLE rekeyed (id int PRIMARY KEY, code text)")
    config = cdc_env.config(["public.rekeyed"], key_columns={"public.rekeyed": ["code"]})
    run = Running(config).start()
    cdc_env.sql("INSERT INTO rekeyed VALUES (1, 'A')")
    read_topic(cdc_env.bootstrap, f"{config.topic_prefix}.public.rekeyed", count=1)
    cdc_env.sql("ALTER TABLE rekeyed DROP COLUMN code", "INSERT INTO rekeyed VALUES (2)")
    with pytest.raises(ConfigError) as info:
        run.join_error()
    assert "key_columns of public.rekeyed: column(s) code no longer exist" in str(info.value)
    events = read_topic(cdc_env.bootstrap, f"{config.topic_prefix}.public.rekeyed")
    assert [e.key for e in events] == [{"code": "A"}]  # no event with a null key


def test_topic_replication_factor(cdc_env: Env, caplog: pytest.LogCaptureFixture) -> None:
    cdc_env.sql("CREATE TABLE replicated (id int PRIMARY KEY)")
    admin = AdminClient({"bootstrap.servers": cdc_env.bootstrap})

    def replicas(topic: str) -> int:
        return len(admin.list_topics(topic, timeout=10).topics[topic].partitions[0].replicas)

    configured = cdc_env.config(["public.replicated"], topic_replication_factor=3)
    Capture(configured).prepare()
    assert replicas(f"{configured.topic_prefix}.public.replicated") == 3
    # not configured: the broker's default.replication.factor; this broker does not report
    # it, so the broker decides (-1) and the capture says so
    default = cdc_env.config(["public.replicated"])
    with caplog.at_level(logging.WARNING, logger="meshkit.cdc"):
        Capture(default).prepare()
    assert "did not report default.replication.factor" in caplog.text
    assert replicas(f"{default.topic_prefix}.public.replicated") >= 1


# ------------------------------------------------------------------ TOAST values


CONTRACT = """
domain: shop
name: doc
version: 1.0.0
owner: {team: shop, contact: shop@example.com}
fields:
  - {name: id, type: integer, required: true}
  - {name: n, type: integer}
  - {name: blob, type: bytes}
  - {name: tags, type: array<string>}
  - {name: doc, type: json}
  - {name: body, type: string}
primary_key: [id]
ports:
  inputs:
    - {kind: cdc, database: shop, schema: public, table: toasted}
"""


def _messages(values: list[dict[str, Any]]) -> list[RawMessage]:
    topic = "shop.cdc.public.toasted"
    return [
        RawMessage(b'{"id": 1}', orjson.dumps(v), SourcePosition(topic, 0, i))
        for i, v in enumerate(values)
    ]


def test_unchanged_toast_placeholders_are_never_data(cdc_env: Env) -> None:
    cdc_env.sql(
        "CREATE TABLE toasted (id int PRIMARY KEY, n int, blob bytea, tags text[], doc jsonb, "
        "body text)",
        "ALTER TABLE toasted ALTER blob SET STORAGE EXTERNAL, ALTER tags SET STORAGE EXTERNAL, "
        "ALTER doc SET STORAGE EXTERNAL, ALTER body SET STORAGE EXTERNAL",
    )
    config = cdc_env.config(["public.toasted"], snapshot_mode="no_data")
    big = "repeat('y', 3000)"  # over 2 KB: stored out of line
    with running(config):
        cdc_env.sql(
            f"INSERT INTO toasted VALUES (1, 0, convert_to({big}, 'UTF8'), "
            f"ARRAY[{big}, 'b'], jsonb_build_object('k', {big}), {big})",
            "UPDATE toasted SET n = 1 WHERE id = 1",
        )
        events = read_topic(cdc_env.bootstrap, f"{config.topic_prefix}.public.toasted", count=2)
    after = events[1].value["after"]
    # the capture writes Debezium's placeholders, as Debezium does
    assert after["n"] == 1
    assert base64.b64decode(after["blob"]) == UNAVAILABLE.encode()
    assert after["tags"] == [UNAVAILABLE]
    assert after["doc"] == UNAVAILABLE
    assert after["body"] == UNAVAILABLE
    # ... and the streaming map refuses each of them, naming the column, never as data
    contract, problems = parse_contract(CONTRACT)
    assert contract is not None, problems
    out = MapStep(contract)(parse_envelopes(_messages([e.value for e in events])).records)
    assert len(out.oks) == 1  # the insert
    assert out.oks[0].record["body"] == "y" * 3000
    (failure,) = out.errs
    assert "unchanged TOAST value" in failure.reason
    assert "REPLICA IDENTITY FULL" in failure.reason
    for column in ("blob", "tags", "doc", "body"):
        placeholder_only = {**after, **dict.fromkeys(("blob", "tags", "doc", "body"))}
        placeholder_only[column] = after[column]
        value = {**events[1].value, "after": placeholder_only}
        single = MapStep(contract)(parse_envelopes(_messages([value])).records)
        assert single.oks == [], column
        assert single.errs[0].field == column
        # the whole streaming pipeline, columnar (a poll as columns) and record by record
        for columnar in (True, False):
            batch = Pipeline(contract, Masker([]), columnar=columnar)(
                _messages([e.value for e in events] + [value])
            )
            assert [c.op for c in batch.changes] == ["upsert"], (column, columnar)
            assert [f.field for f in batch.failures] == ["blob", column], (column, columnar)


# --------------------------------------------------------------------- DSNs


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql:/u:hunter2@127.0.0.1/db",  # one slash: a key=value string to libpq
        "user=u password=hunter2 host",  # a key without a value
        "user=u password='hunter2 x' host=127.0.0.1 port=notaport",
        "postgresql://u:hunter2@127.0.0.1:notaport/db",
        "postgresql://u:hunt@er2@127.0.0.1:1/db",
        "postgresql://u@127.0.0.1:1/db?password=hunter2",
    ],
)
def test_malformed_dsn_never_prints_the_password(dsn: str, tmp_path: Path) -> None:
    secret = "hunt@er2" if "hunt@er2" in dsn else "hunter2"
    state = ["--state-dir", str(tmp_path)]
    for verb in (["run", "-q", "-t", "public.x", "--topic-prefix", "p", "-b", "127.0.0.1:1",
                  *state], ["status", *state], ["reset", "--yes", *state],
                 ["connector-config", "-t", "public.x", "--topic-prefix", "p"]):  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-c", "from meshkit.cli import main; main()", "cdc", *verb,
             "--dsn", dsn],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        output = result.stdout + result.stderr
        if verb[0] == "connector-config" and result.returncode == 0:
            assert secret not in output, verb  # a well-formed URL: the password is a reference
            continue
        assert result.returncode == 1, (verb, output)
        assert "Traceback" not in output, (verb, output)
        assert secret not in output, (verb, output)
        assert "***" in output or "not a valid" in output, (verb, output)


def test_redact() -> None:
    cases = {
        "postgresql://u:pw@h:5432/db": "postgresql://u:***@h:5432/db",
        "postgresql://u:p@w@h/db": "postgresql://u:***@h/db",
        "postgresql://u@h/db?sslmode=require&password=pw": (
            "postgresql://u@h/db?sslmode=require&password=***"
        ),
        "host=h password=pw user=u": "host=h password=*** user=u",
        "host=h password = 'p w\\' x' user=u": "host=h password = *** user=u",
        "host=h PASSWORD='unterminated": MALFORMED_DSN,
        "postgresql:/u:pw@h/db": MALFORMED_DSN,
        "postgresql://h/db": "postgresql://h/db",
    }
    for dsn, expected in cases.items():
        assert redact_dsn(dsn) == expected, dsn


def test_the_configuration_does_not_show_the_dsn() -> None:
    config = build_config(dsn="postgresql://u:hunter2@h/db", tables=["public.x"])
    assert "hunter2" not in repr(config)


def test_contract_cdc_port_with_a_table_kafka_cannot_carry(tmp_path: Path) -> None:
    fixture = Path(__file__).parents[2] / "fixtures" / "cdc" / "contracts"
    (source,) = sorted(fixture.glob("*.yaml"))
    path = tmp_path / source.name
    path.write_text(source.read_text().replace("table: cdc_accounts", "table: 'cdc accounts'"))
    with pytest.raises(ConfigError) as info:
        load_sources(tmp_path)
    message = str(info.value)
    assert f"{path}: CDC input port 'accounts': table 'public.cdc accounts'" in message
    assert "not a valid Kafka topic name" in message


def test_a_table_the_role_may_not_read_is_refused_before_anything(cdc_env: Env) -> None:
    cdc_env.sql("CREATE TABLE secret (id int PRIMARY KEY)")
    role = f"cdc_noselect_{parse_dsn(cdc_env.dsn)['dbname']}"
    cdc_env.sql(f"CREATE ROLE {role} LOGIN REPLICATION")
    try:
        dsn = make_dsn(cdc_env.dsn, user=role)
        config = cdc_env.config(["public.secret"], dsn=dsn)
        message = str(_refused(config))
    finally:
        cdc_env.sql(f"DROP OWNED BY {role}", f"DROP ROLE {role}")
    assert "table public.secret: the role may not read it" in message
    assert 'fix: GRANT SELECT ON "public"."secret" TO' in message
    assert not _exists(cdc_env, "publication", config.publication)
