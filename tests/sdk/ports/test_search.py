"""The search-index writer against the local OpenSearch-compatible server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch

from meshkit.contracts import Contract
from meshkit.ports import Change, DeadLetter, DeliveryError, RecordRefusedError, SchemaChangeError
from meshkit.ports.search import SearchIndexWriter
from meshkit.privacy import Masker
from meshkit.testing import SearchEndpoint
from tests.sdk.ports.helpers import (
    BAD_CASES,
    FIXTURES,
    batch_with_bad_record,
    canon,
    expected,
    load,
    raw,
    workload,
)


@pytest.fixture
def client(search_server: SearchEndpoint) -> Iterator[Elasticsearch]:
    with search_server.client() as c:
        yield c


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def writer(client: Elasticsearch, prefix: str, contract: Contract) -> SearchIndexWriter:
    w = SearchIndexWriter(client, prefix=prefix)
    w.ensure(contract)
    return w


def documents(client: Elasticsearch, index: str) -> dict[str, Any]:
    client.indices.refresh(index=index)
    hits = client.search(index=index, size=10_000)["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def searchable_view(contract: Contract, record: Any) -> dict[str, Any]:
    """What the index holds of a record: PII only when tokenized (email), the rest as is."""
    out = canon(contract, record)
    for name in ("phone", "born"):
        out.pop(name)
    return out


def test_index_alias_and_mapping_from_contract(
    writer: SearchIndexWriter, client: Elasticsearch, prefix: str
) -> None:
    index = prefix + "shop.customer.v1"
    assert client.indices.get_alias(name=prefix + "shop.customer") == {
        index: {"aliases": {prefix + "shop.customer": {}}}
    }
    props = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert props["tier"]["type"] == "text"  # searchable
    assert props["customer_id"] == {"type": "keyword"}
    assert props["email"] == {"type": "keyword"}  # PII, tokenized: exact lookups by token
    assert "phone" not in props  # PII, masked: not indexed
    assert "born" not in props
    assert props["address"]["properties"]["city"]["type"] == "text"


def test_upserts_deletes_and_final_state(
    writer: SearchIndexWriter, client: Elasticsearch, contract: Contract, masker: Masker
) -> None:
    changes = workload(masker, 1500)
    for i in range(0, len(changes), 500):
        writer.write(changes[i : i + 500])
    writer.flush()
    docs = documents(client, writer.alias)
    want = expected(changes)
    assert {k: searchable_view(contract, d) for k, d in docs.items()} == {
        k[0]: searchable_view(contract, r) for k, r in want.items()
    }
    assert all("phone" not in d for d in docs.values())
    hits = client.search(index=writer.alias, query={"match": {"address.city": "lyon"}})
    assert hits["hits"]["total"]["value"] > 0


def test_replay_after_crash_is_idempotent(
    client: Elasticsearch, prefix: str, contract: Contract, masker: Masker
) -> None:
    changes = workload(masker, 1000, seed=9)
    first = SearchIndexWriter(client, prefix=prefix)
    first.ensure(contract)
    first.write(changes[:600])
    first.flush()
    snapshot = documents(client, first.alias)
    replay = first.write(changes[300:600])
    assert replay.written == 0
    assert documents(client, first.alias) == snapshot
    second = SearchIndexWriter(client, prefix=prefix)
    second.ensure(contract)
    second.write(changes[400:])
    docs = documents(client, second.alias)
    assert set(docs) == {k[0] for k in expected(changes)}


def test_partial_failure_goes_to_dead_letters_and_the_rest_lands(
    client: Elasticsearch, prefix: str, contract: Contract, masker: Masker
) -> None:
    letters: list[DeadLetter] = []
    w = SearchIndexWriter(client, prefix=prefix, check=False, dead_letter=letters.extend,
                          backoff=0.01)  # fmt: skip
    w.ensure(contract)
    good = [
        Change.upsert(masker.mask_record(raw(i)), key=(f"c-{i:06d}",), position=i)
        for i in range(20)
    ]
    bad = Change.upsert(
        {**masker.mask_record(raw(50)), "visits": "many"}, key=("c-000050",), position=50
    )
    report = w.write([*good[:10], bad, *good[10:]])
    assert report.written == 20
    assert [d.change.key for d in report.dead_letters] == [("c-000050",)]
    assert letters == report.dead_letters
    assert "mapper_parsing_exception" in letters[0].reason
    assert len(documents(client, w.alias)) == 20


def test_partial_failure_without_dead_letter_port_raises(
    client: Elasticsearch, prefix: str, contract: Contract, masker: Masker
) -> None:
    w = SearchIndexWriter(client, prefix=prefix, check=False, backoff=0.01)
    w.ensure(contract)
    bad = Change.upsert(
        {**masker.mask_record(raw(50)), "visits": "many"}, key=("c-000050",), position=50
    )
    ok = Change.upsert(masker.mask_record(raw(1)), key=("c-000001",), position=1)
    with pytest.raises(DeliveryError, match=r"1 changes were not delivered: key \('c-000050',\)"):
        w.write([ok, bad])
    assert list(documents(client, w.alias)) == ["c-000001"]


def test_evolution_adds_fields_and_refuses_type_changes(
    writer: SearchIndexWriter, client: Elasticsearch, masker: Masker
) -> None:
    assert writer.ensure(load("customer_v1_1")) == ["nickname"]
    rec = {**masker.mask_record(raw(4)), "nickname": "Bo"}
    writer.write([Change.upsert(rec, key=("c-000004",), position=1)])
    assert documents(client, writer.alias)["c-000004"]["nickname"] == "Bo"
    with pytest.raises(SchemaChangeError, match="field 'visits' changes mapping"):
        writer.ensure(load("customer_breaking"))


def test_new_major_moves_the_alias(
    writer: SearchIndexWriter, client: Elasticsearch, prefix: str
) -> None:
    data = yaml.safe_load((FIXTURES / "customer.yaml").read_text())
    data["version"] = "2.0.0"
    v2 = SearchIndexWriter(client, prefix=prefix)
    v2.ensure(Contract.model_validate(data))
    assert list(client.indices.get_alias(name=prefix + "shop.customer")) == [
        prefix + "shop.customer.v2"
    ]
    writer.ensure(load())  # the old major's writer does not take the alias back
    assert list(client.indices.get_alias(name=prefix + "shop.customer")) == [
        prefix + "shop.customer.v2"
    ]


@pytest.mark.parametrize(("field", "value", "named", "message"), BAD_CASES[:4])
def test_bad_record_refused_and_nothing_indexed(
    writer: SearchIndexWriter, client: Elasticsearch, masker: Masker,
    field: str, value: Any, named: str, message: str,
) -> None:  # fmt: skip
    with pytest.raises(RecordRefusedError) as err:
        writer.write(batch_with_bad_record(masker, field, value))
    assert err.value.field == named
    assert message in str(err.value)
    assert documents(client, writer.alias) == {}


def test_failures_across_chunks_name_the_right_changes(
    client: Elasticsearch, prefix: str, contract: Contract, masker: Masker
) -> None:
    """Bulk results are matched to changes by position, also over several requests."""
    letters: list[DeadLetter] = []
    w = SearchIndexWriter(client, prefix=prefix, check=False, dead_letter=letters.extend,
                          backoff=0.01, chunk_size=3)  # fmt: skip
    w.ensure(contract)
    w.write([Change.upsert(masker.mask_record(raw(i)), key=(f"c-{i:06d}",), position=100)
             for i in range(4)])  # fmt: skip
    changes = [
        Change.upsert(masker.mask_record(raw(0, 1)), key=("c-000000",), position=50),  # older
        Change.upsert(
            {**masker.mask_record(raw(7)), "visits": "many"}, key=("c-000007",), position=101
        ),
        Change.delete(key=("c-000001",), position=101),
        Change.delete(key=("c-000099",), position=101),  # never indexed
        Change.upsert({**masker.mask_record(raw(8)), "nope": 1}, key=("c-000008",), position=101),
        Change.upsert(masker.mask_record(raw(9)), key=("c-000009",), position=101),
        Change.upsert(
            {**masker.mask_record(raw(10)), "tier": object()}, key=("c-000010",), position=101
        ),
        Change.upsert(masker.mask_record(raw(11)), key=("c-000011",), position=101),
    ]
    report = w.write(changes)
    assert report.written == 3  # the delete of c-000001, c-000009 and c-000011
    assert report.skipped == 2  # the older version of c-000000, the delete of c-000099
    assert {d.change.key[0]: d.reason.split(":")[0] for d in report.dead_letters} == {
        "c-000007": "400 mapper_parsing_exception",
        "c-000008": "400 strict_dynamic_mapping_exception",
        "c-000010": "400 not serialisable",
    }
    assert letters == report.dead_letters
    docs = documents(client, w.alias)
    assert sorted(docs) == ["c-000000", "c-000002", "c-000003", "c-000009", "c-000011"]
    assert docs["c-000000"]["tier"] == masker.mask_record(raw(0))["tier"]  # not replaced


def test_document_values_as_json(
    writer: SearchIndexWriter, client: Elasticsearch, masker: Masker
) -> None:
    """Decimals as exact strings, timestamps and dates in ISO 8601; PII only as tokens."""
    rec = masker.mask_record(raw(3))
    writer.write([Change.upsert(rec, key=("c-000003",), position=1)])
    doc = documents(client, writer.alias)["c-000003"]
    assert doc["balance"] == str(rec["balance"])
    assert doc["updated_at"] == rec["updated_at"].isoformat()
    assert doc["email"] == rec["email"]
    assert "phone" not in doc
    assert "born" not in doc
