"""The audit log: every write is recorded, the table refuses edits, and an edit made by
someone who bypasses that is detected by the hash chain."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InternalError
from sqlalchemy.orm import Session

from meshkit_platform.registry import audit
from tests.platform.registry.conftest import Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body


@pytest.fixture(scope="module", autouse=True)
def writes(client: httpx.Client, tokens: Tokens) -> None:
    for version in ("1.0.0", "1.1.0"):
        r = client.post(
            "/v1/domains/orders/contracts",
            json=publish_body(contract("orders", "audited", version, description=version)),
            headers=bearer(tokens.owner_orders),
        )
        assert r.status_code == 200, r.text


def test_every_write_is_in_the_log(engine: Engine) -> None:
    with Session(engine) as s:
        rows = s.execute(text("SELECT action, subject FROM audit_log ORDER BY id")).all()
    actions = [tuple(r) for r in rows]
    assert actions.count(("product.publish", "orders.audited.v1")) == 2
    assert ("token.create", actions[0][1]) == actions[0]
    assert any(a == "token.revoke" for a, _ in actions)


def test_the_database_refuses_to_change_the_log(engine: Engine) -> None:
    for statement in (
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with Session(engine) as s, pytest.raises(InternalError, match="append-only"):
            s.execute(text(statement))


def test_the_chain_verifies_and_an_edited_row_is_detected(
    engine: Engine, client: httpx.Client, tokens: Tokens
) -> None:
    ok = client.get("/v1/audit/verify", headers=bearer(tokens.admin)).json()
    assert ok["ok"] is True
    assert ok["entries"] >= 7

    with Session(engine) as s:  # a superuser bypassing the trigger
        s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        target = s.scalar(
            text("SELECT id FROM audit_log WHERE action = 'product.publish' ORDER BY id LIMIT 1")
        )
        s.execute(
            text("""UPDATE audit_log SET detail = jsonb_set(detail, '{version}', '"9.9.9"')
                    WHERE id = :id"""),
            {"id": target},
        )
        s.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        s.commit()

    bad = client.get("/v1/audit/verify", headers=bearer(tokens.admin)).json()
    assert bad == {
        "ok": False,
        "entries": target - 1,
        "first_bad": target,
        "reason": "the entry was changed",
    }
    with Session(engine) as s:
        assert audit.verify(s).first_bad == target
