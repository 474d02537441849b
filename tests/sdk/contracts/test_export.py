"""Exporters: golden files per format, and each output checked by the system that reads it."""

from __future__ import annotations

import base64
import io
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import fastavro
import jsonschema
import pytest
from google.cloud.bigquery import SchemaField
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.contracts import Contract
from meshkit.contracts.exporters import base
from meshkit.contracts.exporters.base import Exporter, export, exporter_names, get_exporter
from meshkit.contracts.loader import load_contract
from meshkit.errors import ContractError

EXPORT = Path(__file__).parents[2] / "fixtures" / "contracts" / "export"
CONTRACTS = ("customer", "order")
FORMATS = ("avro", "bigquery", "duckdb", "elasticsearch", "jsonschema", "kafka", "odcs")
UPDATE = os.environ.get("MESHKIT_UPDATE_GOLDENS") == "1"


def contract(name: str) -> Contract:
    return load_contract(EXPORT / f"{name}.yaml")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", CONTRACTS)
def test_output_matches_the_golden_file(name: str, fmt: str) -> None:
    exporter = get_exporter(fmt)
    golden = EXPORT / f"{name}.{fmt}.{exporter.extension.rsplit('.', 1)[-1]}"
    text = exporter.export(contract(name))
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_registry_lists_every_format_and_refuses_unknown_ones() -> None:
    assert exporter_names() == FORMATS
    with pytest.raises(ContractError) as info:
        get_exporter("parquet")
    assert str(info.value) == (
        "unknown export format 'parquet'; valid formats: avro, bigquery, duckdb, "
        "elasticsearch, jsonschema, kafka, odcs"
    )


class _Header(Exporter):
    name = "header"
    description = "field names"
    extension = ".txt"

    def export(self, contract: Contract) -> str:
        return ",".join(f.name for f in contract.fields) + "\n"


def test_a_plug_in_registers_and_a_broken_one_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_registry", dict(base._registry))
    monkeypatch.setitem(globals(), "Header", _Header)
    base.register_exporter("header", __name__, "Header")
    base.register_exporter("broken", "meshkit_no_such_module.exporter", "Broken")
    assert export(contract("order"), "header").startswith("order_id,customer_id,status")
    with pytest.raises(ContractError, match="export format 'broken' is not available"):
        get_exporter("broken")
    assert export(contract("order"), "kafka")  # the others still work


# -- JSON Schema ------------------------------------------------------------------------------


def customer_record() -> dict[str, Any]:
    return {
        "customer_id": "c-1",
        "email": "tok:abc",
        "full_name": None,
        "birth_date": "1990-01-01",
        "phone": "******5678",
        "tier": "plus",
        "lifetime_value": "1234.50",
        "address": {"postal_code": "1011", "city": "Amsterdam", "country": "NL"},
        "interests": ["books"],
        "signed_up_at": "2024-03-01T10:00:00Z",
        "updated_at": "2024-03-02T10:00:00+01:00",
    }


def test_json_schema_is_valid_2020_12_and_checks_records() -> None:
    schema = json.loads(export(contract("customer"), "jsonschema"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert list(validator.iter_errors(customer_record())) == []
    minimal = {k: v for k, v in customer_record().items() if k in schema["required"]}
    assert list(validator.iter_errors(minimal)) == []

    def errors(**changes: Any) -> list[str]:
        record = {**customer_record(), **changes}
        record = {k: v for k, v in record.items() if v is not ...}
        return sorted(e.message for e in validator.iter_errors(record))

    assert errors(tier="gold") == ["'gold' is not one of ['free', 'plus', 'pro']"]
    assert errors(customer_id=None) == ["None is not of type 'string'"]
    assert errors(email=...) == ["'email' is a required property"]
    assert errors(street="Main St 1") == [
        "Additional properties are not allowed ('street' was unexpected)"
    ]
    assert errors(lifetime_value="12345678901.5") == [
        "'12345678901.5' does not match '^-?\\\\d{1,10}(\\\\.\\\\d{1,2})?$'"
    ]
    assert errors(birth_date="1990-02-30") == ["'1990-02-30' is not a 'date'"]
    assert errors(address={"country": "nl"}) == ["'nl' does not match '^[A-Z]{2}$'"]


# -- Avro -------------------------------------------------------------------------------------


def test_avro_schema_parses_and_round_trips_a_record() -> None:
    schema = fastavro.parse_schema(json.loads(export(contract("order"), "avro")))
    record = {
        "order_id": "o-1",
        "customer_id": "c-1",
        "status": "paid",
        "total": Decimal("99.95"),
        "currency": "EUR",
        "shipping_ip": "10.0.0.0",
        "gift_message": None,
        "lines": [{"sku": "A", "quantity": 2, "unit_price": Decimal("49.98")}],
        "placed_at": datetime(2024, 3, 1, 10, 0, tzinfo=UTC),
        "updated_at": datetime(2024, 3, 1, 10, 5, tzinfo=UTC),
    }
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, record)
    buffer.seek(0)
    assert fastavro.schemaless_reader(buffer, schema, schema) == record
    with pytest.raises(TypeError, match="order_id"):
        fastavro.schemaless_writer(io.BytesIO(), schema, {**record, "order_id": None})


def test_avro_logical_types() -> None:
    fields = {
        f["name"]: f["type"] for f in json.loads(export(contract("customer"), "avro"))["fields"]
    }
    assert fields["birth_date"] == ["null", {"type": "int", "logicalType": "date"}]
    assert fields["signed_up_at"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert fields["lifetime_value"][1] == {
        "type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2,
    }  # fmt: skip
    assert "street" not in json.dumps(fields["address"])  # dropped before leaving the domain


# -- DuckDB -----------------------------------------------------------------------------------


def test_duckdb_ddl_runs_and_enforces_key_and_not_null() -> None:
    con = duckdb.connect()
    ddl = export(contract("order"), "duckdb")
    con.execute(ddl)
    con.execute(ddl)  # idempotent
    columns = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                               "WHERE table_name = 'order_v2'").fetchall())  # fmt: skip
    assert columns["total"] == "DECIMAL(12,2)"
    assert columns["lines"] == ("STRUCT(sku VARCHAR, quantity BIGINT, unit_price DECIMAL(10,2))[]")
    assert columns["placed_at"] == "TIMESTAMP WITH TIME ZONE"
    row = (
        "o-1", "c-1", "paid", Decimal("10.00"), "EUR", None, None,
        [{"sku": "A", "quantity": 1, "unit_price": Decimal("10.00")}],
        datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC),
    )  # fmt: skip
    insert = 'INSERT INTO "orders"."order_v2" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
    con.execute(insert, row)
    with pytest.raises(duckdb.ConstraintException, match="primary key"):
        con.execute(insert, row)
    with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
        con.execute(insert, ("o-2", None, *row[2:]))


# -- BigQuery, Elasticsearch, Kafka -----------------------------------------------------------


def test_bigquery_schema_is_read_by_the_bigquery_client() -> None:
    schema = json.loads(export(contract("customer"), "bigquery"))
    fields = {f.name: f for f in (SchemaField.from_api_repr(f) for f in schema)}
    assert fields["customer_id"].mode == "REQUIRED"
    assert fields["interests"].mode == "REPEATED"
    assert fields["lifetime_value"].field_type == "NUMERIC"
    assert (fields["lifetime_value"].precision, fields["lifetime_value"].scale) == (12, 2)
    assert fields["signed_up_at"].field_type == "TIMESTAMP"
    assert fields["address"].field_type == "RECORD"
    assert [m.name for m in fields["address"].fields] == ["postal_code", "city", "country"]
    assert fields["email"].policy_tags is not None
    assert list(fields["email"].policy_tags.names) == ["{taxonomy}/policyTags/email"]
    assert fields["tier"].policy_tags is None


def test_elasticsearch_mapping_indexes_pii_only_as_tokens() -> None:
    mapping = json.loads(export(contract("customer"), "elasticsearch"))["mappings"]
    props = mapping["properties"]
    assert props["tier"] == {"type": "text", "fields": {"keyword": {"type": "keyword"}}}
    assert props["customer_id"] == {"type": "keyword"}
    assert props["email"] == {"type": "keyword"}  # tokenized: exact lookups by token
    assert {"full_name", "phone", "birth_date"}.isdisjoint(props)
    assert props["signed_up_at"]["type"] == "date"
    assert props["address"]["properties"]["city"]["type"] == "text"


def test_kafka_topic_follows_the_naming_convention() -> None:
    assert json.loads(export(contract("order"), "kafka")) == {
        "topic": "orders.order.v2",
        "partitions": 12,
        "config": {"cleanup.policy": "delete", "retention.ms": str(30 * 86400 * 1000)},
        "key": ["order_id"],
    }


# -- CLI --------------------------------------------------------------------------------------


def test_cli_export_to_stdout_and_file(tmp_path: Path) -> None:
    runner = CliRunner()
    path = str(EXPORT / "order.yaml")
    result = runner.invoke(app, ["contract", "export", "--format", "kafka", path])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["topic"] == "orders.order.v2"
    out = tmp_path / "order.sql"
    result = runner.invoke(app, ["contract", "export", "-f", "duckdb", path, "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text() == (EXPORT / "order.duckdb.sql").read_text()
    assert f"wrote {out} (duckdb)" in result.stderr


def test_cli_export_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["contract", "export", "-f", "xml", str(EXPORT / "order.yaml")])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: unknown export format 'xml'; valid formats: avro, bigquery, duckdb, "
        "elasticsearch, jsonschema, kafka, odcs"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("domain: x\nname: y\n")
    result = runner.invoke(app, ["contract", "export", "-f", "avro", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1:1: error" in result.stderr
    assert "missing key 'version'" in result.stderr
    assert "Traceback" not in result.output


def test_bytes_are_base64_text_in_json_schema() -> None:
    doc = Contract.model_validate(
        {
            "domain": "files",
            "name": "blob",
            "version": "1.0.0",
            "owner": {"team": "t", "contact": "t@example.com"},
            "fields": [{"name": "data", "type": "bytes", "required": True}],
        }
    )
    schema = json.loads(export(doc, "jsonschema"))
    assert schema["properties"]["data"] == {"type": "string", "contentEncoding": "base64"}
    jsonschema.validate({"data": base64.b64encode(b"x").decode()}, schema)
