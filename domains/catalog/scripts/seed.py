"""Create the service table the product product is captured from, with the sample rows.

    uv run meshkit local up
    eval "$(uv run meshkit local env)"
    uv run python scripts/seed.py          # the server in MESHKIT_POSTGRES_URL, or --dsn URL

Creates the database catalogue on that server when it is missing, the table
public.products in it when it is missing (the catalogue service's schema), and inserts
the rows of samples/product.csv (rows whose id is already there are left alone), so
`meshkit cdc run` has a table to capture. Run it again at any time.
"""

import argparse
import csv
import os
import sys
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import make_dsn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from catalog.service import DDL, INSERT  # the service's own schema

DATABASE = "catalogue"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "product.csv"


def sample_rows() -> list[dict[str, object]]:
    """The sample file's rows, in the service table's columns."""
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        return [
            {**row, "id": int(row["product_id"]), "stock": int(row["stock"]), "status": "active"}
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
    conn = psycopg2.connect(make_dsn(dsn, dbname=DATABASE))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(DDL)
            inserted = 0
            for row in sample_rows():
                cur.execute(INSERT, row)
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
    sys.stdout.write(f"{DATABASE}.public.products: {inserted} sample row(s) inserted\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
