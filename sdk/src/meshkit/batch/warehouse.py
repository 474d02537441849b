"""Warehouse sessions of the batch I/O manager and checks: DuckDB locally, BigQuery in prod.

A session wraps one open connection (DuckDB) or client (BigQuery) and offers what batch
needs beyond the output-port writers' micro-batches:

- ``ensure(contract)``: create the table from the contract or evolve it additively, by
  the output-port writers of ``meshkit.ports`` (so batch and streaming tables agree);
- ``replace(contract, table, window)``: replace the rows of one partition (``window``) or
  of the whole table with an Arrow table, in one go (DuckDB: one transaction; BigQuery:
  one ``MERGE ... ON FALSE`` that deletes the old rows and inserts the new ones, so a
  reader sees the old rows or the new, never none, and a failed job changes nothing); a
  batch product is rewritten per run or per partition, not upserted row by row, and a
  million-row table has to move as Arrow, not as per-record changes;
- ``read``/``query``/``columns``/``ref``: what the I/O manager's inputs and the asset
  checks read; on BigQuery ``read`` goes through the Storage Read API
  (:mod:`meshkit.batch.storage_read`) and falls back to a query, with one log line
  saying why, where that API cannot serve it;
- ``query_read_only``: a query that must not write (a contract's ``custom_sql`` rule,
  regenerated from its parse tree): only when it parses as one read-only ``SELECT``
  (``meshkit.contracts.sql``), and then on DuckDB only on a connection that cannot write
  (read-only, no file access, its configuration locked:
  ``DuckDBWarehouse.read_only_session``), on BigQuery only after a dry run says the job
  is a ``SELECT`` (no DDL, DML or script), without a destination table.

Both dialects share the SQL the checks run (see :mod:`meshkit.batch.checks`); the few
differences (identifier quoting, literals, the regex function, sampling) are methods here.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from meshkit.batch.storage_read import StorageReader, StorageReadUnavailable
from meshkit.batch.validate import PartitionWindow
from meshkit.contracts import Contract
from meshkit.contracts.sql import CustomSqlError, bigquery_ref, quote_bigquery, require_one_select
from meshkit.contracts.sql import quote_duckdb as quote
from meshkit.errors import ServiceError
from meshkit.ports import POSITION_COLUMN, BigQueryWarehouseWriter, DuckDBWarehouseWriter
from meshkit.ports.base import describe_error

Dialect = Literal["duckdb", "bigquery"]

_log = logging.getLogger(__name__)


def batch_position() -> int:
    """The source position of a batch write: microseconds since the epoch (grows per run)."""
    return time.time_ns() // 1000


def _warehouse_table(contract: Contract) -> tuple[str, str]:
    from meshkit.batch.assets import warehouse_table

    return warehouse_table(contract)


class WarehouseSession(Protocol):
    """One open warehouse connection (see the module docstring)."""

    dialect: Dialect

    def ensure(self, contract: Contract) -> None: ...

    def replace(
        self, contract: Contract, table: pa.Table, window: PartitionWindow | None
    ) -> int: ...

    def read(self, dataset: str, table: str, window: PartitionWindow | None = None) -> pa.Table: ...

    def query(self, sql: str) -> pa.Table: ...

    def query_read_only(self, sql: str) -> pa.Table: ...

    def columns(self, dataset: str, table: str) -> dict[str, str]: ...

    def ref(self, dataset: str, table: str) -> str: ...

    def literal(self, value: Any) -> str: ...

    def regex_full_match(self, column: str, pattern: str) -> str: ...

    def sample(self, ref: str, rows: int, columns: str = "*") -> str: ...


def _sql_literal(value: Any, string: str) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return string


READ_ONLY_CONFIG: dict[str, Any] = {
    "enable_external_access": False,  # no COPY TO, ATTACH, EXPORT or file reads
    "lock_configuration": True,  # and no SET to undo that
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
"""The configuration of a DuckDB connection that cannot write (opened ``read_only``)."""


def connect_read_only(database: str | Path) -> Any:
    """A DuckDB connection to ``database`` that cannot write: read-only, without file
    access, its configuration locked (an empty in-memory database when the file does not
    exist yet, so every table is missing)."""
    import duckdb

    if str(database) != ":memory:" and Path(database).is_file():
        return duckdb.connect(str(database), read_only=True, config=READ_ONLY_CONFIG)
    return duckdb.connect(":memory:", config=READ_ONLY_CONFIG)


class DuckDBSession:
    """A session on a DuckDB connection (``dagster_duckdb.DuckDBResource.get_connection()``)."""

    dialect: Dialect = "duckdb"

    def __init__(self, connection: Any) -> None:
        self.con = connection

    def ensure(self, contract: Contract) -> None:
        DuckDBWarehouseWriter(self.con).ensure(contract)

    def replace(self, contract: Contract, table: pa.Table, window: PartitionWindow | None) -> int:
        dataset, name = _warehouse_table(contract)
        ref = self.ref(dataset, name)
        staged = f"meshkit_staged_{uuid.uuid4().hex[:8]}"
        self.con.register(staged, table)
        try:
            self.con.execute("BEGIN TRANSACTION")
            try:
                if window is None:
                    self.con.execute(f"DELETE FROM {ref}")
                else:
                    self.con.execute(
                        f"DELETE FROM {ref} WHERE {quote(window.field)} >= $start "
                        f"AND {quote(window.field)} < $end",
                        {"start": window.start, "end": window.end},
                    )
                self.con.execute(
                    f"INSERT INTO {ref} BY NAME SELECT *, $pos AS {quote(POSITION_COLUMN)} "
                    f"FROM {quote(staged)}",
                    {"pos": batch_position()},
                )
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")
        finally:
            self.con.unregister(staged)
        return int(table.num_rows)

    def read(self, dataset: str, table: str, window: PartitionWindow | None = None) -> pa.Table:
        """The table's rows, only those of ``window`` if given (a WHERE on its field)."""
        ref = self.ref(dataset, table)
        sql = (
            f"SELECT * EXCLUDE ({quote(POSITION_COLUMN)}) FROM {ref}"
            if POSITION_COLUMN in self.columns(dataset, table)
            else f"SELECT * FROM {ref}"
        )
        if window is None:
            return self.query(sql)
        where = f" WHERE {quote(window.field)} >= $start AND {quote(window.field)} < $end"
        result: pa.Table = self.con.sql(
            sql + where, params={"start": window.start, "end": window.end}
        ).to_arrow_table()
        return result

    def query(self, sql: str) -> pa.Table:
        result: pa.Table = self.con.sql(sql).to_arrow_table()
        return result

    def query_read_only(self, sql: str) -> pa.Table:
        """``sql`` if it is one read-only SELECT, on this connection only if it cannot write
        (``ServiceError`` otherwise)."""
        _one_select(sql, self.dialect)
        if not self._cannot_write():
            raise ServiceError(
                "this query runs only on a DuckDB connection that cannot write "
                "(DuckDBWarehouse.read_only_session); this one can"
            )
        return self.query(sql)

    def _cannot_write(self) -> bool:
        (external, locked), *_ = self.con.execute(
            "SELECT current_setting('enable_external_access'), "
            "current_setting('lock_configuration')"
        ).fetchall()
        (writable,), *_ = self.con.execute(
            "SELECT count(*) FROM duckdb_databases() "
            "WHERE NOT internal AND NOT readonly AND path IS NOT NULL"
        ).fetchall()
        return external is False and locked is True and writable == 0

    def columns(self, dataset: str, table: str) -> dict[str, str]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = $s AND table_name = $t ORDER BY ordinal_position",
            {"s": dataset, "t": table},
        ).fetchall()
        return {str(n): str(t) for n, t in rows}

    def ref(self, dataset: str, table: str) -> str:
        return f"{quote(dataset)}.{quote(table)}"

    def literal(self, value: Any) -> str:
        return _sql_literal(value, "'" + str(value).replace("'", "''") + "'")

    def regex_full_match(self, column: str, pattern: str) -> str:
        return f"regexp_full_match({column}, {self.literal(pattern)})"

    def sample(self, ref: str, rows: int, columns: str = "*") -> str:
        return f"SELECT {columns} FROM {ref} USING SAMPLE {int(rows)} ROWS"


class BigQuerySession:
    """A session on a ``google.cloud.bigquery.Client`` (``BigQueryResource.get_client()``).

    ``storage`` reads inputs through the Storage Read API (without one, they are read
    with queries, and each read logs why).
    """

    dialect: Dialect = "bigquery"

    def __init__(
        self,
        client: Any,
        *,
        location: str | None = None,
        retry: Any = None,
        job_retry: Any = None,
        storage: StorageReader | None = None,
    ) -> None:
        self.client = client
        self.location = location
        self._retry = retry
        self._job_retry = job_retry
        self.storage = storage or StorageReader.disabled(
            "the session was opened without a Storage Read API client"
        )

    def _kw(self, job: bool = False) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if self._retry is not None:
            kw["retry"] = self._retry
        if job and self._job_retry is not None:
            kw["job_retry"] = self._job_retry
        return kw

    def _table_id(self, dataset: str, table: str) -> str:
        return f"{self.client.project}.{dataset}.{table}"

    def ensure(self, contract: Contract) -> None:
        BigQueryWarehouseWriter(
            self.client, location=self.location, retry=self._retry, job_retry=self._job_retry
        ).ensure(contract)

    def replace(self, contract: Contract, table: pa.Table, window: PartitionWindow | None) -> int:
        from google.cloud import bigquery

        dataset, name = _warehouse_table(contract)
        target = self.client.get_table(self._table_id(dataset, name), **self._kw())
        staged_id = self._table_id(dataset, f"_meshkit_staged_{name}_{uuid.uuid4().hex[:8]}")
        positioned = table.append_column(
            POSITION_COLUMN, pa.repeat(pa.scalar(batch_position()), table.num_rows)
        )
        buffer = io.BytesIO()
        pq.write_table(positioned, buffer)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=target.schema,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        )
        config.parquet_options = bigquery.ParquetOptions()  # type: ignore[no-untyped-call]
        config.parquet_options.enable_list_inference = True
        try:
            self.client.load_table_from_file(buffer, staged_id, job_config=config).result()
            ref = self.ref(dataset, name)
            params = []
            doomed = ""  # the target rows the new ones replace: the window's, or all
            if window is not None:
                column = quote_bigquery(window.field)
                doomed = f" AND T.{column} >= @start AND T.{column} < @end"
                params = [
                    bigquery.ScalarQueryParameter("start", "TIMESTAMP", window.start),
                    bigquery.ScalarQueryParameter("end", "TIMESTAMP", window.end),
                ]
            cols = ", ".join(quote_bigquery(f.name) for f in target.schema)
            values = ", ".join(f"S.{quote_bigquery(f.name)}" for f in target.schema)
            job = bigquery.QueryJobConfig(query_parameters=params)
            # one statement, so one atomic job: deleting and inserting in two jobs left the
            # partition empty when the second failed, and readers saw it empty in between
            self.client.query(
                f"MERGE {ref} T USING {bigquery_ref(*staged_id.rsplit('.', 2))} S ON FALSE "
                f"WHEN NOT MATCHED BY SOURCE{doomed} THEN DELETE "
                f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})",
                job_config=job,
                **self._kw(job=True),
            ).result()
        except Exception as exc:  # described, not repeated: a job's errors may quote rows
            raise ServiceError(
                f"BigQuery write of {dataset}.{name} failed: {describe_error(exc)}"
            ) from None
        finally:
            self.client.delete_table(staged_id, not_found_ok=True, **self._kw())
        return int(table.num_rows)

    def read(self, dataset: str, table: str, window: PartitionWindow | None = None) -> pa.Table:
        """The table's rows without meshkit's position column; with ``window``, only the
        rows of its partitions. Through the Storage Read API (a ``row_restriction`` on the
        partition field), else, logging why, with a query (a WHERE on the partition field
        with query parameters); BigQuery prunes the other partitions either way."""
        columns = [name for name in self.columns(dataset, table) if name != POSITION_COLUMN]
        try:
            result = self.storage.read(self.client.project, dataset, table, columns, window)
        except StorageReadUnavailable as why:
            _log.warning(
                "BigQuery %s.%s: read with a query, not the Storage Read API: %s",
                dataset,
                table,
                why,
            )
            return self._read_by_query(dataset, table, window)
        streams = self.storage.last_streams
        _log.info(
            "BigQuery %s.%s: read %d row%s in %d stream%s through the Storage Read API%s",
            dataset,
            table,
            result.num_rows,
            "" if result.num_rows == 1 else "s",
            streams,
            "" if streams == 1 else "s",
            "" if window is None else f", restricted on the partition field {window.field}",
        )
        return result

    def _read_by_query(self, dataset: str, table: str, window: PartitionWindow | None) -> pa.Table:
        if window is None:
            rows = self.client.list_rows(self._table_id(dataset, table), **self._kw())
            result: pa.Table = rows.to_arrow(create_bqstorage_client=False)
        else:
            from google.cloud import bigquery

            column = quote_bigquery(window.field)
            job = self.client.query(
                f"SELECT * FROM {self.ref(dataset, table)} "
                f"WHERE {column} >= @start AND {column} < @end",
                job_config=bigquery.QueryJobConfig(
                    query_parameters=[
                        bigquery.ScalarQueryParameter("start", "TIMESTAMP", window.start),
                        bigquery.ScalarQueryParameter("end", "TIMESTAMP", window.end),
                    ]
                ),
                **self._kw(job=True),
            )
            result = job.result().to_arrow(create_bqstorage_client=False)
        if POSITION_COLUMN in result.column_names:
            result = result.drop_columns([POSITION_COLUMN])
        return result

    def query(self, sql: str) -> pa.Table:
        job = self.client.query(sql, **self._kw(job=True))
        result: pa.Table = job.result().to_arrow(create_bqstorage_client=False)
        return result

    def statement_type(self, sql: str) -> str:
        """What BigQuery's dry run of ``sql`` says it is (``SELECT``, ``DROP_TABLE``,
        ``SCRIPT``...); nothing runs. (The local emulator runs a *script*'s statements
        even in a dry run: ``query_read_only`` sends it only single SELECTs.)"""
        from google.cloud import bigquery

        dry = self.client.query(
            sql,
            job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False),
            **self._kw(),
        )
        return str(dry.statement_type or "")

    def query_read_only(self, sql: str) -> pa.Table:
        """``sql`` only if it parses as one read-only SELECT and BigQuery's dry run says
        it is a ``SELECT`` job (no DDL, DML or script); then run without a destination
        table. ``ServiceError`` otherwise."""
        from google.cloud import bigquery

        _one_select(sql, self.dialect)
        kind = self.statement_type(sql)
        if kind != "SELECT":
            raise ServiceError(
                f"BigQuery refuses to run it: a {kind or 'statement'} job, not a SELECT"
            )
        job = self.client.query(sql, job_config=bigquery.QueryJobConfig(), **self._kw(job=True))
        result: pa.Table = job.result().to_arrow(create_bqstorage_client=False)
        if job.statement_type != "SELECT":  # pragma: no cover - the dry run said SELECT
            raise ServiceError(f"BigQuery ran a {job.statement_type} job, not a SELECT")
        return result

    def columns(self, dataset: str, table: str) -> dict[str, str]:
        from google.api_core.exceptions import NotFound

        try:
            got = self.client.get_table(self._table_id(dataset, table), **self._kw())
        except NotFound:
            return {}
        return {f.name: ("ARRAY<" + f.field_type + ">" if f.mode == "REPEATED" else f.field_type)
                for f in got.schema}  # fmt: skip

    def ref(self, dataset: str, table: str) -> str:
        return bigquery_ref(self.client.project, dataset, table)

    def literal(self, value: Any) -> str:
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return _sql_literal(value, f"'{text}'")

    def regex_full_match(self, column: str, pattern: str) -> str:
        return f"REGEXP_CONTAINS({column}, {self.literal('^(?:' + pattern + ')$')})"

    def sample(self, ref: str, rows: int, columns: str = "*") -> str:
        return f"SELECT {columns} FROM {ref} LIMIT {int(rows)}"


def _one_select(sql: str, dialect: Dialect) -> None:
    try:
        require_one_select(sql, dialect)
    except CustomSqlError as exc:
        raise ServiceError(f"refused to run it: {exc}") from None


def describe_failure(exc: BaseException) -> str:
    """A one-line description of a warehouse error."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
