"""One data subject's records in each kind of output port: find, delete by key, sample.

Each port answers by the subject field's value compared as text (so an integer id and
its text match):

- ``subject_rows``: the subject's live records (for a topic, the newest value of each
  key whose record holds the subject);
- ``history``: every stored record of the subject, live or not (a topic keeps every
  message it was given; other ports only what is live);
- ``delete``: removes the subject's records by key — DuckDB ``DELETE``, PostgreSQL
  ``DELETE``, search documents by id, a tombstone per key on the topic (a compacted topic
  then drops the older messages; until it does, their encrypted fields stay unreadable
  because the subject's key is gone);
- ``others``: a few records of other subjects with an encrypted field set (the control
  of the verification).

Identifiers go through each driver's quoting (``psycopg2.sql.Identifier``, the DuckDB
quoting helper); values are always parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from meshkit.contracts.ports import KafkaTopic, SearchIndex, ServingView, WarehouseTable
from meshkit.contracts.sql import duckdb_ref, quote_duckdb
from meshkit.errors import ServiceError

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from meshkit.contracts import Contract

Row = dict[str, Any]
CONTROL_SAMPLE = 5


class SubjectPort(Protocol):
    """One output port of one product, seen from an erasure."""

    kind: str

    def subject_rows(self, field: str, value: str) -> list[Row]: ...

    def history(self, field: str, value: str) -> list[Row]: ...

    def delete(self, field: str, value: str) -> None: ...

    def others(self, field: str, value: str, encrypted: Sequence[str]) -> list[Row]: ...

    def close(self) -> None: ...


@dataclass
class PortTargets:
    """Where a domain's output ports are (what the worker connects to).

    Example::

        PortTargets(brokers="127.0.0.1:9092", warehouse=Path("warehouse.duckdb"),
                    search_url="http://127.0.0.1:9200", view_dsn="postgresql://…/serving")
    """

    brokers: str | None = None
    warehouse: Path | None = None
    search_url: str | None = None
    view_dsn: str | None = None
    view_schema: str = "public"
    prefix: str = ""
    """In front of topic and search index names (an environment, as the writers take it)."""
    search_client: Elasticsearch | None = field(default=None, repr=False)


class MissingTargetError(LookupError):
    """A product has a port the worker was not told where to find."""


def open_port(contract: Contract, port: object, targets: PortTargets) -> SubjectPort:
    """The ``SubjectPort`` of one of ``contract``'s output ports."""
    if isinstance(port, WarehouseTable):
        if targets.warehouse is None:
            raise MissingTargetError("warehouse_table: the DuckDB warehouse file")
        return DuckDBPort(targets.warehouse, port.dataset(contract), port.table(contract))
    if isinstance(port, ServingView):
        if targets.view_dsn is None:
            raise MissingTargetError("serving_view: the serving view's PostgreSQL DSN")
        return ViewPort(targets.view_dsn, targets.view_schema, contract.address)
    if isinstance(port, SearchIndex):
        if targets.search_client is None and targets.search_url is None:
            raise MissingTargetError("search_index: the search server's URL")
        return SearchPort(targets, targets.prefix + contract.address)
    if isinstance(port, KafkaTopic):
        if targets.brokers is None:
            raise MissingTargetError("kafka_topic: the Kafka brokers")
        return TopicPort(targets.brokers, contract, targets.prefix + contract.address)
    raise MissingTargetError(f"{type(port).__name__}: a port kind the erasure worker does not know")


class DuckDBPort:
    """A DuckDB warehouse table."""

    kind = "warehouse_table"

    def __init__(self, path: Path, dataset: str, table: str) -> None:
        import duckdb

        self.con = duckdb.connect(str(path))
        self.ref = duckdb_ref(dataset, table)

    def _rows(self, query: str, params: list[Any]) -> list[Row]:
        import duckdb

        try:
            cur = self.con.execute(query, params)
        except duckdb.CatalogException:
            raise ServiceError(
                f"warehouse table {self.ref} does not exist (or lacks the subject field) in "
                "the DuckDB file the erasure worker was given"
            ) from None
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def subject_rows(self, field: str, value: str) -> list[Row]:
        col = quote_duckdb(field)
        return self._rows(f"SELECT * FROM {self.ref} WHERE CAST({col} AS VARCHAR) = ?", [value])

    def history(self, field: str, value: str) -> list[Row]:
        return self.subject_rows(field, value)

    def delete(self, field: str, value: str) -> None:
        col = quote_duckdb(field)
        self.con.execute(f"DELETE FROM {self.ref} WHERE CAST({col} AS VARCHAR) = ?", [value])

    def others(self, field: str, value: str, encrypted: Sequence[str]) -> list[Row]:
        if not encrypted:
            return []
        col = quote_duckdb(field)
        some = " OR ".join(f"{quote_duckdb(e)} IS NOT NULL" for e in encrypted)
        return self._rows(
            f"SELECT * FROM {self.ref} WHERE CAST({col} AS VARCHAR) <> ? AND ({some}) "
            f"LIMIT {CONTROL_SAMPLE}",
            [value],
        )

    def close(self) -> None:
        self.con.close()


class ViewPort:
    """A PostgreSQL serving-view table."""

    kind = "serving_view"

    def __init__(self, dsn: str, schema: str, table: str) -> None:
        import psycopg2
        from psycopg2 import sql

        self.sql = sql
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.ident = sql.Identifier(schema, table)

    def _rows(self, query: Any, params: list[Any]) -> list[Row]:
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def subject_rows(self, field: str, value: str) -> list[Row]:
        q = self.sql.SQL("SELECT * FROM {} WHERE {}::text = %s").format(
            self.ident, self.sql.Identifier(field)
        )
        return self._rows(q, [value])

    def history(self, field: str, value: str) -> list[Row]:
        return self.subject_rows(field, value)

    def delete(self, field: str, value: str) -> None:
        q = self.sql.SQL("DELETE FROM {} WHERE {}::text = %s").format(
            self.ident, self.sql.Identifier(field)
        )
        with self.conn.cursor() as cur:
            cur.execute(q, [value])

    def others(self, field: str, value: str, encrypted: Sequence[str]) -> list[Row]:
        if not encrypted:
            return []
        some = self.sql.SQL(" OR ").join(
            self.sql.SQL("{} IS NOT NULL").format(self.sql.Identifier(e)) for e in encrypted
        )
        q = self.sql.SQL("SELECT * FROM {} WHERE {}::text <> %s AND ({}) LIMIT {}").format(
            self.ident, self.sql.Identifier(field), some, self.sql.Literal(CONTROL_SAMPLE)
        )
        return self._rows(q, [value])

    def close(self) -> None:
        self.conn.close()


class SearchPort:
    """A search index (Elasticsearch API), read through the product's index."""

    kind = "search_index"

    def __init__(self, targets: PortTargets, index: str) -> None:
        if targets.search_client is not None:
            self.client, self._owned = targets.search_client, False
        else:
            from meshkit.clients import search_client
            from meshkit.settings import load_settings

            # the domain settings' client: the stand-in's locally, a production one in prod
            assert targets.search_url is not None
            settings = load_settings(search_url=targets.search_url)
            self.client, self._owned = search_client(settings), True
        self.index = index

    @staticmethod
    def _match(field: str, value: str) -> dict[str, Any]:
        terms = [{"term": {field: value}}, {"term": {f"{field}.keyword": value}}]
        return {"bool": {"should": terms, "minimum_should_match": 1}}

    def _hits(self, query: dict[str, Any], size: int = 1000) -> list[tuple[str, Row]]:
        self.client.indices.refresh(index=self.index)
        found = self.client.search(index=self.index, query=query, size=size)
        return [(h["_id"], dict(h["_source"])) for h in found["hits"]["hits"]]

    def subject_rows(self, field: str, value: str) -> list[Row]:
        return [r for _, r in self._hits(self._match(field, value))]

    def history(self, field: str, value: str) -> list[Row]:
        return self.subject_rows(field, value)

    def delete(self, field: str, value: str) -> None:
        for doc_id, _ in self._hits(self._match(field, value)):
            self.client.delete(index=self.index, id=doc_id, refresh=True)

    def others(self, field: str, value: str, encrypted: Sequence[str]) -> list[Row]:
        if not encrypted:
            return []
        # encrypted fields are stored, not indexed: filter for them here
        query = {"bool": {"must_not": [self._match(field, value)]}}
        found = [r for _, r in self._hits(query, 100) if any(r.get(e) for e in encrypted)]
        return found[:CONTROL_SAMPLE]

    def close(self) -> None:
        if self._owned:
            self.client.close()


class TopicPort:
    """A product topic, read from the beginning to the end offsets of this moment."""

    kind = "kafka_topic"

    def __init__(self, brokers: str, contract: Contract, topic: str) -> None:
        from meshkit.ports.kafka import ValueDecoder

        self.brokers = brokers
        self.topic = topic
        self.decode = ValueDecoder(contract)
        self._read: list[tuple[int, bytes | None, Row | None]] | None = None

    def _messages(self) -> list[tuple[int, bytes | None, Row | None]]:
        """(partition, key, record or None) of every message, in offset order; read once
        and kept until this port writes (``delete``)."""
        if self._read is None:
            self._read = self._scan()
        return self._read

    def _scan(self) -> list[tuple[int, bytes | None, Row | None]]:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(
            {
                "bootstrap.servers": self.brokers,
                "group.id": f"meshkit-erasure-{self.topic}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        out: list[tuple[int, bytes | None, Row | None]] = []
        try:
            meta = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
            if meta.error is not None:
                raise ServiceError(
                    f"{self.topic}: the topic cannot be read ({meta.error.name()}); an erasure "
                    "is not verified on a port it cannot read"
                )
            ends: dict[int, int] = {}
            starts: list[TopicPartition] = []
            for p in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, p), 10)
                if high > low:
                    ends[p] = high
                    starts.append(TopicPartition(self.topic, p, low))
            consumer.assign(starts)
            while ends:
                for m in consumer.consume(1000, 1.0):
                    if m.error() is not None:
                        continue
                    p, offset = m.partition() or 0, m.offset() or 0
                    out.append((p, m.key(), self.decode(m.value(), _headers(m.headers()))))
                    if p in ends and offset + 1 >= ends[p]:
                        del ends[p]
        finally:
            consumer.close()
        return out

    def _latest(self) -> dict[tuple[int, bytes | None], Row | None]:
        latest: dict[tuple[int, bytes | None], Row | None] = {}
        for p, key, record in self._messages():
            latest[(p, key)] = record
        return latest

    def subject_rows(self, field: str, value: str) -> list[Row]:
        return [r for r in self._latest().values() if r is not None and _is(r, field, value)]

    def history(self, field: str, value: str) -> list[Row]:
        return [r for _, _, r in self._messages() if r is not None and _is(r, field, value)]

    def delete(self, field: str, value: str) -> None:
        from confluent_kafka import Producer

        keys = [k for k, r in self._latest().items() if r is not None and _is(r, field, value)]
        if not keys:
            return
        producer = Producer({"bootstrap.servers": self.brokers, "enable.idempotence": True})
        self._read = None
        for partition, key in keys:
            producer.produce(self.topic, key=key, value=None, partition=partition)
        if producer.flush(30) != 0:
            raise OSError(f"{self.topic}: tombstones not confirmed by the broker within 30 s")

    def others(self, field: str, value: str, encrypted: Sequence[str]) -> list[Row]:
        found = [
            r
            for r in self._latest().values()
            if r is not None and not _is(r, field, value) and any(r.get(e) for e in encrypted)
        ]
        return found[:CONTROL_SAMPLE] if encrypted else []

    def close(self) -> None:
        return None


def _headers(raw: Any) -> list[tuple[str, bytes | None]]:
    pairs = raw.items() if isinstance(raw, dict) else (raw or [])
    return [(str(k), v.encode() if isinstance(v, str) else v) for k, v in pairs]


def _is(record: Row, field: str, value: str) -> bool:
    v = record.get(field)
    return v is not None and str(v) == value
