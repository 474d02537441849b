"""The search-index writer against the local OpenSearch-compatible server."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

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
    with pytest.raises(DeliveryError, match=r"1 changes were not delivered: position 50: "):
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
        "c-000010": "400 not serialisable as JSON",
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


# -- a bulk request that fails as a whole -------------------------------------------------


class FlakyProxy(ThreadingHTTPServer):
    """An HTTP proxy to the search server that can fail ``_bulk`` requests as a whole.

    ``fail`` lists the statuses the next ``_bulk`` requests get, one each; ``always`` the
    status every ``_bulk`` request gets; ``drop`` closes the connection of every ``_bulk``
    request without an answer; ``item_status`` answers every ``_bulk`` request with 200
    and that status for each of its items (without the ``X-Elastic-Product`` header when
    ``product_header`` is false). Everything else is forwarded as is.
    """

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.fail: list[int] = []
        self.retry_after: str | None = None  # a Retry-After header on the refusals
        self.always: int | None = None
        self.drop = False
        self.item_status: int | None = None
        self.product_header = True
        self.bulk_requests = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FlakyProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        proxy = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path.endswith("/_bulk"):
            with proxy.lock:
                proxy.bulk_requests += 1
                status = proxy.fail.pop(0) if proxy.fail else proxy.always
                drop, item_status = proxy.drop, proxy.item_status
            if drop:
                self.close_connection = True
                return
            if item_status is not None:
                error = {"type": "es_rejected_execution_exception", "reason": "queue full"}
                actions = [json.loads(line) for line in body.splitlines() if line.strip()]
                items = [
                    {op: {"status": item_status, "error": error}}
                    for a in actions
                    for op in a
                    if op in {"index", "delete"}
                ]
                self._answer(200, json.dumps({"errors": True, "items": items}).encode())
                return
            if status is not None:
                error = {"type": "es_rejected_execution_exception", "reason": "busy, try later"}
                extra = {"Retry-After": proxy.retry_after} if proxy.retry_after else {}
                self._answer(status, json.dumps({"error": error, "status": status}).encode(), extra)
                return
        host = proxy.upstream.hostname or "127.0.0.1"
        conn = http.client.HTTPConnection(host, proxy.upstream.port, timeout=30)
        try:
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection"}
            }
            conn.request(self.command, self.path, body or None, headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            skip = {"connection", "transfer-encoding", "content-length"}
            for k, v in resp.getheaders():
                if k.lower() not in skip:
                    self.send_header(k, v)
            length = resp.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            conn.close()

    def _answer(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        if self.server.product_header:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()


@pytest.fixture
def proxy(search_server: SearchEndpoint) -> Iterator[FlakyProxy]:
    server = FlakyProxy(search_server.url)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def upserts(masker: Masker, n: int, position: int = 1) -> list[Change]:
    return [
        Change.upsert(masker.mask_record(raw(i)), key=(f"c-{i:06d}",), position=position)
        for i in range(n)
    ]


def test_whole_request_429_is_retried_with_backoff_then_lands(
    proxy: FlakyProxy, client: Elasticsearch, prefix: str, contract: Contract, masker: Masker
) -> None:
    """The client's own immediate resends are off: one request per attempt, with back-off."""
    with SearchEndpoint(proxy.url).client() as flaky:  # the client's default retry settings
        w = SearchIndexWriter(flaky, prefix=prefix, retries=3, backoff=0.05)
        w.ensure(contract)
        proxy.fail = [429, 503]
        start = time.perf_counter()
        report = w.write(upserts(masker, 30))
        took = time.perf_counter() - start
    assert proxy.bulk_requests == 3  # two refused, the third one lands
    assert took >= 0.05 + 0.1  # the writer's back-off: 0.05 s, then 0.1 s
    assert (report.written, report.dead_letters) == (30, [])
    assert len(documents(client, prefix + "shop.customer")) == 30


def test_retry_after_of_a_429_is_honoured_when_longer_than_the_backoff(
    proxy: FlakyProxy, client: Elasticsearch, prefix: str, contract: Contract, masker: Masker
) -> None:
    with SearchEndpoint(proxy.url).client() as flaky:
        w = SearchIndexWriter(flaky, prefix=prefix, retries=2, backoff=0.01)
        w.ensure(contract)
        proxy.fail, proxy.retry_after = [429], "1"
        start = time.perf_counter()
        report = w.write(upserts(masker, 10))
        took = time.perf_counter() - start
    assert proxy.bulk_requests == 2
    assert took >= 1.0  # the server's 1 s, not the writer's 0.01 s
    assert report.written == 10
    assert len(documents(client, prefix + "shop.customer")) == 10


def test_whole_request_failing_after_the_retries_raises_and_is_not_dead_lettered(
    proxy: FlakyProxy, client: Elasticsearch, prefix: str, contract: Contract, masker: Masker
) -> None:
    letters: list[DeadLetter] = []
    with SearchEndpoint(proxy.url).client() as flaky:
        w = SearchIndexWriter(flaky, prefix=prefix, retries=2, backoff=0.01,
                              dead_letter=letters.extend)  # fmt: skip
        w.ensure(contract)
        proxy.always = 503
        batch = upserts(masker, 5)
        with pytest.raises(DeliveryError) as err:
            w.write(batch)
        assert proxy.bulk_requests == 3  # the first attempt and two retries, no more
        assert letters == []  # the records are fine: not dead letters, the caller replays
        assert [d.change for d in err.value.failures] == batch
        assert err.value.failures[0].reason == (
            "the bulk request failed with HTTP 503: es_rejected_execution_exception: "
            "busy, try later (after 3 attempts)"
        )
        assert "5 changes were not delivered" in str(err.value)
        assert documents(client, prefix + "shop.customer") == {}
        proxy.always = None
        assert w.write(batch).written == 5  # the replay, once the server is back
    assert len(documents(client, prefix + "shop.customer")) == 5


def test_whole_request_refused_for_good_is_raised_at_once(
    proxy: FlakyProxy, prefix: str, contract: Contract, masker: Masker
) -> None:
    """413 (or 400, 401, 403, ...) for the request: not retried, not dead letters."""
    letters: list[DeadLetter] = []
    with SearchEndpoint(proxy.url).client() as flaky:
        w = SearchIndexWriter(flaky, prefix=prefix, backoff=0.01, dead_letter=letters.extend)
        w.ensure(contract)
        proxy.always = 413
        with pytest.raises(DeliveryError, match=r"3 changes were not delivered.*HTTP 413"):
            w.write(upserts(masker, 3))
    assert proxy.bulk_requests == 1
    assert letters == []


def test_connection_errors_are_retried_then_raised(
    proxy: FlakyProxy, prefix: str, contract: Contract, masker: Masker
) -> None:
    with SearchEndpoint(proxy.url).client(max_retries=0) as flaky:
        w = SearchIndexWriter(flaky, prefix=prefix, retries=2, backoff=0.01)
        w.ensure(contract)
        proxy.drop = True
        with pytest.raises(DeliveryError, match=r"ConnectionError.*\(after 3 attempts\)"):
            w.write(upserts(masker, 2))
    assert proxy.bulk_requests == 3


def test_items_still_rejected_after_the_retries_are_raised_not_dead_lettered(
    proxy: FlakyProxy, client: Elasticsearch, prefix: str, contract: Contract, masker: Masker
) -> None:
    """A per-item 429 (the server's queue full) is as passing as a whole-request one."""
    letters: list[DeadLetter] = []
    with SearchEndpoint(proxy.url).client() as flaky:
        w = SearchIndexWriter(flaky, prefix=prefix, retries=1, backoff=0.01,
                              dead_letter=letters.extend)  # fmt: skip
        w.ensure(contract)
        proxy.item_status = 429
        with pytest.raises(DeliveryError) as err:
            w.write(upserts(masker, 4))
    assert proxy.bulk_requests == 2
    assert letters == []
    assert err.value.failures[0].reason == (
        "429 es_rejected_execution_exception: queue full (after 2 attempts)"
    )
    assert documents(client, prefix + "shop.customer") == {}


def test_an_answer_not_from_elasticsearch_confirms_nothing(
    proxy: FlakyProxy, prefix: str, contract: Contract, masker: Masker
) -> None:
    """A 200 without the product header (the client raises UnsupportedProductError): its
    items said "ok" but were not checked, so nothing is counted as written."""
    with SearchEndpoint(proxy.url).client() as flaky:
        w = SearchIndexWriter(flaky, prefix=prefix, backoff=0.01)
        w.ensure(contract)
        proxy.item_status, proxy.product_header = 201, False
        with pytest.raises(DeliveryError, match=r"HTTP 200: UnsupportedProductError"):
            w.write(upserts(masker, 2))
    assert proxy.bulk_requests == 1


def test_mapping_changes_name_the_field_and_the_old_and_new_mapping(
    writer: SearchIndexWriter, client: Elasticsearch
) -> None:
    with pytest.raises(SchemaChangeError) as err:
        writer.ensure(load("customer_breaking"))
    assert err.value.changes == [
        "field 'visits' changes mapping: type long -> keyword",
        "field 'active' was removed (the index maps it, the contract no longer publishes or "
        "indexes it)",
    ]
    data = yaml.safe_load((FIXTURES / "customer.yaml").read_text())
    address = next(f for f in data["fields"] if f["name"] == "address")
    address["fields"] = [{"name": "city", "type": "integer"}, {"name": "zip", "type": "string"}]
    with pytest.raises(SchemaChangeError) as err:
        writer.ensure(Contract.model_validate(data))
    assert err.value.changes == [
        'field \'address.city\' changes mapping: fields {"keyword":{"type":"keyword"}} -> '
        "(none), type text -> long",
        "field 'address.zip' is new inside the existing object 'address' (members of an "
        "object are not added in place)",
        "field 'address.country' was removed",
    ]
    assert "  - field 'address.city' changes mapping" in str(err.value)
    index = writer.index
    props = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert "zip" not in props["address"]["properties"]  # nothing was changed
