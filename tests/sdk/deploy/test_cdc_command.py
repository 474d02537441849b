"""The CDC Deployment's command, run as the pod runs it.

The rendered container's command line (``meshkit cdc run --contracts contracts --dsn
dbname=<database> ...``) runs in the domain's directory with the connection in libpq's
``PG*`` variables only, as the Secret gives them: it snapshots the table into the topic
the contracts read, and stops cleanly on SIGTERM (what Kubernetes sends).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
from psycopg2.extensions import parse_dsn

from meshkit.deploy import render
from tests.sdk.cdc.helpers import changes, read_topic, wait_slot_released
from tests.sdk.deploy.conftest import ROOT, documents

BIN = Path(sys.executable).parent


def test_the_rendered_capture_runs_with_the_connection_from_pg_variables(
    postgres_database: str, kafka_broker: str, tmp_path: Path
) -> None:
    dsn = parse_dsn(postgres_database)
    domain = f"d{uuid.uuid4().hex[:8]}"  # topics of its own on the session's broker
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "domains" / "orders", repo, ignore=shutil.ignore_patterns(".*cache"))
    for contract in (repo / "contracts").glob("*.yaml"):
        text = contract.read_text().replace("domain: orders", f"domain: {domain}")
        contract.write_text(text.replace("database: shop", f"database: {dsn['dbname']}"))
    with contextlib.closing(psycopg2.connect(postgres_database)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE public.orders (id int PRIMARY KEY, customer_id int)")
            cur.execute("INSERT INTO public.orders SELECT i, i % 7 FROM generate_series(1, 25) i")

    render(repo, tmp_path / "out")
    (manifest,) = (tmp_path / "out" / "k8s").glob("cdc-*.yaml")
    deployment = next(d for d in documents(manifest) if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    argv = [*container["command"], *container["args"]]
    assert argv[argv.index("--dsn") + 1] == f"dbname={dsn['dbname']}"
    # what Kubernetes does: expand $(MESHKIT_KAFKA_BROKERS), mount the state volume
    state = tmp_path / "state"
    argv = [a.replace("$(MESHKIT_KAFKA_BROKERS)", kafka_broker) for a in argv]
    argv[argv.index("--state-dir") + 1] = str(state)
    argv[0] = str(BIN / "meshkit")
    secret = {
        "PGHOST": dsn.get("host", "127.0.0.1"),
        "PGPORT": dsn.get("port", "5432"),
        "PGUSER": dsn.get("user", "postgres"),
        "PGPASSWORD": dsn.get("password", ""),
    }
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), **secret}
    proc = subprocess.Popen(
        argv, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        events = changes(read_topic(kafka_broker, f"{domain}.cdc.public.orders", count=25))
        assert sorted(e.value["after"]["id"] for e in events) == list(range(1, 26))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "cdc stopped: 25 events" in err
    slot = argv[argv.index("--slot") + 1]
    assert slot == f"meshkit_{domain}"
    wait_slot_released(postgres_database, slot)
