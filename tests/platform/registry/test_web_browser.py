"""The catalog in real headless Chromium (Playwright, sync API): search → product page →
request access with the per-field preview checked against the contract → approve as the
owning domain's owner → the grant shown applied after provisioning's apply → the
consumer's role reads the granted columns of the serving view and is refused the rest.
Every step leaves a screenshot under ``.state/artifacts/web/``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from psycopg2 import errors, sql
from psycopg2.extensions import make_dsn, parse_dsn

from meshkit.contracts import parse_contract
from meshkit_platform.provisioning import apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.grants import RegistryGrants, report_applied
from meshkit_platform.provisioning.views import ViewBackend
from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.slow]

DOMAINS = Path(__file__).parents[2] / "fixtures/access"
PROFILE = DOMAINS / "customers/contracts/profile.yaml"
ADDRESS = "customers.profile.v1"
ARTIFACTS = Path(__file__).parents[3] / ".state/artifacts/web"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: What the preview must say for each transform kind of the contract.
TREATMENT = {
    None: "clear",
    "encrypt": "encrypted",
    "tokenize": "tokenized",
    "generalize": "generalized",
    "mask": "masked",
    "redact": "redacted",
    "drop": "dropped",
}


def run(dsn: str, statement: sql.Composable | str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed; ./dev test installs Debian's chromium")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def published(client: httpx.Client, tokens: Tokens) -> str:
    body = {"contracts": [{"file": "contracts/profile.yaml", "text": PROFILE.read_text()}]}
    answer = client.post(
        "/v1/domains/customers/contracts", json=body, headers=bearer(tokens.owner_customers)
    )
    assert answer.status_code == 200, answer.text
    reads = "    - {kind: product, name: profile, product: customers.profile, major: 1}\n"
    text = contract("orders", "orders_by_city", inputs=reads)
    orders = {"contracts": [{"file": "contracts/orders_by_city.yaml", "text": text}]}
    answer = client.post(
        "/v1/domains/orders/contracts", json=orders, headers=bearer(tokens.owner_orders)
    )
    assert answer.status_code == 200, answer.text
    return ADDRESS


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(browser: Any, server: str, token: str, **options: Any) -> tuple[Any, Any]:
    context = browser.new_context(base_url=server, **options)
    page = context.new_page()
    page.goto("/ui")
    assert "/ui/token" in page.url
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui")
    return context, page


def test_search_request_approve_apply_and_read_as_the_consumer(
    browser: Any,
    server: str,
    tokens: Tokens,
    published: str,
    postgres_database: str,
) -> None:
    spec, _ = parse_contract(PROFILE.read_text(), "profile.yaml")
    assert spec is not None
    group = f"b{uuid.uuid4().hex[:10]}"
    granted = ["city", "id", "phone"]

    # 1. the consumer searches and opens the product page
    consumer_ctx, page = _login(browser, server, tokens.consumer)
    page.fill("input[name=q]", "customer profiles")
    page.select_option("select[name=personal]", "yes")
    page.click("form.filters button")
    page.wait_for_selector(f"a.title:text('{published}')")
    _shot(page, "01-search")
    page.click(f"a.title:text('{published}')")
    page.wait_for_selector("#schema")
    for f in spec.fields:
        kind = f.transform.kind if f.transform is not None else None
        cell = page.locator(f"#schema tr[data-field='{f.name}'] td[data-port='serving_view']")
        assert cell.inner_text().startswith(TREATMENT[kind])
        row = page.locator(f"#schema tr[data-field='{f.name}']").inner_text()
        assert f.classification in row
    assert page.locator("#lineage svg .node[data-address='orders.orders_by_city.v1']").count() == 1
    _shot(page, "02-product")

    # 2. request access: choose the serving view and three fields, preview, submit
    page.click("#request-access")
    page.wait_for_selector("#access-form")
    page.uncheck("input[name=port][value=kafka_topic]")
    for box in page.locator("input[name=field]").all():
        if box.get_attribute("value") not in granted:
            box.uncheck()
    page.fill("#purpose", "support lookups by city")
    page.fill("#grantee", group)
    page.click("#preview-button")
    page.wait_for_selector("#preview table[data-port='serving_view']")
    assert page.locator("#preview table[data-port='kafka_topic']").count() == 0
    rows = page.locator("#preview table[data-port='serving_view'] tbody tr")
    shown = {r.get_attribute("data-field"): r for r in rows.all()}
    assert set(shown) == set(spec.field_index)
    for path, f in spec.field_index.items():
        kind = f.transform.kind if f.transform is not None else None
        assert shown[path].get_attribute("data-treatment") == TREATMENT[kind], path
        asked = shown[path].locator("td").last.inner_text()
        assert asked == ("yes" if path in granted else "no"), path
    _shot(page, "03-preview")
    page.click("#submit-request")
    page.wait_for_selector("article.request[data-status='pending']")
    assert page.locator("form[id^=approve-]").count() == 0  # a consumer is offered no approval
    request_url = page.url
    _shot(page, "04-requested")

    # 3. the owner of domain customers approves
    owner_ctx, owner = _login(browser, server, tokens.owner_customers)
    owner.goto("/ui/requests?status=pending")
    article = owner.locator("article.request").filter(has_text=group)
    article.locator("form[id^=approve-] input[name=reason]").fill("support needs city and phone")
    _shot(owner, "05-owner-pending")
    article.locator("form[id^=approve-] button").click()
    owner.wait_for_selector("article.request[data-status='approved']")
    assert owner.locator(".grants [data-state='pending']").count() == 1
    _shot(owner, "06-approved-pending")

    # 4. provisioning: plan with the registry's grants, apply, report back
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
    page.goto(request_url)
    page.wait_for_selector(".grants [data-state='applied']")
    _shot(page, "07-applied")

    # 5. the consumer's role reads the granted columns, and only those
    role = f"meshkit_reader_{group}"
    table = sql.Identifier("public", ADDRESS)
    run(postgres_database, sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
    run(
        postgres_database,
        sql.SQL(
            "INSERT INTO {} (id, email, email_token, phone, birth_date, city, _meshkit_pos) "
            "VALUES ('c1', 'enc:v2:x', 'tok:y', '******1234', '1980-01-01', 'Lyon', 1)"
        ).format(table),
    )
    as_reader = make_dsn(**{**parse_dsn(postgres_database), "user": role})
    assert run(as_reader, sql.SQL("SELECT city, id, phone FROM {}").format(table)) == [
        ("Lyon", "c1", "******1234")
    ]
    for column in ("email", "email_token", "birth_date"):
        with pytest.raises(errors.InsufficientPrivilege):
            run(as_reader, sql.SQL("SELECT {} FROM {}").format(sql.Identifier(column), table))

    # 6. the product page at phone width: no sideways scrolling of the page itself
    phone_ctx, phone = _login(
        browser, server, tokens.consumer, viewport={"width": 390, "height": 844}
    )
    phone.goto(f"/ui/products/{published}")
    phone.wait_for_selector("#schema")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    _shot(phone, "08-product-phone")
    for ctx in (consumer_ctx, owner_ctx, phone_ctx):
        ctx.close()
