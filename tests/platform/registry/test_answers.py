"""Kept search pages and lineage graphs: answered again only while the catalog's
revision stands, whoever writes (the API, another process, a tool on the database)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit_platform.registry.answers import Answers, revision
from meshkit_platform.registry.db import make_engine
from meshkit_platform.registry.notices import PageRevision
from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body


def _reads(source: str) -> str:
    return f"    - {{kind: product, name: src, product: {source}, major: 1}}\n"


@pytest.fixture(scope="module", autouse=True)
def mesh(client: httpx.Client, tokens: Tokens) -> None:
    """shipping.parcel reads shipping.label."""
    r = client.post(
        "/v1/domains/shipping/contracts",
        json=publish_body(
            contract("shipping", "label", description="Labels printed for parcels."),
            contract(
                "shipping",
                "parcel",
                inputs=_reads("shipping.label"),
                description="Parcels handed to carriers.",
            ),
        ),
        headers=bearer(tokens.admin),
    )
    assert r.status_code == 200, r.text


def _get(client: httpx.Client, tokens: Tokens, path: str, **params: object) -> dict[str, Any]:
    r = client.get(path, params=params, headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _downstream(client: httpx.Client, tokens: Tokens) -> set[str]:
    graph = _get(client, tokens, "/v1/lineage/shipping.label.v1", direction="downstream")
    return {n["address"] for n in graph["nodes"]}


def test_a_publish_through_the_api_changes_the_next_answers(
    client: httpx.Client, tokens: Tokens
) -> None:
    assert _downstream(client, tokens) == {"shipping.label.v1", "shipping.parcel.v1"}
    assert _get(client, tokens, "/v1/products", q="carrier")["total"] == 1
    r = client.post(
        "/v1/domains/billing/contracts",
        json=publish_body(
            contract(
                "billing",
                "postage",
                inputs=_reads("shipping.label"),
                description="Postage per carrier.",
            )
        ),
        headers=bearer(tokens.admin),
    )
    assert r.status_code == 200, r.text
    assert _downstream(client, tokens) == {
        "shipping.label.v1",
        "shipping.parcel.v1",
        "billing.postage.v1",
    }
    assert _get(client, tokens, "/v1/products", q="carrier")["total"] == 2


def test_a_write_by_another_process_changes_the_next_answers(
    client: httpx.Client, tokens: Tokens, engine: Engine
) -> None:
    """The API process never hears of this write: only the revision tells it."""
    before = _get(client, tokens, "/v1/lineage/shipping.parcel.v1", direction="upstream")
    assert {n["address"]: n["status"] for n in before["nodes"]}["shipping.label.v1"] == "active"
    assert (
        _get(client, tokens, "/v1/products", status="deprecated", domain="shipping")["total"] == 0
    )
    with Session(engine) as s:
        s.execute(
            text("UPDATE products SET status = 'deprecated' WHERE address = :a"),
            {"a": "shipping.label.v1"},
        )
        s.commit()
    after = _get(client, tokens, "/v1/lineage/shipping.parcel.v1", direction="upstream")
    assert {n["address"]: n["status"] for n in after["nodes"]}["shipping.label.v1"] == "deprecated"
    page = _get(client, tokens, "/v1/products", status="deprecated", domain="shipping")
    assert [i["address"] for i in page["items"]] == ["shipping.label.v1"]


def test_a_run_that_only_confirms_an_edge_leaves_the_revision(
    client: httpx.Client, tokens: Tokens, engine: Engine
) -> None:
    def run() -> None:
        now = datetime.now(UTC).isoformat()
        r = client.post(
            "/api/v1/lineage",
            json={
                "eventType": "COMPLETE",
                "eventTime": now,
                "run": {"runId": str(uuid.uuid4()), "facets": {}},
                "job": {"namespace": "shipping", "name": "parcels"},
                "inputs": [{"namespace": "kafka://local", "name": "carriers.raw"}],
                "outputs": [{"namespace": "kafka://local", "name": "shipping.parcel.v1"}],
                "producer": "https://example.com/tests",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            },
            headers=bearer(tokens.admin),
        )
        assert r.status_code == 201, r.text

    def now() -> int:
        with Session(engine) as s:
            return revision(s)

    start = now()
    run()  # a new observed edge: lineage changes
    seen = now()
    assert seen > start
    graph = _get(client, tokens, "/v1/lineage/shipping.parcel.v1", direction="upstream", depth=1)
    assert "carriers.raw" in {n["address"] for n in graph["nodes"]}
    run()  # the same edge seen again: nothing search or lineage read has changed
    assert now() == seen


def _page(client: httpx.Client, tokens: Tokens, address: str) -> dict[str, Any]:
    return _get(client, tokens, f"/v1/products/{address}")


def test_a_product_page_follows_a_publish_through_the_api_at_once(
    client: httpx.Client, tokens: Tokens
) -> None:
    assert _page(client, tokens, "shipping.label.v1")["version"] == "1.0.0"
    r = client.post(
        "/v1/domains/shipping/contracts",
        json=publish_body(
            contract("shipping", "label", "1.1.0", description="Labels printed for parcels.")
        ),
        headers=bearer(tokens.admin),
    )
    assert r.status_code == 200, r.text
    assert _page(client, tokens, "shipping.label.v1")["version"] == "1.1.0"


def test_a_product_page_follows_a_write_by_another_process(
    client: httpx.Client, tokens: Tokens, engine: Engine
) -> None:
    """Told by the database's notification, within moments of the commit."""
    assert _page(client, tokens, "shipping.parcel.v1")["description"] == (
        "Parcels handed to carriers."
    )
    with Session(engine) as s:
        s.execute(
            text("UPDATE products SET description = 'Parcels, weighed.' WHERE address = :a"),
            {"a": "shipping.parcel.v1"},
        )
        s.commit()
    deadline = time.monotonic() + 10
    while _page(client, tokens, "shipping.parcel.v1")["description"] != "Parcels, weighed.":
        assert time.monotonic() < deadline, "the page still shows the old description"
        threading.Event().wait(0.01)


def test_a_kept_page_of_a_line_with_runs_has_its_freshness_as_of_now(
    client: httpx.Client, tokens: Tokens
) -> None:
    first = _page(client, tokens, "shipping.parcel.v1")["run_status"]["freshness"]
    threading.Event().wait(0.05)
    second = _page(client, tokens, "shipping.parcel.v1")["run_status"]["freshness"]
    assert second["age_seconds"] > first["age_seconds"]


def test_the_revision_moves_on_with_each_notification(engine: Engine) -> None:
    watched = PageRevision(engine)
    try:
        deadline = time.monotonic() + 10
        while (before := watched.current()) is None:
            assert time.monotonic() < deadline, "never listening"
            threading.Event().wait(0.01)
        with Session(engine) as s:
            s.execute(text("UPDATE product_runs SET last_state = last_state"))
            s.commit()
        while watched.current() == before:
            assert time.monotonic() < deadline, "the notification never arrived"
            threading.Event().wait(0.01)
        assert watched.current() is not None
    finally:
        watched.stop()


def test_nothing_kept_is_answered_while_no_connection_listens() -> None:
    nowhere = make_engine("postgresql+psycopg2://nobody@127.0.0.1:9/none")
    revision = PageRevision(nowhere)
    try:
        assert revision.current() is None
        threading.Event().wait(0.3)  # the listener has tried (and failed) meanwhile
        assert revision.current() is None
    finally:
        revision.stop()
        nowhere.dispose()


def test_answers_from_an_older_revision_are_not_kept() -> None:
    kept = Answers(max_bytes=1000)
    kept.put_bytes("a", 2, b"new")
    kept.put_bytes("b", 1, b"read before the write")  # a reader that started earlier
    assert kept.get("b", 2) is None
    assert kept.get("a", 2) == b"new"
    assert kept.get("a", 3) is None  # the catalog moved on: everything dropped
    assert kept.get("a", 2) is None


def test_answers_stay_within_their_byte_budget() -> None:
    kept = Answers(max_bytes=10)
    kept.put_bytes("a", 1, b"aaaa")
    kept.put_bytes("b", 1, b"bbbb")
    assert kept.get("a", 1) == b"aaaa"  # a is now the most recently used
    kept.put_bytes("c", 1, b"cccc")
    assert (kept.get("a", 1), kept.get("b", 1), kept.get("c", 1)) == (b"aaaa", None, b"cccc")
    kept.put_bytes("big", 1, b"x" * 11)
    assert kept.get("big", 1) is None
    assert Answers(max_bytes=0).get("a", 1) is None
