"""Hostile contracts: SQL, patterns, bounds and names that would harm a port are refused at
lint, with file:line:col; what lint lets through runs safely (RE2, linear time)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.contracts import ContractValidator
from meshkit.contracts.loader import parse_contract
from meshkit.contracts.problem import Problem
from meshkit.contracts.sql import (
    bigquery_ref,
    custom_sql_problem,
    duckdb_ref,
    failing_rows_query,
    quote_bigquery,
    quote_duckdb,
)

runner = CliRunner()
HEAD = (
    "domain: d\nname: p\nversion: 1.0.0\nowner: {team: t, contact: t@example.com}\n"
    "fields:\n"
    "  - {name: id, type: string, required: true}\n"
    "  - {name: code, type: string}\n"
    "  - {name: amount, type: float}\n"
)


def problems(text: str) -> list[Problem]:
    contract, found = parse_contract(text, "c.yaml")
    assert contract is None, "expected the contract to be refused"
    return found


def one_problem(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, [p.format() for p in found]
    return found[0]


def rule(yaml_rule: str) -> str:
    return HEAD + "quality:\n" + yaml_rule


# -- custom_sql -------------------------------------------------------------------------

HOSTILE_SQL = {
    # closes the wrapper the check used to paste the rule into, then writes a file
    "closes the wrapper": "select * from {table}) AS q; COPY (SELECT 1) TO 'leak.csv'; "
    "SELECT * FROM (SELECT 1",
    "second statement": "select * from {table}; drop table other.victim",
    "copy": "copy (select * from {table}) to 'leak.csv'",
    "drop": "drop table other.victim",
    "insert": "insert into other.victim select * from {table}",
    "attach": "attach 'other.duckdb' as o",
    "select into": "select * into other.copy from {table}",
    "data-changing with": "with d as (delete from other.victim returning *) select * from d",
    "file read": "select * from read_csv('/etc/passwd')",
    "sql as text": "select * from query('drop table other.victim')",
    "for update": "select * from {table} for update",
    "empty": "-- nothing but a comment",
}


@pytest.mark.parametrize("sql", HOSTILE_SQL.values(), ids=HOSTILE_SQL.keys())
def test_custom_sql_that_is_not_one_read_only_select_is_refused_at_lint(sql: str) -> None:
    text = rule("  - kind: custom_sql\n    name: r\n    sql: >-\n      " + sql + "\n")
    p = one_problem(text)
    assert (p.file, p.line, p.column, p.path) == ("c.yaml", 12, 10, "quality[0].sql")
    assert p.message.endswith("(parsed as duckdb SQL)")


def test_custom_sql_refusal_names_the_dialect_and_position_in_the_query() -> None:
    p = one_problem(rule("  - {kind: custom_sql, name: r, sql: 'select * from {table}) x'}\n"))
    assert (p.line, p.column) == (10, 38)
    assert p.message.startswith("not valid duckdb SQL at line 1, column 35 of the query: ")
    assert p.message.endswith("(parsed as duckdb SQL)")


@pytest.mark.parametrize(
    "sql",
    [
        "select * from {table} where amount < 0",
        "with neg as (select * from {table} where amount < 0) select * from neg",
        "select id from {table} where code is null union all select id from {table} t "
        "where t.amount > 100",
        "select * from {table} where code not in (select code from ref.codes)",
    ],
)
def test_read_only_queries_pass_lint(sql: str) -> None:
    contract, found = parse_contract(
        rule(f"  - {{kind: custom_sql, name: r, sql: {sql!r}}}\n").replace("\\'", "''"), "c.yaml"
    )
    assert contract is not None, [p.format() for p in found]


def test_a_rule_the_two_warehouses_would_read_differently_is_refused() -> None:
    # "code" is a column in DuckDB and the text 'code' in BigQuery: locally the rule
    # would check the column, in production compare two constants and always pass
    sql = "select * from {table} where \"code\" = 'x'"
    p = one_problem(rule(f"  - kind: custom_sql\n    name: r\n    sql: {sql}\n"))
    assert (p.line, p.path) == (12, "quality[0].sql")
    assert p.message.startswith("the query means different things in DuckDB and BigQuery")


def test_the_check_query_is_generated_from_the_parsed_rule_never_pasted() -> None:
    ref = duckdb_ref("d", "p_v1")
    sql = failing_rows_query("SELECT * FROM {table} WHERE amount < 0;", "duckdb", ref)
    assert sql == (
        'SELECT COUNT(*) FROM (SELECT * FROM "d"."p_v1" AS meshkit_rule_table__ '
        "WHERE amount < 0) AS failing_rows"
    )
    assert custom_sql_problem(HOSTILE_SQL["closes the wrapper"], "bigquery") is not None


def test_lint_cli_reports_the_refused_rule_with_file_line_col(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(rule("  - {kind: custom_sql, name: r, sql: 'select 1; drop table x'}\n"))
    result = runner.invoke(app, ["contract", "lint", str(path)])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:10:38: error: quality[0].sql: 2 statements; ")
    assert "Traceback" not in result.output


# -- regex: RE2 at lint and at run time ----------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [r"(?=[A-Z])\w+", r"(?<!x)y", r"(a)\1", r"a++", r"(?P<n>a)(?P=n)"],
    ids=["lookahead", "lookbehind", "backreference", "possessive", "named backreference"],
)
def test_patterns_re2_cannot_run_are_refused_at_lint(pattern: str) -> None:
    p = one_problem(rule(f"  - {{kind: regex, field: code, pattern: '{pattern}'}}\n"))
    assert (p.line, p.column, p.path) == (10, 41, "quality[0].pattern")
    assert p.message.startswith("not an RE2 regular expression (")
    assert "no look-around and no back-references" in p.message


@pytest.mark.parametrize("pattern", [r"(a+)+\x62", r"(\141+)+b", r"(a|aa)+b", r"(\w+\s?)+z"])
def test_backtracking_prone_patterns_run_in_linear_time_on_records(pattern: str) -> None:
    contract, found = parse_contract(
        rule(f"  - {{kind: regex, field: code, pattern: '{pattern}'}}\n"), "c.yaml"
    )
    assert contract is not None, [p.format() for p in found]
    validator = ContractValidator(contract)
    timings = []
    for n in (24, 28, 2400):
        value = "a" * n + "!"
        started = time.perf_counter()
        result = validator.validate_record({"id": "1", "code": value})
        timings.append(time.perf_counter() - started)
        assert not result.ok
        assert result.failures[0].message == f"does not match the pattern {pattern}"
    # A backtracking engine doubles its time per character: 24 characters took 1.08 s on
    # the old engine and 28 would take 16 times that. The bound leaves room for a busy
    # machine and is still far below what backtracking costs.
    assert max(timings) < 0.5, timings


def test_re2_semantics_in_the_record_path_match_the_warehouses() -> None:
    # \d is an ASCII digit in RE2 (DuckDB, BigQuery); Python's and Rust's engines say
    # a Devanagari digit is one too
    contract, _ = parse_contract(rule(r"  - {kind: regex, field: code, pattern: '\d+'}" + "\n"))
    assert contract is not None
    validator = ContractValidator(contract)
    assert validator.validate_record({"id": "1", "code": "42"}).ok
    assert not validator.validate_record({"id": "1", "code": "\u0967\u0968"}).ok


# -- range bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bound", "column"),
    [("min: .inf", 39), ("max: -.inf", 39), ("min: .nan", 39), ("max: .NaN", 39)],
)
def test_range_bounds_that_are_not_finite_are_refused_at_lint(bound: str, column: int) -> None:
    p = one_problem(rule(f"  - {{kind: range, field: amount, {bound}}}\n"))
    assert (p.line, p.column) == (10, column)
    assert p.path in {"quality[0].min", "quality[0].max"}
    assert "is not a finite number" in p.message


def test_accepted_values_that_are_not_finite_are_refused_at_lint() -> None:
    p = one_problem(rule("  - {kind: accepted_values, field: amount, values: [1.5, .nan]}\n"))
    assert (p.line, p.path) == (10, "quality[0].values")
    assert p.message.startswith("an accepted value is not a finite number")


@pytest.mark.parametrize(
    ("bounds", "key", "message"),
    [
        ("field: amount, max: lots", "max", "the max bound 'lots' does not fit field 'amount'"),
        ("field: day, min: someday", "min", "the min bound 'someday' does not fit field 'day'"),
        ("field: qty, min: 1.5", "min", "the min bound 1.5 does not fit field 'qty'"),
        ("field: qty, min: 5, max: 1", "min", "range min 5 is greater than max 1"),
        ("field: at, min: 2024-01-01T00:00:00Z, max: 2020-01-01", "min", "range min "),
    ],
)
def test_range_bounds_that_do_not_fit_the_field_are_refused_at_lint(
    bounds: str, key: str, message: str
) -> None:
    # before: lint passed, and building the record validator raised a raw exception
    text = HEAD + (
        "  - {name: day, type: date}\n  - {name: qty, type: integer}\n"
        "  - {name: at, type: timestamp}\n"
    )
    p = one_problem(
        text.replace("fields:\n", "fields:\n", 1) + f"quality:\n  - {{kind: range, {bounds}}}\n"
    )
    assert (p.line, p.path) == (13, f"quality[0].{key}")
    assert p.message.startswith(message)


# -- reserved names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["_meshkit_delete", "_meshkit_pos", "_MESHKIT_row", "_meshkitx"])
def test_field_names_with_the_ports_internal_prefix_are_refused(name: str) -> None:
    p = one_problem(HEAD + f"  - {{name: {name}, type: boolean}}\n")
    assert (p.line, p.column, p.path) == (9, 12, "fields[3].name")
    assert "reserved for the ports' internal columns" in p.message


@pytest.mark.parametrize("name", ["_TABLE_SUFFIX", "_partitiontime", "_File_name", "__root__x"])
def test_field_names_bigquery_reserves_are_refused(name: str) -> None:
    p = one_problem(HEAD + f"  - {{name: {name}, type: string}}\n")
    assert (p.line, p.column, p.path) == (9, 12, "fields[3].name")
    assert p.message.startswith("BigQuery reserves column names starting with ")


def test_names_postgresql_would_cut_are_refused() -> None:
    p = one_problem(HEAD + "  - {name: " + "x" * 64 + ", type: string}\n")
    assert p.message.startswith("the name has 64 characters; PostgreSQL")
    long_name = HEAD.replace("name: p\n", "name: " + "p" * 60 + "\n")
    p = one_problem(long_name + "ports: {outputs: [{kind: serving_view, key: [id]}]}\n")
    assert (p.line, p.path) == (2, "name")
    assert "PostgreSQL (the serving view's table) cuts names at 63" in p.message


def test_field_names_differing_only_in_case_are_refused() -> None:
    # DuckDB and BigQuery column names ignore case: the table could not be created
    p = one_problem(HEAD + "  - {name: Code, type: string}\n")
    assert (p.line, p.path) == (9, "fields[3].name")
    assert p.message == (
        "field 'Code' differs from field 'code' only in case; DuckDB and BigQuery take them "
        "for one column"
    )


def test_struct_members_with_the_internal_prefix_are_refused_too() -> None:
    p = one_problem(
        HEAD + "  - name: s\n    type: struct\n    fields:\n      - {name: _meshkit_pos, type: "
        "integer}\n"
    )
    assert p.path == "fields[3].fields[0].name"


# -- identifiers ----------------------------------------------------------------------------


def test_names_with_quotes_are_refused_at_lint() -> None:
    p = one_problem(HEAD + "  - {name: 'we\"ird', type: string}\n")
    assert (p.path, p.line) == ("fields[3].name", 9)
    p = one_problem(HEAD.replace("name: p", "name: 'p\"; drop table x; --'"))
    assert (p.path, p.line, p.column) == ("name", 2, 7)
    p = one_problem(HEAD.replace("domain: d", "domain: 'd`x'"))
    assert (p.path, p.line) == ("domain", 1)


def test_identifier_quoting_doubles_or_escapes_embedded_quotes() -> None:
    assert quote_duckdb('we"ird') == '"we""ird"'
    assert duckdb_ref('s"x', "t") == '"s""x"."t"'
    assert quote_bigquery("we`ird\\") == "`we\\`ird\\\\`"
    assert bigquery_ref("p", "d`s", "t") == "`p`.`d\\`s`.`t`"


def test_the_streaming_pipeline_runs_a_backtracking_prone_pattern_in_linear_time() -> None:
    import orjson

    from meshkit.privacy import Masker
    from meshkit.streaming import Pipeline, RawMessage, SourcePosition

    contract, found = parse_contract(
        HEAD
        + "primary_key: [id]\n"
        + "quality:\n  - {kind: regex, field: code, pattern: '(\\141+)+b'}\n"
        + "ports:\n  inputs:\n"
        + "    - {kind: cdc, name: crm, database: crm, schema: public, table: t}\n"
        + "mapping:\n  fields: {id: id, code: code, amount: amount}\n"
    )
    assert contract is not None, [p.format() for p in found]

    def raw(i: int, code: str) -> RawMessage:
        after = {"id": str(i), "code": code, "amount": 1.0}
        source = {"db": "crm", "schema": "public", "table": "t", "lsn": 10 + i, "ts_ms": 0}
        value = orjson.dumps({"op": "c", "before": None, "after": after, "source": source})
        return RawMessage(orjson.dumps({"id": str(i)}), value, SourcePosition("t", 0, i))

    for columnar in (True, False):
        pipeline = Pipeline(contract, Masker.from_contract(contract), columnar=columnar)
        raws = [raw(i, "a" * (24 + i) + "!") for i in range(50)] + [raw(99, "aab")]
        started = time.perf_counter()
        batch = pipeline(raws)
        took = time.perf_counter() - started
        assert [c.record["code"] for c in batch.changes if c.record] == ["aab"]
        assert len(batch.failures) == 50
        assert "does not match the pattern (\\141+)+b" in batch.failures[0].reason
        # Python's backtracking engine took a second for ONE 24-character value
        assert took < 0.5, took
