"""Create the service table the example product is captured from, with the sample rows.

    uv run meshkit local up
    eval "$(uv run meshkit local env)"
    uv run python scripts/seed.py          # the server in MESHKIT_POSTGRES_URL, or --dsn URL

Creates the database crm on that server when it is missing,
the table public.customers in it when it is missing, and inserts the
rows of samples/customer.csv (rows whose id is already there are
left alone), so `meshkit cdc run` has a table to capture. Run it again at any time.
"""

import argparse
import csv
import os
import sys
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import make_dsn

DATABASE = "crm"
TABLE = "customers"
PRODUCT = "customer"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / f"{PRODUCT}.csv"
ID = f"{PRODUCT}_id"
COLUMNS = """
    id bigint PRIMARY KEY,
    email text NOT NULL,
    name text,
    birth_date date,
    country text NOT NULL,
    created_at timestamptz NOT NULL
"""


def sample_rows() -> list[tuple[object, ...]]:
    """The sample file's rows, in the service table's columns."""
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        return [
            (
                int(row[ID]),
                row["email"],
                row["full_name"] or None,
                row["birth_date"] or None,
                row["country"],
                row["signed_up_at"],
            )
            for row in csv.DictReader(handle)
        ]


def seed(dsn: str) -> int:
    """Create the database and table when missing, insert the sample rows; rows inserted."""
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    finally:
        admin.close()
    table = sql.SQL("public.{}").format(sql.Identifier(TABLE))
    conn = psycopg2.connect(make_dsn(dsn, dbname=DATABASE))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (" + COLUMNS + ")").format(table))
            inserted = 0
            for row in sample_rows():
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (id, email, name, birth_date, country, created_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
                    ).format(table),
                    row,
                )
                inserted += cur.rowcount
    finally:
        conn.close()
    return inserted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn",
        default=os.environ.get("MESHKIT_POSTGRES_URL"),
        help="PostgreSQL server (libpq URL; default: MESHKIT_POSTGRES_URL)",
    )
    args = parser.parse_args(argv)
    if not args.dsn:
        sys.stderr.write(
            "error: no PostgreSQL to seed: start the local stack (uv run meshkit local up), "
            'then eval "$(uv run meshkit local env)", or pass --dsn\n'
        )
        return 1
    try:
        inserted = seed(args.dsn)
    except psycopg2.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(f"error: PostgreSQL: {first}\n")
        return 1
    sys.stdout.write(f"{DATABASE}.public.{TABLE}: {inserted} sample row(s) inserted\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
