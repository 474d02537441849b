"""Reader grants become PostgreSQL column grants, enforced for a role that connects."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2 import errors, sql
from psycopg2.extensions import make_dsn, parse_dsn

from meshkit_platform.provisioning import Targets, apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.plan import Backend

pytestmark = [pytest.mark.services, pytest.mark.slow]


def run(dsn: str, statement: sql.Composable | str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def test_a_reader_role_reads_the_published_columns_and_is_refused_the_others(
    domain: str, write_contract: Any, domains_dir: Path, backends: list[Backend], targets: Targets
) -> None:
    group = f"g{uuid.uuid4().hex[:8]}"
    role = f"meshkit_reader_{group}"
    write_contract(domain, "item", readers=(group,))
    plan = make_plan(load_domains(domains_dir), backends)
    view = next(c for c in plan.changes if c.backend == "view")
    assert (f"grants.{role}", None, ["amount", "id", "note"]) in view.diff
    apply_plan(plan, backends)
    assert targets.postgres is not None
    table = sql.Identifier(f"{domain}.item.v1")
    run(targets.postgres, sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
    run(targets.postgres, sql.SQL("INSERT INTO {} VALUES ('a', 1.5, 'x', 7)").format(table))
    as_reader = make_dsn(**{**parse_dsn(targets.postgres), "user": role})

    assert run(as_reader, sql.SQL("SELECT id, amount, note FROM {}").format(table)) == [
        ("a", pytest.approx(1.5), "x")
    ]
    with pytest.raises(errors.InsufficientPrivilege):
        run(as_reader, sql.SQL("SELECT _meshkit_pos FROM {}").format(table))

    # drift: a grant revoked by hand shows up and is restored
    run(targets.postgres, sql.SQL("REVOKE SELECT (note) ON {} FROM {}").format(
        table, sql.Identifier(role)))  # fmt: skip
    drift = make_plan(load_domains(domains_dir), backends)
    assert [c.action for c in drift.pending] == ["update"]
    apply_plan(drift, backends)
    assert run(as_reader, sql.SQL("SELECT note FROM {}").format(table)) == [("x",)]

    # the reader removed from the contract: its grant goes
    write_contract(domain, "item")
    apply_plan(make_plan(load_domains(domains_dir), backends), backends)
    with pytest.raises(errors.InsufficientPrivilege):
        run(as_reader, sql.SQL("SELECT id FROM {}").format(table))
    assert make_plan(load_domains(domains_dir), backends).pending == []
