"""Benchmark of batch materialisation: a product asset through meshkit vs plain DuckDB SQL.

    python -m bench.batch [--quick]

Builds one Arrow table of 1,000,000 rows (``--quick``: 50,000) and 12 columns, then, in
the same run, times

- meshkit: ``dagster.materialize`` of a ``product_asset`` returning that table, plus its
  generated checks, into a DuckDB file — the table validated against the contract
  (types, required fields, primary key, per-record rules), 3 privacy transforms applied
  (e-mail tokenized, phone masked, birth date generalized to the year), the table
  created and written, then the checks of the 5 quality rules (not null, unique,
  accepted values, range, regex) plus the schema and PII-scanner checks;
- baseline: plain DuckDB SQL writing the same table into a DuckDB file
  (``CREATE TABLE ... AS SELECT * FROM`` the Arrow table), no checks, no masking.

The two run alternately (plain, meshkit, plain, ...), so a burst of load elsewhere on the
machine hits both; each is the best of several runs. ``ratio=`` is meshkit seconds /
plain seconds (lower is better; target <= 2.5, and ``ratio_same_work=`` <= 1.0);
``*_cpu_s`` are the CPU seconds of the same best runs (all threads), which a busy machine
distorts less than wall time. The
extra fields split meshkit's time into its steps, each the best of several runs outside
Dagster on the same table (``tokenize`` is the part of ``mask`` spent on the e-mails;
``plain_masked`` is plain DuckDB writing the *masked* table, the floor of ``write``),
except ``dagster``: the fastest materialisation minus the time its I/O manager reported
(validate, mask, write) and its checks step took, i.e. the run outside both.

``plain_transforms`` is a second, fairer floor: hand-written DuckDB SQL applying the same
three transforms while it writes the table (HMAC-SHA256 in SQL, the phone masked, the
year), still without validation or checks; ``ratio_same_work=`` is meshkit against it.
Every step also prints its CPU seconds (``*_cpu_s``, all threads), and ``ratio_cpu=`` and
``ratio_same_work_cpu=`` are the same comparisons in CPU seconds: on a machine shared with
other jobs the wall-clock ratios move with the load, the CPU ratios much less.
The target's ``ratio=`` compares against a table written *without* the privacy policy,
so it charges meshkit for the cryptography itself (see docs/batch.md).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa

from bench._common import BenchResult, parser, report
from meshkit.batch import local_resources, product_asset, product_checks
from meshkit.batch.validate import conform
from meshkit.contracts.loader import parse_contract
from meshkit.privacy import LocalKeyStore, Masker, Tokenizer
from meshkit.privacy.keys import MASTER_KEY_ENV, STATE_DIR_ENV, new_master_key

TARGET = 2.5
TARGET_SAME_WORK = 1.0
CONTRACT = """
domain: bench
name: sales
version: 1.0.0
owner: {team: bench, contact: bench@example.com}
fields:
  - {name: sale_id, type: string, required: true}
  - name: email
    type: string
    required: true
    pii: email
    transform: {kind: tokenize, key: bench}
  - name: phone
    type: string
    pii: phone
    transform: {kind: mask, keep_last: 4}
  - name: birth_date
    type: date
    pii: date_of_birth
    transform: {kind: generalize, to: year}
  - {name: tier, type: string, required: true}
  - {name: amount, type: "decimal(12,2)", required: true}
  - {name: country, type: string, required: true}
  - {name: quantity, type: integer, required: true}
  - {name: score, type: float}
  - {name: active, type: boolean, required: true}
  - {name: city, type: string}
  - {name: sold_at, type: timestamp, required: true}
primary_key: [sale_id]
quality:
  - {kind: not_null, field: email}
  - {kind: unique, fields: [sale_id]}
  - {kind: accepted_values, field: tier, values: [free, plus, pro]}
  - {kind: range, field: amount, min: 0, max: 100000}
  - {kind: regex, field: country, pattern: "^[A-Z]{2}$"}
ports:
  outputs:
    - {kind: warehouse_table}
"""


def make_table(n: int) -> pa.Table:
    """``n`` rows of 12 columns that satisfy the contract (deterministic)."""
    rng = np.random.default_rng(7)
    ids = np.arange(n)
    text = pa.array(ids.astype(str))
    pad = pa.compute.utf8_lpad(text, 8, "0")
    cities = np.array(["Berlin", "Paris", "Madrid", "Rome", "Vienna", "Lisbon"])
    countries = np.array(["DE", "FR", "ES", "IT", "AT", "PT"])
    tiers = np.array(["free", "plus", "pro"])
    start = np.datetime64("2024-01-01T00:00:00", "us")
    return pa.table(
        {
            "sale_id": pa.compute.binary_join_element_wise("s-", pad, ""),
            "email": pa.compute.binary_join_element_wise("user", pad, "@example.com", ""),
            "phone": pa.compute.binary_join_element_wise("+49 30 ", pad, ""),
            "birth_date": pa.array(
                np.datetime64("1950-01-01") + rng.integers(0, 20000, n).astype("timedelta64[D]")
            ),
            "tier": pa.array(tiers[ids % 3]),
            "amount": pa.array((rng.integers(0, 10_000_00, n) / 100).round(2)).cast(
                pa.decimal128(12, 2)
            ),
            "country": pa.array(countries[ids % 6]),
            "quantity": pa.array(rng.integers(1, 20, n)),
            "score": pa.array(rng.random(n)),
            "active": pa.array(ids % 2 == 0),
            "city": pa.array(cities[ids % 6]),
            "sold_at": pa.array(start + (ids * 1_000_000).astype("timedelta64[us]")).cast(
                pa.timestamp("us", tz="UTC")
            ),
        }
    )


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 50_000 if args.quick else 1_000_000
    repeat = 2 if args.quick else 3
    contract, problems = parse_contract(CONTRACT, "bench/batch.py")
    assert contract is not None, problems
    table = make_table(n)
    print(f"table: {n:,} rows x {table.num_columns} columns, {table.nbytes / 1e6:.0f} MB")

    with tempfile.TemporaryDirectory() as tmp:
        os.environ[MASTER_KEY_ENV] = new_master_key()
        os.environ[STATE_DIR_ENV] = str(Path(tmp) / "privacy")
        os.environ.setdefault("DAGSTER_HOME", tmp)
        runs = iter(range(1000))

        @product_asset(contract)
        def sales() -> pa.Table:
            return table

        checks = product_checks(sales)
        instance = dg.DagsterInstance.ephemeral()  # as under `dagster dev`: one instance

        inside: dict[float, dict[str, float]] = {}  # per run: seconds inside meshkit's code

        def meshkit() -> None:
            path = Path(tmp) / f"meshkit-{next(runs)}.duckdb"
            resources = local_resources(duckdb_path=path)
            start = time.perf_counter()
            result = dg.materialize([sales, checks], resources=resources, instance=instance)
            wall = time.perf_counter() - start
            evaluations = result.get_asset_check_evaluations()
            assert result.success
            assert len(evaluations) == 7
            assert all(e.passed for e in evaluations), [e.description for e in evaluations]
            inside[wall] = _inside(result)

        def plain(source: pa.Table = table) -> None:
            path = Path(tmp) / f"plain-{next(runs)}.duckdb"
            with duckdb.connect(str(path)) as con:
                con.register("source", source)
                con.execute("CREATE SCHEMA bench")
                con.execute("CREATE TABLE bench.sales_v1 AS SELECT * FROM source")

        (plain_s, plain_cpu), (meshkit_s, meshkit_cpu) = _alternately(plain, meshkit, repeat)
        steps, cpu = _steps(contract, table, Path(tmp), repeat, plain)
        best_run = inside[min(inside)]  # the fastest materialisation, as measured inside it
        steps["dagster"] = min(inside) - best_run["io_manager"] - best_run["checks_step"]

    print(
        f"plain DuckDB: {plain_s:.3f} s ({plain_cpu:.2f} s CPU)   "
        f"meshkit: {meshkit_s:.3f} s ({meshkit_cpu:.2f} s CPU)"
    )
    print(
        "meshkit steps: "
        + ", ".join(
            f"{k} {v:.3f} s" + (f" ({cpu[k]:.2f} CPU)" if k in cpu else "")
            for k, v in steps.items()
        )
    )
    print(
        f"plain DuckDB SQL doing the same 3 transforms: {steps['plain_transforms']:.3f} s, "
        f"{cpu['plain_transforms']:.2f} s CPU (meshkit / that = "
        f"{meshkit_s / steps['plain_transforms']:.2f}, CPU "
        f"{meshkit_cpu / cpu['plain_transforms']:.2f})"
    )
    report(
        BenchResult(
            "batch",
            value=meshkit_s,
            baseline=plain_s,
            target=TARGET,
            higher_is_better=False,
            extra={
                "rows": n,
                "meshkit_s": meshkit_s,
                "plain_s": plain_s,
                "meshkit_cpu_s": meshkit_cpu,
                "plain_cpu_s": plain_cpu,
                "ratio_same_work": meshkit_s / steps["plain_transforms"],
                "target_same_work": f"<={TARGET_SAME_WORK:g}",
                "ratio_cpu": meshkit_cpu / plain_cpu,
                "ratio_same_work_cpu": meshkit_cpu / cpu["plain_transforms"],
            }
            | {f"{k}_s": v for k, v in steps.items()}
            | {f"{k}_cpu_s": v for k, v in cpu.items()},
        )
    )


def _inside(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    """Of one materialisation: the I/O manager's own seconds (validate, mask, write) and
    the checks step's, so the rest is Dagster's."""
    (event,) = result.get_asset_materialization_events()
    seconds = event.materialization.metadata["meshkit/write_seconds"].value
    io_manager = float(seconds)  # type: ignore[arg-type]
    checks_ms = sum(
        getattr(e.event_specific_data, "duration_ms", 0.0)
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_SUCCESS
        and (e.step_key or "").endswith("__checks")
    )
    return {"io_manager": io_manager, "checks_step": checks_ms / 1000}


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of the process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _alternately(
    a: Callable[[], Any], b: Callable[[], Any], repeat: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The fastest (wall, cpu) of ``repeat`` runs each of ``a`` and ``b``, taken in turns."""
    best_a = best_b = (float("inf"), float("inf"))
    for _ in range(repeat):
        best_a = min(best_a, _timed(a))
        best_b = min(best_b, _timed(b))
    return best_a, best_b


def _steps(
    contract: Any, table: pa.Table, tmp: Path, repeat: int, plain: Callable[[pa.Table], None]
) -> tuple[dict[str, float], dict[str, float]]:
    """meshkit's work split into steps, each the best of ``repeat`` runs outside Dagster:
    wall seconds and CPU seconds (each the lowest of its runs)."""
    from meshkit.batch.checks import check_specs, evaluate
    from meshkit.batch.warehouse import DuckDBSession

    out: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def best(name: str, fn: Callable[[], Any]) -> Any:
        """Runs ``fn`` ``repeat`` times; records its lowest wall and CPU seconds as ``name``."""
        out[name] = cpu[name] = float("inf")
        result = None
        for _ in range(repeat):
            start, used = time.perf_counter(), time.process_time()
            result = fn()
            out[name] = min(out[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - used)
        return result

    conformed = best("validate", lambda: conform(contract, table))
    with LocalKeyStore.open() as store:
        masker = Masker.from_contract(contract, store=store)
        masked = best("mask", lambda: masker.mask_table(conformed))
        tokenizer = Tokenizer(store.token_key("bench"))
        email = conformed.column("email")
        best("tokenize", lambda: tokenizer.tokens(email))
    files = iter(range(1000))

    def write() -> None:
        with duckdb.connect(str(tmp / f"steps-{next(files)}.duckdb")) as con:
            session = DuckDBSession(con)
            session.ensure(contract)
            session.replace(contract, masked, None)

    best("write", write)
    best("plain_masked", lambda: plain(masked))
    with LocalKeyStore.open() as store:
        secret = store.token_key("bench").secret
    best("plain_transforms", lambda: _plain_transforms(tmp / f"pt-{next(files)}", table, secret))
    with duckdb.connect(str(tmp / "steps-0.duckdb")) as con:
        session = DuckDBSession(con)
        checks = [(name, rule) for name, _, rule in check_specs(contract)]
        best("checks", lambda: evaluate(contract, session, checks))
    return out, cpu


def _plain_transforms(path: Path, table: pa.Table, secret: bytes) -> None:
    """Hand-written DuckDB SQL doing the same three transforms in one ``CREATE TABLE AS``:
    HMAC-SHA256 of the e-mail in DuckDB SQL (DuckDB's ``sha256``), the phone masked
    but its last 4 characters, the birth date truncated to its year. No validation, no
    checks, no key store: the floor for writing this product as its policy requires."""
    padded = secret.ljust(64, b"\0")
    ipad, opad = bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)
    with duckdb.connect(str(path)) as con:
        con.register("source", table)
        con.execute("CREATE SCHEMA bench")
        con.execute(
            "CREATE TABLE bench.sales_v1 AS SELECT * REPLACE ("
            " 'tok:bench.1:' || sha256($opad || unhex(sha256($ipad || encode(email)))) AS email,"
            " repeat('*', length(phone) - 4) || right(phone, 4) AS phone,"
            " date_trunc('year', birth_date)::DATE AS birth_date) FROM source",
            {"ipad": ipad, "opad": opad},
        )


if __name__ == "__main__":
    main()
