"""Registry under load: 10,000 product lines in 100 domains with ~100,000 lineage edges.

(a) Latency under a steady open-loop load of 300 requests/s (70 % get-product, 20 %
search, 10 % depth-5 upstream lineage) from a load generator in its own process
(``bench._loadgen``): p99 per kind, measured from each request's scheduled time.
Targets: get < 50 ms, search < 100 ms, lineage < 200 ms.

(b) Saturation throughput of get-product (measured before (a), on a server with no
backlog) next to a bare FastAPI endpoint returning a
constant (``bench._registry_bare``), same uvicorn settings (one process), same run, each
with 8 closed-loop keep-alive connections: ``ratio=`` get / bare, target >= 0.5.

The catalog is loaded straight into the tables (the publish path is measured by the
tests, not here): every line has two output ports and reads up to 10 lines of the 500
registered before it. The generator's CPU use is reported (``gen_cpu=``, CPU seconds per
second) to show it is not the bottleneck.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg2
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from bench._common import BenchResult, parser, report
from meshkit.local.postgres import Postgres
from meshkit.local.settings import LocalSettings
from meshkit_platform.registry import RegistrySettings, migrate
from meshkit_platform.registry.auth import create_token
from meshkit_platform.registry.db import (
    Domain,
    InputEdge,
    OutputPort,
    Product,
    ProductVersion,
    make_engine,
)

WORDS = [
    "order",
    "customer",
    "invoice",
    "payment",
    "refund",
    "shipment",
    "product",
    "price",
    "stock",
    "warehouse",
    "cart",
    "session",
    "click",
    "campaign",
    "segment",
    "churn",
    "revenue",
    "margin",
    "supplier",
    "return",
    "review",
    "rating",
    "coupon",
    "loyalty",
    "address",
    "delivery",
    "carrier",
    "fraud",
    "risk",
    "ledger",
    "balance",
    "account",
]
FIELDS = [f"{a}_{b}" for a in WORDS[:20] for b in ("id", "at", "amount", "count", "code")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load(url: str, products: int, rng: random.Random) -> int:
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    domains = [
        {"id": d + 1, "name": f"d{d:03d}", "owners": [f"team{d}"], "updated_at": now}
        for d in range(100)
    ]
    lines, versions, ports, edges = [], [], [], []
    for i in range(products):
        d = i % 100
        address = f"d{d:03d}.p{i:05d}.v1"
        words = rng.sample(WORDS, 6)
        fields = rng.sample(FIELDS, 8)
        lines.append(
            {
                "id": i + 1,
                "domain_id": d + 1,
                "name": f"p{i:05d}",
                "major": 1,
                "address": address,
                "version": "1.0.0",
                "status": "active" if rng.random() < 0.9 else "deprecated",
                "description": " ".join(words),
                "owner_team": f"team{d}",
                "owner_contact": f"team{d}@example.com",
                "keywords": f"d{d:03d} p{i:05d} team{d} {words[0]}",
                "field_names": " ".join(f.replace("_", " ") + " " + f for f in fields),
                "has_personal_data": rng.random() < 0.2,
                "content_hash": "0" * 64,
                "slo": {"freshness": "1h"},
                "updated_at": now,
            }
        )
        versions.append(
            {
                "product_id": i + 1,
                "version": "1.0.0",
                "status": "active",
                "content_hash": "0" * 64,
                "contract_text": "",
                "published_at": now,
            }
        )
        ports += [
            {"product_id": i + 1, "kind": "kafka_topic", "address": address},
            {"product_id": i + 1, "kind": "warehouse_table", "address": f"d{d:03d}.p{i:05d}_v1"},
        ]
        window = range(max(0, i - 500), i)
        for j in rng.sample(window, min(10, len(window))):
            edges.append(
                {
                    "product_id": i + 1,
                    "port_name": f"p{j:05d}",
                    "source_address": f"d{j % 100:03d}.p{j:05d}.v1",
                }
            )
    with Session(engine) as s:
        for table, rows in (
            (Domain, domains),
            (Product, lines),
            (ProductVersion, versions),
            (OutputPort, ports),
            (InputEdge, edges),
        ):
            for k in range(0, len(rows), 5000):
                s.execute(insert(table), rows[k : k + 5000])
        s.commit()
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()
    return len(edges)


@contextmanager
def _serve(argv: list[str], health: str):  # type: ignore[no-untyped-def]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        pause = threading.Event()
        try:
            for _ in range(600):
                try:
                    if httpx.get(health, timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                pause.wait(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a server that ignores SIGTERM is reported
                proc.kill()
                proc.wait()
                print(f"server {argv[-1]} did not stop within 30 s of SIGTERM", flush=True)


def _gen(spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench._loadgen", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return dict(json.loads(out.stdout))


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--seconds", type=float, default=None, help="open-loop duration")
    ap.add_argument(
        "--workers", type=int, default=None, help="server processes (default: serve's default)"
    )
    args = ap.parse_args()
    products = 500 if args.quick else 10_000
    rate, seconds, sat_seconds = (100.0, 3.0, 2.0) if args.quick else (300.0, 30.0, 10.0)
    seconds = args.seconds or seconds
    rng = random.Random(20261204)
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-registry-") as tmp:
        pg = Postgres(LocalSettings(state_dir=Path(tmp), postgres_port=0))
        pg.start()
        try:
            dsn = pg.dsn()
            assert dsn is not None
            with closing(psycopg2.connect(dsn)) as admin:
                admin.autocommit = True
                with admin.cursor() as cur:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier("registry")))
            p = parse_dsn(make_dsn(dsn, dbname="registry"))
            url = f"postgresql+psycopg2://{p['user']}@{p['host']}:{p['port']}/registry"
            edges = _load(url, products, rng)
            engine = make_engine(url)
            with Session(engine) as s:
                _, token = create_token(s, name="bench", role="consumer")
                s.commit()
            engine.dispose()
            print(f"loaded {products} product lines, {edges} lineage edges", flush=True)

            port, bare_port = _free_port(), _free_port()
            workers = args.workers or RegistrySettings().workers
            serve = [
                sys.executable,
                "-c",
                "from meshkit_platform.cli import main; main()",
                "registry",
                "serve",
                "--database-url",
                url,
                "--port",
                str(port),
            ]
            serve += ["--workers", str(workers)]
            sample = rng.sample(range(products), min(products, 2000))
            addresses = [f"d{i % 100:03d}.p{i:05d}.v1" for i in sample]
            mix = [
                ("get", 0.7, [f"/v1/products/{a}" for a in addresses]),
                (
                    "search",
                    0.2,
                    [f"/v1/products?q={w}&limit=20" for w in WORDS]
                    + [
                        f"/v1/products?q={w}&domain=d{d:03d}"
                        for w, d in zip(WORDS, range(0, 100, 3), strict=False)
                    ],
                ),
                (
                    "lineage",
                    0.1,
                    [f"/v1/lineage/{a}?depth=5&direction=upstream" for a in addresses[:500]],
                ),
            ]
            base = {"host": "127.0.0.1", "token": token}
            with _serve(serve, f"http://127.0.0.1:{port}/healthz"):
                _gen(
                    {
                        **base,
                        "port": port,
                        "mode": "closed",
                        "seconds": 1,
                        "concurrency": 4,
                        "paths": mix[0][2],
                    }
                )  # warm-up
                # saturation first: an overloaded open-loop run leaves a backlog behind
                get = _gen(
                    {
                        **base,
                        "port": port,
                        "mode": "closed",
                        "seconds": sat_seconds,
                        "concurrency": 8,
                        "paths": mix[0][2],
                    }
                )
                lat = _gen(
                    {
                        **base,
                        "port": port,
                        "mode": "open",
                        "rate": rate,
                        "seconds": seconds,
                        "mix": mix,
                    }
                )
            bare_cmd = [sys.executable, "-m", "bench._registry_bare", str(bare_port), str(workers)]
            with _serve(bare_cmd, f"http://127.0.0.1:{bare_port}/bare"):
                bare = _gen(
                    {
                        **base,
                        "port": bare_port,
                        "mode": "closed",
                        "seconds": sat_seconds,
                        "concurrency": 8,
                        "paths": ["/bare"],
                    }
                )
        finally:
            pg.stop()
    p99 = lat["p99_ms"]
    print(
        json.dumps({"open_loop": lat, "get_saturation": get, "bare_saturation": bare}), flush=True
    )
    result = BenchResult(
        "registry",
        value=get["rps"],
        baseline=bare["rps"],
        target=0.5,
        extra={
            "get_p99_ms": round(p99["get"], 2),
            "search_p99_ms": round(p99["search"], 2),
            "lineage_p99_ms": round(p99["lineage"], 2),
            "rate": round(lat["achieved_rate"], 1),
            "errors": sum(lat["errors"].values()) + get["errors"] + bare["errors"],
            "gen_cpu": round(max(lat["cpu"], get["cpu"], bare["cpu"]), 3),
            "products": products,
            "workers": workers,
            "edges": edges,
            "latency_ok": p99["get"] < 50 and p99["search"] < 100 and p99["lineage"] < 200,
        },
    )
    report(result)


if __name__ == "__main__":
    main()
