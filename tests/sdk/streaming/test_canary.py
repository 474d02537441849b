"""No value of a record in any error path: canary personal data through every failure.

Every record below carries canary values: personal ones (in the product's personal fields
and in source columns the product does not map) that must never appear in a dead letter,
a log record, an exception text or CLI output; and non-personal ones (the key, a note, a
tier) that a dead letter's payload may keep but no message may repeat. Each record fails
one way (parse, map, cast, validate, mask, PII guard, a port's refusal, a port outage)
and the flows run on the real Bytewax runtime, broker and ports.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg2
import pytest
from bytewax.testing import run_main
from psycopg2 import sql
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.contracts import Contract
from meshkit.contracts.loader import parse_contract
from meshkit.ports import (
    DuckDBWarehouseWriter,
    KafkaTopicWriter,
    PortError,
    ServingViewWriter,
)
from meshkit.privacy import LocalKeyStore, Masker
from meshkit.privacy.keys import MASTER_KEY_ENV
from meshkit.streaming import (
    DeadLetters,
    KafkaDeadLetterPort,
    Pipeline,
    PortSet,
    PortSink,
    RawMessage,
    SourcePosition,
    StreamingSettings,
    build_flow,
    dead_letter_topic,
    read_stats,
)
from tests.sdk.streaming.flowkit import (
    Stream,
    consume_all,
    dead_letters,
    setup_input,
    topic_state,
    unique_contract,
)
from tests.sdk.streaming.helpers import envelope

EMAIL = "ada.canary.q7@example.com"
PHONE = "+31 6 55501234"
BIRTH_DAYS = 5549  # 1985-03-12
BIRTH = "1985-03-12"
IP = "198.51.100.77"
SSN = "078-05-1120"
STREET = "Canary Lane 221B"
SALARY = 98765432
NAME = "Augusta Ada Canarius"
BAD_DATE = "02/03/1985 Augusta Ada Canarius"
PERSONAL = [EMAIL, PHONE, "55501234", BIRTH, IP, SSN, STREET, str(SALARY), NAME]
"""Never anywhere: not in a payload, reason, log, exception or CLI output."""

KEY = 73910582
NOTE = "Canary note Q7-Zebra"
TIER = "canary-tier-QX"
BALANCE = "-4711.93"
BAD_BALANCE = "canary-balance-Q7"
NON_PERSONAL = [str(KEY), NOTE, TIER, "4711.93", BAD_BALANCE]
"""Allowed in a dead letter's payload (mapped, non-personal fields), in no message."""

EVERYWHERE = PERSONAL + NON_PERSONAL
OVERSIZED = 4096
VIEW_RULE = "note_is_not_the_canary"

IP_FIELD = (
    "  - {name: tier, type: string, required: true}",
    "  - {name: last_ip, type: string, pii: ip, classification: confidential,\n"
    "     transform: {kind: generalize, to: ipv4_24}}\n"
    "  - {name: tier, type: string, required: true}",
)
TOKENIZED_PHONE = (
    "transform: {kind: mask, keep_last: 4}",
    "transform: {kind: tokenize, key: customer}",
)

pytestmark = [pytest.mark.services, pytest.mark.slow]


def canary_row(**changes: Any) -> dict[str, Any]:
    """A source row with a canary in every column, mapped or not."""
    base: dict[str, Any] = {
        "id": KEY,
        "email_address": EMAIL,
        "phone": PHONE,
        "birth_date": BIRTH_DAYS,
        "tier": "pro",
        "balance_cents_eur": "4711.93",
        "note": NOTE,
        "signed_up_at": "2024-05-01T10:00:00.000000Z",
        "status": "active",
        "last_ip": IP,
        # columns the product does not map
        "ssn": SSN,
        "street": STREET,
        "salary_eur": SALARY,
        "full_name": NAME,
    }
    base.update(changes)
    return base


def canary_stream() -> tuple[Stream, dict[str, int]]:
    """One message per failure (and one good record); the offset of each failure kind."""
    out = Stream()
    at: dict[str, int] = {}
    key = orjson.dumps({"id": KEY})

    def add(kind: str, value: bytes | None) -> None:
        at[kind] = len(out.messages)
        out.messages.append((key, value))

    def event(lsn: int, **changes: Any) -> bytes:
        return orjson.dumps(envelope("c", None, canary_row(**changes), lsn))

    whole = event(100)
    add("parse:invalid-json", whole[: len(whole) // 2])
    add("parse:op", orjson.dumps({**envelope("c", None, canary_row(), 110), "op": EMAIL}))
    add("parse:after", orjson.dumps({**envelope("c", None, None, 120), "after": NAME}))
    add("map:date", event(130, birth_date=BAD_DATE))
    add("map:decimal", event(140, balance_cents_eur=BAD_BALANCE))
    add("map:oversized", event(150, note=(NOTE + " ") * 400))
    add("map:toast", event(160, email_address="__debezium_unavailable_value"))
    add("validate:accepted", event(170, tier=TIER))
    add("validate:range", event(180, balance_cents_eur=BALANCE))
    add("mask:ip", event(190, last_ip=EMAIL))
    add("pii_guard", event(200, note=f"mail {EMAIL} or call {PHONE}"))
    add("ok", event(210))
    return out, at


def leaks(text: str | bytes, canaries: list[str] = EVERYWHERE) -> list[str]:
    """The canaries found in ``text``."""
    data = text if isinstance(text, bytes) else text.encode()
    return [c for c in canaries if c.encode() in data]


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log record as a handler would write it (with tracebacks)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    return "\n".join(handler.format(r) for r in caplog.records)


def assert_letter_clean(letter: dict[str, Any], contract: Contract) -> None:
    """No canary in the reason; no personal canary in the payload; only mapped fields."""
    assert leaks(letter["reason"]) == [], letter["reason"]
    assert leaks(orjson.dumps(letter), PERSONAL) == [], letter
    payload = letter["payload"]
    names = {f.name for f in contract.fields}
    images = [payload]
    if isinstance(payload, dict) and set(payload) == {"op", "before", "after"}:
        images = [payload["before"], payload["after"]]  # an event: its rows
    for image in images:
        if isinstance(image, dict):
            assert set(image) <= names | {"key"}, (letter["step"], sorted(image))


@pytest.fixture
def contracts(tmp_path: Path) -> tuple[Contract, Contract]:
    """The customer product with an IP field (generalized), and the same product as a
    stricter port sees it (the phone tokenized instead of masked)."""
    contract = unique_contract(directory=tmp_path, replace=dict([IP_FIELD]))
    text = (tmp_path / "customer.yaml").read_text().replace(*TOKENIZED_PHONE)
    variant, problems = parse_contract(text)
    assert variant is not None, problems
    return contract, variant


@pytest.fixture
def masker_of(keystore_dir: Path) -> Iterator[Any]:
    stores: list[LocalKeyStore] = []

    def make(contract: Contract) -> Masker:
        stores.append(LocalKeyStore.open(keystore_dir))
        return Masker.from_contract(contract, store=stores[-1])

    yield make
    for s in stores:
        s.close()


def test_every_step_refuses_without_repeating_a_value(
    contracts: tuple[Contract, Contract], masker_of: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The record path and the columnar path: reasons and dead letters of every failure."""
    caplog.set_level(logging.DEBUG)
    contract, _ = contracts
    masker = masker_of(contract)
    stream, at = canary_stream()
    raws = [
        RawMessage(k, v, SourcePosition("canary", 0, i)) for i, (k, v) in enumerate(stream.messages)
    ]
    letters = DeadLetters(contract, masker=masker)
    for columnar in (False, True):
        pipeline = Pipeline(contract, masker, max_value_bytes=OVERSIZED, columnar=columnar)
        batch = pipeline(raws)
        by_offset = {f.source.offset: f for f in batch.failures if f.source is not None}
        for kind, offset in at.items():
            if kind == "ok":
                continue
            failure = by_offset[offset]
            assert failure.step == kind.split(":")[0], (kind, failure)
            assert leaks(failure.reason) == [], (kind, failure.reason)
            letter = letters.of(failure).as_dict()
            assert_letter_clean(letter, contract)
        assert [c.source.offset for c in batch.changes if c.source] == [at["ok"]]
    assert leaks(log_text(caplog)) == []


def test_reasons_name_the_field_its_type_and_the_problem(
    contracts: tuple[Contract, Contract], masker_of: Any
) -> None:
    contract, _ = contracts
    stream, at = canary_stream()
    raws = [
        RawMessage(k, v, SourcePosition("canary", 0, i)) for i, (k, v) in enumerate(stream.messages)
    ]
    batch = Pipeline(contract, masker_of(contract), max_value_bytes=OVERSIZED)(raws)
    reason = {f.source.offset: f.reason for f in batch.failures if f.source is not None}
    assert reason[at["map:date"]] == (
        "field 'birth_date' (column 'birth_date', type date): text is not a date"
    )
    assert reason[at["map:decimal"]] == (
        "field 'balance' (column 'balance_cents_eur', type decimal(12,2)): "
        "text is not a decimal(12,2)"
    )
    assert reason[at["mask:ip"]] == "field 'last_ip': generalize (ip): text is not an IP address"
    assert "'op'" in reason[at["parse:op"]]
    assert reason[at["parse:op"]] == "not a change event: 'op' is text other than c, u, d, r or t"


def test_map_failure_letter_keeps_only_the_products_fields_transformed(
    contracts: tuple[Contract, Contract], masker_of: Any
) -> None:
    contract, _ = contracts
    masker = masker_of(contract)
    stream, at = canary_stream()
    key, value = stream.messages[at["map:decimal"]]
    raw = RawMessage(key, value, SourcePosition("canary", 0, 1))
    (failure,) = Pipeline(contract, masker, columnar=False)([raw]).failures
    letter = DeadLetters(contract, masker=masker).of(failure).as_dict()
    after = letter["payload"]  # the source row, on the product's fields only
    assert set(after) == {f.name for f in contract.fields}
    assert after["customer_id"] == KEY  # the raw source value of a non-personal field
    assert after["balance"] == BAD_BALANCE  # what the cast refused
    assert after["email"].startswith("tok:customer.")
    assert after["phone"] == "*" * (len(PHONE) - 4) + "1234"
    assert str(after["birth_date"]) == "1985-01-01"
    assert after["last_ip"] == "198.51.100.0"
    # without a masker the personal fields are redacted
    plain = DeadLetters(contract).of(failure).as_dict()["payload"]
    assert plain["email"] == plain["phone"] == plain["birth_date"] == "[REDACTED]"


def _open_ports(
    brokers: str, contract: Contract, variant: Contract, warehouse: Path, masker: Masker
) -> PortSet:
    letters = KafkaDeadLetterPort(brokers, dead_letter_topic(contract))
    letters.ensure()
    topic = KafkaTopicWriter(brokers)
    topic.ensure(contract)
    table = DuckDBWarehouseWriter(warehouse)
    table.ensure(variant)  # refuses the masked phone: it wants a token
    return PortSet(
        {"kafka_topic": topic, "warehouse_table": table},
        letters,
        DeadLetters(contract, masker=masker),
    )


def test_flow_dead_letters_and_logs_hold_no_canary(
    kafka_broker: str,
    contracts: tuple[Contract, Contract],
    masker_of: Any,
    keystore_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Parse, map, cast, validate, mask, guard and a port's refusal, on Bytewax."""
    caplog.set_level(logging.DEBUG)
    contract, variant = contracts
    stream, at = canary_stream()
    setup_input(kafka_broker, contract, stream)
    settings = StreamingSettings(
        brokers=kafka_broker,
        keystore_dir=keystore_dir,
        stats_dir=tmp_path / "stats",
        tail=False,
        max_value_bytes=OVERSIZED,
        ports=("kafka_topic", "warehouse_table"),
    )
    masker = masker_of(contract)
    warehouse = tmp_path / "warehouse.duckdb"
    flow = build_flow(
        contract,
        settings,
        open_ports=lambda: _open_ports(kafka_broker, contract, variant, warehouse, masker),
    )
    run_main(flow)

    letters = list(dead_letters(kafka_broker, contract).values())
    steps = sorted(v["step"] for v in letters)
    assert steps == sorted([k.split(":")[0] for k in at if k != "ok"] + ["port:warehouse_table"])
    for letter in letters:
        assert_letter_clean(letter, contract)
    refused = next(v for v in letters if v["step"] == "port:warehouse_table")
    assert refused["field"] == "phone"
    assert refused["payload"]["phone"] == "[REDACTED]"  # the port said it is not transformed
    assert refused["payload"]["email"].startswith("tok:customer.")
    # the good record reached the topic transformed
    (published,) = topic_state(kafka_broker, contract).values()
    assert leaks(orjson.dumps(published), PERSONAL) == []
    stats = read_stats(tmp_path / "stats")["counts"]
    assert stats["dead_letters"] == len(letters)
    assert leaks(log_text(caplog)) == []


def _view_with_rule(dsn: str, contract: Contract) -> None:
    """The serving view's table, with a rule the good canary record breaks (an outage:
    PostgreSQL refuses the whole batch and says which row, with its values)."""
    writer = ServingViewWriter(dsn)
    writer.ensure(contract)
    writer.close()
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (note <> {})").format(
                    sql.Identifier("public", contract.address),
                    sql.Identifier(VIEW_RULE),
                    sql.Literal(NOTE),
                )
            )
    finally:
        conn.close()


def test_port_outage_raises_and_logs_no_canary(
    kafka_broker: str,
    postgres_database: str,
    contracts: tuple[Contract, Contract],
    masker_of: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sink over the real serving view: PostgreSQL rolls the batch back (an outage:
    the flow stops); the error and the port thread's log name the rule, not the row.
    (A failing sink aborts the Bytewax process: the CLI test below runs that.)"""
    caplog.set_level(logging.DEBUG)
    contract, _ = contracts
    masker = masker_of(contract)
    _view_with_rule(postgres_database, contract)
    stream, _at = canary_stream()
    raws = [
        RawMessage(k, v, SourcePosition("canary", 0, i)) for i, (k, v) in enumerate(stream.messages)
    ]
    batch = Pipeline(contract, masker, max_value_bytes=OVERSIZED)(raws)
    view = ServingViewWriter(postgres_database)
    view.ensure(contract)
    letters = KafkaDeadLetterPort(kafka_broker, dead_letter_topic(contract))
    letters.ensure()
    ports = PortSet({"serving_view": view}, letters, DeadLetters(contract, masker=masker))
    part = PortSink(lambda: ports).build_part("ports", "ports-0", None)
    part.write_batch([batch])
    with pytest.raises(PortError) as info:
        part.snapshot()
    with contextlib.suppress(PortError):
        part.close()  # raises the error again, before it closes the ports
    for port in (view, letters):
        with contextlib.suppress(PortError):
            port.close()
    text = "".join(traceback.format_exception(info.value))
    assert VIEW_RULE in text  # the error names the rule...
    assert leaks(text) == [], text  # ...never the row
    logs = log_text(caplog)
    assert VIEW_RULE in logs
    assert leaks(logs) == [], logs


def test_cli_output_holds_no_canary(
    kafka_broker: str,
    postgres_database: str,
    contracts: tuple[Contract, Contract],
    keystore_dir: Path,
    tmp_path: Path,
    session_master_key: str,
) -> None:
    """The flow run by Bytewax's own runner (dead letters, then the outage) and the
    privacy scan of a sample: nothing they print holds a canary."""
    contract, _ = contracts
    stream, _at = canary_stream()
    setup_input(kafka_broker, contract, stream)
    _view_with_rule(postgres_database, contract)
    env = {
        **os.environ,
        MASTER_KEY_ENV: session_master_key,
        "MESHKIT_STREAMING_CONTRACT": str(tmp_path / "customer.yaml"),
        "MESHKIT_STREAMING_BROKERS": kafka_broker,
        "MESHKIT_STREAMING_VIEW_DSN": postgres_database,
        "MESHKIT_STREAMING_KEYSTORE_DIR": str(keystore_dir),
        "MESHKIT_STREAMING_TAIL": "false",
        "MESHKIT_STREAMING_MAX_VALUE_BYTES": str(OVERSIZED),
        "MESHKIT_STREAMING_PORTS": '["kafka_topic", "serving_view"]',
    }
    cmd = [sys.executable, "-m", "bytewax.run", "meshkit.streaming.declarative:flow"]
    run = subprocess.run(cmd, env=env, capture_output=True, timeout=300, check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output.decode(errors="replace")
    assert VIEW_RULE.encode() in output
    assert leaks(output) == [], output.decode(errors="replace")
    # the dead letters it wrote before the outage hold none either
    for m in consume_all(kafka_broker, dead_letter_topic(contract), timeout=5):
        assert leaks(m.value(), PERSONAL) == []

    sample = tmp_path / "sample.csv"
    sample.write_text(
        "id,contact,phone,ssn,street,note\n"
        f'{KEY},{EMAIL},{PHONE},{SSN},"{STREET}","{NOTE}"\n'
        f'{KEY + 1},{EMAIL},{PHONE},{SSN},"{STREET}","mail {EMAIL}"\n',
        encoding="utf-8",
    )
    for fmt in ("table", "json"):
        result = CliRunner().invoke(app, ["privacy", "scan", str(sample), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "contact" in result.output
        assert leaks(result.output, PERSONAL) == [], result.output
