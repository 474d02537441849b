"""The table validator and the record validator agree on every row and field.

Random contracts (every field type, structs, arrays of scalars and of structs, required
members) with random per-record rules (not_null, accepted_values, range, regex, on
top-level and nested paths) and random tables of them (nulls, non-finite floats, null
array elements, values on both sides of each rule). For each table, the set of
``(row, field path)`` the record validator refuses equals the set the table validator
reports (list indexes left out of the record validator's paths).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from meshkit.contracts import Contract
from meshkit.contracts.arrow import arrow_schema
from meshkit.contracts.loader import parse_contract
from meshkit.contracts.table import TableValidator
from meshkit.contracts.validator import ContractValidator

SCALARS = ["string", "integer", "float", "decimal(6,2)", "boolean", "date", "timestamp", "bytes"]
WORDS = ["a", "ab", "b", "B", "zz", "x1", "", "é"]
INTS = [-5, 0, 1, 2, 7, 100]
FLOATS = [-1.5, 0.0, 0.5, 2.0, float("nan"), float("inf"), float("-inf")]
DECIMALS = [Decimal("-1.50"), Decimal("0.00"), Decimal("2.25"), Decimal("9999.99")]
DATES = [date(2019, 12, 31), date(2020, 1, 1), date(2021, 6, 1)]
STAMPS = [datetime(2019, 12, 31, 23, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC),
          datetime(2021, 6, 1, 12, 30, tzinfo=UTC)]  # fmt: skip
POOLS: dict[str, list[Any]] = {
    "string": WORDS, "integer": INTS, "float": FLOATS, "decimal": DECIMALS,
    "boolean": [True, False], "date": DATES, "timestamp": STAMPS, "bytes": [b"", b"\x00q"],
}  # fmt: skip
BOUNDS: dict[str, list[Any]] = {
    "string": ["a", "b", "x"], "integer": [0, 2, 7], "float": [0.0, 0.5, 2.0],
    "decimal": [0, 1.005, 2.25], "date": ["2020-01-01", "2021-01-01"],
    "timestamp": ["2020-01-01T00:00:00+00:00", "2021-01-01T00:00:00+00:00"],
}  # fmt: skip
PATTERNS = ["[a-z]+", "a.*", "x\\d", "(?i)b", ""]


def kind(type_text: str) -> str:
    return type_text.split("(")[0]


@st.composite
def field_specs(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    options = ["scalar", "array"] + (["struct", "array_struct"] if depth == 0 else [])
    shape = draw(st.sampled_from(options))
    spec: dict[str, Any] = {"required": draw(st.booleans())}
    if shape == "scalar":
        spec["type"] = draw(st.sampled_from(SCALARS))
    elif shape == "array":
        element = draw(st.sampled_from(["string", "integer", "float", "array<integer>"]))
        spec["type"] = f"array<{element}>"
    else:
        members = draw(st.lists(field_specs(depth + 1), min_size=1, max_size=3))
        spec["type"] = "struct" if shape == "struct" else "array<struct>"
        spec["fields"] = [{**m, "name": f"m{i}"} for i, m in enumerate(members)]
    return spec


def leaves(fields: list[dict[str, Any]], prefix: str = "") -> list[tuple[str, str]]:
    """(path, type) of every field and member (a member of an array's structs included)."""
    out = []
    for f in fields:
        path = prefix + f["name"]
        out.append((path, f["type"]))
        if "fields" in f:
            out += leaves(f["fields"], path + ".")
    return out


@st.composite
def rules_for(draw: st.DrawFn, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path, inner in leaves(fields):
        k = kind(inner)
        choices = ["none", "not_null"]
        if k in {"string", "integer", "boolean"}:
            choices.append("accepted_values")
        if k in BOUNDS:
            choices.append("range")
        if k == "string":
            choices.append("regex")
        for choice in draw(st.lists(st.sampled_from(choices), max_size=2)):
            if choice == "not_null":
                out.append({"kind": "not_null", "field": path})
            elif choice == "accepted_values":
                pool = POOLS[k]
                values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
                out.append({"kind": "accepted_values", "field": path, "values": values})
            elif choice == "range":
                low, high = (
                    draw(st.sampled_from(BOUNDS[k] + [None])),
                    draw(st.sampled_from(BOUNDS[k] + [None])),
                )
                if low is None and high is None:
                    continue
                if low is not None and high is not None:
                    low, high = sorted((low, high), key=BOUNDS[k].index)
                rule: dict[str, Any] = {"kind": "range", "field": path}
                if low is not None:
                    rule["min"] = low
                if high is not None:
                    rule["max"] = high
                out.append(rule)
            elif choice == "regex":
                out.append(
                    {"kind": "regex", "field": path, "pattern": draw(st.sampled_from(PATTERNS))}
                )
    return out


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    specs = draw(st.lists(field_specs(), min_size=1, max_size=5))
    fields = [{**s, "name": f"f{i}"} for i, s in enumerate(specs)]
    doc = {
        "domain": "d",
        "name": "p",
        "version": "1.0.0",
        "owner": {"team": "t", "contact": "t@example.com"},
        "fields": fields,
        "quality": draw(rules_for(fields)),
    }
    contract, problems = parse_contract(yaml.safe_dump(doc, allow_unicode=True))
    assert contract is not None, problems
    return contract


def value_of(draw: st.DrawFn, type_text: str, members: list[Any] | None) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return None
    if type_text.startswith("array<"):
        inner = type_text[len("array<") : -1]
        return [value_of(draw, inner, members) for _ in range(draw(st.integers(0, 3)))]
    if type_text == "struct":
        return {m.name: value_of(draw, str(m.type), list(m.fields or ())) for m in members or ()}
    return draw(st.sampled_from(POOLS[kind(type_text)]))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Contract, pa.Table]:
    contract = draw(contracts())
    n = draw(st.integers(0, 6))
    rows = [
        {f.name: value_of(draw, str(f.type), list(f.fields or ())) for f in contract.fields}
        for _ in range(n)
    ]
    return contract, pa.Table.from_pylist(rows, schema=arrow_schema(contract, strict=False))


def record_verdict(contract: Contract, table: pa.Table) -> set[tuple[int, str]]:
    result = ContractValidator(contract).validate_batch(table.to_pylist())
    return {(f.index, re.sub(r"\[\d+\]", "", f.field)) for f in result.failures}


def table_verdict(contract: Contract, table: pa.Table) -> set[tuple[int, str]]:
    out = set()
    for problem in TableValidator(contract).problems(table):
        out.update((row, problem.field) for row in problem.first(table.num_rows))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_same_verdict_per_row_and_field(case: tuple[Contract, pa.Table]) -> None:
    contract, table = case
    note(contract.model_dump_json(include={"fields", "quality"}, exclude_defaults=True))
    note(repr(table.to_pylist()))
    assert table_verdict(contract, table) == record_verdict(contract, table)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_same_verdict_on_a_table_in_several_chunks(case: tuple[Contract, pa.Table]) -> None:
    contract, table = case
    half = table.num_rows // 2
    chunked = pa.concat_tables([table.slice(0, half), table.slice(half)])
    assert table_verdict(contract, chunked) == record_verdict(contract, table)
