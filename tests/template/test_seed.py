"""The generated seed script creates the service database, table and sample rows that
``meshkit cdc run`` captures, in the local PostgreSQL; again, it changes nothing."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import make_dsn

from tests.template.conftest import bake, run, run_status

pytestmark = pytest.mark.services


@pytest.fixture
def seeded_database(postgres: str) -> Iterator[str]:
    """The name the bake below gives its source database; dropped afterwards."""
    name = "seed_check_accounts"
    yield name
    admin = psycopg2.connect(postgres)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def test_seed_creates_the_source_table_with_the_sample_rows_once(
    postgres: str, seeded_database: str, tmp_path: Path
) -> None:
    repo = bake(tmp_path / "out", source_database=seeded_database, source_table="crm_accounts")
    seed = [sys.executable, "scripts/seed.py"]

    out = run(seed, repo, MESHKIT_POSTGRES_URL=postgres)
    samples = list(csv.DictReader((repo / "samples" / "account.csv").read_text().splitlines()))
    assert out.strip() == (
        f"{seeded_database}.public.crm_accounts: {len(samples)} sample row(s) inserted"
    )
    again = run([*seed, "--dsn", postgres], repo)
    assert again.strip().endswith(": 0 sample row(s) inserted")

    conn = psycopg2.connect(make_dsn(postgres, dbname=seeded_database))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, email, country FROM public.crm_accounts ORDER BY id")
            rows = cur.fetchall()
    finally:
        conn.close()
    assert rows == [(int(r["account_id"]), r["email"], r["country"]) for r in samples]


def test_seed_without_a_server_says_what_to_run(tmp_path: Path) -> None:
    repo = bake(tmp_path / "out")
    code, out = run_status([sys.executable, "scripts/seed.py"], repo, MESHKIT_POSTGRES_URL="")
    assert code == 1
    assert out.strip().splitlines() == [
        "error: no PostgreSQL to seed: start the local stack (uv run meshkit local up), "
        'then eval "$(uv run meshkit local env)", or pass --dsn'
    ]
