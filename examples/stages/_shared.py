"""What the stages share: the running local stack's addresses, fresh databases, the example
domains' packages, a capture run in the background, timing and the result table."""

from __future__ import annotations

import importlib
import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import duckdb
import httpx
import psycopg2
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn
from rich.console import Console
from rich.status import Status
from rich.table import Table

from meshkit.cdc import Capture, build_config
from meshkit.cdc.sources import load_sources
from meshkit.local import admin_config, consumer_config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # meshkit, meshkit-platform, cookiecutter
DOMAINS = ROOT / "domains"
WORKDIR = Path(".state") / "stages"  # what a stage leaves behind: capture state, keys, repos
console = Console(width=max(Console().width, 110))


class StageError(Exception):
    """A stage cannot go on; the message says what to do."""


@dataclass(frozen=True)
class Stack:
    """The running local stack, as ``eval "$(meshkit local env)"`` exports it."""

    postgres: str
    kafka: str
    warehouse: Path
    search: str
    registry: str

    def database(self, name: str) -> str:
        """The libpq URL of database ``name`` on the stack's PostgreSQL."""
        return str(make_dsn(**{**parse_dsn(self.postgres), "dbname": name}))


def stack() -> Stack:
    """The stack's addresses from the environment, or one line saying how to get them."""
    names = {
        "postgres": "MESHKIT_POSTGRES_URL", "kafka": "MESHKIT_KAFKA_BOOTSTRAP",
        "warehouse": "MESHKIT_WAREHOUSE", "search": "MESHKIT_SEARCH_URL",
        "registry": "MESHKIT_REGISTRY_URL",
    }  # fmt: skip
    missing = [var for var in [*names.values(), "MESHKIT_MASTER_KEY"] if not os.environ.get(var)]
    if missing:
        raise StageError(
            f"{', '.join(missing)} not set: start the local stack and export its addresses: "
            'meshkit local up --with registry && eval "$(meshkit local env)"'
        )
    found = {field: os.environ[var] for field, var in names.items()}
    return Stack(**{**found, "warehouse": Path(found["warehouse"])})  # type: ignore[arg-type]


def fresh_database(server: str, name: str) -> str:
    """Database ``name`` created empty (a previous run's copy and its idle slots dropped)."""
    admin = psycopg2.connect(server)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = %s AND NOT active",
                (name,),
            )
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    return str(make_dsn(**{**parse_dsn(server), "dbname": name}))


def ensure_database(server: str, name: str) -> str:
    """Database ``name``, created when missing (kept across runs)."""
    admin = psycopg2.connect(server)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    return str(make_dsn(**{**parse_dsn(server), "dbname": name}))


def domain(name: str, module: str) -> ModuleType:
    """A module of an example domain, imported from ``domains/<name>/src`` as its repo would."""
    src = str(DOMAINS / name / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return importlib.import_module(f"{name}.{module}")


def capture(dsn: str, domain_name: str, brokers: str, state: Path, events: int) -> int:
    """Run the domain's CDC capture until ``events`` change events are in Kafka; the count."""
    sources = load_sources(DOMAINS / domain_name / "contracts")
    config = build_config(
        dsn=dsn, tables=list(sources.tables), topic_prefix=sources.topic_prefix,
        slot=f"stage_{domain_name}", publication=f"stage_{domain_name}",
        bootstrap_servers=brokers, state_dir=state, topic_replication_factor=1,
    )  # fmt: skip
    cdc, stop, errors = Capture(config), threading.Event(), []

    def run() -> None:
        try:
            cdc.run(stop)
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: cdc.progress.events >= events or bool(errors), 120, "CDC")
    finally:
        stop.set()
        thread.join(30)
    if errors:
        raise StageError(f"CDC of {domain_name} stopped: {errors[0]}")
    return cdc.progress.events


def delete_topics(brokers: str, topics: list[str]) -> None:
    """Delete the topics a previous run left (the stages start from empty ones)."""
    admin = AdminClient(admin_config(brokers))
    present = set(admin.list_topics(timeout=10).topics)
    gone = [t for t in topics if t in present]
    for future in admin.delete_topics(gone).values() if gone else ():
        future.result(15)
    wait_until(lambda: not set(gone) & set(admin.list_topics(timeout=10).topics), 15, "delete")


class TopicReader:
    """Reads a topic from its start, as the messages come: how many, and each one's value."""

    def __init__(self, brokers: str, topic: str) -> None:
        self.topic, self.count, self.values = topic, 0, list[bytes]()
        self._consumer = Consumer(consumer_config(brokers, group_id="meshkit-stages"))
        self._assigned = False

    def poll(self, timeout: float = 0.1) -> int:
        """Read what has arrived (waiting up to ``timeout``); the messages read so far."""
        if not self._assigned:
            meta = self._consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
            if meta is None or meta.error is not None or not meta.partitions:
                return 0
            self._consumer.assign([TopicPartition(self.topic, p, 0) for p in meta.partitions])
            self._assigned = True
        for message in self._consumer.consume(1000, timeout):
            if message.error() is None:
                self.count += 1
                self.values.append(message.value() or b"")
        return self.count

    def close(self) -> None:
        self._consumer.close()


@dataclass
class Part:
    """A long-running part of a domain (its capture, its flow) in a process of its own."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def check(self) -> bool:
        """True while it runs; a StageError with the end of its log once it has exited."""
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:]
            raise StageError(f"{self.name} exited ({self.log}): {' '.join(tail)}")
        return True

    def stop(self) -> None:
        """Stop it as Ctrl-C does, and wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(
    name: str, command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> Part:
    """Start ``command`` with the stage's environment plus ``env`` (an empty value unsets
    the variable), its output in ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    merged = {k: v for k, v in {**os.environ, **env}.items() if v}
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=merged, stdout=out, stderr=out, cwd=cwd)
    return Part(name, proc, log)


def command(
    steps: list[tuple[str, str, str, str]],
    who: str,
    args: list[str],
    *,
    cwd: Path | None = None,
    ok: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
    shown: str | None = None,
    secret: bool = False,
) -> str:
    """Run one command as its user types it (``shown``, if given, is how it is printed) and
    add a row to ``steps``; its output. An exit code not in ``ok`` is a StageError."""
    line = shown or shlex.join(args)
    say(line)
    exe = BIN / args[0] if (BIN / args[0]).exists() else Path(args[0])
    started = time.perf_counter()
    proc = subprocess.run(
        [str(exe), *args[1:]], cwd=cwd, capture_output=True, text=True, check=False,
        env={k: v for k, v in {**os.environ, **(env or {})}.items() if v},
    )  # fmt: skip
    if proc.returncode not in ok:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]
        raise StageError(f"{line}: exit {proc.returncode}: {' '.join(last)}")
    out = proc.stdout.strip().splitlines()
    outcome = "a token, printed once (not shown here)" if secret else (out or ["ok"])[-1][:60]
    steps.append((who, line, f"{time.perf_counter() - started:.1f}", outcome))
    return proc.stdout


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 50 ms; a StageError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise StageError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(0.05)


def percentile(values: Sequence[float], q: int) -> float:
    """The ``q``-th percentile of ``values`` (nearest rank)."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def show(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print one rich table."""
    table = Table(title=title, title_justify="left", min_width=min(len(title), console.width))
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


_status: list[Status] = []


def say(text: str) -> None:
    """What the stage is doing now, on the spinner line."""
    if _status:
        _status[0].update(f"{text} ...")


def main(run: Callable[[], None]) -> None:
    """Run a stage under a spinner line; a failure is one line and exit 1, not a traceback."""
    try:
        with console.status("starting ...") as status:
            _status.append(status)
            run()
    except (StageError, psycopg2.Error, duckdb.Error, KafkaException, httpx.HTTPError,
            OSError) as exc:  # fmt: skip
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        console.print(f"[red]error:[/] {first}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
