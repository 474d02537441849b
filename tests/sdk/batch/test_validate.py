"""Whole-table validation against a contract: casts it allows, and problems it names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from meshkit.batch import ContractViolationError, conform
from meshkit.batch.validate import PartitionWindow
from meshkit.contracts import Contract
from meshkit.contracts.loader import parse_contract

CONTRACT = """
domain: shop
name: item
version: 1.0.0
owner: {team: shop, contact: shop@example.com}
fields:
  - {name: id, type: integer, required: true}
  - {name: price, type: "decimal(8,2)"}
  - {name: at, type: timestamp, required: true}
  - {name: code, type: string}
  - name: place
    type: struct
    fields:
      - {name: country, type: string, required: true}
primary_key: [id]
quality:
  - {kind: regex, field: code, pattern: "[a-w][a-z]*"}
  - {kind: range, field: at, min: 2020-01-01T00:00:00}
"""
AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def contract() -> Contract:
    c, problems = parse_contract(CONTRACT)
    assert c is not None, problems
    return c


def _problems(contract: Contract, table: pa.Table, **kw: object) -> list[str]:
    with pytest.raises(ContractViolationError) as info:
        conform(contract, table, **kw)  # type: ignore[arg-type]
    return [str(v) for v in info.value.violations]


def test_lossless_casts_and_missing_optional_columns(contract: Contract) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int32()),
            "price": [1, 2],  # integers into decimal(8,2): exact
            "at": pa.array([AT, AT], pa.timestamp("ms", tz="Europe/Berlin")),
            "code": pa.array(["ab", "cd"]).dictionary_encode(),
        }
    )
    out = conform(contract, table)
    assert out.schema.field("id").type == pa.int64()
    assert out.column("price").to_pylist() == [Decimal("1.00"), Decimal("2.00")]
    assert out.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert out.column("place").null_count == 2  # optional and absent: all null


def test_lossy_or_ambiguous_types_are_refused(contract: Contract) -> None:
    table = pa.table(
        {
            "id": [1.0, 2.0],
            "price": [1.005, 2.0],
            "at": pa.array([AT.replace(tzinfo=None)] * 2),
            "code": [1, 2],
        }
    )
    assert _problems(contract, table) == [
        "column 'id' [type]: has type double, the contract says integer: casting floats would "
        "round; cast them in the asset if that is intended",
        "column 'price' [type]: has type double, the contract says decimal(8,2): casting floats "
        "would round; cast them in the asset if that is intended",
        "column 'at' [type]: has type timestamp[us] without a time zone, the contract says "
        "timestamp (time-zone aware); attach one in the asset (e.g. UTC)",
        "column 'code' [type]: has type int64, the contract says string",
    ]


def test_required_struct_members_python_regexes_and_bounds(contract: Contract) -> None:
    table = pa.table(
        {
            "id": [1, 2, 3],
            "at": [AT, AT, dt.datetime(2019, 1, 1, tzinfo=dt.UTC)],
            "code": ["ab", "xy", None],
            "place": [{"country": "DE"}, {"country": None}, None],
        }
    )
    assert _problems(contract, table) == [
        "column 'place.country' [required]: null in a required field — 1 row (index 1)",
        "column 'code' [regex]: value does not match /[a-w][a-z]*/ — 1 row (index 1)",
        "column 'at' [range]: value out of range (expected >= 2020-01-01T00:00:00) — 1 row "
        "(index 2)",
    ]  # never a value: a field not declared personal may still hold personal data


def test_partition_bounds(contract: Contract) -> None:
    table = pa.table({"id": [1, 2], "at": [AT, AT + dt.timedelta(days=1)]})
    window = PartitionWindow("at", AT, AT + dt.timedelta(days=1))
    assert conform(contract, table.slice(0, 1), partition=window).num_rows == 1
    (problem,) = _problems(contract, table, partition=window)
    assert problem.startswith("column 'at' [partition]: outside the partition being written")
    assert problem.endswith("— 1 row (index 1)")


def _keyed(key_type: str, keys: str) -> Contract:
    c, problems = parse_contract(
        f"""
domain: shop
name: keyed
version: 1.0.0
owner: {{team: shop, contact: shop@example.com}}
fields:
  - {{name: a, type: {key_type}, required: true}}
  - {{name: b, type: string, required: true}}
primary_key: [{keys}]
"""
    )
    assert c is not None, problems
    return c


def test_duplicate_primary_keys_are_named_with_their_rows(contract: Contract) -> None:
    table = pa.table({"id": [7, 8, 7, 9, 8, 7], "at": [AT] * 6})
    assert _problems(contract, table) == [
        "column 'id' [primary key]: 2 key value(s) appear more than once — 3 rows (index 4, 5, ...)"
    ]


def test_composite_keys_in_a_table_of_several_chunks() -> None:
    keyed = _keyed("string", "a, b")
    chunks = [pa.table({"a": ["x", "x"], "b": ["1", "2"]}), pa.table({"a": ["y"], "b": ["1"]})]
    table = pa.concat_tables(chunks)
    assert table.column("a").num_chunks == 2
    assert conform(keyed, table).num_rows == 3
    again = pa.concat_tables([table, pa.table({"a": ["x"], "b": ["2"]})])
    assert _problems(keyed, again) == [
        "column 'a, b' [primary key]: 1 key value(s) appear more than once — 1 row (index 3)"
    ]


@pytest.mark.parametrize(
    ("key_type", "values", "duplicated"),
    [
        ("integer", [3, 1, 3], True),
        ("bytes", [b"a", b"b", b"c"], False),
        ("date", [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 1)], True),
        ('"decimal(6,2)"', [Decimal("1.10"), Decimal("1.20"), Decimal("1.30")], False),
        ("timestamp", [AT, AT + dt.timedelta(microseconds=1), AT], True),
    ],
)
def test_primary_keys_of_every_kind(key_type: str, values: list[object], duplicated: bool) -> None:
    keyed = _keyed(key_type, "a")
    table = pa.table({"a": values, "b": ["1", "2", "3"]})
    if not duplicated:
        assert conform(keyed, table).num_rows == 3
    else:
        (problem,) = _problems(keyed, table)
        assert problem.startswith("column 'a' [primary key]: 1 key value(s)")
        assert "(index 2)" in problem
