"""The read path of the API: one worker thread per read, statements in autocommit, and a
read that finds its pooled connection dead (the database restarted) is answered anyway."""

from __future__ import annotations

import httpx
import psycopg2
from sqlalchemy.engine import Engine

from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body


def _publish(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(contract("orders", "reads")),
        headers=bearer(tokens.owner_orders),
    )
    assert r.status_code == 200, r.text


def _backends(dsn: str) -> list[tuple[int, str]]:
    """(pid, state) of every other session on the module's database."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pid, state FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [(int(pid), str(state)) for pid, state in cur.fetchall()]


def test_reads_survive_the_database_dropping_every_connection(
    client: httpx.Client, tokens: Tokens, engine: Engine, registry_dsn: str
) -> None:
    _publish(client, tokens)
    paths = ["/v1/products/orders.reads.v1", "/v1/products?q=reads", "/v1/lineage/orders.reads"]
    for path in paths:
        assert client.get(path, headers=bearer(tokens.consumer)).status_code == 200
    for path in paths:
        # As after a restart of the database: every pooled connection is dead.
        with psycopg2.connect(registry_dsn) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        r = client.get(path, headers=bearer(tokens.consumer))
        assert r.status_code == 200, (path, r.text)


def test_reads_leave_no_transaction_open(
    client: httpx.Client, tokens: Tokens, registry_dsn: str
) -> None:
    _publish(client, tokens)
    for _ in range(5):
        for path in ("/v1/products/orders.reads.v1", "/v1/products?q=reads"):
            assert client.get(path, headers=bearer(tokens.consumer)).status_code == 200
    assert not [s for s in _backends(registry_dsn) if s[1].startswith("idle in transaction")]
