"""contracts.arrow: the one contract → Arrow mapping, produced and published schemas."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from meshkit.contracts import Contract, DataType
from meshkit.contracts.arrow import SCALARS, arrow_field, arrow_schema, arrow_type
from meshkit.contracts.loader import load_contract, parse_contract
from meshkit.ports.intake import Intake

EXPORT = Path(__file__).parents[2] / "fixtures" / "contracts" / "export"

EVERY_TYPE = """
domain: shop
name: every_type
version: 1.0.0
owner: {team: shop, contact: shop@example.com}
fields:
  - {name: id, type: integer, required: true}
  - {name: label, type: string}
  - {name: doc, type: json}
  - {name: score, type: float}
  - {name: price, type: "decimal(12,2)", required: true}
  - {name: flag, type: boolean}
  - {name: born, type: date}
  - {name: at, type: timestamp, required: true}
  - {name: blob, type: bytes}
  - {name: tags, type: "array<string>"}
  - name: email
    type: string
    required: true
    pii: email
    transform: {kind: tokenize, key: shop}
  - name: secret_note
    type: string
    pii: free_text
    transform: {kind: drop}
  - name: address
    type: struct
    required: true
    fields:
      - {name: city, type: string}
      - {name: country, type: string, required: true}
  - name: lines
    type: array<struct>
    fields:
      - {name: sku, type: string, required: true}
      - {name: quantity, type: integer}
primary_key: [id]
"""


@pytest.fixture
def contract() -> Contract:
    parsed, problems = parse_contract(EVERY_TYPE, "every_type.yaml")
    assert parsed is not None, problems
    return parsed


def test_every_contract_type_has_its_arrow_type(contract: Contract) -> None:
    schema = arrow_schema(contract)
    assert schema.field("id").type == pa.int64()
    assert schema.field("label").type == pa.string()
    assert schema.field("doc").type == pa.string()
    assert schema.field("score").type == pa.float64()
    assert schema.field("price").type == pa.decimal128(12, 2)
    assert schema.field("flag").type == pa.bool_()
    assert schema.field("born").type == pa.date32()
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("blob").type == pa.binary()
    assert schema.field("tags").type == pa.list_(pa.string())
    assert schema.field("address").type == pa.struct(
        [pa.field("city", pa.string()), pa.field("country", pa.string(), nullable=False)]
    )
    assert schema.field("lines").type == pa.list_(
        pa.struct([pa.field("sku", pa.string(), nullable=False), pa.field("quantity", pa.int64())])
    )
    assert set(SCALARS) | {"decimal", "array", "struct"} == {
        "string", "json", "integer", "float", "boolean", "date", "timestamp", "bytes",
        "decimal", "array", "struct",
    }  # fmt: skip


def test_the_produced_schema_is_the_declared_fields_before_transforms(contract: Contract) -> None:
    schema = arrow_schema(contract)
    assert schema.names == [f.name for f in contract.fields]
    assert schema.field("secret_note").type == pa.string()  # still produced, dropped later
    assert not schema.field("id").nullable
    assert not schema.field("email").nullable
    assert schema.field("label").nullable


def test_strict_false_makes_every_field_and_member_nullable(contract: Contract) -> None:
    schema = arrow_schema(contract, strict=False)
    assert all(f.nullable for f in schema)
    assert all(m.nullable for m in schema.field("address").type)
    assert all(m.nullable for m in schema.field("lines").type.value_type)


def test_the_published_schema_is_what_ports_store(contract: Contract) -> None:
    schema = arrow_schema(contract, published=True)
    assert "secret_note" not in schema.names
    assert schema.field("email").type == pa.string()
    # the schema the port writers' intake builds for the same contract today
    assert schema == Intake(contract, "test port").schema


@pytest.mark.parametrize("name", ["customer", "order"])
def test_published_schema_of_the_export_fixtures_agrees_with_the_ports(name: str) -> None:
    contract = load_contract(EXPORT / f"{name}.yaml")
    assert arrow_schema(contract, published=True) == Intake(contract, "test port").schema


def test_a_tokenized_integer_is_published_as_string() -> None:
    text = EVERY_TYPE.replace(
        "  - name: email\n    type: string\n", "  - name: email\n    type: integer\n"
    )
    contract, problems = parse_contract(text, "every_type.yaml")
    assert contract is not None, problems
    assert arrow_schema(contract).field("email").type == pa.int64()
    assert arrow_schema(contract, published=True).field("email").type == pa.string()


def test_arrow_type_of_parsed_types() -> None:
    assert arrow_type(DataType.parse("array<array<decimal(5,1)>>")) == pa.list_(
        pa.list_(pa.decimal128(5, 1))
    )
    assert arrow_type(DataType("decimal")) == pa.decimal128(38, 0)
    with pytest.raises(ValueError, match="element"):
        arrow_type(DataType("array"))


def test_rows_of_the_schema_round_trip_through_duckdb(contract: Contract) -> None:
    schema = arrow_schema(contract, published=True)
    row = {
        "id": 1,
        "label": "a",
        "doc": '{"k": 1}',
        "score": 0.5,
        "price": Decimal("12.30"),
        "flag": True,
        "born": date(1990, 5, 17),
        "at": datetime(2024, 1, 1, 12, tzinfo=UTC),
        "blob": b"\x00\x01",
        "tags": ["x", "y"],
        "email": "tok:shop.1:" + "0" * 64,
        "address": {"city": "Berlin", "country": "DE"},
        "lines": [{"sku": "s1", "quantity": 2}],
    }
    table = pa.Table.from_pylist([row], schema=schema)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("source", table)
        back = con.sql("SELECT * FROM source").to_arrow_table()
    assert back.to_pylist() == [row]
    assert [back.schema.field(n).type for n in ("id", "price", "born", "at")] == [
        schema.field(n).type for n in ("id", "price", "born", "at")
    ]


def test_arrow_field_takes_declared_and_published_fields(contract: Contract) -> None:
    spec = contract.field("address")
    assert spec is not None
    declared = arrow_field(spec)
    assert declared.name == "address"
    assert not declared.nullable
    assert arrow_field(spec, strict=False).nullable
