"""Running the example domains as production does, for the benchmarks and mesh tests.

Each streaming domain of ``domains/`` runs as two processes: its capture
(``meshkit cdc run``) and its Bytewax flow (``python -m bytewax.run <pkg>.flow:flow``),
with the settings a deployment gives them in the environment. A load generator
changes the service tables at a set rate.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
from confluent_kafka import Consumer, TopicPartition
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn

from meshkit.cdc.sources import load_sources
from meshkit.contracts import Contract
from meshkit.contracts.loader import load_contract
from meshkit.contracts.ports import CdcInput
from meshkit.local import consumer_config

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ROOT / "domains"


@dataclass
class Domain:
    """One streaming domain of the mesh as the benchmark drives it."""

    name: str
    database: str
    contract: Contract
    cdc_topics: list[str]
    table: str  # schema.table of the service table the load generator changes
    seed: Callable[[str, int], int]
    dsn: str = ""
    conn: Any = None  # the load generator's connection to the service database
    touch_sql: Any = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # more settings for its processes


def import_service(name: str) -> Any:
    """The domain's ``service`` module (its service database: seed, change)."""
    src = str(DOMAINS / name / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return importlib.import_module(f"{name}.service")


CONTRACT_FILES = {
    "customers": "customer.yaml",
    "orders": "order.yaml",
    "catalog": "product.yaml",
    "recommendations": "recommendation.yaml",
}


def domains(customers: int, names: tuple[str, ...] = ("customers", "orders")) -> list[Domain]:
    """The streaming domains ``names`` of ``domains/`` (each captured from its service
    database) with their service-database helpers."""
    seeds: dict[str, Callable[[str, int], int]] = {
        "customers": lambda dsn, n: int(import_service("customers").seed(dsn, n)),
        "orders": lambda dsn, n: int(import_service("orders").seed(dsn, n, customers=customers)),
        "catalog": lambda dsn, n: int(import_service("catalog").seed(dsn, n)),
    }
    out = []
    for name in names:
        contracts = DOMAINS / name / "contracts"
        sources = load_sources(contracts)
        contract = load_contract(contracts / CONTRACT_FILES[name])
        topics = [f"{sources.topic_prefix}.{t}" for t in sources.tables]
        cdc = next(p for p in contract.ports.inputs if isinstance(p, CdcInput))
        table = f"{cdc.db_schema}.{cdc.table}"
        out.append(Domain(name, cdc.database, contract, topics, table, seeds[name]))
    return out


def reader_domain(name: str) -> Domain:
    """A domain that reads other domains' products only (no service database, no capture):
    just its flow runs."""
    contract = load_contract(DOMAINS / name / "contracts" / CONTRACT_FILES[name])
    return Domain(name, "", contract, [], "", lambda _dsn, _n: 0)


def connect_generator(domain: Domain) -> None:
    """The load generator's connection and statement for the domain's service table."""
    domain.conn = psycopg2.connect(domain.dsn)
    schema, _, table = domain.table.partition(".")
    with domain.conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (sql.Identifier(schema, table).as_string(domain.conn),),
        )
        (key,) = cur.fetchone() or (None,)
    domain.conn.commit()
    if key is None:
        raise RuntimeError(f"{domain.name}: table {domain.table} has no primary key")
    domain.touch_sql = sql.SQL(
        "UPDATE {t} SET {k} = {k} WHERE {k} IN (SELECT {k} FROM {t} ORDER BY random() LIMIT %s)"
    ).format(t=sql.Identifier(schema, table), k=sql.Identifier(key))


def touch(domain: Domain, rows: int) -> int:
    """Update ``rows`` random rows of the domain's service table in one transaction.

    Each row's key is set to itself: PostgreSQL logs a full row update for each, so CDC
    emits one change event per row and the flow writes one product message per row,
    whatever the table holds. Returns the rows changed.
    """
    with domain.conn.cursor() as cur:
        cur.execute(domain.touch_sql, (rows,))
        changed = int(cur.rowcount)
    domain.conn.commit()
    return changed


def domain_env(state: Path, endpoints: Any, domain: Domain) -> dict[str, str]:
    """The environment of the domain's processes: the stack's addresses, one key store
    for the mesh, a DuckDB file per domain (one writer each), plus ``domain.env``."""
    env = {
        "PYTHONPATH": os.pathsep.join([str(DOMAINS / domain.name / "src"), str(ROOT)]),
        "MESHKIT_ENV": "local",
        "MESHKIT_PRIVACY_STATE_DIR": str(state / "keys"),
        "MESHKIT_STREAMING_BROKERS": endpoints.kafka,
        "MESHKIT_STREAMING_WAREHOUSE": str(state / f"warehouse-{domain.name}.duckdb"),
        "MESHKIT_STREAMING_SEARCH_URL": endpoints.search,
        "MESHKIT_STREAMING_KEYSTORE_DIR": str(state / "keys"),
        "MESHKIT_STREAMING_VIEW_DSN": database_dsn(endpoints.postgres, "serving"),
        "MESHKIT_METRICS_PORT": "off",
        **domain.env,
    }
    return {**os.environ, **{k: v for k, v in env.items() if v is not None}}


def database_dsn(server: str | None, database: str) -> str | None:
    """The DSN of ``database`` on the server ``server`` names (None without a server)."""
    if server is None:
        return None
    return str(make_dsn(**{**parse_dsn(server), "dbname": database}))


def start_part(
    domain: Domain,
    state: Path,
    endpoints: Any,
    part: str,
    *,
    contracts: Path | None = None,
    declarative: bool = False,
) -> None:
    """Start the domain's capture (``cdc``) or its flow (``flow``) as its own process.

    ``contracts``: the capture reads its tables from these contracts instead of the
    domain's; ``declarative``: the flow is meshkit's generic entry point for the contract
    ``MESHKIT_STREAMING_CONTRACT`` names (in ``domain.env``), not the domain's module.
    """
    flow = "meshkit.streaming.declarative:flow" if declarative else f"{domain.name}.flow:flow"
    cmd = (
        [
            str(Path(sys.executable).with_name("meshkit")), "cdc", "run", "--quiet",
            "--contracts", str(contracts or DOMAINS / domain.name / "contracts"),
            "--dsn", domain.dsn,
            "--bootstrap-servers", endpoints.kafka,
            "--state-dir", str(state / "cdc" / domain.name), "--metrics-port", "off",
        ]
        if part == "cdc"
        else [sys.executable, "-m", "bytewax.run", flow]
    )  # fmt: skip
    logs = state / "logs"
    logs.mkdir(exist_ok=True)
    with (logs / f"{domain.name}-{part}.log").open("ab") as out:
        domain.procs[part] = subprocess.Popen(
            cmd,
            env=domain_env(state, endpoints, domain),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=state,
        )


def stop_part(domain: Domain, part: str | None = None) -> None:
    """Stop the domain's processes (or one part) as Ctrl-C would, then wait for them."""
    procs = [p for name, p in domain.procs.items() if part in (None, name)]
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for name in [n for n in domain.procs if part in (None, n)]:
        del domain.procs[name]


def check_running(all_domains: list[Domain], state: Path) -> None:
    """Raise, naming the log, when a process of a domain has exited."""
    for d in all_domains:
        for part, proc in d.procs.items():
            if proc.poll() is not None:
                log = state / "logs" / f"{d.name}-{part}.log"
                tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
                raise RuntimeError(
                    f"the {part} process of domain {d.name} exited with code "
                    f"{proc.returncode}; the end of its log ({log}):\n" + "\n".join(tail)
                )


def wait_until(
    cond: Callable[[], bool], timeout: float, what: str, check: Callable[[], None]
) -> None:
    """Poll ``cond`` every 100 ms (calling ``check`` each time) until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while not cond():
        check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def create_database(server: str, name: str) -> None:
    conn = psycopg2.connect(server)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def topics_hold(brokers: str, topics: list[str]) -> bool:
    """Whether every product topic holds at least one message."""
    consumer = Consumer(consumer_config(brokers, group_id="bench-e2e-ready"))
    try:
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=5).topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                return False
            high = sum(
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                for p in meta.partitions
            )
            if high == 0:
                return False
        return True
    finally:
        consumer.close()
