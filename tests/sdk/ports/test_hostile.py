"""The ports under bad records: a record a port refuses for good is a dead letter, an
outage stops the caller, and a port never half-applies a write."""

from __future__ import annotations

import datetime as dt
import random
import string
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import yaml
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from elasticsearch import Elasticsearch
from google.api_core.exceptions import InternalServerError

from meshkit.batch.validate import PartitionWindow
from meshkit.batch.warehouse import BigQuerySession
from meshkit.contracts import Contract
from meshkit.errors import ServiceError
from meshkit.local.bigquery import emulator_job_retry, emulator_retry
from meshkit.local.kafka import admin_config
from meshkit.ports import Change, DeadLetter, DeliveryError
from meshkit.ports.kafka import KafkaTopicWriter
from meshkit.ports.search import SearchIndexWriter
from meshkit.privacy import Masker
from meshkit.testing import BigQueryEndpoint, SearchEndpoint
from tests.sdk.ports.helpers import FIXTURES, raw
from tests.sdk.ports.test_kafka import compacted, read_topic

# -- Kafka: a message too large for the topic or the producer is the record's fault --------


def _text(n: int, seed: int = 1) -> str:
    """``n`` random letters: no compression brings them under a size limit."""
    return "".join(random.Random(seed).choices(string.ascii_letters, k=n))


def _changes(masker: Masker, n: int, big: dict[int, int]) -> list[Change]:
    """``n`` upserts; the ``i``-th one's ``tier`` is ``big[i]`` letters long when given."""
    out = []
    for i in range(n):
        rec = masker.mask_record(raw(i))
        if i in big:
            rec = {**rec, "tier": _text(big[i])}
        out.append(Change.upsert(rec, key=(rec["customer_id"],), position=i))
    return out


def _set_topic_config(bootstrap: str, topic: str, name: str, value: str) -> None:
    admin = AdminClient(admin_config(bootstrap))
    entry = ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(15)


def test_a_value_over_the_producers_message_size_is_dead_lettered_the_rest_delivered(
    kafka_broker: str, kafka_topic: str, contract: Contract, masker: Masker
) -> None:
    """Under the flows' 1 MiB value limit, over the producer's ``message.max.bytes``
    (1,000,000): librdkafka refused it at ``produce``, which killed the write and, replayed
    after recovery, every run after it."""
    letters: list[DeadLetter] = []
    w = KafkaTopicWriter(kafka_broker, topic=kafka_topic, dead_letter=letters.extend)
    w.ensure(contract)
    batch = _changes(masker, 6, {2: 1_000_100})
    w.write(batch)
    w.flush()
    assert [d.change for d in letters] == [batch[2]]
    assert "MSG_SIZE_TOO_LARGE" in letters[0].reason
    assert "over the producer's message.max.bytes 1000000" in letters[0].reason
    assert len(letters[0].reason) < 500  # the value is not in it
    state = compacted(read_topic(kafka_broker, kafka_topic, 5))
    assert sorted(state) == sorted(c.key[0] for i, c in enumerate(batch) if i != 2)
    w.close()


def test_a_record_over_the_topics_max_message_bytes_is_dead_lettered_not_sent(
    kafka_broker: str, kafka_topic: str, contract: Contract, masker: Masker
) -> None:
    """A broker refuses a message over the topic's ``max.message.bytes`` (the embedded
    broker stores it anyway): the writer reads the limit at ``ensure`` and dead-letters
    such a record itself, so the flow goes on and no batch of its neighbours fails."""
    _set_topic_config(kafka_broker, kafka_topic, "max.message.bytes", "20000")
    letters: list[DeadLetter] = []
    w = KafkaTopicWriter(kafka_broker, topic=kafka_topic, dead_letter=letters.extend)
    w.ensure(contract)
    batch = _changes(masker, 8, {1: 30_000, 5: 19_000, 6: 25_000})
    w.write(batch)
    w.flush()
    assert [d.change for d in letters] == [batch[1], batch[6]]
    assert all("max.message.bytes 20000" in d.reason for d in letters)
    state = compacted(read_topic(kafka_broker, kafka_topic, 6))
    assert sorted(state) == sorted(c.key[0] for i, c in enumerate(batch) if i not in (1, 6))
    w.close()


def test_without_a_dead_letter_callback_a_refused_record_is_raised_not_dropped(
    kafka_broker: str, kafka_topic: str, contract: Contract, masker: Masker
) -> None:
    w = KafkaTopicWriter(kafka_broker, topic=kafka_topic)
    w.ensure(contract)
    batch = _changes(masker, 4, {3: 1_000_100})
    w.write(batch)
    with pytest.raises(DeliveryError, match="MSG_SIZE_TOO_LARGE") as err:
        w.flush()
    assert [d.change for d in err.value.failures] == [batch[3]]
    assert len(compacted(read_topic(kafka_broker, kafka_topic, 3))) == 3
    w.close()


def test_an_outage_is_not_a_dead_letter(
    kafka_broker: str, kafka_topic: str, contract: Contract, masker: Masker
) -> None:
    """Messages that time out (here: a producer pointed at a closed port) are raised at
    ``flush`` for the caller to replay, never handed to the dead-letter callback."""
    letters: list[DeadLetter] = []
    w = KafkaTopicWriter(kafka_broker, topic=kafka_topic, dead_letter=letters.extend,
                         config={"message.timeout.ms": 1000})  # fmt: skip
    w.ensure(contract)
    w._producer = type(w._producer)(
        {"bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": 500, "log_level": 0}
    )  # the broker is gone
    batch = _changes(masker, 3, {})
    w.write(batch)
    with pytest.raises(DeliveryError, match="3 changes were not delivered") as err:
        w.flush()
    assert letters == []
    assert (
        sorted((d.change for d in err.value.failures), key=lambda c: c.position) == batch
    )  # the changes written, records and all, found from the delivery reports


# -- search: each writer writes its own major's index, never through the alias -------------


@pytest.fixture
def search_client(search_server: SearchEndpoint) -> Iterator[Elasticsearch]:
    with search_server.client() as c:
        yield c


def test_an_old_major_writer_keeps_writing_its_own_index(
    search_client: Elasticsearch, contract: Contract, masker: Masker
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    v1 = SearchIndexWriter(search_client, prefix=prefix)
    v1.ensure(contract)
    data = yaml.safe_load((FIXTURES / "customer.yaml").read_text())
    data["version"] = "2.0.0"
    v2 = SearchIndexWriter(search_client, prefix=prefix)
    v2.ensure(Contract.model_validate(data))  # the alias moves to v2
    rec = masker.mask_record(raw(7))
    v1.write([Change.upsert(rec, key=(rec["customer_id"],), position=1)])
    v1.flush()
    v2.flush()

    def ids(index: str) -> list[str]:
        hits = search_client.search(index=index, size=100)["hits"]["hits"]
        return [h["_id"] for h in hits]

    assert ids(prefix + "shop.customer.v1") == ["c-000007"]
    assert ids(prefix + "shop.customer.v2") == []
    assert v1.index == prefix + "shop.customer.v1"


# -- BigQuery: a batch replace is one statement ---------------------------------------------

ORDERS = """
domain: {domain}
name: order_facts
version: 1.0.0
owner: {{team: t, contact: t@example.com}}
fields:
  - {{name: order_id, type: string, required: true}}
  - {{name: total, type: float}}
  - {{name: placed_at, type: timestamp, required: true}}
primary_key: [order_id]
ports:
  outputs:
    - {{kind: warehouse_table}}
"""


class _Watched:
    """The emulator's client, with a reader that counts the partition's rows before every
    query job, and (``fail``) the last job of a replace failing as a BigQuery job can
    (a quota, a lost slot): the job that writes the new rows."""

    def __init__(self, client: Any, count_sql: str, *, fail: bool) -> None:
        self._client = client
        self._count_sql = count_sql
        self._fail = fail
        self.seen: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, sql: str, **kwargs: Any) -> Any:
        (row,) = self._client.query(self._count_sql, job_retry=emulator_job_retry()).result()
        self.seen.append(int(row[0]))
        if self._fail and "INSERT" in sql:
            raise InternalServerError("the job failed")
        return self._client.query(sql, **kwargs)


@pytest.fixture
def orders(bigquery_emulator: BigQueryEndpoint) -> Iterator[tuple[Any, Contract]]:
    domain = f"bq_{uuid.uuid4().hex[:8]}"
    contract = Contract.model_validate(yaml.safe_load(ORDERS.format(domain=domain)))
    client = bigquery_emulator.client()
    session = BigQuerySession(client, retry=emulator_retry(), job_retry=emulator_job_retry())
    session.ensure(contract)
    session.replace(contract, _orders({"o1": (1, 10.0), "o2": (1, 20.0), "o3": (2, 30.0)}), None)
    yield client, contract
    client.close()


def _orders(rows: dict[str, tuple[int, float]]) -> pa.Table:
    day = {d: dt.datetime(2024, 1, d, 9, tzinfo=dt.UTC) for d in (1, 2)}
    return pa.table({
        "order_id": list(rows),
        "total": pa.array([t for _, t in rows.values()], pa.float64()),
        "placed_at": pa.array([day[d] for d, _ in rows.values()], pa.timestamp("us", tz="UTC")),
    })  # fmt: skip


def _day_one() -> PartitionWindow:
    return PartitionWindow(
        "placed_at", dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    )


def _table_rows(client: Any, contract: Contract) -> list[tuple[str, float]]:
    sql = f"SELECT order_id, total FROM `{contract.domain}.order_facts_v1` ORDER BY order_id"
    return [(r[0], r[1]) for r in client.query(sql, job_retry=emulator_job_retry()).result()]


def _count_day_one(contract: Contract) -> str:
    return (
        f"SELECT COUNT(*) FROM `{contract.domain}.order_facts_v1` "
        "WHERE placed_at >= TIMESTAMP '2024-01-01' AND placed_at < TIMESTAMP '2024-01-02'"
    )


def test_a_failed_bigquery_replace_leaves_the_partition_as_it_was(
    orders: tuple[Any, Contract],
) -> None:
    client, contract = orders
    watched = _Watched(client, _count_day_one(contract), fail=True)
    session = BigQuerySession(watched, retry=emulator_retry(), job_retry=emulator_job_retry())
    with pytest.raises(ServiceError, match=r"BigQuery write of .* failed"):
        session.replace(contract, _orders({"o1": (1, 11.0)}), _day_one())
    assert _table_rows(client, contract) == [("o1", 10.0), ("o2", 20.0), ("o3", 30.0)]


def test_readers_never_see_a_bigquery_partition_empty_during_a_replace(
    orders: tuple[Any, Contract],
) -> None:
    client, contract = orders
    watched = _Watched(client, _count_day_one(contract), fail=False)
    session = BigQuerySession(watched, retry=emulator_retry(), job_retry=emulator_job_retry())
    session.replace(contract, _orders({"o1": (1, 11.0), "o4": (1, 40.0)}), _day_one())
    assert watched.seen  # a reader looked before every query job ...
    assert set(watched.seen) == {2}  # ... and saw the old partition each time
    assert _table_rows(client, contract) == [("o1", 11.0), ("o3", 30.0), ("o4", 40.0)]


def test_a_bigquery_replace_of_the_whole_table(orders: tuple[Any, Contract]) -> None:
    client, contract = orders
    session = BigQuerySession(client, retry=emulator_retry(), job_retry=emulator_job_retry())
    assert session.replace(contract, _orders({"o9": (2, 90.0)}), None) == 1
    assert _table_rows(client, contract) == [("o9", 90.0)]
