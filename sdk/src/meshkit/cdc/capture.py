"""The capture: PostgreSQL logical replication (pgoutput) to Debezium events in Kafka.

``Capture(config).run(stop)``:

1. pre-flight checks (:mod:`meshkit.cdc.catalog`: server, tables, replica identity,
   key columns), the topics created, then the publication set to the tables;
2. the replication slot: created on first run (exporting its snapshot), reused after;
3. the initial snapshot (``op: r``) from the exported snapshot, when ``snapshot_mode`` is
   ``initial`` and no earlier run completed it. An interrupted snapshot (a crash, a
   kill -9) is taken again on the next run, in a new read-only transaction, and the slot
   is kept: streaming then replays every change since the slot's consistent point. A row
   the interrupted snapshot sent and that was deleted before the new one therefore gets
   its delete event (dropping the slot instead would leave that row in the topic for
   ever); changes already in the new snapshot are sent again (at-least-once);
4. streaming from the slot, acknowledging an LSN to the server only once Kafka confirmed
   every event up to it (:mod:`meshkit.cdc.sink`). A crash anywhere therefore resumes
   from the slot with nothing lost; events after the last acknowledgement are sent again
   (at-least-once; consumers deduplicate by ``source.lsn`` + ``source.txId`` + key).

A run that fails before it streams (a refused check, Kafka refusing the snapshot, a
crash of the snapshot) drops the slot and the publication it created itself, so nothing
is left pinning WAL in the source database; a slot or publication that existed before
the run is kept (it holds the position to resume from).

The capture is independent of contracts: it takes a list of tables and options.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from meshkit.cdc import catalog, snapshot
from meshkit.cdc.catalog import TableInfo, TableName
from meshkit.cdc.config import CaptureConfig
from meshkit.cdc.debezium import RowMapper
from meshkit.cdc.envelope import SourceBase, envelope, source, topic_name
from meshkit.cdc.pgoutput import (
    UNCHANGED_TOAST,
    Begin,
    Column,
    Commit,
    Delete,
    Insert,
    Relation,
    Truncate,
    Update,
    decode,
    format_lsn,
    parse_lsn,
)
from meshkit.cdc.sink import Batch, KafkaSink
from meshkit.cdc.state import CaptureState, SchemaChange, diff_columns
from meshkit.cdc.status import slot_status
from meshkit.errors import ConfigError, ServiceError
from meshkit.observability.cdc import CaptureMetrics, SlotFigures

log = logging.getLogger("meshkit.cdc")
_SLOT_BUSY_WAIT = 30.0


@dataclass
class Progress:
    """What the capture reports about itself (to the CLI's progress display)."""

    phase: str = "starting"  # starting | snapshot | streaming | stopped
    table: str = ""
    snapshot_done: int = 0
    snapshot_estimate: int = 0
    events: int = 0
    events_per_s: float = 0.0
    acked_lsn: int = 0
    schema_changes: list[SchemaChange] = field(default_factory=list)


@dataclass
class _Table:
    info_name: TableName
    topic: str
    mapper: RowMapper
    columns: tuple[Column, ...]


class Capture:
    """One capture of one source database; see the module docstring."""

    def __init__(
        self,
        config: CaptureConfig,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_schema_change: Callable[[SchemaChange], None] | None = None,
    ) -> None:
        self.config = config
        self.progress = Progress()
        self._on_progress = on_progress
        self._on_schema_change = on_schema_change
        self._options = config.value_options()
        self._base = SourceBase(name=config.topic_prefix, db=config.database())
        self._state = CaptureState.load(config.state_path(), config.slot)
        self._tables: dict[int, _Table] = {}
        self._meta: psycopg2.extensions.connection | None = None
        self._sink: KafkaSink | None = None
        self._last_commit: int | None = None
        self._rate_mark = (time.monotonic(), 0)
        self._created_publication = False
        self.metrics = CaptureMetrics(config.slot)
        # the replication cursor, and the transaction being read (set while streaming)
        self._cur: Any = None
        self._batch: Batch | None = None
        self._begin: Begin | None = None

    # ----------------------------------------------------------------- set-up

    def prepare(self) -> list[TableInfo]:
        """Pre-flight checks, publication and topics; the captured tables' catalog facts."""
        cfg = self.config
        cfg.require("tables", "topic_prefix", "bootstrap_servers")
        self._meta = catalog.connect(cfg.dsn)
        catalog.check_server(self._meta, cfg.dsn)
        infos = catalog.tables_info(self._meta, cfg.table_names())
        catalog.check_tables(self._meta, infos, cfg.key_columns)
        self._sink = KafkaSink(cfg.bootstrap_servers, cfg.producer)
        topics = [topic_name(cfg.topic_prefix, i.name.schema, i.name.table) for i in infos]
        self._refuse_stale_slot(topics)
        self._sink.ensure_topics(topics, cfg.topic_partitions, cfg.topic_replication_factor)
        created = catalog.ensure_publication(self._meta, cfg.publication, cfg.table_names())
        self._created_publication = self._created_publication or created
        return infos

    def _refuse_stale_slot(self, topics: list[str]) -> None:
        """A slot that outlived its topics (the broker's data wiped, PostgreSQL's kept)
        would stream on from its position: the snapshot and every change before it
        would be missing from the new, empty topics. Stop and say how to start over."""
        cfg = self.config
        assert self._meta is not None
        assert self._sink is not None
        if not (self._state.snapshot_completed and catalog.slot_exists(self._meta, cfg.slot)):
            return
        missing = self._sink.missing_topics(topics)
        if missing:
            raise ServiceError(
                f"replication slot {cfg.slot} has captured into topic(s) that no longer "
                f"exist at {cfg.bootstrap_servers}: {', '.join(missing)}; streaming on "
                "from the slot would leave the snapshot and earlier changes out\n"
                "  fix: run 'meshkit cdc reset' (drops the slot and publication), then "
                "'meshkit cdc run' again to snapshot into new topics"
            )

    def _retry_busy(self, action: Callable[[], Any]) -> Any:
        """Run ``action``, retrying while the slot is still held by a dead predecessor."""
        deadline = time.monotonic() + _SLOT_BUSY_WAIT
        while True:
            try:
                return action()
            except psycopg2.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    # ------------------------------------------------------------------- run

    def run(self, stop: threading.Event | None = None) -> None:
        """Capture until ``stop`` is set; flushes and acknowledges before returning."""
        stop = stop or threading.Event()
        created_slot = False
        rconn: Any = None
        try:
            infos = self.prepare()
            assert self._meta is not None
            for info in infos:
                self._remember(info)
            rconn, cur, created_slot = self._start(infos)
        except BaseException:
            catalog.close_quietly(rconn)
            self._undo_start(created_slot)
            catalog.close_quietly(self._meta)
            self._sink = None
            raise
        try:
            self._stream(cur, stop)
        except BaseException as exc:
            self.metrics.failed(exc)
            raise
        finally:
            catalog.close_quietly(rconn)
            catalog.close_quietly(self._meta)
            self.progress.phase = "stopped"
            self._sink = None  # releases the producer (nothing is left in it by now)
            self._state.save()
            self._report(force=True)

    def _start(self, infos: list[TableInfo]) -> tuple[Any, Any, bool]:
        """The slot (created, with the snapshot, on a first run): the replication
        connection, its cursor, and whether this run created the slot."""
        assert self._meta is not None
        cfg = self.config
        exists = catalog.slot_exists(self._meta, cfg.slot)
        # a missing slot means the changes since the last run are gone: snapshot again
        needs_snapshot = cfg.snapshot_mode == "initial" and not (
            exists and self._state.snapshot_completed
        )
        rconn = catalog.replication_connection(cfg.dsn)
        created = False
        try:
            cur = rconn.cursor()
            if exists and needs_snapshot:
                log.warning(
                    "slot %s exists but its snapshot never completed: snapshotting again, "
                    "then replaying the changes since the slot's consistent point",
                    cfg.slot,
                )
                catalog.wait_slot_free(self._meta, cfg.slot, _SLOT_BUSY_WAIT)
                resume = catalog.slot_confirmed_lsn(self._meta, cfg.slot)
                self._state.reset()
                self._snapshot(infos, None)
                # acknowledged only up to the slot's position: the changes between it and
                # the new snapshot are streamed (and confirmed by Kafka) before anything moves
                self._state.acked_lsn = self.progress.acked_lsn = parse_lsn(resume)
                self._state.snapshot_completed = True
                self._state.save()
            elif not exists:
                mode = "export" if needs_snapshot else "nothing"
                cur.execute(
                    sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT {})").format(
                        sql.Identifier(cfg.slot), sql.Literal(mode)
                    )
                )
                created = True
                _slot, consistent_point, snapshot_name, _plugin = cur.fetchone()
                self._state.reset()
                if needs_snapshot:
                    self._snapshot(infos, (snapshot_name, consistent_point))
                self._state.snapshot_completed = True
                self._state.save()
        except BaseException:
            catalog.close_quietly(rconn)
            self._undo_start(created)
            raise
        return rconn, cur, created

    def _undo_start(self, created_slot: bool) -> None:
        """After a failed start: drop the slot and publication this run created."""
        cfg = self.config
        conn = None
        try:
            conn = catalog.connect(cfg.dsn)
            if created_slot and not self._state.snapshot_completed:
                catalog.wait_slot_free(conn, cfg.slot, _SLOT_BUSY_WAIT)
                catalog.drop_slot(conn, cfg.slot)
            if self._created_publication and not catalog.slot_exists(conn, cfg.slot):
                catalog.drop_publication(conn, cfg.publication)
                self._created_publication = False
        except (psycopg2.Error, ConfigError) as exc:
            log.warning(
                "could not drop the slot %s / publication %s after the failed start: %s",
                cfg.slot,
                cfg.publication,
                exc,
            )
        finally:
            catalog.close_quietly(conn)

    def _remember(self, info: TableInfo) -> None:
        keys = tuple(self.config.key_columns.get(str(info.name), info.primary_key))
        topic = topic_name(self.config.topic_prefix, info.name.schema, info.name.table)
        mapper = RowMapper(info.columns, keys, self._options)
        self._tables[info.oid] = _Table(info.name, topic, mapper, info.columns)
        self._state.relations.setdefault(
            str(info.name), [[c.name, c.type_oid, c.type_modifier] for c in info.columns]
        )

    # -------------------------------------------------------------- snapshot

    def _snapshot(self, infos: list[TableInfo], exported: tuple[str, str] | None) -> None:
        """Every row as ``op: r``: from the slot's exported snapshot (name, consistent
        point), or, when retrying an interrupted snapshot, from a new transaction labelled
        with the WAL position it started at."""
        assert self._sink is not None
        conn = catalog.connect(self.config.dsn)
        held: tuple[str, bytes | None, dict[str, Any]] | None = None
        first = True
        batch = self._sink.open_batch()
        started_us = time.time_ns() // 1000
        try:
            lsn = parse_lsn(snapshot.begin(conn, exported[0] if exported else None))
            if exported:
                lsn = parse_lsn(exported[1])
            tx_id = snapshot.transaction_id(conn)
            self.progress.phase = "snapshot"
            for info in infos:
                table = self._tables[info.oid]
                self.progress.table = str(info.name)
                for chunk in snapshot.read_table(conn, info, self.config.snapshot_chunk_rows):
                    for values in chunk.rows:
                        after = table.mapper.row(list(values))
                        key = table.mapper.key(after)
                        src = source(
                            self._base,
                            schema=info.name.schema,
                            table=info.name.table,
                            lsn=lsn,
                            tx_id=tx_id,
                            commit_time_us=started_us,
                            snapshot="true",
                        )
                        value = envelope("r", None, after, src)
                        if held is not None:
                            self._emit_snapshot(batch, held, "first" if first else "true")
                            first = False
                        held = (table.topic, _key_bytes(key), value)
                    self.progress.snapshot_done = chunk.done
                    self.progress.snapshot_estimate = chunk.estimate
                    self._sink.poll()
                    self._report()
            if held is not None:
                self._emit_snapshot(batch, held, "last")
            conn.commit()
        finally:
            catalog.close_quietly(conn)
        self._sink.close_batch(batch, lsn)
        confirmed = self._sink.flush(timeout=600)
        if self._sink.pending() or confirmed != lsn:
            raise ServiceError("Kafka did not confirm the snapshot within 10 minutes")
        self._state.acked_lsn = self.progress.acked_lsn = lsn
        self._state.acked_at = time.time()

    def _emit_snapshot(
        self, batch: Batch, held: tuple[str, bytes | None, dict[str, Any]], marker: str
    ) -> None:
        assert self._sink is not None
        topic, key, value = held
        value["source"]["snapshot"] = marker
        self._sink.produce(batch, topic, key, orjson.dumps(value))
        self.progress.events += 1
        self.metrics.event(topic)

    # ------------------------------------------------------------- streaming

    def _stream(self, cur: Any, stop: threading.Event) -> None:
        assert self._sink is not None
        sink = self._sink
        cfg = self.config
        self._retry_busy(
            lambda: cur.start_replication(
                slot_name=cfg.slot,
                decode=False,
                status_interval=1,
                options={"proto_version": "1", "publication_names": cfg.publication},
            )
        )
        self.progress.phase = "streaming"
        self._cur = cur
        sink.on_wait = self._keepalive
        self._batch = None
        self._begin = None
        handled = 0
        next_tick = time.monotonic()
        conn = cur.connection
        while not stop.is_set():
            msg = cur.read_message()
            if msg is not None:
                self._handle(msg.data_start, msg.payload)
                handled += 1
                if handled & 1023:
                    continue
            now = time.monotonic()
            if msg is None or now >= next_tick:
                self._acknowledge(sink.poll())
                if now >= next_tick:
                    next_tick = now + 0.5
                    self._report()
            if msg is None:  # idle: wake up soon if Kafka still owes delivery reports
                select.select([conn], [], [], 0.005 if sink.pending() else 0.05)
        # graceful stop: everything produced so far confirmed, then acknowledged
        self._acknowledge(sink.flush(timeout=30))
        self._keepalive()

    def _keepalive(self) -> None:
        """Send the current acknowledgement now (also while waiting on a full queue)."""
        cur = self._cur
        if cur is not None:
            try:
                cur.send_feedback(flush_lsn=self._state.acked_lsn, force=True)
            except psycopg2.Error as exc:
                raise ServiceError(f"lost the replication connection: {exc}") from exc

    def _acknowledge(self, lsn: int | None) -> None:
        if lsn is None or lsn <= self._state.acked_lsn:
            return
        self._state.acked_lsn = lsn
        self._state.acked_at = time.time()
        self.progress.acked_lsn = lsn
        self._cur.send_feedback(flush_lsn=lsn)

    def _handle(self, lsn: int, payload: bytes) -> None:
        msg = decode(payload)
        if isinstance(msg, Insert | Update | Delete):
            self._change(lsn, msg)
        elif isinstance(msg, Begin):
            assert self._sink is not None
            self._begin = msg
            self._batch = self._sink.open_batch()
        elif isinstance(msg, Commit):
            assert self._sink is not None
            assert self._batch is not None
            self._sink.close_batch(self._batch, msg.end_lsn)
            self._last_commit = msg.commit_lsn
            self._batch = None
        elif isinstance(msg, Relation):
            self._relation(msg)
        elif isinstance(msg, Truncate):
            self._truncate(lsn, msg)

    def _source(self, table: _Table, lsn: int) -> dict[str, Any]:
        begin = self._begin
        assert begin is not None
        return source(
            self._base,
            schema=table.info_name.schema,
            table=table.info_name.table,
            lsn=lsn,
            tx_id=begin.xid,
            commit_time_us=begin.commit_time_us,
            last_commit_lsn=self._last_commit,
        )

    def _send(
        self,
        table: _Table,
        key: dict[str, Any] | None,
        value: dict[str, Any] | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        assert self._sink is not None
        assert self._batch is not None
        body = None if value is None else orjson.dumps(value)
        self._sink.produce(self._batch, table.topic, _key_bytes(key), body, headers)
        self.progress.events += 1
        self.metrics.event(table.topic)

    def _change(self, lsn: int, msg: Insert | Update | Delete) -> None:
        table = self._tables[msg.relation_id]
        mapper = table.mapper
        src = self._source(table, lsn)
        if isinstance(msg, Insert):
            after = mapper.row(msg.new)
            self._send(table, mapper.key(after), envelope("c", None, after, src))
        elif isinstance(msg, Update):
            new = msg.new
            if msg.old_kind == "O" and msg.old is not None and UNCHANGED_TOAST in new:
                # REPLICA IDENTITY FULL: the old row holds the unchanged TOAST values
                new = [o if v is UNCHANGED_TOAST else v for v, o in zip(new, msg.old, strict=False)]
            after = mapper.row(new)
            key = mapper.key(after)
            before = None
            if msg.old is not None:
                before = mapper.key_row(msg.old) if msg.old_kind == "K" else mapper.row(msg.old)
                old_key = mapper.key(before)
                if old_key != key:  # a primary-key change: delete + tombstone + create
                    self._delete(table, old_key, before, src, [("__debezium.newkey", _hdr(key))])
                    headers: list[tuple[str, str | bytes | None]] = [
                        ("__debezium.oldkey", _hdr(old_key))
                    ]
                    self._send(table, key, envelope("c", None, after, src), headers)
                    return
            self._send(table, key, envelope("u", before, after, src))
        else:
            before = mapper.key_row(msg.old) if msg.old_kind == "K" else mapper.row(msg.old)
            self._delete(table, mapper.key(before), before, src)

    def _delete(
        self,
        table: _Table,
        key: dict[str, Any] | None,
        before: dict[str, Any],
        src: dict[str, Any],
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        self._send(table, key, envelope("d", before, None, src), headers)
        if self.config.tombstones_on_delete and key is not None:
            self._send(table, key, None)

    def _truncate(self, lsn: int, msg: Truncate) -> None:
        if not self.config.emit_truncate:
            return
        for relation_id in msg.relation_ids:
            table = self._tables.get(relation_id)
            if table is not None:
                self._send(table, None, envelope("t", None, None, self._source(table, lsn)))

    def _relation(self, rel: Relation) -> None:
        name = TableName(rel.namespace, rel.name)
        known = self._state.relations.get(str(name))
        change = diff_columns(str(name), known, rel.columns) if known is not None else None
        self._state.relations[str(name)] = [
            [c.name, c.type_oid, c.type_modifier] for c in rel.columns
        ]
        assert self._meta is not None
        info = catalog.table_info(self._meta, name)
        keys = tuple(self.config.key_columns.get(str(name), info.primary_key if info else ()))
        topic = topic_name(self.config.topic_prefix, name.schema, name.table)
        mapper = RowMapper(rel.columns, keys, self._options)
        if mapper.missing_keys:
            raise ConfigError(
                f"key_columns of {name}: column(s) {', '.join(mapper.missing_keys)} no longer "
                "exist (dropped or renamed); nothing after them is acknowledged\n"
                "  fix: correct 'key_columns' and run again (the capture resumes here)"
            )
        self._tables[rel.relation_id] = _Table(name, topic, mapper, rel.columns)
        if change is not None and change.changed:
            log.warning("schema change in %s: %s", name, change.describe())
            self.progress.schema_changes.append(change)
            if self._on_schema_change is not None:
                self._on_schema_change(change)

    # -------------------------------------------------------------- progress

    def _slot_figures(self) -> SlotFigures:
        assert self._meta is not None
        cfg = self.config
        status = slot_status(self._meta, cfg.slot, cfg.publication, self._state, 0)
        return status.retained_bytes, status.lag_bytes

    def _report(self, force: bool = False) -> None:
        streaming = self.progress.phase == "streaming" and self._meta is not None
        self.metrics.report(
            self.progress.acked_lsn, self.progress.phase, self._slot_figures if streaming else None
        )
        now = time.monotonic()
        mark_time, mark_events = self._rate_mark
        if now - mark_time >= 1.0 or force:
            self.progress.events_per_s = (self.progress.events - mark_events) / max(
                now - mark_time, 1e-9
            )
            self._rate_mark = (now, self.progress.events)
            self._state.events_total = self.progress.events
            self._state.events_per_s = self.progress.events_per_s
            self._state.pid = os.getpid()
            self._state.save()
        if self._on_progress is not None:
            self._on_progress(self.progress)


def _key_bytes(key: dict[str, Any] | None) -> bytes | None:
    return None if key is None else orjson.dumps(key)


def _hdr(key: dict[str, Any] | None) -> bytes:
    return orjson.dumps(key)


__all__ = ["Capture", "Progress", "format_lsn"]
