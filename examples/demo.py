"""The end-to-end demo on embedded defaults (``./dev demo``).

Brings up the embedded local stack under ``.state/demo`` (from scratch each run), proves
each service answers a real request through the same client production uses, plans and
applies provisioning for every domain of ``domains/``, publishes their contracts to the
registry, then runs the mesh (see ``examples/mesh_job.py``): service databases → CDC →
Bytewax flows → product topics, warehouse tables, the catalog's search index, serving
views and dead letters → a Dagster batch product across two domains. The recommendations
domain runs as its two processes (flow and HTTP service) on the orders and catalog
products. Live orders are timed from their commit to each port (p50/p99). Then the
platform at work: a search query, one customer's recommendations over
HTTP, an access request approved at the registry and applied by provisioning, and an
erasure request carried out by every domain holding the customer, verified. It prints
what reached each port, the lineage, what the privacy transforms did, where the catalog
page and the Dagster UI are, and stops everything cleanly (``--keep`` leaves the stack
and the recommendations service running; ``--quick`` runs on less data).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
from confluent_kafka import Consumer, Producer, TopicPartition
from psycopg2.extensions import make_dsn, parse_dsn
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree
from sqlalchemy.orm import Session

from examples import mesh_job
from examples.access_request import request_access
from examples.live_latency import run_live, search_live
from examples.mesh_erasure import erase_customer
from examples.recommendations_service import Recommendations
from meshkit.cli.local import status_table
from meshkit.cli.publish import publish
from meshkit.erasure.ports import PortTargets
from meshkit.local import (
    DEFAULT_SERVICES,
    Endpoints,
    LocalSettings,
    LocalStack,
    consumer_config,
    local_search_client,
    producer_config,
)
from meshkit.privacy.keys import write_master_key_file
from meshkit_platform.provisioning.apply import apply_plan
from meshkit_platform.provisioning.desired import load_domains
from meshkit_platform.provisioning.plan import make_plan, render
from meshkit_platform.provisioning.targets import Targets
from meshkit_platform.registry.auth import create_token
from meshkit_platform.registry.cli import EMBEDDED_DATABASE
from meshkit_platform.registry.db import make_engine

STATE_DIR = Path(".state") / "demo"


#: The embedded stack and the platform's registry (its catalog in the embedded PostgreSQL).
SERVICES = (*DEFAULT_SERVICES, "registry")


def round_trips(endpoints: Endpoints) -> list[tuple[str, str, str]]:
    """Ask each service one real question; rows of (service, what was done, result)."""
    rows: list[tuple[str, str, str]] = []
    kafka, pg, warehouse, search = (
        endpoints.kafka,
        endpoints.postgres,
        endpoints.warehouse,
        endpoints.search,
    )
    if not (kafka and pg and warehouse and search):
        raise RuntimeError(f"a service of the demo is not running: {endpoints}")

    topic = f"demo.hello.{uuid.uuid4().hex[:8]}"
    producer = Producer(producer_config(kafka))
    for i in range(1000):
        producer.produce(topic, key=str(i).encode(), value=b'{"hello": "mesh"}')
    producer.flush(10)
    consumer = Consumer(consumer_config(kafka, group_id=f"demo-{uuid.uuid4().hex}"))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    seen = 0
    deadline = time.monotonic() + 15
    while seen < 1000 and time.monotonic() < deadline:
        seen += len(consumer.consume(500, timeout=0.5))
    consumer.close()
    if seen != 1000:
        raise RuntimeError(f"kafka: consumed {seen} of 1000 messages produced to {topic}")
    rows.append(("kafka", f"produced and consumed 1000 messages on {topic}", f"{seen}/1000"))

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SHOW wal_level")
        wal_level = cur.fetchone()
        cur.execute("SELECT version()")
        version = cur.fetchone()
    if wal_level is None or version is None:
        raise RuntimeError("PostgreSQL returned no rows")
    rows.append(
        ("postgres", "SHOW wal_level; SELECT version()", f"{wal_level[0]}; {version[0][:16]}")
    )

    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE OR REPLACE TABLE demo_hello AS SELECT range AS id FROM range(10000)")
        count = con.execute("SELECT count(*) FROM demo_hello").fetchone()
    if count is None:
        raise RuntimeError("DuckDB returned no rows")
    rows.append(("warehouse", "CREATE TABLE ... 10000 rows; count(*)", str(count[0])))

    es = local_search_client(search)
    es.index(index="demo-hello", id="1", document={"greeting": "hello mesh"}, refresh=True)
    hits = es.search(index="demo-hello", query={"match": {"greeting": "mesh"}})
    es.close()
    rows.append(
        ("search", "index one document; match query", f"{hits['hits']['total']['value']} hit")
    )
    return rows


def use_demo_keys(state: Path) -> None:
    """A fresh master key for this demo's local key store, kept in ``master.key`` (0600)."""
    key = write_master_key_file(state / "master.key")  # 0600 from creation
    os.environ["MESHKIT_MASTER_KEY"] = key
    os.environ["MESHKIT_PRIVACY_STATE_DIR"] = str(state.resolve() / "keys")
    os.environ.setdefault("MESHKIT_ENV", "local")


def print_report(console: Console, result: dict[str, Any], state: Path) -> None:
    """What reached each port, the lineage, the privacy transforms and the batch product."""
    runs: dict[str, mesh_job.DomainRun] = result["runs"]
    flows = Table(title="streaming: change events through each domain's flow")
    for col in ("product", "service rows", "ins/upd/del", "CDC events", "flow in", "written",
                "skipped", "dead letters"):  # fmt: skip
        flows.add_column(col, justify="right" if col != "product" else "left")
    for run in runs.values():
        c, ch = run.flow_counts, run.changes
        flows.add_row(
            run.contract.address, str(run.service_rows),
            f"{ch['inserted']}/{ch['updated']}/{ch['deleted']}", str(run.cdc_events),
            str(c["received"]), str(c["written"]), str(c["skipped"]), str(c["dead_letters"]),
        )  # fmt: skip
    console.print(flows)
    ports = Table(title="what each output port holds (read from the port)")
    for col in ("product", "port", "count"):
        ports.add_column(col, justify="right" if col == "count" else "left")
    for run in runs.values():
        for port, count in run.ports.items():
            ports.add_row(run.contract.address, port, str(count))
        ports.add_row(run.contract.address, "dead-letter topic (messages)", str(run.dead_letters))
    view = result["view"]
    ports.add_row(view["product"], "serving view (rows)", str(view["rows"]))
    console.print(ports)

    lineage = Tree("[bold]lineage")
    for run in runs.values():
        table = f"{run.database}.public.{run.table}"
        node = (
            lineage.add(f"service table {table}")
            .add(f"CDC topic {run.name}.cdc.public.{run.table}")
            .add(f"[bold]{run.contract.address}[/] (flow: validate, mask)")
        )
        for port in run.ports:
            node.add(port.split(" (")[0])
        node.add("dead-letter topic")
        if run.name == "orders":
            node.add(f"[bold]{view['product']}[/] (flow: top 5 per customer)").add("serving view")
    lineage.add(
        "[bold]orders.order_daily.v1[/] (Dagster) ⟵ orders.order.v1 + customers.customer.v1"
    )
    lineage.add(
        "[bold]recommendations.recommendation.v1[/] (flow process: event-sourced lists) ⟵ "
        "orders.order.v1 + catalog.product.v1"
    ).add("serving view").add("HTTP: python -m recommendations.api")
    console.print(lineage)

    privacy = Table(title="privacy: one customer in the CRM and in the product (warehouse)")
    for col in ("field", "service database", "data product", "transform"):
        privacy.add_column(col, overflow="fold")
    erased = result["erasure"]["subject"]
    for row in privacy_sample(result["dsn"]["customers"], result["warehouse"], erased):
        privacy.add_row(*row)
    console.print(privacy)

    example = view["example"]
    lookup = Table(title=f"serving view: one lookup by key in {view['product']} (PostgreSQL)")
    for col in example:
        lookup.add_column(col, overflow="fold")
    lookup.add_row(*(", ".join(v) if isinstance(v, list) else str(v) for v in example.values()))
    console.print(lookup)

    batch = result["batch"]
    checks = ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in batch["checks"])
    top = Table(title=f"batch: orders.order_daily.v1 ({batch['rows']} rows; checks: {checks})")
    for col in ("day", "country", "tier", "orders", "revenue"):
        top.add_column(col)
    for row in batch["top"]:
        top.add_row(*(str(v) for v in row))
    console.print(top)
    print_platform(console, result)
    console.print(
        "CDC events include a tombstone after each delete; the flow turns a row leaving its\n"
        "filter into a delete. The Dagster UI on this data, both domains as two code locations\n"
        "(domains/workspace.yaml; the warehouse is a file, the stack need not run):\n"
        f"  cd domains && MESHKIT_DUCKDB_PATH={result['warehouse']} "
        f"MESHKIT_PRIVACY_STATE_DIR={state / 'keys'} "
        f"MESHKIT_MASTER_KEY=$(cat {state / 'master.key'}) ../.venv/bin/dagster dev",
        soft_wrap=True,  # one line to copy, however narrow the terminal
    )


def print_platform(console: Console, result: dict[str, Any]) -> None:
    """Latency, search, recommendations over HTTP, the access request and the erasure: one
    table each."""
    latency, renames = result["latency"], result["search_latency"]
    timed = Table(
        title=f"live: {latency['orders']} orders placed and {renames['articles']} articles "
        "renamed one by one, from the database commit to each port (CDC and flows running "
        "as in production)"
    )
    for col in ("change", "port", "seen", "p50 ms", "p99 ms"):
        timed.add_column(col, justify="left" if col in {"change", "port"} else "right")
    rows = [("order placed", port, row) for port, row in latency["ports"].items()]
    rows.append(("article renamed", "search index catalog.product", renames["search"]))
    for change, port, row in rows:
        timed.add_row(change, port, str(row["n"]), str(row["p50_ms"]), str(row["p99_ms"]))
    console.print(timed)
    search = result["search"]
    hits = Table(
        title=f"search: {search['query']!r} in the {search['index']} index "
        f"({search['total']} hits; the warehouse copy has {search['warehouse_matches']} matches)"
    )
    for col in ("product_id", "name", "category", "price", "score"):
        hits.add_column(col, justify="right" if col in {"price", "score"} else "left")
    for hit in search["hits"]:
        hits.add_row(*(str(hit[c]) for c in ("product_id", "name", "category", "price", "score")))
    console.print(hits)

    rec = result["recommendations"]
    picks = Table(
        title=f"recommendations: GET /customers/{rec['customer_id']}/recommendations "
        f"(HTTP {rec['status']}; from their {rec['orders']} orders, categories "
        f"{', '.join(rec['categories'])}; waited {rec['waited_s']} s for it after the flows)"
    )
    for col in ("rank", "product_id", "name", "category", "price"):
        picks.add_column(col, justify="right" if col in {"rank", "price"} else "left")
    for rank, article in enumerate(rec["articles"], 1):
        picks.add_row(str(rank), *(str(article[c]) for c in ("product_id", "name", "category",
                                                               "price")))  # fmt: skip
    console.print(picks)

    access = result["access"]
    steps = Table(title=f"access request {access['request']} on {access['product']}")
    for col in ("step", "who", "result"):
        steps.add_column(col, overflow="fold")
    steps.add_row("request columns " + ", ".join(access["columns"]), "consumer token",
                  f"filed for reader group {access['grantee']}")  # fmt: skip
    steps.add_row("approve", "recommendations domain owner", "grant pending")
    steps.add_row("plan + apply with the registry's grants", "platform provisioning",
                  f"{access['plan_changes']} change(s); grant {access['applied_state']}, "
                  f"registry shows {access['registry_state']}")  # fmt: skip
    granted = access["granted_read"]
    steps.add_row(f"SELECT {', '.join(granted['columns'])}", f"role {access['role']}",
                  f"{granted['rows']} rows read")  # fmt: skip
    refused = access["refused_read"]
    steps.add_row(f"SELECT {refused['column']}", f"role {access['role']}", refused["result"])
    console.print(steps)

    erasure = result["erasure"]
    done = Table(
        title=f"erasure request {erasure['request']}: customer {erasure['subject']} across "
        f"{', '.join(erasure['domains'])} — {erasure['status']}"
    )
    for col in ("product", "port", "subject's records before → after", "encrypted values "
                "still readable", "others' still readable", "registry"):  # fmt: skip
        done.add_column(col, overflow="fold")
    for product in erasure["products"]:
        for port in product["ports"] or [{}]:
            done.add_row(
                product["address"], port.get("kind", "-"),
                f"{port.get('subject_records_before', '-')} → "
                f"{port.get('subject_records_after', '-')}",
                f"{port.get('ciphertexts_readable', '-')} of "
                f"{port.get('ciphertexts_checked', '-')}",
                f"{port.get('control_readable', '-')} of {port.get('control_checked', '-')}",
                product["status"] + (f" ({product['problem']})" if product["problem"] else ""),
            )  # fmt: skip
    for excluded in erasure["excluded"]:
        done.add_row(excluded["address"], "-", "-", "-", "-", f"not a holder: {excluded['reason']}")
    console.print(done)
    back = Table(title=f"customer {erasure['subject']} read back from the mesh and the CRM")
    for col in ("where", "before", "after"):
        back.add_column(col, overflow="fold")
    crm = crm_row(result["dsn"]["customers"], erasure["subject"])  # read now, never stored
    back.add_row("CRM service database (the service's own copy; read now)", crm, crm)
    before, after = erasure["read_back"]["before"], erasure["read_back"]["after"]
    for where in before:
        back.add_row(where, str(before[where]), str(after[where]))
    console.print(back)


def crm_row(dsn: str, customer: str) -> str:
    """The customer's name and e-mail as the CRM holds them (for the screen only)."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT name, email FROM public.customers WHERE id = %s", (int(customer),))
        row = cur.fetchone()
    conn.close()
    return f"{row[0]} <{row[1]}>" if row else "no row"


def recommend_one(
    service: Recommendations, result: dict[str, Any], console: Console
) -> dict[str, Any]:
    """One customer's recommendations over HTTP, once the list reflects all their orders
    (counted in the warehouse copy of the order product), with the articles' names."""
    customer = str(result["view"]["example"]["customer_id"])
    with duckdb.connect(str(result["warehouse"]), read_only=True) as con:
        (orders,) = con.execute(
            "SELECT count(*) FROM orders.order_v1 WHERE customer_id = ? "
            "AND status <> 'cancelled' AND product_id IS NOT NULL",
            [customer],
        ).fetchone() or (0,)
    started = time.monotonic()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console) as progress:  # fmt: skip
        progress.add_task(f"recommendations: waiting for customer {customer}'s list")
        body = service.wait_for(customer, int(orders))
    waited = round(time.monotonic() - started, 1)
    status, answer = service.get(customer)
    ids = [str(i) for i in answer.get("product_ids", [])]
    with duckdb.connect(str(result["warehouse"]), read_only=True) as con:
        rows = con.execute(
            "SELECT product_id, name, category, price::VARCHAR FROM catalog.product_v1 "
            "WHERE list_contains(?, product_id)",
            [ids],
        ).fetchall()
    known = {r[0]: r for r in rows}
    articles = [
        dict(zip(("product_id", "name", "category", "price"), known.get(i, (i, "?", "?", "?")),
                 strict=True))
        for i in ids
    ]  # fmt: skip
    return {
        "customer_id": customer,
        "status": status,
        "orders": body["orders"],
        "categories": answer.get("categories", []),
        "product_ids": ids,
        "articles": articles,
        "waited_s": waited,
        "url": service.url,
    }


def provision(endpoints: Endpoints, serving: str, console: Console) -> dict[str, int]:
    """Plan every domain's resources against the running stack and its serving database
    (the plan table shown), apply the plan with its progress bar, then plan again: nothing
    is left pending."""
    contracts = load_domains(mesh_job.DOMAINS)
    targets = Targets(
        kafka=endpoints.kafka,
        warehouse=str(endpoints.warehouse) if endpoints.warehouse else None,
        search=endpoints.search,
        postgres=serving,
    )
    backends = targets.open()
    try:
        plan = make_plan(contracts, backends)
        render(plan, console)
        report = apply_plan(plan, backends, console=console)
        after = make_plan(contracts, backends)
    finally:
        for backend in backends:
            backend.close()
    return {
        "domains": len(plan.domains),
        "planned": len(plan.pending),
        "applied": len(report.applied),
        "pending_after": len(after.pending),
    }


def registry_tokens(endpoints: Endpoints, domains: list[str]) -> dict[str, str]:
    """API tokens as ``meshkit-platform registry token create`` makes them: a domain-owner
    token per domain, a platform-admin's and a consumer team's. Kept in memory only."""
    if not endpoints.registry or not endpoints.postgres:
        raise RuntimeError("the registry is not running")
    p = parse_dsn(make_dsn(endpoints.postgres, dbname=EMBEDDED_DATABASE))
    engine = make_engine(f"postgresql+psycopg2://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}")
    tokens: dict[str, str] = {}
    with Session(engine) as session:
        for domain in domains:
            _, tokens[domain] = create_token(
                session, name=f"demo {domain}", role="domain-owner", domain=domain
            )
        _, tokens["admin"] = create_token(session, name="demo platform", role="platform-admin")
        _, tokens["consumer"] = create_token(session, name="demo marketing", role="consumer")
        session.commit()
    engine.dispose()
    return tokens


def publish_all(endpoints: Endpoints, tokens: dict[str, str], console: Console) -> dict[str, Any]:
    """Publish every domain's contracts to the registry as each domain team does
    (``meshkit publish`` with a domain-owner token of its own), then list what the registry
    holds."""
    if not endpoints.registry:
        raise RuntimeError("the registry is not running")
    domains = sorted(d.parent.name for d in mesh_job.DOMAINS.glob("*/contracts"))
    for domain in domains:
        console.print(f"[bold]meshkit publish[/] {domain}")
        publish(
            mesh_job.DOMAINS / domain / "contracts", url=endpoints.registry, token=tokens[domain]
        )
    request = urllib.request.Request(  # noqa: S310 - the local registry's URL
        f"{endpoints.registry}/v1/products?limit=100",
        headers={"Authorization": f"Bearer {tokens[domains[0]]}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        page = json.loads(response.read())
    products = sorted(item["address"] for item in page["items"])
    table = Table(title=f"products registered ({page['total']})")
    table.add_column("product")
    for address in products:
        table.add_row(address)
    console.print(table)
    return {"domains": domains, "products": products}


def write_summary(path: Path, result: dict[str, Any]) -> None:
    """The run's numbers as JSON (for scripts and the demo's test)."""
    runs: dict[str, mesh_job.DomainRun] = result["runs"]
    summary = {
        "products": {
            run.contract.address: {
                "service_rows": run.service_rows,
                "changes": run.changes,
                "cdc_events": run.cdc_events,
                "flow": run.flow_counts,
                "ports": run.ports,
                "dead_letters": run.dead_letters,
            }
            for run in runs.values()
        },
        "batch": {k: v for k, v in result["batch"].items() if k != "top"},
        # The product side only: what the service database holds is shown at print time and
        # never stored, so no file the demo leaves behind carries a customer's raw data.
        "privacy": [
            {"field": field, "product": out, "transform": how, "differs": raw != out}
            for field, raw, out, how in privacy_sample(
                result["dsn"]["customers"], result["warehouse"], result["erasure"]["subject"]
            )
        ],
        # counts, statuses and ids only: no personal value of the erased customer
        "erasure": result["erasure"],
        "search": result["search"],
        "latency": result["latency"],
        "search_latency": result["search_latency"],
        "recommendations": result["recommendations"],
        "access": result["access"],
        "view": result["view"],
        "provisioning": result["provisioning"],
        "registry": result["registry"],
    }
    path.write_text(json.dumps(summary, indent=2, default=str))


def privacy_sample(dsn: str, warehouse: Path, erased: str) -> list[tuple[str, str, str, str]]:
    """The first customer's personal fields as the CRM holds them and as the product does
    (not the customer the demo erased: the product no longer holds them)."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT id, email, name, birth_date FROM public.customers WHERE status <> 'test' "
            "AND birth_date IS NOT NULL AND id::text <> %s ORDER BY id LIMIT 1",
            (erased,),
        )
        raw = cur.fetchone()
    conn.close()
    if raw is None:
        return []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        out = con.execute(
            "SELECT email, full_name, birth_date FROM customers.customer_v1 WHERE customer_id = ?",
            [str(raw[0])],
        ).fetchone()
    if out is None:
        return []
    return [
        ("email", raw[1], str(out[0]), "tokenize (HMAC, joinable)"),
        ("full_name", raw[2], f"{str(out[1])[:40]}…", "encrypt per customer (shreddable)"),
        ("birth_date", str(raw[3]), str(out[2]), "generalize to year"),
    ]


def stop_kept_processes(pids_file: Path) -> None:
    """Stop the recommendations processes a previous ``--keep`` run left (the ids it wrote,
    each only while it still runs that domain's code)."""
    try:
        pids: dict[str, int] = json.loads(pids_file.read_text())
    except (OSError, ValueError):
        return
    for name, pid in pids.items():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if name.startswith("recommendations-") and b"recommendations" in command:
            os.kill(pid, signal.SIGTERM)


def required(endpoints: Endpoints) -> tuple[str, str, str]:
    """PostgreSQL, Kafka and the registry: the addresses the platform's part needs."""
    if not (endpoints.postgres and endpoints.kafka and endpoints.registry):
        raise RuntimeError(f"a service of the demo is not running: {endpoints}")
    return endpoints.postgres, endpoints.kafka, endpoints.registry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", action="store_true", help="leave the stack running at the end")
    ap.add_argument("--state-dir", type=Path, default=STATE_DIR, help="data and logs")
    ap.add_argument("--quick", action="store_true", help="a short run on less data (tests)")
    args = ap.parse_args(argv)
    console = Console(width=max(Console().width, 120))  # tables stay readable in a log
    # The index on a free port: the demo never clashes with a stack the user keeps on 3141.
    stack = LocalStack(LocalSettings(state_dir=args.state_dir, index_port=0))
    stack.down()  # a stack a previous `--keep` left running
    stop_kept_processes(args.state_dir / "pids.json")  # and its recommendations service
    if args.state_dir.exists():
        shutil.rmtree(args.state_dir)  # every run starts from empty service databases
    args.state_dir.mkdir(parents=True)
    use_demo_keys(args.state_dir)
    # the registry derives the keys that hash and seal erasure requests' subject ids from it
    os.environ["MESHKIT_REGISTRY_ERASURE_KEY"] = secrets.token_urlsafe(32)
    recommendations: Recommendations | None = None
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            for name in SERVICES:
                task = progress.add_task(f"starting {name}", total=1)
                stack.service(name).start()
                progress.update(task, completed=1, description=f"[green]{name} up")
        endpoints = stack.endpoints
        table = Table(title="endpoints")
        table.add_column("service")
        table.add_column("address", overflow="fold")
        for name in SERVICES:
            table.add_row(name, str(getattr(endpoints, name)))
        console.print(table)
        statuses = stack.status()
        console.print(status_table(statuses))
        pids = {st.service: st.pid for st in statuses if st.pid is not None}
        (args.state_dir / "pids.json").write_text(json.dumps(pids))
        checks = Table(title="round trips through the production clients")
        for col in ("service", "what", "result"):
            checks.add_column(col)
        for row in round_trips(endpoints):
            checks.add_row(*row)
        console.print(checks)
        postgres, brokers, registry = required(endpoints)
        serving = mesh_job.database_url(postgres, "serving")  # the platform's serving database
        provisioned = provision(endpoints, serving, console)
        console.print(
            f"provisioned {provisioned['domains']} domains: "
            f"{provisioned['applied']} change(s) applied, {provisioned['pending_after']} pending"
        )
        domains = sorted(d.parent.name for d in mesh_job.DOMAINS.glob("*/contracts"))
        tokens = registry_tokens(endpoints, domains)
        registered = publish_all(endpoints, tokens, console)
        sizes = mesh_job.Sizes.quick() if args.quick else mesh_job.Sizes()
        state = args.state_dir.resolve()
        # the recommendations domain's flow and HTTP service run as processes from here on,
        # building their lists as the orders and catalog flows write their products
        recommendations = Recommendations(brokers, serving, state / "recommendations")
        recommendations.start()
        pids.update(recommendations.pids)
        (args.state_dir / "pids.json").write_text(json.dumps(pids))
        result = mesh_job.run(endpoints, state, console, serving=serving, sizes=sizes)
        result["provisioning"] = provisioned
        result["registry"] = registered
        result["recommendations"] = recommend_one(recommendations, result, console)
        # the recommendations flow has caught up (the condition above): now live traffic
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console) as progress:  # fmt: skip
            progress.add_task("live: the shop places orders, timed to every port")
            result["latency"] = run_live(
                brokers, result["warehouse"], state, result["dsn"]["orders"], serving,
                recommendations, count=20 if args.quick else 50,
                exclude=str(result["view"]["example"]["customer_id"]),
            )  # fmt: skip
            progress.add_task("live: merchandising renames articles, timed to the search index")
            result["search_latency"] = search_live(
                brokers, result["warehouse"], endpoints.search or "", state,
                result["dsn"]["catalog"], count=20 if args.quick else 50,
            )  # fmt: skip
        console.print("[bold]access request[/] through the registry, applied by provisioning")
        result["access"] = request_access(registry, serving, tokens, console)
        targets = PortTargets(
            brokers=brokers, warehouse=result["warehouse"], search_url=endpoints.search,
            view_dsn=serving,
        )  # fmt: skip
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console) as progress:  # fmt: skip
            progress.add_task("erasure: every domain holding the customer erases and proves it")
            result["erasure"] = erase_customer(
                result["recommendations"]["customer_id"], registry, tokens, targets,
                state / "keys", serving, recommendations,
            )  # fmt: skip
        print_report(console, result, state)
        console.print(
            f"The catalog page (the registry's web UI): {endpoints.registry}/ui, open while the\n"
            "stack runs (demo --keep); sign in with a token from "
            "`meshkit-platform registry token create --role consumer --name you`.",
            soft_wrap=True,
        )
        write_summary(args.state_dir / "summary.json", result)
        if args.keep and recommendations is not None:
            running = " ".join(str(pid) for pid in recommendations.pids.values())
            console.print(
                f"The recommendations service keeps running: {recommendations.url}/<id>/"
                f"recommendations (stop it and its flow: kill {running})",
                soft_wrap=True,
            )
    except Exception as exc:  # one clear line and where the logs are, not a traceback
        console.print(f"[red]demo failed:[/] {type(exc).__name__}: {exc}")
        console.print(f"service logs and data: {args.state_dir}")
        return 1
    finally:
        if recommendations is not None and not args.keep:
            recommendations.stop()
        if not args.keep:
            stopped = stack.down()
            console.print(f"stopped: {', '.join(stopped) or 'nothing'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
