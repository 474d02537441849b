"""The table validator on the cases the table checks and the record validator disagreed on.

Each case was found by the differential tests (``test_table_validator_differential``);
the record validator's verdict is the one both now give.
"""

from __future__ import annotations

import pyarrow as pa

from meshkit.contracts import Contract
from meshkit.contracts.arrow import arrow_schema
from meshkit.contracts.loader import parse_contract
from meshkit.contracts.table import TableValidator, rule_rows
from meshkit.contracts.validator import ContractValidator


def contract(fields: str, quality: str = "[]") -> Contract:
    text = (
        "domain: d\nname: p\nversion: 1.0.0\nowner: {team: t, contact: t@example.com}\n"
        f"fields:\n{fields}\nquality: {quality}\n"
    )
    c, problems = parse_contract(text)
    assert c is not None, problems
    return c


def table(c: Contract, rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema(c, strict=False))


def verdicts(c: Contract, rows: list[dict[str, object]]) -> tuple[set[int], set[int]]:
    """(rows the table validator flags, rows the record validator refuses)."""
    t = table(c, rows)
    record = ContractValidator(c).validate_batch(t.to_pylist())
    return TableValidator(c).invalid_rows(t), set(record.failed_indices)


def test_a_null_in_an_optional_field_with_accepted_values_passes() -> None:
    c = contract(
        "  - {name: tier, type: string}", "[{kind: accepted_values, field: tier, values: [a]}]"
    )
    assert verdicts(c, [{"tier": None}, {"tier": "a"}, {"tier": "b"}]) == ({2}, {2})


def test_floats_must_be_finite() -> None:
    c = contract("  - {name: x, type: float}")
    rows = [{"x": 1.0}, {"x": float("nan")}, {"x": float("inf")}, {"x": None}]
    assert verdicts(c, rows) == ({1, 2}, {1, 2})


def test_rules_through_arrays_of_structs_and_null_elements() -> None:
    c = contract(
        "  - name: lines\n    type: array<struct>\n    fields:\n"
        "      - {name: sku, type: string, required: true}\n",
        "[{kind: regex, field: lines.sku, pattern: '[A-Z]+'}]",
    )
    rows = [
        {"lines": [{"sku": "AB"}, {"sku": "CD"}]},
        {"lines": [{"sku": "AB"}, {"sku": "c1"}]},  # one element breaks the pattern
        {"lines": [None]},  # a null element
        {"lines": [{"sku": None}]},  # a required member null
        {"lines": None},
    ]
    assert verdicts(c, rows) == ({1, 2, 3}, {1, 2, 3})
    (problem,) = [p for p in TableValidator(c).problems(table(c, rows)) if p.rule == "regex"]
    assert (problem.field, problem.count, problem.first(5)) == ("lines.sku", 1, (1,))
    assert "c1" not in problem.message  # never a value


def test_not_null_on_a_member_counts_only_rows_whose_struct_is_present() -> None:
    c = contract(
        "  - name: place\n    type: struct\n    fields:\n      - {name: city, type: string}\n",
        "[{kind: not_null, field: place.city}]",
    )
    (rule,) = c.quality
    rows = [{"place": {"city": "x"}}, {"place": {"city": None}}, {"place": None}]
    assert verdicts(c, rows) == ({1}, {1})
    assert rule_rows(table(c, rows), rule).to_pylist() == [False, True, False]


def test_disjoint_accepted_values_refuse_every_value() -> None:
    c = contract(
        "  - {name: tier, type: string}",
        "[{kind: accepted_values, field: tier, values: [a]},"
        " {kind: accepted_values, field: tier, values: [b]}]",
    )
    assert verdicts(c, [{"tier": "a"}, {"tier": "b"}, {"tier": None}]) == ({0, 1}, {0, 1})


def test_an_integer_with_accepted_values_keeps_its_range() -> None:
    c = contract(
        "  - {name: n, type: integer}",
        "[{kind: accepted_values, field: n, values: [-5, 1]}, {kind: range, field: n, min: 0}]",
    )
    assert verdicts(c, [{"n": -5}, {"n": 1}]) == ({0}, {0})
