"""Stage 5, the self-service platform: a new domain goes from the template to a provisioned,
registered data product in a handful of commands, with its data flowing.

The loyalty team generates its repository from meshkit's template (cookiecutter), adds a
serving view to the example product's contract (one line), and seeds its service table.
The platform's ``plan`` / ``apply`` creates every resource the contract declares (topics,
warehouse table, serving view, CDC publication), the team publishes its contracts to the
registry behind the compatibility gate, and its capture and flow fill the ports, personal
data transformed as declared. Every command is shown as typed, with its time and outcome.

    python -m examples.stages.stage5_platform
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any

import duckdb
import psycopg2
from psycopg2 import sql

from examples.stages import _shared as s
from meshkit.contracts.sql import duckdb_ref

DOMAIN, PRODUCT = "loyalty", "member"
SERVING = "stages_serving"  # the platform's serving-view database (stage 6 reads it too)


def run() -> None:
    env = s.stack()
    steps: list[tuple[str, str, str, str]] = []
    work = (s.WORKDIR / "stage5").resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    repo = work / "domains" / DOMAIN
    source = s.fresh_database(env.postgres, DOMAIN)  # the loyalty service's database
    serving = s.ensure_database(env.postgres, SERVING)
    targets = ["--kafka", env.kafka, "--warehouse", str(env.warehouse), "--search", env.search,
               "--postgres", serving, "--source", env.postgres]  # fmt: skip
    no_registry = {"MESHKIT_REGISTRY_URL": ""}  # no access grants to carry out yet
    topic = f"{DOMAIN}.{PRODUCT}.v1"
    s.delete_topics(env.kafka, [f"{DOMAIN}.cdc.public.{PRODUCT}s", topic, f"{topic}.deadletter"])
    with duckdb.connect(str(env.warehouse)) as con:  # a previous run's product goes
        con.execute(f"DROP SCHEMA IF EXISTS {duckdb_ref(DOMAIN)} CASCADE")
    with psycopg2.connect(serving) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("public", topic)))
    conn.close()

    # fmt: off
    def team(args: list[str], **kw: Any) -> str:
        return s.command(steps, "domain team", args, **{"cwd": repo, **kw})

    def platform(args: list[str], **kw: Any) -> str:
        return s.command(steps, "platform", args, env=no_registry, **kw)

    team(["cookiecutter", str(s.ROOT / "template"), "--no-input", "--output-dir",
          str(work / "domains"), "domain_name=Loyalty", f"product_name={PRODUCT}",
          "owner_contact=loyalty@example.com"], cwd=work,
         shown=f"cookiecutter meshkit/template domain_name=Loyalty product_name={PRODUCT}")
    contract = repo / "contracts" / f"{PRODUCT}.yaml"
    port = "    - {kind: warehouse_table}\n"
    contract.write_text(contract.read_text().replace(port, port + "    - {kind: serving_view}\n"))
    steps.append(("domain team", f"edit contracts/{PRODUCT}.yaml: + {{kind: serving_view}}", "-",
                  "one line"))
    team(["meshkit", "contract", "lint", "contracts"])
    team(["python", "scripts/seed.py", "--dsn", env.postgres], shown="python scripts/seed.py")
    plan = work / "plan.json"
    platform(["meshkit-platform", "plan", "--domains", str(work / "domains"), "--out", str(plan),
              *targets], ok=(0, 2), shown="meshkit-platform plan --domains domains --out plan.json")
    platform(["meshkit-platform", "apply", str(plan), *targets],
             shown="meshkit-platform apply plan.json")
    out = platform(["meshkit-platform", "registry", "token", "create", "--role", "domain-owner",
                    "--domain", DOMAIN, "--name", "loyalty team"], secret=True)
    token = out.strip().splitlines()[-1]
    team(["meshkit", "publish", "contracts", "--token", token],
         shown="meshkit publish contracts --token <the team's token>")
    # fmt: on

    s.say("the loyalty capture and flow fill the ports")
    parts = [
        s.start("meshkit cdc run", [str(s.BIN / "meshkit"), "cdc", "run", "--quiet",
                "--contracts", "contracts", "--dsn", source, "--bootstrap-servers", env.kafka,
                "--state-dir", str(work / "cdc"), "--metrics-port", "off"],
                {}, work / "cdc.log", cwd=repo),
        s.start("the loyalty flow", [sys.executable, "-m", "bytewax.run", f"{DOMAIN}.flow:flow"],
                {"PYTHONPATH": str(repo / "src"), "MESHKIT_STREAMING_VIEW_DSN": serving,
                 "MESHKIT_STREAMING_KEYSTORE_DIR": str(work / "keys"),
                 "MESHKIT_METRICS_PORT": "off", **no_registry}, work / "flow.log", cwd=repo),
    ]  # fmt: skip
    reader = s.TopicReader(env.kafka, topic)
    try:
        started = time.perf_counter()
        s.wait_until(lambda: all(p.check() for p in parts) and reader.poll() >= 5, 90, topic)
        took = f"{time.perf_counter() - started:.1f}"
    finally:
        reader.close()
        for part in reversed(parts):
            part.stop()
    steps.append(("domain team", "meshkit cdc run & python -m bytewax.run loyalty.flow:flow",
                  took, f"{reader.count} records in {topic}"))  # fmt: skip
    s.show("stage 5: a new domain, from the template to a product", ("who", "command", "s",
           "outcome"), steps)  # fmt: skip
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        (rows, clear) = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE email LIKE '%@%') "
            f"FROM {duckdb_ref(DOMAIN, f'{PRODUCT}_v1')}"
        ).fetchone() or (0, 0)
    with psycopg2.connect(serving) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", topic)))
        (view_rows,) = cur.fetchone() or (0,)
    conn.close()
    s.show("stage 5: what the new product holds", ("port", "rows", "e-mails in clear"),
           [("warehouse table", rows, clear), ("serving view", view_rows, "-")])  # fmt: skip


if __name__ == "__main__":
    s.main(run)
