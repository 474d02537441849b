"""The catalog web page over HTTP: the token is given once and kept in an HttpOnly
cookie; pages offer only what the token's role may do; forms need their CSRF token;
no personal value of any record reaches a page or the registry's database (canary)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from meshkit_platform.provisioning import apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.grants import RegistryGrants, report_applied
from meshkit_platform.provisioning.views import ViewBackend
from tests.platform.registry.conftest import Tokens, bearer

pytestmark = [pytest.mark.services]

DOMAINS = Path(__file__).parents[2] / "fixtures/access"
PROFILE = DOMAINS / "customers/contracts/profile.yaml"
ADDRESS = "customers.profile.v1"


@pytest.fixture(scope="module")
def published(client: httpx.Client, tokens: Tokens) -> str:
    body = {"contracts": [{"file": "contracts/profile.yaml", "text": PROFILE.read_text()}]}
    answer = client.post(
        "/v1/domains/customers/contracts", json=body, headers=bearer(tokens.owner_customers)
    )
    assert answer.status_code == 200, answer.text
    return ADDRESS


@contextmanager
def browser_client(server: str, token: str | None) -> Iterator[httpx.Client]:
    """A client that keeps cookies, as a browser does, with the token given once."""
    with httpx.Client(base_url=server, timeout=30, follow_redirects=False) as c:
        if token is not None:
            answer = c.post("/ui/token", data={"token": token, "next": "/ui"})
            assert answer.status_code == 303, answer.text
        yield c


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{32})"', page)
    assert found is not None
    return found.group(1)


@pytest.fixture
def as_consumer(server: str, tokens: Tokens) -> Iterator[httpx.Client]:
    with browser_client(server, tokens.consumer) as c:
        yield c


def test_without_a_token_every_page_asks_for_one(server: str, published: str) -> None:
    with browser_client(server, None) as c:
        for path in ("/ui", f"/ui/products/{published}", "/ui/requests", "/ui/domains/customers"):
            answer = c.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/ui/token?next=")
        refused = c.post("/ui/token", data={"token": "mkr_nope_x", "next": "/ui"})
        assert refused.status_code == 401
        assert "not valid" in refused.text
        # only paths of the page are followed after the token form
        ok = c.post("/ui/token", data={"token": "x", "next": "https://elsewhere.example"})
        assert "elsewhere" not in ok.text


def test_the_cookie_is_httponly_and_strict(server: str, tokens: Tokens) -> None:
    with httpx.Client(base_url=server) as c:
        answer = c.post("/ui/token", data={"token": tokens.consumer, "next": "/ui"})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie


def test_pages_offer_only_the_actions_the_role_may_take(
    server: str, tokens: Tokens, published: str, as_consumer: httpx.Client
) -> None:
    product = as_consumer.get(f"/ui/products/{published}")
    assert product.status_code == 200
    assert 'id="request-access"' in product.text
    for needle in ("encrypted", "tokenized", "masked", "generalized", "dropped", "<svg"):
        assert needle in product.text
    page = as_consumer.get(f"/ui/products/{published}/access")
    filed = as_consumer.post(
        f"/ui/products/{published}/access",
        data={"csrf": csrf(page.text), "purpose": "fraud checks", "grantee": "fraud",
              "port": "serving_view", "field": ["id", "city"], "days": "10"},
    )  # fmt: skip
    assert filed.status_code == 303, filed.text
    request_page = filed.headers["location"]
    mine = as_consumer.get(request_page)
    assert "Approve" not in mine.text
    assert "Waiting for an owner of domain customers" in mine.text
    rid = request_page.rsplit("/", 1)[1]
    # the consumer cannot approve through the page either
    refused = as_consumer.post(
        f"/ui/requests/{rid}/approve", data={"csrf": csrf(mine.text), "reason": "self-serve"}
    )
    assert refused.status_code == 403
    with browser_client(server, tokens.owner_orders) as other:
        assert other.get(request_page).status_code == 404
        listing = other.get("/ui/requests")
        assert f"/ui/requests/{rid}" not in listing.text
        assert 'id="request-access"' in other.get(f"/ui/products/{published}").text
    with browser_client(server, tokens.owner_customers) as owner:
        seen = owner.get(request_page)
        assert f'id="approve-{rid}"' in seen.text
        assert 'id="request-access"' not in owner.get(f"/ui/products/{published}").text
        # a form without its CSRF token is refused
        assert (
            owner.post(f"/ui/requests/{rid}/approve", data={"reason": "ok then"}).status_code == 403
        )
        done = owner.post(
            f"/ui/requests/{rid}/deny", data={"csrf": csrf(seen.text), "reason": "not needed"}
        )
        assert done.status_code == 303
        assert "denied" in owner.get(request_page).text


def test_bad_form_input_is_explained(published: str, as_consumer: httpx.Client) -> None:
    page = as_consumer.get(f"/ui/products/{published}/access")
    answer = as_consumer.post(
        f"/ui/products/{published}/access",
        data={"csrf": csrf(page.text), "purpose": "x", "grantee": "Bad Name", "days": "9999"},
    )
    assert answer.status_code == 422
    for where in ("purpose", "grantee", "ports", "days"):
        assert where in answer.text
    assert "Traceback" not in answer.text


CANARIES = ("canary.person@example.org", "+44 7700 900123", "Zebulon Canaryfield", "1971-07-13")


def test_no_personal_value_reaches_pages_or_the_registry_database(
    server: str, tokens: Tokens, published: str, postgres_database: str, engine: Engine
) -> None:
    """Real records with canary values sit in the serving view the registry grants
    access to; no page of any role, and no table of the registry, holds one of them."""
    view = ViewBackend(postgres_database)
    registry = RegistryGrants(server, tokens.admin)
    try:
        grants = registry.fetch()
        contracts = load_domains(DOMAINS)
        apply_plan(make_plan(contracts, [view], grants), [view])
        report_applied(grants, contracts, [view], registry)
    finally:
        registry.close()
        view.close()
    conn = psycopg2.connect(postgres_database)
    with conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (id, email, email_token, phone, birth_date, city, _meshkit_pos) "
                "VALUES (%s, %s, %s, %s, %s, %s, 1)"
            ).format(sql.Identifier("public", ADDRESS)),
            [f"c-{uuid.uuid4().hex[:6]}", CANARIES[0], CANARIES[0], CANARIES[1], CANARIES[3],
             CANARIES[2]],
        )  # fmt: skip
    conn.close()
    pages: list[str] = []
    for token in (tokens.consumer, tokens.owner_customers, tokens.owner_orders, tokens.admin):
        with browser_client(server, token) as c:
            for path in ("/ui", f"/ui/products/{published}", f"/ui/products/{published}/access",
                         "/ui/requests", "/ui/domains/customers", "/ui?q=canary"):  # fmt: skip
                answer = c.get(path)
                assert answer.status_code == 200, path
                pages.append(answer.text)
    with engine.connect() as db:
        for table in inspect(engine).get_table_names():
            rows = db.execute(text(f'SELECT t::text FROM "{table}" t')).scalars().all()
            pages.extend(rows)
    blob = "\n".join(pages)
    for canary in CANARIES:
        assert canary not in blob


def test_an_oversized_form_is_refused_not_a_server_error(
    published: str, as_consumer: httpx.Client
) -> None:
    many = "&".join(f"field=f{i}" for i in range(700))
    answer = as_consumer.get(f"/ui/products/{published}/access?{many}")
    assert answer.status_code == 422
    assert "more than 600 fields" in answer.text


def test_the_requester_revokes_a_grant_from_the_page(
    client: httpx.Client,
    server: str,
    tokens: Tokens,
    published: str,
    as_consumer: httpx.Client,
) -> None:
    filed = client.post(
        f"/v1/products/{published}/access-requests",
        json={"purpose": "one-off export", "grantee": "exports", "ports": ["kafka_topic"]},
        headers=bearer(tokens.consumer),
    ).json()
    grant = client.post(
        f"/v1/access-requests/{filed['id']}/approve",
        json={"reason": "for a week", "days": 7},
        headers=bearer(tokens.owner_customers),
    ).json()["grants"][0]
    page = as_consumer.get(f"/ui/requests/{filed['id']}")
    assert f'action="/ui/grants/{grant["id"]}/revoke"' in page.text
    with browser_client(server, tokens.owner_orders) as other:
        refused = other.post(
            f"/ui/grants/{grant['id']}/revoke",
            data={"csrf": csrf(other.get("/ui").text), "reason": "not mine"},
        )
        assert refused.status_code == 403
    done = as_consumer.post(
        f"/ui/grants/{grant['id']}/revoke", data={"csrf": csrf(page.text), "reason": "done"}
    )
    assert done.status_code == 303
    after = as_consumer.get(f"/ui/requests/{filed['id']}").text
    assert "revoked" in after
    assert f'action="/ui/grants/{grant["id"]}/revoke"' not in after
