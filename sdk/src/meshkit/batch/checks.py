"""Asset checks generated from a contract, run against the written warehouse table.

:func:`product_checks` builds one Dagster check per quality rule (``not_null``,
``unique``, ``accepted_values``, ``range``, ``regex``, ``row_count``, ``freshness`` of the
data, ``custom_sql``), plus ``schema_conforms`` (the stored columns are the contract's
published columns, with the types of the warehouse) and ``no_undeclared_pii`` (the PII
scanner finds no personal data in a field the contract does not declare as personal).
All of them run in one step, on one warehouse session that cannot write (the warehouse
resource's ``read_only_session``), and the results are reported to the registry when one
is configured (an OpenLineage run of job ``<asset key>/checks``, see
:mod:`meshkit.batch.reporting`). A ``custom_sql`` rule runs as
the count of its rows, generated from its parse tree (``meshkit.contracts.sql``), through
the session's ``query_read_only``: a rule that tries to write fails its check.

Rules of severity ``warn`` become checks of severity WARN. A rule on a field whose values
the privacy transform changes (other than ``not_null``/``unique`` on a tokenized field,
see ``meshkit.contracts.evaluable``) cannot be evaluated on the stored values. The I/O
manager evaluates such rules on the table before the transform at each write
(:func:`pre_transform_outcomes`, kept in the materialisation's metadata under
``meshkit/pre_transform_checks``), and the check reports that result when the latest
materialisation wrote the whole table, under the contract's version, and the table still
has the rows it wrote. Otherwise the check yields no result, which Dagster shows as
*skipped*, and the reason goes to the run's log (the registry counts it as skipped):
a check never reports passed for a rule it did not evaluate.
"""

import contextlib
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pyarrow as pa
from dagster import AssetCheckExecutionContext

from meshkit.batch.assets import contract_of, warehouse_table
from meshkit.batch.inputs import product_key
from meshkit.batch.reporting import RegistryReporter
from meshkit.batch.resources import REGISTRY_KEY, WAREHOUSE_KEY
from meshkit.batch.validate import duplicates, failing_rows
from meshkit.batch.warehouse import WarehouseSession
from meshkit.contracts import (
    AcceptedValues,
    Contract,
    CustomSql,
    Freshness,
    NotNull,
    QualityRule,
    Range,
    Regex,
    RowCount,
    Unique,
    format_duration,
)
from meshkit.contracts.evaluable import hidden_fields
from meshkit.contracts.exporters.published import published_fields
from meshkit.contracts.sql import failing_rows_query, quote
from meshkit.lineage import Check, LineageJob
from meshkit.lineage import dataset as lineage_dataset
from meshkit.ports import POSITION_COLUMN
from meshkit.privacy.scanner import declared_of, scan_table

SCHEMA_CHECK = "schema_conforms"
PII_CHECK = "no_undeclared_pii"
PII_SAMPLE_ROWS = 1000
#: The materialisation metadata holding the rules evaluated before the transform.
PRE_TRANSFORM = "meshkit/pre_transform_checks"
_PER_RECORD = (NotNull, AcceptedValues, Range, Regex)
_BEFORE_TRANSFORM = (
    "evaluated on the table before its privacy transform, when the run materialised it"
)


@dataclass(frozen=True)
class Outcome:
    """The result of one check: passed or not (None: skipped, not evaluated), why, figures."""

    passed: bool | None
    description: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Written:
    """What the latest materialisation recorded of the rules evaluated before the transform."""

    run_id: str
    partition: str | None
    contract_version: str | None
    rows: int
    results: Mapping[str, Any]  #: by the rule's index in ``contract.quality``

    @classmethod
    def from_metadata(cls, run_id: str, metadata: Mapping[str, Any]) -> "Written | None":
        """From a materialisation's metadata values (None: it recorded nothing)."""
        recorded = metadata.get(PRE_TRANSFORM)
        if not isinstance(recorded, dict):
            return None
        partition, version = (
            metadata.get("meshkit/partition"),
            metadata.get("meshkit/contract_version"),
        )
        return cls(
            run_id,
            None if partition is None else str(partition),
            None if version is None else str(version),
            int(recorded.get("rows", -1)),
            recorded.get("rules", {}),
        )


def _what(rule: NotNull | AcceptedValues | Range | Regex) -> str:
    if isinstance(rule, NotNull):
        return "null values"
    if isinstance(rule, AcceptedValues):
        return "values not accepted"
    if isinstance(rule, Range):
        return "values out of range"
    return f"values not matching /{rule.pattern}/"


def _failing(path: str, n: int, what: str) -> Outcome:
    if not n:
        return Outcome(True, f"{path}: no {what}", {"failing_rows": 0})
    # no example values: a field not declared personal may still hold personal data
    return Outcome(False, f"{path}: {n} rows with {what}", {"failing_rows": n})


def _duplicated(fields: Iterable[str], keys: int, rows: int) -> Outcome:
    label = ", ".join(fields)
    if not keys:
        return Outcome(True, f"{label}: unique", {"duplicate_keys": 0})
    return Outcome(
        False,
        f"{label}: {keys} values appear more than once ({rows} rows)",
        {"duplicate_keys": keys, "duplicate_rows": rows},
    )


def pre_transform_outcomes(contract: Contract, table: pa.Table) -> dict[str, Any] | None:
    """The rules no port can evaluate, evaluated on a conformed table before its transform.

    JSON-ready: ``{"rows": n, "rules": {index: {"passed", "description", "metadata"}}}``;
    None when the contract has no such rule. A rule on a member of a list is left out.
    """
    rules: dict[str, Any] = {}
    hidden = [(i, r) for i, r in enumerate(contract.quality) if hidden_fields(contract, r)]
    for i, rule in hidden:
        if isinstance(rule, Unique):
            paths = list(rule.fields)
        elif isinstance(rule, _PER_RECORD):
            paths = [rule.field]
        else:
            continue
        if any(_under_list(contract, p) for p in paths):
            continue
        if isinstance(rule, Unique):
            outcome = _duplicated(rule.fields, *duplicates(table, rule.fields))
        else:
            assert isinstance(rule, _PER_RECORD)
            outcome = _failing(rule.field, failing_rows(table, rule), _what(rule))
        rules[str(i)] = {
            "passed": outcome.passed,
            "description": outcome.description,
            "metadata": outcome.metadata,
        }
    if not hidden:
        return None
    return {"rows": table.num_rows, "rules": rules}


def _under_list(contract: Contract, path: str) -> bool:
    parts = path.split(".")
    for i in range(1, len(parts)):
        spec = contract.field(".".join(parts[:i]))
        if spec is None or spec.data_type.kind != "struct":
            return True
    return False


def check_name(rule: QualityRule) -> str:
    """The Dagster check name of a rule: its ``name``, or ``<kind>_<field(s)>``."""
    if rule.name:
        raw = rule.name
    elif isinstance(rule, Unique):
        raw = "unique_" + "_".join(rule.fields)
    elif isinstance(rule, RowCount):
        raw = "row_count"
    elif isinstance(rule, Freshness):
        raw = "freshness" + (f"_{rule.field}" if rule.field else "")
    else:
        raw = f"{rule.kind}_{getattr(rule, 'field', '')}"
    return re.sub(r"[^A-Za-z0-9_]", "_", raw).strip("_")


def _rule_description(rule: QualityRule) -> str:
    text = rule.description or ""
    summary = rule.model_dump(mode="json", exclude_none=True, exclude={"description", "severity"})
    return (text + " " if text else "") + f"Contract rule: {summary}"


def check_specs(contract: Contract) -> list[tuple[str, dg.AssetCheckSpec, QualityRule | None]]:
    """``(name, spec, rule)`` of every check of a contract (rule None for schema and PII)."""
    key = product_key(contract)
    out: list[tuple[str, dg.AssetCheckSpec, QualityRule | None]] = [
        (
            SCHEMA_CHECK,
            dg.AssetCheckSpec(
                SCHEMA_CHECK,
                asset=key,
                description="The warehouse table has exactly the contract's published columns.",
            ),
            None,
        ),
        (
            PII_CHECK,
            dg.AssetCheckSpec(
                PII_CHECK,
                asset=key,
                description="The PII scanner finds no personal data in a field the contract "
                "does not declare as personal (a sample of the published table).",
            ),
            None,
        ),
    ]
    seen = {SCHEMA_CHECK, PII_CHECK}
    for rule in contract.quality:
        name = base = check_name(rule)
        n = 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        meta = {"meshkit/rule": rule.kind}
        spec = dg.AssetCheckSpec(
            name, asset=key, description=_rule_description(rule), metadata=meta
        )
        out.append((name, spec, rule))
    return out


# -- evaluation ----------------------------------------------------------------------------


class _Evaluator:
    def __init__(self, contract: Contract, session: WarehouseSession) -> None:
        self.contract = contract
        self.s = session
        dataset, table = warehouse_table(contract)
        self.dataset, self.table = dataset, table
        self.ref = session.ref(dataset, table)
        self.columns = session.columns(dataset, table)
        self.counts: dict[str, int] = {}
        self.rows: int | None = None

    def col(self, path: str) -> str:
        """A field path (``address.city``), each part quoted."""
        return ".".join(quote(p, self.s.dialect) for p in path.split("."))

    def ident(self, name: str) -> str:
        """One column name, quoted whole (a stored column may hold any character)."""
        return quote(name, self.s.dialect)

    def scalar(self, sql: str) -> Any:
        table = self.s.query(sql)
        return table.column(0)[0].as_py() if table.num_rows else None

    def count_where(self, condition: str) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {self.ref} WHERE {condition}") or 0)

    def condition(self, rule: QualityRule) -> str | None:
        """The SQL condition of a row breaking a per-record rule (None for other rules)."""
        if isinstance(rule, NotNull):
            return f"{self.col(rule.field)} IS NULL"
        if isinstance(rule, AcceptedValues):
            c, values = self.col(rule.field), ", ".join(self.s.literal(v) for v in rule.values)
            return f"{c} IS NOT NULL AND {c} NOT IN ({values})"
        if isinstance(rule, Range):
            c = self.col(rule.field)
            parts = []
            if rule.min is not None:
                parts.append(f"{c} < {self.s.literal(rule.min)}")
            if rule.max is not None:
                parts.append(f"{c} > {self.s.literal(rule.max)}")
            return " OR ".join(parts)
        if isinstance(rule, Regex):
            c = self.col(rule.field)
            return f"{c} IS NOT NULL AND NOT {self.s.regex_full_match(c, rule.pattern)}"
        return None

    def prefetch(self, rules: Iterable[QualityRule]) -> None:
        """Count the rows breaking every per-record rule, and all rows, in one table scan."""
        conditions = [c for c in (self.condition(r) for r in rules) if c is not None]
        sums = [f"SUM(CASE WHEN {c} THEN 1 ELSE 0 END)" for c in conditions]
        row = self.s.query(f"SELECT {', '.join(['COUNT(*)', *sums])} FROM {self.ref}")
        values = [int(row.column(i)[0].as_py() or 0) for i in range(row.num_columns)]
        self.rows = values[0]
        self.counts = dict(zip(conditions, values[1:], strict=True))

    def rows_failing(self, path: str, condition: str, what: str) -> Outcome:
        n = self.counts[condition] if condition in self.counts else self.count_where(condition)
        return _failing(path, n, what)

    def row_count(self) -> int:
        if self.rows is None:
            self.rows = int(self.scalar(f"SELECT COUNT(*) FROM {self.ref}") or 0)
        return self.rows

    # each returns an Outcome

    def schema(self) -> Outcome:
        if not self.columns:
            return Outcome(False, f"table {self.dataset}.{self.table} does not exist", {})
        stored = [c for c in self.columns if c != POSITION_COLUMN]
        expected = [f.name for f in published_fields(self.contract)]
        missing = [c for c in expected if c not in stored]
        extra = [c for c in stored if c not in expected]
        problems = []
        if missing:
            problems.append(f"missing columns: {', '.join(missing)}")
        if extra:
            problems.append(f"columns not in the contract: {', '.join(extra)}")
        meta = {"columns": len(stored), "missing": ", ".join(missing), "extra": ", ".join(extra)}
        if problems:
            return Outcome(False, "; ".join(problems), meta)
        return Outcome(True, f"{len(stored)} columns as the contract publishes them", meta)

    def pii(self) -> Outcome:
        # only the columns that could fail the check: undeclared, of a type the scanner
        # reads, and any the contract does not know (a sample of every column would drag
        # the tokens along, for nothing)
        published = {f.name for f in published_fields(self.contract)}
        names = [c for c in _scannable(self.contract) if c in self.columns] + [
            c for c in self.columns if c not in published and c != POSITION_COLUMN
        ]
        if not names:
            return Outcome(True, "no column left undeclared that could hold personal data",
                           {"sampled_rows": 0})  # fmt: skip
        columns = ", ".join(self.ident(c) for c in names)
        sample = self.s.query(self.s.sample(self.ref, PII_SAMPLE_ROWS, columns))
        findings = [
            f for f in scan_table(sample, declared=declared_of(self.contract)) if f.undeclared
        ]
        if not findings:
            return Outcome(True, f"no undeclared personal data in {sample.num_rows} sampled rows",
                           {"sampled_rows": sample.num_rows})  # fmt: skip
        parts = [
            f"{f.field}: {c} in {f.share(c):.0%} of {f.sampled} values "
            f"(e.g. {', '.join(f.examples.get(c, []))})"
            for f in findings
            for c in f.categories
        ]
        return Outcome(
            False,
            "undeclared personal data: " + "; ".join(parts) + " — declare pii and a transform",
            {"sampled_rows": sample.num_rows, "fields": ", ".join(f.field for f in findings)},
        )

    def rule(self, rule: QualityRule) -> Outcome:
        handler: Callable[[Any], Outcome] = getattr(self, f"_{rule.kind}")
        return handler(rule)

    def _not_null(self, r: NotNull) -> Outcome:
        return self.rows_failing(r.field, self.condition(r) or "", _what(r))

    def _unique(self, r: Unique) -> Outcome:
        cols = ", ".join(self.col(f) for f in r.fields)
        row = self.s.query(
            f"SELECT COUNT(*), COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n FROM {self.ref} "
            f"GROUP BY {cols} HAVING COUNT(*) > 1) AS d"
        ).to_pylist()[0]
        keys, rows = (int(v or 0) for v in row.values())
        return _duplicated(r.fields, keys, rows)

    def _accepted_values(self, r: AcceptedValues) -> Outcome:
        return self.rows_failing(r.field, self.condition(r) or "", _what(r))

    def _range(self, r: Range) -> Outcome:
        return self.rows_failing(r.field, self.condition(r) or "", _what(r))

    def _regex(self, r: Regex) -> Outcome:
        return self.rows_failing(r.field, self.condition(r) or "", _what(r))

    def _row_count(self, r: RowCount) -> Outcome:
        n = self.row_count()
        ok = (r.min is None or n >= r.min) and (r.max is None or n <= r.max)
        bounds = f"[{r.min if r.min is not None else ''}..{r.max if r.max is not None else ''}]"
        verdict = "within" if ok else "outside"
        return Outcome(ok, f"{n} rows, {verdict} {bounds}", {"rows": n})

    def _freshness(self, r: Freshness) -> Outcome:
        path = r.field or self.contract.event_time
        if path is None:
            return Outcome(False, "freshness needs a field or the contract's event_time", {})
        newest = self.scalar(f"SELECT MAX({self.col(path)}) FROM {self.ref}")
        if newest is None:
            return Outcome(False, f"{path}: no rows, so no data is fresh", {})
        if isinstance(newest, date) and not isinstance(newest, datetime):
            newest = datetime(newest.year, newest.month, newest.day, tzinfo=UTC)
        if newest.tzinfo is None:
            newest = newest.replace(tzinfo=UTC)
        age = datetime.now(UTC) - newest
        ok = age <= r.max_age
        meta = {"newest": newest.isoformat(), "age_seconds": round(age.total_seconds(), 1)}
        return Outcome(
            ok,
            f"{path}: newest row is {_fmt_age(age)} old (max {format_duration(r.max_age)})",
            meta,
        )

    def _custom_sql(self, r: CustomSql) -> Outcome:
        # the count is generated from the parsed rule (one read-only SELECT, or
        # CustomSqlError), and runs only where nothing can write
        sql = failing_rows_query(r.sql, self.s.dialect, self.ref)
        result = self.s.query_read_only(sql)
        n = int(result.column(0)[0].as_py() or 0) if result.num_rows else 0
        if n:
            return Outcome(False, f"{r.name}: {n} rows break the rule", {"failing_rows": n})
        return Outcome(True, f"{r.name}: no rows break the rule", {"failing_rows": 0})


_NOT_SCANNED = {"float", "decimal", "boolean", "timestamp", "bytes", "array"}


def _scannable(contract: Contract) -> list[str]:
    """The published columns the PII scanner reads that the contract does not declare
    personal (structs whole: the scanner flattens them and knows their members)."""
    return [
        f.name
        for f in published_fields(contract)
        if f.pii is None and f.type.kind not in _NOT_SCANNED
    ]


def _fmt_age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _evaluable(contract: Contract, rule: QualityRule) -> bool:
    """False when the rule reads a field whose stored values are transformed."""
    return not hidden_fields(contract, rule)


def evaluate(
    contract: Contract,
    session: WarehouseSession,
    checks: Iterable[tuple[str, QualityRule | None]],
    written: Written | None = None,
) -> dict[str, Outcome]:
    """Run checks ``(name, rule)`` of ``contract`` on ``session``; never raises for bad data.

    Per-record rules and the row count share one scan of the table. A rule no port can
    evaluate takes its outcome from ``written`` (the latest materialisation) when that
    covers the table as it is, and is skipped (``passed`` None) otherwise.
    """
    ev = _Evaluator(contract, session)
    todo = list(checks)
    out: dict[str, Outcome] = {}
    missing = Outcome(False, f"table {ev.dataset}.{ev.table} does not exist; materialise it", {})
    evaluable = [r for _, r in todo if r is not None and _evaluable(contract, r)]
    if ev.columns and evaluable:
        # if the shared scan fails, each check runs (and reports) its own query
        with contextlib.suppress(Exception):
            ev.prefetch(evaluable)
    for name, rule in todo:
        if name == SCHEMA_CHECK:
            out[name] = ev.schema()
        elif not ev.columns:
            out[name] = missing
        elif name == PII_CHECK:
            out[name] = ev.pii()
        elif rule is not None and not _evaluable(contract, rule):
            out[name] = _before_transform(contract, rule, written, ev)
        elif rule is not None:
            try:
                out[name] = ev.rule(rule)
            except Exception as exc:  # a query the warehouse refuses fails the check only
                out[name] = Outcome(
                    False, f"the check query failed: {type(exc).__name__}: {exc}", {}
                )
    return out


def _before_transform(
    contract: Contract, rule: QualityRule, written: Written | None, ev: _Evaluator
) -> Outcome:
    """The outcome recorded before the transform, if it covers the stored table; or skipped."""
    hidden = hidden_fields(contract, rule)[0].stored_as
    recorded = None if written is None else written.results.get(str(contract.quality.index(rule)))
    reason = None
    if written is None:
        reason = "no materialisation by meshkit's I/O manager recorded its evaluation before "
        reason += "the transform"
    elif written.partition is not None:
        reason = "the asset is partitioned: each partition's materialisation records its own "
        reason += f"evaluation before the transform (metadata {PRE_TRANSFORM}), none covers "
        reason += "the whole table"
    elif written.contract_version != contract.version:
        reason = f"the latest materialisation wrote contract version {written.contract_version}"
    elif recorded is None:
        reason = "the rule reads a member of a list, which is not evaluated before the "
        reason += "transform either"
    else:
        try:
            now = ev.row_count()
        except Exception as exc:  # a query the warehouse refuses fails the check only
            return Outcome(False, f"the check query failed: {type(exc).__name__}: {exc}", {})
        if now != written.rows:
            reason = "the table changed since the run that evaluated it before the transform "
            reason += f"({written.rows} rows then, {now} now)"
    if reason is not None or recorded is None:
        return Outcome(None, f"{hidden}, so the stored table cannot show it; {reason}", {})
    assert written is not None
    metadata = {
        **recorded.get("metadata", {}),
        "evaluated_on": "pre-transform",
        "materialization_run_id": written.run_id,
    }
    description = f"{recorded['description']} ({_BEFORE_TRANSFORM})"
    return Outcome(bool(recorded["passed"]), description, metadata)


def product_checks(asset: dg.AssetsDefinition | Contract) -> dg.AssetChecksDefinition:
    """Every check of a product asset (or contract), as one multi-asset check."""
    contract = asset if isinstance(asset, Contract) else contract_of(asset)
    if contract is None:
        raise TypeError("product_checks needs an asset made by product_asset, or a Contract")
    specs = check_specs(contract)
    by_name = {name: rule for name, _, rule in specs}
    key = product_key(contract)

    @dg.multi_asset_check(
        specs=[s for _, s, _ in specs],
        name=f"{contract.domain}__{contract.name}__v{contract.major}__checks",
        description=f"Checks of {contract.address} generated from its contract.",
        required_resource_keys={WAREHOUSE_KEY, REGISTRY_KEY},
        can_subset=True,
    )
    def _checks(context: AssetCheckExecutionContext) -> Iterable[dg.AssetCheckResult]:
        selected = {k.name for k in context.selected_asset_check_keys}
        warehouse = getattr(context.resources, WAREHOUSE_KEY)
        reporter: RegistryReporter = getattr(context.resources, REGISTRY_KEY)
        reported: list[Check] = []
        # the checks only read: on a session that cannot write (custom SQL runs on nothing else)
        with warehouse.read_only_session() as session:
            todo = [(n, r) for n, r in by_name.items() if n in selected]
            outcomes = evaluate(contract, session, todo, _written(context, key))
            for name, rule in todo:
                outcome = outcomes[name]
                severity = (
                    dg.AssetCheckSeverity.WARN
                    if rule is not None and rule.severity == "warn"
                    else dg.AssetCheckSeverity.ERROR
                )
                reported.append(Check(name, outcome.passed, severity.value.lower()))
                if outcome.passed is None:
                    # no result: Dagster shows the check skipped; the reason goes to the log
                    context.log.warning(f"check {name} skipped: {outcome.description}")
                    continue
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name=name,
                    passed=outcome.passed,
                    severity=severity,
                    description=outcome.description,
                    metadata=outcome.metadata,
                )
        if reporter.enabled:
            asset = key.to_user_string()
            run_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{context.run.run_id}/{asset}/checks")
            reporter.check_events(
                LineageJob(
                    f"{asset}/checks",
                    namespace=contract.domain,
                    integration="DAGSTER",
                    inputs=[lineage_dataset("meshkit", contract.address)],
                    run_id=str(run_id),  # one checks run per product of a Dagster run
                ),
                reported,
            )

    return _checks


def _written(context: AssetCheckExecutionContext, key: dg.AssetKey) -> Written | None:
    event = context.instance.get_latest_materialization_event(key)
    materialization = None if event is None else event.asset_materialization
    if event is None or materialization is None:
        return None
    values = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    return Written.from_metadata(event.run_id, values)
