"""Generate ``docs/contracts.md``, the contract reference, from the models themselves.

    python -m meshkit.contracts.reference --write docs/contracts.md

Every key comes from a model field (its type, default and ``description``); each model's
docstring opens its section, followed by an example that the tests validate against
that model. A test fails when the committed page differs from ``render_reference()``.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from meshkit.contracts import filter as filter_module
from meshkit.contracts import mapping, model, ports, quality, transforms
from meshkit.contracts import types as types_module
from meshkit.contracts.types import DataType, format_duration

SECTIONS: list[tuple[str, list[type[BaseModel]]]] = [
    ("The contract", [model.Contract, model.Owner, model.Access]),
    ("Fields", [model.FieldSpec]),
    (
        "Privacy transforms",
        [
            transforms.Drop,
            transforms.Redact,
            transforms.Mask,
            transforms.Tokenize,
            transforms.Generalize,
            transforms.Encrypt,
        ],
    ),
    (
        "Quality rules",
        [
            quality.NotNull,
            quality.Unique,
            quality.AcceptedValues,
            quality.Range,
            quality.Regex,
            quality.RowCount,
            quality.Freshness,
            quality.CustomSql,
        ],
    ),
    ("Service-level objectives", [quality.Slo]),
    (
        "Ports",
        [
            ports.Ports,
            ports.CdcInput,
            ports.ProductInput,
            ports.KafkaTopic,
            ports.WarehouseTable,
            ports.Partitioning,
            ports.SearchIndex,
            ports.ServingView,
        ],
    ),
    ("Mapping", [mapping.Mapping, mapping.FieldMapping]),
]

# One example per model, validated against that model by the tests.
EXAMPLES: dict[type[BaseModel], str] = {
    model.Owner: "owner: {team: customer-data, contact: customer-data@example.com}",
    model.Access: "access:\n  visibility: public\n  readers: [analytics, marketing]",
    model.FieldSpec: (
        "- name: email\n  type: string\n  required: true\n  description: Login e-mail.\n"
        "  classification: confidential\n  pii: email\n"
        "  transform: {kind: tokenize, key: customer}"
    ),
    transforms.Drop: "transform: {kind: drop}",
    transforms.Redact: "transform: {kind: redact, value: '[hidden]'}",
    transforms.Mask: "transform: {kind: mask, keep_last: 4}",
    transforms.Tokenize: "transform: {kind: tokenize, key: customer}",
    transforms.Generalize: "transform: {kind: generalize, to: month}",
    transforms.Encrypt: "transform: {kind: encrypt}",
    quality.NotNull: "- {kind: not_null, field: email}",
    quality.Unique: "- {kind: unique, fields: [customer_id]}",
    quality.AcceptedValues: "- {kind: accepted_values, field: tier, values: [free, plus, pro]}",
    quality.Range: "- {kind: range, field: age, min: 0, max: 130}",
    quality.Regex: '- {kind: regex, field: country, pattern: "[A-Z]{2}"}',
    quality.RowCount: "- {kind: row_count, min: 1, max: 10000000}",
    quality.Freshness: "- {kind: freshness, field: updated_at, max_age: 1h, severity: warn}",
    quality.CustomSql: (
        "- kind: custom_sql\n  name: no_future_signups\n"
        "  sql: select * from {table} where signed_up_at > current_timestamp"
    ),
    quality.Slo: "slo: {freshness: 15m, completeness: 0.999, availability: 0.995}",
    ports.Ports: (
        "ports:\n  inputs:\n    - {kind: cdc, database: crm, table: customers}\n"
        "  outputs:\n    - {kind: kafka_topic}"
    ),
    ports.CdcInput: "- {kind: cdc, name: crm, database: crm, schema: public, table: customers}",
    ports.ProductInput: "- {kind: product, product: orders.order, major: 2}",
    ports.KafkaTopic: "- {kind: kafka_topic, partitions: 6, retention: 7d, compaction: true}",
    ports.WarehouseTable: (
        "- kind: warehouse_table\n  partitioning: {field: signed_up_at, granularity: month}\n"
        "  clustering: [tier]"
    ),
    ports.Partitioning: "partitioning: {field: placed_at, granularity: day}",
    ports.SearchIndex: "- {kind: search_index, searchable: [title, address.city]}",
    ports.ServingView: "- {kind: serving_view, key: [customer_id]}",
    mapping.Mapping: (
        "mapping:\n  from: crm\n  filter: \"status != 'test' and deleted_at is null\"\n"
        "  fields:\n    customer_id: {source: id, cast: string}\n    email: email_address"
    ),
    mapping.FieldMapping: "customer_id: {source: id, cast: string}",
}

FULL_EXAMPLE = """\
domain: customers
name: customer
version: 1.4.0
status: active
description: Every customer of the shop, current state, one record per customer.
owner: {team: customer-data, contact: customer-data@example.com}
subject: customer_id

fields:
  - {name: customer_id, type: string, required: true, description: Id from the CRM.}
  - name: email
    type: string
    required: true
    classification: confidential
    pii: email
    transform: {kind: tokenize, key: customer}
  - name: full_name
    type: string
    classification: restricted
    pii: name
    transform: {kind: encrypt}
  - name: birth_date
    type: date
    classification: confidential
    pii: date_of_birth
    transform: {kind: generalize, to: year}
  - {name: tier, type: string, required: true}
  - {name: lifetime_value, type: "decimal(12,2)"}
  - name: address
    type: struct
    fields:
      - {name: city, type: string}
      - {name: country, type: string, required: true}
  - {name: updated_at, type: timestamp, required: true}

primary_key: [customer_id]
event_time: updated_at

quality:
  - {kind: accepted_values, field: tier, values: [free, plus, pro]}
  - {kind: regex, field: address.country, pattern: "[A-Z]{2}"}
  - {kind: freshness, max_age: 1h}

slo: {freshness: 15m, completeness: 0.999, availability: 0.995}

ports:
  inputs:
    - {kind: cdc, name: crm, database: crm, schema: public, table: customers}
  outputs:
    - {kind: kafka_topic, partitions: 6, compaction: true}
    - {kind: warehouse_table, partitioning: {field: updated_at}, clustering: [tier]}

mapping:
  from: crm
  filter: "deleted_at is null"
  fields:
    customer_id: {source: id, cast: string}
    email: email_address

access: {visibility: public, readers: [analytics]}
"""


def _anchor(cls: type) -> str:
    return cls.__name__.lower()


def type_name(annotation: Any) -> str:
    """How a field's annotation reads in the reference."""
    if annotation is DataType:
        return "type (see [Types](#types))"
    if annotation is timedelta:
        return "duration (see [Durations](#durations))"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin in {typing.Union, types.UnionType}:
        members = [a for a in args if a is not type(None)]
        names = list(dict.fromkeys(type_name(a) for a in members))
        text = " or ".join(names)
        return f"{text}, or null" if len(members) < len(args) else text
    if origin is tuple:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"mapping of name to {type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    simple = {
        str: "text", int: "integer", float: "number", Decimal: "number", bool: "boolean",
        date: "date", datetime: "timestamp",
    }  # fmt: skip
    if annotation in simple:
        return simple[annotation]
    return getattr(annotation, "__name__", str(annotation))


def _default(info: Any) -> str:
    if info.is_required():
        return "**required**"
    value = info.default_factory() if info.default_factory is not None else info.default
    if value is PydanticUndefined or value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "see below" if value.model_fields_set else "defaults"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value in ((), {}):
        return "empty"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _doc(obj: Any) -> str:
    """A docstring as Markdown: ``x`` becomes `x`, ``::`` blocks become code fences."""
    lines = inspect.cleandoc(obj.__doc__ or "").replace("``", "`").split("\n")
    out: list[str] = []
    in_code = False
    for line in lines:
        if in_code and line and not line.startswith("    "):
            while out[-1] == "":
                out.pop()
            out += ["```", ""]
            in_code = False
        if in_code:
            out.append(line[4:])
            continue
        if line.endswith("::"):
            out += [line[:-1], "", "```text"]
            in_code = True
            continue
        out.append(line)
    if in_code:
        while out[-1] == "":
            out.pop()
        out.append("```")
    return "\n".join(out).replace("```text\n\n", "```text\n")


def _model_section(cls: type[BaseModel]) -> list[str]:
    lines = [f"### {cls.__name__}", "", _doc(cls).split("\n\n")[0], ""]
    lines += ["| key | type | default | description |", "|---|---|---|---|"]
    fields = sorted(cls.model_fields.items(), key=lambda item: item[0] != "kind")
    for name, info in fields:
        key = info.alias or name
        lines.append(
            f"| `{key}` | {_cell(type_name(info.annotation))} | {_default(info)} "
            f"| {_cell(info.description or '')} |"
        )
    if cls in EXAMPLES:
        lines += ["", "```yaml", EXAMPLES[cls], "```", ""]
    else:
        lines += ["", "See [the complete example](#a-complete-example).", ""]
    return lines


def render_reference() -> str:
    """The whole reference page, as Markdown."""
    out = [
        "# Contract reference",
        "",
        "<!-- Generated by `python -m meshkit.contracts.reference --write docs/contracts.md`"
        " from the models in meshkit.contracts; do not edit by hand. -->",
        "",
        "A data product is declared by one YAML file, `contracts/<product>.yaml`, in its",
        "domain's repository. The contract is the single source of truth: port schemas,",
        "validators, masking, asset checks, provisioning and catalog entries derive from it.",
        "Check contracts with `meshkit contract lint contracts/`: every problem is reported",
        "as `file:line:col: error: field.path: message (expected ...) hint: ...`, and the",
        "exit code is 1 when there is any error (`--format json` for machines).",
        "",
        "## A complete example",
        "",
        "```yaml",
        FULL_EXAMPLE.rstrip(),
        "```",
        "",
        "## Names",
        "",
        _doc(ports).split("\n\n")[1],
        "",
        "## Types",
        "",
        _doc(types_module).split("\n\n", 1)[1].split("\n\nDurations")[0],
        "",
        "## Durations",
        "",
        "Durations" + _doc(types_module).split("\n\nDurations", 1)[1],
        "",
        "## Semantic rules",
        "",
        "Beyond the structure below, `lint` checks that:",
        "",
        "- field names are unique at each level; `struct` (and `array<struct>`) fields list",
        "  their members in `fields`, other fields do not;",
        "- a field with `pii` declares a `transform`, and the transform fits the field's type",
        "  (`mask`, `generalize` `prefix`/`ipv4_24` on text; `generalize` `month`/`year` on",
        "  dates and timestamps; `bucket` on numbers; `tokenize` on text and integers;",
        "  `encrypt` on text, bytes, integers and dates, with a `subject` declared);",
        "- every field reference exists (`primary_key`, `event_time`, `subject`, quality",
        "  rules, port keys, clustering, partitioning, searchable fields, mapping);",
        "- primary key fields are required scalars; `event_time` and partitioning fields are",
        "  dates or timestamps; `regex` applies to text and `range` to orderable types,",
        "  with bounds of the field's type (a whole number for an integer, a date for a",
        "  date) and `min` not above `max`;",
        "- `status: deprecated` has a `sunset` date; at most one output port of each kind;",
        "  a compacted topic or a serving view has a key; a mapping names an input port and",
        "  its filter parses.",
        "",
        "Across the files linted together, `lint` warns (a warning, exit 0) about each product",
        "input port that reads a major version no linted contract produces while another major",
        "of that product is produced: its source bumped to 2.0.0 and dropped its 1.x contract,",
        "so the consumer's `major: 1` reads a port nothing writes any more. The warning names",
        "the product and the majors produced and is located at the port's `major`. A domain",
        "that keeps producing v1 beside v2 during a migration gets no warning, and a product",
        "none of the linted files produce (another repository's) is not judged.",
        "",
        "## What lint refuses, and why",
        "",
        "Some input would harm a port or mean different things in different places; lint",
        "refuses it with its file, line and column:",
        "",
        "- **Reserved names.** Field names starting with `_meshkit` (in any case, at any",
        "  level) are reserved for the ports' internal columns: `_meshkit_pos` (source",
        "  position), `_meshkit_delete` (delete marker), `_meshkit_row` (staging order). A",
        "  field named like one would be taken for it: a `_meshkit_delete` field turned an",
        "  upsert into a delete, a `_meshkit_pos` field broke table creation.",
        "- **Names a warehouse cannot take.** Field names BigQuery reserves (starting with",
        "  `_TABLE_`, `_FILE_`, `_PARTITION`, `_ROW_TIMESTAMP`, `__ROOT__`, `_COLIDENTIFIER`, in",
        "  any case); field names that differ only in case (`Code` and `code` are one column",
        "  in DuckDB and BigQuery); names longer than 63 characters, and a port name",
        "  `<domain>.<name>.v<major>` longer than 63 when there is a serving view",
        "  (PostgreSQL cuts longer names, so two could become one).",
        "- **Names that are not plain identifiers.** Domain and product names are lowercase",
        "  letters, digits and `_`; field names letters, digits and `_`. Quotes, spaces and",
        "  semicolons never reach SQL, topic or index names; every name that does is quoted",
        '  by the driver\'s rules all the same (DuckDB `"..."` with `"` doubled, BigQuery',
        "  backticks with backtick and backslash escaped, PostgreSQL `sql.Identifier`).",
        "- **custom_sql that is not one read-only SELECT.** A rule is exactly one query",
        "  (`SELECT`, `WITH ... SELECT`, `UNION` of selects) that parses in both warehouse",
        '  dialects, DuckDB and BigQuery (sqlglot), to the same query: `"x"` is a name in',
        "  DuckDB and text in BigQuery, so a rule using it is refused (it would check",
        "  something else in production than locally). Refused too: several statements, any other",
        "  statement (`COPY`, `DROP`, `INSERT`, `ATTACH`, `SET`, ...), `SELECT ... INTO`, a",
        "  `WITH` that changes data, `FOR UPDATE`, and table functions that read files, other",
        "  databases or SQL given as text (`read_csv`, `query`, `EXTERNAL_QUERY`, ...). The",
        "  check runs the count of the rule's rows generated from the parsed query (the",
        "  rule's text is never pasted into other SQL) on a connection that cannot write: a",
        "  read-only DuckDB connection without file access, a BigQuery job whose dry run says",
        "  it is a `SELECT` (see the batch guide).",
        "- **Patterns RE2 cannot run.** `regex` patterns are RE2 syntax, the engine of DuckDB,",
        "  BigQuery, Arrow and the streaming validator alike, so a pattern means the same",
        "  everywhere and matches in time linear in the value's length. Look-ahead,",
        "  look-behind, back-references and possessive quantifiers are refused.",
        "- **Bounds that are not finite.** `range` bounds (and `accepted_values`) of `.inf`,",
        "  `-.inf` or `.nan`: an infinite bound is no bound (leave `min:` or `max:` out), and",
        "  nothing compares with NaN, so every value would fail or pass depending on the",
        "  engine.",
        "",
        "Lint also warns (`warning`, exit code 0), located to the field name in the rule,",
        "when a quality rule reads a field whose privacy transform changes its stored",
        "values (any transform but `tokenize`, which keeps `not_null` and `unique`",
        "evaluable; a member of a transformed struct counts too): no port can evaluate the",
        "rule on what it stores. Batch checks report such a rule as the I/O manager",
        "evaluated it before the transform, or skip it (see the batch guide).",
        "",
    ]
    for title, models in SECTIONS:
        out += [f"## {title}", ""]
        for cls in models:
            out += _model_section(cls)
    out += [
        "## Filter expressions",
        "",
        _doc(filter_module).split("\n\n", 1)[1],
        "",
        "## Runtime validation",
        "",
        "`meshkit.contracts.ContractValidator(contract)` checks records against the",
        "contract's types, `required` and the per-record quality rules (`not_null`,",
        "`accepted_values`, `range`, `regex`) and returns the valid records and the failures",
        "(record index, field path, message; never the value) without raising:",
        "`validate_record` for streaming, `validate_batch` for a list of dicts,",
        "`validate_table` for a pyarrow table. `unique`, `row_count`, `freshness` and",
        "`custom_sql` are batch checks.",
        "",
        "`meshkit.contracts.table.TableValidator(contract)` makes the same checks of an Arrow",
        "table already cast to the contract's types, column by column (`problems(table)`: per",
        "field path and check, the rows that break it; `invalid_rows(table)`), with the same",
        "verdict per row and field as the record validator. The batch I/O manager, the ports'",
        "intake and the streaming columnar path use it.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render the contract reference page.")
    ap.add_argument("--write", type=Path, help="write to this file instead of stdout")
    args = ap.parse_args(argv)
    text = render_reference()
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
