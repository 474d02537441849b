"""A port's errors name the change (by position), the field, its type and the problem,
never a value of the record: not in the message, not in the chained driver error."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
from elasticsearch import Elasticsearch

from meshkit.contracts import Contract
from meshkit.ports import (
    Change,
    DeadLetter,
    DeliveryError,
    DuckDBWarehouseWriter,
    PortError,
    RecordRefusedError,
    SearchIndexWriter,
    ServingViewWriter,
)
from meshkit.ports.base import describe_error
from meshkit.ports.intake import Intake
from meshkit.ports.kafka import AvroCodec
from meshkit.privacy import Masker
from meshkit.testing import SearchEndpoint
from tests.sdk.ports.helpers import raw

KEY = "c-canary-73910582"
EMAIL = "ada.canary.q7@example.com"
CITY = "Canaryville-Q7"
CANARIES = [KEY, EMAIL, CITY, "73910582"]


def full_text(exc: BaseException) -> str:
    """The exception as a traceback prints it (its message and every chained cause)."""
    return "".join(traceback.format_exception(exc))


def leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def canary(masker: Masker, position: int = 1, **change: Any) -> Change:
    record = {**masker.mask_record(raw(1)), "customer_id": KEY, **change}
    record["address"] = {"city": CITY, "country": "DE"}
    return Change.upsert(record, key=(KEY,), position=position)


def test_a_value_that_does_not_fit_names_field_and_type(contract: Contract, masker: Masker) -> None:
    with pytest.raises(RecordRefusedError) as info:
        Intake(contract, "test").check([canary(masker, visits=EMAIL)])
    message = str(info.value)
    assert "field 'visits'" in message
    assert "text does not fit type integer" in message
    assert "upsert at position 1" in message
    assert leaks(full_text(info.value)) == []


def test_a_key_that_disagrees_is_named_without_its_value(
    contract: Contract, masker: Masker
) -> None:
    change = canary(masker)
    bad = Change.upsert({**change.record, "customer_id": EMAIL}, key=(KEY,), position=3)  # type: ignore[dict-item]
    with pytest.raises(RecordRefusedError, match="field 'customer_id'") as info:
        Intake(contract, "test").check([bad])
    assert leaks(full_text(info.value)) == []


def test_delivery_error_names_positions_not_keys(masker: Masker) -> None:
    error = DeliveryError("test", [DeadLetter(canary(masker, position=42), "timed out")])
    assert str(error) == "test: 1 changes were not delivered: position 42: timed out"


def test_avro_refusal_holds_no_value(contract: Contract, masker: Masker) -> None:
    codec = AvroCodec(contract)
    with pytest.raises(RecordRefusedError) as info:
        codec.encode_batch([canary(masker, visits=EMAIL)], "topic")
    assert "Avro" in str(info.value)
    assert leaks(full_text(info.value)) == []


def test_driver_errors_are_described_without_values() -> None:
    con = duckdb.connect()
    with pytest.raises(duckdb.Error) as conversion:
        con.execute(f"SELECT '{EMAIL}'::INTEGER")
    assert EMAIL in str(conversion.value)  # DuckDB says the value...
    described = describe_error(conversion.value)
    assert described.startswith("ConversionException")
    assert leaks(described) == []  # ...the description does not
    con.execute("CREATE TABLE t (k VARCHAR PRIMARY KEY)")
    con.execute("INSERT INTO t VALUES (?)", [KEY])
    with pytest.raises(duckdb.Error) as duplicate:
        con.execute("INSERT INTO t VALUES (?)", [KEY])
    assert KEY in str(duplicate.value)
    assert leaks(describe_error(duplicate.value)) == []
    missing = duckdb.connect()
    with pytest.raises(duckdb.Error) as catalog:
        missing.execute("SELECT * FROM no_such_table")
    assert "no_such_table" in describe_error(catalog.value)  # no record in it: kept


@pytest.fixture
def view(postgres_database: str, contract: Contract) -> Iterator[ServingViewWriter]:
    writer = ServingViewWriter(postgres_database)
    writer.ensure(contract)
    with psycopg2.connect(postgres_database) as conn, conn.cursor() as cur:
        cur.execute(
            'ALTER TABLE "shop.customer.v1" ADD CONSTRAINT few_visits CHECK (visits < 1000000)'
        )
    conn.close()
    yield writer
    writer.close()


def test_view_failure_names_the_constraint_not_the_row(
    view: ServingViewWriter, masker: Masker
) -> None:
    view.write([canary(masker, visits=5_000_000)])
    with pytest.raises(PortError) as info:
        view.flush()
    text = full_text(info.value)
    assert "few_visits" in text
    assert "SQLSTATE 23514" in text
    assert leaks(text) == [], text


def test_duckdb_failure_holds_no_value(tmp_path: Path, contract: Contract, masker: Masker) -> None:
    path = tmp_path / "w.duckdb"
    writer = DuckDBWarehouseWriter(path)
    writer.ensure(contract)
    writer.con.execute('CREATE UNIQUE INDEX one_city ON "shop"."customer_v1" ((address.city))')
    writer.write([canary(masker, position=1)])
    writer.flush()
    second = canary(masker, position=2)
    other = Change.upsert({**second.record, "customer_id": "c-2"}, key=("c-2",), position=2)  # type: ignore[dict-item]
    writer.write([other])
    with pytest.raises(PortError) as info:
        writer.flush()
    assert leaks(full_text(info.value)) == [], full_text(info.value)
    writer.close()


def test_search_refusal_names_field_and_type_not_the_value(
    search_server: SearchEndpoint, contract: Contract, masker: Masker
) -> None:
    client: Elasticsearch = search_server.client()
    letters: list[DeadLetter] = []
    writer = SearchIndexWriter(client, prefix="errvalues-", check=False,
                               dead_letter=letters.extend, backoff=0.01)  # fmt: skip
    writer.ensure(contract)
    writer.write([canary(masker, visits=EMAIL)])
    (letter,) = letters
    assert "visits" in letter.reason
    assert leaks(letter.reason) == [], letter.reason


def test_bigquery_and_connection_errors_are_described_without_values() -> None:
    from google.api_core.exceptions import BadRequest

    job = BadRequest(
        f"Bad int64 value: {EMAIL}", errors=[{"reason": "invalid", "message": f"x {EMAIL}"}]
    )
    assert describe_error(job) == "BadRequest (HTTP 400): invalid"
    # a gRPC call's error (the Storage Read API): its errors are the call's status objects
    import grpc
    from google.api_core.exceptions import from_grpc_status

    call = from_grpc_status(grpc.StatusCode.UNAVAILABLE, f"row {EMAIL}", errors=[object()])
    assert describe_error(call) == "ServiceUnavailable (HTTP 503), gRPC UNAVAILABLE"
    with pytest.raises(psycopg2.OperationalError) as refused:
        psycopg2.connect("postgresql://meshkit@127.0.0.1:1/none", connect_timeout=5)
    described = describe_error(refused.value)
    assert described.startswith("OperationalError: connection to server at")  # no row: kept
