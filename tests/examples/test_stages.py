"""The article's stages (examples/stages/) run as examples/README.md tells a user to: a local
stack started with ``meshkit local up --with registry``, its addresses exported by
``meshkit local env``, then ``python -m examples.stages.<stage>``; each test checks what
the stage claims against the stores themselves."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg2
import pytest
from psycopg2 import errors, sql
from psycopg2.extensions import make_dsn, parse_dsn

from meshkit.local import local_search_client

ROOT = Path(__file__).resolve().parents[2]
MESHKIT = str(Path(sys.executable).with_name("meshkit"))

pytestmark = [pytest.mark.slow, pytest.mark.services]


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    """The environment of a shell where the README's first two commands ran: a stack of its
    own (state outside pytest's temp dir, see meshkit.testing; the package index on a free
    port), and the stage's working directory."""
    state = Path(tempfile.mkdtemp(prefix="meshkit-stages-"))
    env = {
        **os.environ, "MESHKIT_LOCAL_STATE_DIR": str(state / "stack"),
        "MESHKIT_LOCAL_INDEX_PORT": "0", "XDG_STATE_HOME": str(state / "xdg"),
        "PYTHONPATH": str(ROOT), "COLUMNS": "200",
    }  # fmt: skip
    try:
        up = subprocess.run([MESHKIT, "local", "up", "--with", "registry"], env=env,
                            capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
        assert up.returncode == 0, up.stdout + up.stderr
        exported = subprocess.run([MESHKIT, "local", "env", "--json"], env=env,
                                  capture_output=True, text=True, timeout=60,
                                  check=True)  # fmt: skip
        env.update(json.loads(exported.stdout))
        (state / "work").mkdir()
        env["STAGES_CWD"] = str(state / "work")
        yield env
    finally:
        subprocess.run([MESHKIT, "local", "down", "--purge"], env=env, capture_output=True,
                       timeout=120, check=False)  # fmt: skip
        shutil.rmtree(state, ignore_errors=True)


def stage(env: dict[str, str], name: str, *args: str) -> str:
    """``python -m examples.stages.<name>``: its output, after checking it succeeded."""
    proc = subprocess.run(
        [sys.executable, "-m", f"examples.stages.{name}", *args], cwd=env["STAGES_CWD"],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Traceback" not in proc.stdout
    return proc.stdout


def number(out: str, name: str) -> float:
    found = re.search(rf"{name}=([0-9.]+)", out)
    assert found, out
    return float(found.group(1))


def database(env: dict[str, str], name: str, **more: str) -> str:
    return str(make_dsn(**{**parse_dsn(env["MESHKIT_POSTGRES_URL"]), "dbname": name, **more}))


def warehouse(env: dict[str, str], query: str) -> list[tuple[object, ...]]:
    with duckdb.connect(env["MESHKIT_WAREHOUSE"], read_only=True) as con:
        return con.execute(query).fetchall()


def test_stage1_analysis_on_the_service_database_slows_its_transactions(
    stack: dict[str, str],
) -> None:
    out = stage(stack, "stage1_monolith", "--seconds", "3")
    assert number(out, "throughput_ratio") < 1.0  # checkouts/s while reports run, over alone
    assert number(out, "slowdown") > 1.0  # the checkout's p50 while reports run, over alone
    assert "cross-database references are not implemented" in out


def test_stage2_a_dagster_batch_copy_answers_across_services_but_goes_stale(
    stack: dict[str, str],
) -> None:
    out = stage(stack, "stage2_batch")
    assert "success" in out
    assert warehouse(stack, "SELECT count(*) FROM stage2.orders") == [(4_000,)]
    joined = warehouse(stack, "SELECT sum(orders) FROM stage2.revenue_by_country")
    assert joined == [(4_000,)]  # every order found its customer's country
    with psycopg2.connect(database(stack, "stage2_shop")) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM public.orders")
        (now,) = cur.fetchone() or (0,)
    conn.close()
    assert number(out, "stale") == now - 4_000 > 0


def test_stage3_cdc_streams_each_commit_to_the_product_within_a_second(
    stack: dict[str, str],
) -> None:
    out = stage(stack, "stage3_streaming")
    assert number(out, "p99_ms") < 1_000
    assert warehouse(stack, "SELECT count(*) FROM orders.order_v1") == [(2_100,)]
    assert warehouse(stack, "SELECT max(length(shipping_postcode)) FROM orders.order_v1") == [(2,)]


def test_stage4_search_and_the_serving_view_answer_from_the_same_stream(
    stack: dict[str, str],
) -> None:
    out = stage(stack, "stage4_integrated")
    assert "same=True" in out
    assert "6/6 checks passed" in out
    es = local_search_client(stack["MESHKIT_SEARCH_URL"])
    try:
        documents = es.count(index="catalog.product.v1")["count"]
    finally:
        es.close()
    assert [(documents,)] == warehouse(stack, "SELECT count(*) FROM catalog.product_v1")
    with psycopg2.connect(database(stack, "stage4_serving")) as conn, conn.cursor() as cur:
        cur.execute('SELECT count(*) FROM public."orders.customer_orders.v1"')
        view = cur.fetchall()
    conn.close()
    assert view == warehouse(stack, "SELECT count(DISTINCT customer_id) FROM orders.order_v1")


@pytest.fixture(scope="module")
def stage5(stack: dict[str, str]) -> str:
    return stage(stack, "stage5_platform")


def test_stage5_a_new_domain_is_provisioned_registered_and_flowing(
    stack: dict[str, str], stage5: str
) -> None:
    assert "applied 7 change(s)" in stage5
    assert "5 records in loyalty.member.v1" in stage5
    assert "mkr_" not in stage5  # tokens are never shown
    rows = warehouse(stack, "SELECT email FROM loyalty.member_v1")
    assert len(rows) == 5
    assert not [email for (email,) in rows if "@" in str(email)]  # tokenized


def test_stage6_a_second_team_reads_only_the_columns_it_was_granted(
    stack: dict[str, str], stage5: str
) -> None:
    assert stage5
    out = stage(stack, "stage6_mesh")
    assert "grant applied" in out
    ana = database(stack, "stages_serving", user="marketing_ana")
    view = sql.Identifier("public", "loyalty.member.v1")
    with psycopg2.connect(ana) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT member_id, country, birth_date FROM {}").format(view))
        assert len(cur.fetchall()) == 5
    conn.close()
    with (
        psycopg2.connect(ana) as conn,
        conn.cursor() as cur,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        cur.execute(sql.SQL("SELECT email FROM {}").format(view))
    conn.close()


def test_a_stage_without_the_stack_says_how_to_start_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHKIT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "examples.stages.stage1_monolith"], cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "meshkit local up --with registry" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
