"""The warehouse port on BigQuery: the same contract, semantics and idempotence as DuckDB.

The table ``<project>.<domain>.<product>_v<major>`` gets its schema from
``meshkit.contracts.exporters.bigquery`` (descriptions; policy tags on PII columns when a
``taxonomy`` is given), time partitioning and clustering from the warehouse port, plus
``_meshkit_pos`` (INT64, the source position of each row).

Writes, as on DuckDB: ``write`` checks the whole micro-batch (a bad change raises
``RecordRefusedError`` there and then) and stages it in memory (``StagedChanges``);
``flush``, or a ``write`` that brings the staged rows to ``stage_rows`` (default
250,000), applies everything staged: compacted to the newest change per key, it is
loaded into a fresh staging table (a load job: free, atomic, expires after an hour in
case of a crash), then one ``MERGE`` applies it — delete where the change is a delete
and newer, update where newer, insert where the key is new — and the staging table is
dropped. So a streaming sink, which flushes this writer at each snapshot, runs one load
job and one ``MERGE`` per snapshot instead of one per micro-batch: each job takes
seconds, and a ``MERGE`` is billed for the target's columns it reads, once per
statement. A MERGE is atomic, and a replayed change changes nothing because only newer
positions apply; a failed load or ``MERGE`` raises ``PortError`` and the staged changes
are dropped (the caller replays from its last committed position). ``mode="append"``
(event tables) inserts rows whose key is not in the table yet, so a replay adds nothing.

Why not the Storage Write API for appends: its exactly-once mode (committed streams with
offsets) needs the stream and its offset to live as long as the caller's source position,
and a stream cannot be shared between workers; a load job plus an insert-only MERGE keyed
by the primary key is idempotent without that state, costs no ingestion fees, and can be
tested against the local emulator. The Storage Write API pays off above the load-job quota
(1,500 loads per table per day, i.e. micro-batches more often than about once a minute);
see docs/ports.md.

Schema evolution (``ensure``): new optional fields are appended and required fields
relaxed to NULLABLE with one ``update_table(table, ["schema"])`` call; anything else is
refused (``SchemaChangeError``). The local emulator cannot evolve schemas, so this path is
covered by a unit test of the calls it makes.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from meshkit.contracts import Contract, WarehouseTable
from meshkit.contracts.exporters.bigquery import bigquery_schema, bigquery_table_options
from meshkit.contracts.sql import bigquery_ref, quote_bigquery
from meshkit.ports.base import POSITION_COLUMN, PortError, describe_error
from meshkit.ports.evolution import Column, Evolution, plan
from meshkit.ports.intake import DELETE_COLUMN, Intake
from meshkit.ports.warehouse import ORDER_COLUMN, Mode, StagedChanges, StagingWriter

STAGING_TTL = timedelta(hours=1)


def _signature(field: Any) -> str:
    """A schema field's type as one comparable text (RECORD members included)."""
    kind = field.field_type
    if kind in {"RECORD", "STRUCT"}:
        kind = (
            "STRUCT<"
            + ", ".join(
                f"{f.name} {_signature(f)}{'' if f.mode != 'REQUIRED' else ' NOT NULL'}"
                for f in field.fields
            )
            + ">"
        )
    elif kind in {"NUMERIC", "BIGNUMERIC"} and field.precision is not None:
        kind = f"{kind}({field.precision},{field.scale})"
    kind = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}.get(kind, kind)
    return f"ARRAY<{kind}>" if field.mode == "REPEATED" else kind


class BigQueryWarehouseWriter(StagingWriter):
    """Warehouse writer for BigQuery (see the module docstring).

    ``client`` is a ``google.cloud.bigquery.Client``; ``retry``/``job_retry`` go to its
    calls (the emulator needs short ones: ``meshkit.local.emulator_retry()``).
    """

    def __init__(
        self,
        client: Any,
        *,
        mode: Mode = "upsert",
        taxonomy: str | None = None,
        dataset_prefix: str = "",
        location: str | None = None,
        retry: Any = None,
        job_retry: Any = None,
        stage_rows: int = 250_000,
    ) -> None:
        super().__init__(mode, stage_rows)
        self.client = client
        self.taxonomy = taxonomy
        self.dataset_prefix = dataset_prefix
        self.location = location
        self._retry = {} if retry is None else {"retry": retry}
        self._job_retry = {} if job_retry is None else {"job_retry": job_retry}
        self.table_id = ""
        self._schema: list[Any] = []
        self._merge = ""

    # -- ensure ---------------------------------------------------------------------------

    def ensure(self, contract: Contract) -> Evolution:
        """Create the table, or apply additive changes; ``SchemaChangeError`` otherwise.

        What is staged is applied first (``flush``).
        """
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        self.flush()
        port_spec = WarehouseTable(kind="warehouse_table")
        dataset = self.dataset_prefix + port_spec.dataset(contract)
        self.table_id = f"{self.client.project}.{dataset}.{port_spec.table(contract)}"
        port = f"{contract.address} (BigQuery table {self.table_id})"
        schema = [
            bigquery.SchemaField.from_api_repr(f)
            for f in bigquery_schema(contract, taxonomy=self.taxonomy)
        ]
        schema.append(bigquery.SchemaField(POSITION_COLUMN, "INT64", mode="REQUIRED"))
        ds = bigquery.Dataset(f"{self.client.project}.{dataset}")
        if self.location:
            ds.location = self.location
        self.client.create_dataset(ds, exists_ok=True, **self._retry)
        evolution = Evolution()
        try:
            table = self.client.get_table(self.table_id, **self._retry)
        except NotFound:
            table = bigquery.Table(self.table_id, schema=schema)
            options = bigquery_table_options(contract)
            if "timePartitioning" in options:
                tp = options["timePartitioning"]
                table.time_partitioning = bigquery.TimePartitioning(
                    type_=tp["type"], field=tp["field"]
                )
            if "clustering" in options:
                table.clustering_fields = options["clustering"]["fields"]
            table.description = options.get("description")
            self.client.create_table(table, exists_ok=True, **self._retry)
        else:
            evolution = self._evolve(port, table, schema, contract)
        self._schema = schema
        self._intake = Intake(contract, port)
        self._staged = StagedChanges(contract.primary_key, self.stage_rows)
        self._merge = self._merge_sql(schema, list(contract.primary_key))
        return evolution

    def _evolve(self, port: str, table: Any, wanted: list[Any], contract: Contract) -> Evolution:
        def columns(fields: Sequence[Any]) -> list[Column]:
            return [
                Column(f.name, _signature(f), f.mode != "REQUIRED")
                for f in fields
                if f.name != POSITION_COLUMN
            ]

        existing = {c.name: c for c in columns(table.schema)}
        evolution = plan(port, existing, columns(wanted), contract)
        if evolution.empty:
            return evolution
        relax = {c.name for c in evolution.relax}
        by_name = {f.name: f for f in wanted}
        new_schema = [by_name[f.name] if f.name in relax else f for f in table.schema]
        new_schema += [by_name[c.name] for c in evolution.add]
        table.schema = new_schema
        self.client.update_table(table, ["schema"], **self._retry)
        return evolution

    def _merge_sql(self, schema: list[Any], key: list[str]) -> str:
        """The MERGE of a staging table (``{stage}``, filled in per apply) into the table;
        every name quoted by ``quote_bigquery``."""
        q = quote_bigquery
        names = [f.name for f in schema]
        cols = ", ".join(q(n) for n in names)
        values = ", ".join(f"S.{q(n)}" for n in names)
        on = " AND ".join(f"T.{q(k)} = S.{q(k)}" for k in key)
        target = _ref(self.table_id)
        if self.mode == "append":
            return (
                f"MERGE {target} T USING {{stage}} S ON {on} "
                f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})"
            )
        pos, gone = q(POSITION_COLUMN), q(DELETE_COLUMN)
        newer = f"S.{pos} > T.{pos}"
        sets = ", ".join(f"{q(n)} = S.{q(n)}" for n in names if n not in key)
        return (
            f"MERGE {target} T USING {{stage}} S ON {on} "
            f"WHEN MATCHED AND {newer} AND S.{gone} THEN DELETE "
            f"WHEN MATCHED AND {newer} THEN UPDATE SET {sets} "
            f"WHEN NOT MATCHED AND NOT S.{gone} THEN INSERT ({cols}) VALUES ({values})"
        )

    # -- write ----------------------------------------------------------------------------

    def _apply(self, table: pa.Table) -> int:
        """Load the staged changes into a staging table, MERGE it, drop the staging table;
        the rows the MERGE changed."""
        from google.cloud import bigquery

        assert self._intake is not None
        rows = [
            {k: _json(v) for k, v in r.items()}
            for r in table.drop_columns(ORDER_COLUMN).to_pylist()
        ]
        stage_id = f"{self.table_id}__stage_{uuid.uuid4().hex[:12]}"
        stage = bigquery.Table(stage_id, schema=_staging_schema(self._schema))
        stage.expires = datetime.now(UTC) + STAGING_TTL
        try:
            self.client.create_table(stage, **self._retry)
            config = bigquery.LoadJobConfig(
                schema=stage.schema,
                source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            )
            self.client.load_table_from_json(rows, stage_id, job_config=config).result(
                **self._retry
            )
            job = self.client.query(
                self._merge.replace("{stage}", _ref(stage_id)), **self._retry, **self._job_retry
            )
            job.result(**self._retry)
            affected = int(job.num_dml_affected_rows or 0)
        except Exception as exc:
            if type(exc).__module__.startswith(("google.", "requests")):
                raise PortError(
                    f"{self._intake.port}: the writes since the last flush were not applied "
                    f"(replay them from the last committed position): {describe_error(exc)}"
                ) from None  # the job's errors may quote a row's values
            raise
        finally:
            self.client.delete_table(stage_id, not_found_ok=True, **self._retry)
        return affected

    def flush(self) -> None:
        """Apply what is staged (one load job and one ``MERGE``); durable when it returns."""
        self._apply_staged()

    def close(self) -> None:
        """Flush, then close the client."""
        try:
            self.flush()
        finally:
            self.client.close()


def _ref(table_id: str) -> str:
    """``project.dataset.table`` as SQL, each part quoted (a project id may hold dots)."""
    return bigquery_ref(*table_id.rsplit(".", 2))


def _staging_schema(schema: list[Any]) -> list[Any]:
    from google.cloud import bigquery

    def loose(f: Any) -> Any:
        mode = "REPEATED" if f.mode == "REPEATED" else "NULLABLE"
        return bigquery.SchemaField(
            f.name, f.field_type, mode=mode, fields=[loose(m) for m in f.fields],
            precision=f.precision, scale=f.scale,
        )  # fmt: skip

    return [*(loose(f) for f in schema), bigquery.SchemaField(DELETE_COLUMN, "BOOL")]


def _json(value: Any) -> Any:
    """A value as the load job's JSON wants it."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value
