"""The SQL a contract puts in front of a warehouse: identifier quoting and custom_sql rules.

**Identifiers.** Every name that reaches warehouse SQL is quoted by one helper per
dialect, never pasted: ``quote_duckdb`` (double quotes, an embedded ``"`` doubled) and
``quote_bigquery`` (backticks, an embedded backtick or backslash escaped with a
backslash); ``duckdb_ref``/``bigquery_ref`` quote each part of a dotted name.
PostgreSQL names go through ``psycopg2.sql.Identifier`` where they are used.

**custom_sql rules.** A ``custom_sql`` rule is exactly one read-only query (``SELECT``,
``WITH ... SELECT`` or a set operation of selects) returning the rows that break the
rule. ``custom_sql_problem(sql, dialect)`` parses it with sqlglot in the warehouse's
dialect and says why it is refused: not SQL, several statements, a statement other
than a query, a query that writes (``SELECT ... INTO``, a data-changing ``WITH``,
``FOR UPDATE``), or one that reads outside the warehouse's tables (file and
foreign-query table functions such as ``read_csv`` or ``EXTERNAL_QUERY``). The contract
checks every rule in both warehouse dialects (DuckDB locally, BigQuery in production),
and that both read it alike (``rule_problem``), so lint refuses a rule with its file,
line and column.

``failing_rows_query(sql, dialect, table_ref)`` is what the batch checks run: the count of
the rule's rows, generated from the parsed query (never the rule's text pasted into a
wrapper), with ``{table}`` replaced by the product's table. The warehouse session runs it
read-only as well (see ``meshkit.batch.warehouse``): parsing is one guard, the
connection that cannot write is the other.
"""

from __future__ import annotations

import functools
import uuid
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # sqlglot is imported on first use: it costs 80 ms, most commands need none
    from sqlglot import exp

Dialect = Literal["duckdb", "bigquery"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "bigquery")
TABLE_PLACEHOLDER = "{table}"
_SENTINEL = "meshkit_rule_table__"


@functools.cache
def _writes() -> tuple[type, ...]:
    """Statements and clauses that change data, schema, settings or files."""
    from sqlglot import exp

    return (
        exp.DML, exp.DDL, exp.Into, exp.Lock, exp.Command, exp.Copy, exp.Attach, exp.Detach,
        exp.Pragma, exp.Set, exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Export,
        exp.LoadData, exp.Grant, exp.Revoke, exp.Cache, exp.Uncache, exp.Refresh, exp.Kill,
        exp.Declare, exp.Analyze,
    )  # fmt: skip


# table functions that read files, other databases, or SQL given as text
_OUTSIDE_PREFIXES = ("read_", "parquet_", "sniff_", "iceberg_", "delta_", "postgres_", "mysql_",
                     "sqlite_", "ml.", "external_")  # fmt: skip
_OUTSIDE_NAMES = {"glob", "query", "query_table", "readcsv", "external_query", "appends", "changes"}


def quote_duckdb(name: str) -> str:
    """A DuckDB identifier: double quotes, an embedded ``"`` doubled."""
    return '"' + name.replace('"', '""') + '"'


def literal_duckdb(text: str) -> str:
    """A DuckDB string literal, an embedded ``'`` doubled (for statements such as COMMENT
    that take no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def quote_bigquery(name: str) -> str:
    """A BigQuery identifier: backticks, an embedded backtick or backslash escaped."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def duckdb_ref(*parts: str) -> str:
    """A dotted DuckDB name, each part quoted: ``"schema"."table"``."""
    return ".".join(quote_duckdb(p) for p in parts)


def bigquery_ref(*parts: str) -> str:
    """A dotted BigQuery name, each part quoted: ```project`.`dataset`.`table```."""
    return ".".join(quote_bigquery(p) for p in parts)


def quote(name: str, dialect: Dialect) -> str:
    """An identifier quoted for ``dialect``."""
    return quote_duckdb(name) if dialect == "duckdb" else quote_bigquery(name)


class CustomSqlError(ValueError):
    """A custom_sql rule that is not one read-only query (the message says why)."""


def _parse(sql: str, dialect: Dialect) -> exp.Query:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    text = sql.replace(TABLE_PLACEHOLDER, _SENTINEL)
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = (
            f" at line {first['line']}, column {first['col']} of the query"
            if first.get("line")
            else ""
        )
        what = str(first.get("description") or "invalid syntax")
        raise CustomSqlError(f"not valid {dialect} SQL{where}: {what}") from None
    except TokenError:
        raise CustomSqlError(f"not valid {dialect} SQL: unterminated text or comment") from None
    if not statements:
        raise CustomSqlError("the query is empty")
    if len(statements) > 1:
        raise CustomSqlError(
            f"{len(statements)} statements; a custom_sql rule is exactly one SELECT"
        )
    query = statements[0]
    if not isinstance(query, exp.Query) or isinstance(query, exp.DML):
        raise CustomSqlError(
            f"a statement of type {query.key.upper()}; a custom_sql rule is one read-only SELECT"
        )
    for node in query.walk():
        if isinstance(node, _writes()):
            raise CustomSqlError(
                f"the query contains {node.key.upper()}, which writes; "
                "a custom_sql rule is one read-only SELECT"
            )
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier | exp.Dot):
            name = _function_name(node.this)
            if name is not None and _outside(name):
                raise CustomSqlError(
                    f"the query reads through {name}(), outside the warehouse's tables; "
                    "a custom_sql rule reads tables only"
                )
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name is not None and _outside(name):
                raise CustomSqlError(
                    f"the query calls {name}(), which reads outside the warehouse's tables"
                )
    return query


def _function_name(node: object) -> str | None:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name)
    if isinstance(node, exp.Func):
        return node.sql_name()
    return None


def _outside(name: str) -> bool:
    lowered = name.lower()
    return lowered in _OUTSIDE_NAMES or lowered.startswith(_OUTSIDE_PREFIXES)


def custom_sql_problem(sql: str, dialect: Dialect) -> str | None:
    """Why ``sql`` is not a valid custom_sql rule in ``dialect`` (None when it is)."""
    try:
        _parse(sql, dialect)
    except CustomSqlError as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=1024)  # a rule repeated across contracts is parsed once
def rule_problem(sql: str) -> str | None:
    """Why ``sql`` is not a custom_sql rule both warehouses run alike (None when it is):
    one read-only query in DuckDB's dialect and in BigQuery's, with the same parse tree
    in both (``"x"`` is a name in DuckDB and text in BigQuery, so a rule using it would
    check something else in production than locally)."""
    trees = []
    for dialect in DIALECTS:
        try:
            trees.append(_parse(sql, dialect))
        except CustomSqlError as exc:
            return f"{exc} (parsed as {dialect} SQL)"
    if trees[0] != trees[1]:
        return (
            "the query means different things in DuckDB and BigQuery (e.g. double quotes "
            "are a name in DuckDB and text in BigQuery); write names without quotes and "
            "text in single quotes"
        )
    return None


def require_one_select(sql: str, dialect: Dialect) -> None:
    """``CustomSqlError`` unless ``sql`` is exactly one read-only query in ``dialect``
    (``{table}`` already replaced or absent)."""
    _parse(sql, dialect)


def failing_rows_query(sql: str, dialect: Dialect, table_ref: str) -> str:
    """``SELECT COUNT(*)`` of the rule's rows, generated from the parsed rule, with
    ``{table}`` replaced by ``table_ref`` (the product table, already quoted by this
    module's helpers); ``CustomSqlError`` for a rule that is not one read-only query."""
    from sqlglot import exp

    query = _parse(sql, dialect)
    token = f"meshkit_ref_{uuid.uuid4().hex}"  # cannot occur in the rule's own text

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name == _SENTINEL and not node.args.get("db"):
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(_SENTINEL))
            return exp.Table(this=exp.to_identifier(token), alias=alias)
        return node

    rule = query.transform(swap)
    assert isinstance(rule, exp.Query)
    counted = exp.select("COUNT(*)").from_(rule.subquery("failing_rows"))
    return counted.sql(dialect=dialect).replace(token, table_ref)
