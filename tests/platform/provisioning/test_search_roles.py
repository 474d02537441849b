"""Search read roles of reader groups: in the desired state, shown as not applicable on
the embedded search server (it has no security API), never sent to it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from meshkit_platform.provisioning import Plan, apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.grants import AccessGrant
from meshkit_platform.provisioning.plan import Backend
from meshkit_platform.provisioning.resources import Change
from meshkit_platform.provisioning.search import SearchBackend

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_read_roles_are_planned_not_applicable_and_apply_never_sends_one(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    group = f"g{uuid.uuid4().hex[:8]}"
    write_contract(domain, "item", readers=(group,))
    address = f"{domain}.item.v1"
    grants = [
        AccessGrant(21, address, "support", "search_index", (), True),
        AccessGrant(22, address, "former", "search_index", (), False),  # revoked or expired
    ]
    search = [b for b in backends if isinstance(b, SearchBackend)]
    plan = make_plan(load_domains(domains_dir), search, grants)
    roles = [c for c in plan.changes if c.kind == "role"]
    assert [(c.name, c.action, c.holds_data) for c in roles] == [
        (f"meshkit_reader_{group}.{address}", "not applicable", False),
        (f"meshkit_reader_support.{address}", "not applicable", False),
    ]
    assert "no security API" in roles[0].reason
    assert ("indices", None, [f"{domain}.item"]) in roles[0].diff
    assert ("privileges", None, ["read", "view_index_metadata"]) in roles[0].diff
    assert ("fields", None, ["amount", "id", "note"]) in roles[0].diff
    assert plan.capabilities["search"]["roles"].startswith("not applicable here")

    sent: list[str] = []
    client = search[0].client
    for call in ("put_role", "delete_role", "get_role"):
        monkeypatch.setattr(client.security, call, lambda *a, _c=call, **k: sent.append(_c))
    apply_plan(Plan.from_json(plan.to_json()), search)  # index and alias; no role
    again = make_plan(load_domains(domains_dir), search, grants)
    assert again.pending == []
    assert [c.action for c in again.changes if c.kind == "role"] == ["not applicable"] * 2
    assert sent == []


def test_a_role_change_forced_at_the_embedded_server_is_an_error_not_a_call(
    domain: str, backends: list[Backend]
) -> None:
    search = next(b for b in backends if isinstance(b, SearchBackend))
    forged = Change("create", "search", "role", f"meshkit_reader_x.{domain}.item.v1", "forced")
    with pytest.raises(ProvisioningError, match="not applicable here"):
        search.apply(forged, None, None)
