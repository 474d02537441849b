"""Fixtures of the registry tests: a fresh catalog database per test module on the
session's embedded PostgreSQL, the app over it, and a token of each role."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg2
import pytest
import uvicorn
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit_platform.registry import RegistrySettings, create_app, migrate
from meshkit_platform.registry.auth import create_token
from meshkit_platform.registry.db import make_engine

SMALL_LIMIT = 64 * 1024


def _url(dsn: str) -> str:
    p = parse_dsn(dsn)
    return f"postgresql+psycopg2://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


@pytest.fixture(scope="module")
def registry_dsn(postgres: str) -> Iterator[str]:
    """libpq URL of a fresh, empty database for this test module, dropped afterwards."""
    name = f"registry_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(postgres)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield make_dsn(**{**parse_dsn(postgres), "dbname": name})
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        admin.close()


@pytest.fixture(scope="module")
def registry_url(registry_dsn: str) -> str:
    """SQLAlchemy URL of the module's database."""
    return _url(registry_dsn)


@pytest.fixture(scope="module")
def empty_engine(registry_url: str) -> Iterator[Engine]:
    """An engine on the module's database, not migrated."""
    engine = make_engine(registry_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def engine(empty_engine: Engine) -> Engine:
    """An engine on the module's database, migrated to the newest schema."""
    migrate.upgrade(empty_engine)
    return empty_engine


@dataclass(frozen=True)
class Tokens:
    admin: str
    owner_orders: str
    owner_customers: str
    consumer: str
    revoked: str


@pytest.fixture(scope="module")
def tokens(engine: Engine) -> Tokens:
    with Session(engine) as s:
        made = {
            "admin": create_token(s, name="admin", role="platform-admin")[1],
            "owner_orders": create_token(s, name="o", role="domain-owner", domain="orders")[1],
            "owner_customers": create_token(s, name="c", role="domain-owner", domain="customers")[
                1
            ],
            "consumer": create_token(s, name="reader", role="consumer")[1],
        }
        revoked_id, revoked = create_token(s, name="old", role="platform-admin")
        s.commit()
    from meshkit_platform.registry.auth import revoke_token

    with Session(engine) as s:
        revoke_token(s, revoked_id)
        s.commit()
    return Tokens(revoked=revoked, **made)


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[str]:
    """Base URL of the registry served by uvicorn in a thread of this process."""
    app = create_app(engine, RegistrySettings(max_body_bytes=SMALL_LIMIT, token_cache_seconds=0))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=5) as probe:
        for _ in range(500):
            if srv.started:
                break
            threading.Event().wait(0.01)
        probe.get("/healthz").raise_for_status()
    yield url
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
