"""Reading a BigQuery table through the BigQuery Storage Read API, as Arrow streams.

A batch input on BigQuery (:meth:`meshkit.batch.warehouse.BigQuerySession.read`) asks
for a read session on the upstream table with the columns it needs
(``selected_fields``: every column but meshkit's position column) and, in a partitioned
run, a ``row_restriction`` on the partition field (``field >= TIMESTAMP '…' AND field <
TIMESTAMP '…'``), so BigQuery reads only those partitions. The rows come back as Arrow
record batches, one gRPC stream per part of the table (read in parallel), without a
query job and without paging through JSON.

When the API cannot serve a read, :meth:`StorageReader.read` raises
:class:`StorageReadUnavailable`, whose message says why, and the session reads with a
query instead:

- ``google-cloud-bigquery-storage`` is not installed;
- the emulator is in use and no gRPC address is configured for its Storage Read API;
- the endpoint refuses the session or a stream (no connection, permission denied, a
  table or filter it does not serve): the message names the error's class and status,
  never the server's text, which may quote data;
- its Arrow data cannot be decoded (the error's class only);
- a returned row lies outside the window: the endpoint ignored the row restriction (the
  emulator drops a filter it cannot translate instead of refusing it).

The client is built on first use and closed with the reader.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from meshkit.batch.validate import PartitionWindow
from meshkit.contracts.sql import quote_bigquery

MAX_STREAMS = 4
"""Streams asked for per read session (BigQuery may give fewer); read in parallel."""

EMULATOR_TIMEOUT = 30.0
"""Seconds an emulator call may take; the emulator's calls are not retried."""


class StorageReadUnavailable(Exception):  # noqa: N818 - a reason to fall back, not a failure
    """The Storage Read API cannot serve this read; the message says why (no record value)."""


def row_restriction(window: PartitionWindow) -> str:
    """The Storage Read API filter of ``window``: ``start <= field < end`` as timestamps."""
    column = quote_bigquery(window.field)
    start, end = _utc(window.start), _utc(window.end)
    return f"{column} >= TIMESTAMP '{start}' AND {column} < TIMESTAMP '{end}'"


def _utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(sep=" ")


def outside_window(table: pa.Table, window: PartitionWindow) -> int:
    """How many rows of ``table`` are not in ``window`` (a null partition value is not)."""
    if window.field not in table.column_names:
        return int(table.num_rows)
    column = table.column(window.field)
    start = pa.scalar(window.start).cast(column.type)
    end = pa.scalar(window.end).cast(column.type)
    inside = pc.and_kleene(pc.greater_equal(column, start), pc.less(column, end))
    return int(table.num_rows) - int(pc.sum(pc.fill_null(inside, False)).as_py() or 0)


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` without field metadata and with list elements named ``item``, as the
    query path's Arrow tables have them (the emulator labels its fields with DuckDB types
    and names list elements ``l``)."""
    return pa.schema([_plain_field(f) for f in schema])


def _plain_field(field: pa.Field) -> pa.Field:
    return pa.field(field.name, _plain_type(field.type), field.nullable)


def _plain_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pa.list_(_plain_type(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([_plain_field(kind.field(i)) for i in range(kind.num_fields)])
    return kind


class StorageReader:
    """Reads tables through the Storage Read API with a client from ``connect``.

    ``connect`` builds a ``BigQueryReadClient`` (see :mod:`meshkit.clients`); ``None``
    with ``unavailable`` (the reason) makes every read raise
    :class:`StorageReadUnavailable`. ``emulator`` gives calls a short timeout and no
    retries: a local emulator that refuses does not change its mind.
    """

    def __init__(
        self,
        connect: Callable[[], Any] | None,
        *,
        unavailable: str = "",
        emulator: bool = False,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        self._connect = connect
        self._unavailable = unavailable or "no Storage Read API client is configured"
        self._emulator = emulator
        self._max_streams = max_streams
        self._client: Any = None
        self.last_streams = 0
        """How many streams the last successful read came in."""

    @classmethod
    def disabled(cls, reason: str) -> StorageReader:
        """A reader whose every read falls back, for ``reason``."""
        return cls(None, unavailable=reason)

    def __enter__(self) -> StorageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's channel, if one was opened."""
        client, self._client = self._client, None
        if client is not None:
            client.transport.close()

    def _call(self) -> dict[str, Any]:
        return {"retry": None, "timeout": EMULATOR_TIMEOUT} if self._emulator else {}

    def client(self) -> Any:
        """The ``BigQueryReadClient`` (built on first use)."""
        if self._client is None:
            if self._connect is None:
                raise StorageReadUnavailable(self._unavailable)
            try:
                self._client = self._connect()
            except ImportError:
                raise StorageReadUnavailable(
                    "google-cloud-bigquery-storage is not installed"
                ) from None
        return self._client

    def read(
        self,
        project: str,
        dataset: str,
        table: str,
        columns: list[str],
        window: PartitionWindow | None = None,
    ) -> pa.Table:
        """The ``columns`` of ``project.dataset.table`` (only ``window``'s rows if given),
        as one Arrow table; :class:`StorageReadUnavailable` when the API cannot serve it."""
        from google.api_core.exceptions import GoogleAPICallError
        from google.cloud.bigquery_storage_v1 import types

        client = self.client()
        options = types.ReadSession.TableReadOptions(
            selected_fields=columns,
            row_restriction=row_restriction(window) if window is not None else "",
        )
        requested = types.ReadSession(
            table=f"projects/{project}/datasets/{dataset}/tables/{table}",
            data_format=types.DataFormat.ARROW,
            read_options=options,
        )
        try:
            session = client.create_read_session(
                parent=f"projects/{project}",
                read_session=requested,
                max_stream_count=self._max_streams,
                **self._call(),
            )
            sent = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))
            streams = list(session.streams)
            parts = self._streams(client, streams, sent)
            result = pa.Table.from_batches(parts, sent).cast(plain_schema(sent))
        except GoogleAPICallError as exc:  # described, not repeated: its text may quote data
            raise StorageReadUnavailable(f"the endpoint refused it: {_status(exc)}") from None
        except pa.ArrowException as exc:  # the same: a decoding error may quote a value
            raise StorageReadUnavailable(
                f"its Arrow data could not be decoded ({type(exc).__name__})"
            ) from None
        if window is not None and outside_window(result, window):
            raise StorageReadUnavailable(
                "the endpoint ignored the row restriction on the partition field "
                "(rows outside the window came back)"
            )
        self.last_streams = len(streams)
        return result

    def _streams(self, client: Any, streams: list[Any], schema: pa.Schema) -> list[Any]:
        """The record batches of every stream (in parallel), decoded from the Arrow IPC
        messages the API sends against the session's ``schema``."""

        def one(stream: Any) -> list[pa.RecordBatch]:
            return [
                pa.ipc.read_record_batch(pa.py_buffer(data), schema)
                for message in client.read_rows(stream.name, **self._call())
                if (data := message.arrow_record_batch.serialized_record_batch)
            ]

        if len(streams) <= 1:
            return [b for stream in streams for b in one(stream)]
        with ThreadPoolExecutor(max_workers=len(streams)) as pool:
            return [b for batches in pool.map(one, streams) for b in batches]


def _status(exc: BaseException) -> str:
    """The error's class, HTTP status and gRPC status code (not its message)."""
    code = getattr(exc, "code", None)
    grpc_code = getattr(getattr(exc, "grpc_status_code", None), "name", None)
    return (
        type(exc).__name__
        + (f" (HTTP {code})" if isinstance(code, int) else "")
        + (f", gRPC {grpc_code}" if grpc_code else "")
    )
