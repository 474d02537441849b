"""Benchmark: a flow's rate with the registry down against the same flow without one.

    python -m bench.registry_down [--quick] [--runs N]

A flow reports its runs to the registry (``MESHKIT_REGISTRY_URL``) from a bounded buffer
on a background thread, so a registry that is down must not slow it. This benchmark
starts the local stack's broker in a temporary directory, writes 200,000 Debezium change
events (``--quick``: 10,000) to a two-partition CDC topic, then runs the meshkit flow of
``bench.streaming`` (``KafkaBatchSource`` → ``Pipeline`` → ``PortSink`` with the Kafka
writer, 1 worker) over it in fresh processes, alternating:

- baseline: no registry configured (nothing is sent);
- value: ``MESHKIT_REGISTRY_URL`` pointing at a registry that is down the hard way: a
  socket that accepts connections and never answers, so every send waits for the
  emitter's timeout; ``MESHKIT_LINEAGE_INTERVAL_SECONDS=0.05`` makes the flow emit a
  ``RUNNING`` event every 50 ms (600 times the default rate), so the buffer fills and
  drops. Each run reports the events the emitter dropped, which must be more than zero.

``--runs`` pairs (default 5; ``--quick``: 1). As in ``bench.streaming``, the measure is
the client's CPU µs per event (the process's CPU time over the events; the broker's two
speed modes move events/s between processes, not CPU): ``value=`` and ``baseline=`` are
events per client CPU second with and without the registry, ``ratio=`` their quotient.
The target is the benchmark's own noise: PASS when the ratio is at least 1 minus the
spread ((max - min) / median) of the runs without a registry, i.e. the registry being
down costs no more than separate runs of the same flow differ by. The rates are printed
beside (``events_s=``, ``baseline_events_s=``, ``ratio_wall=``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import orjson
from confluent_kafka.admin import AdminClient

from bench._common import BenchResult, parser, report
from bench.streaming import (
    CONTRACT,
    _cpu_run,
    _median,
    _meshkit,
    _produce_events,
    _spread,
    _topic,
    _warm_up,
)
from meshkit.contracts.loader import parse_contract
from meshkit.lineage import URL_ENV, shared_emitter
from meshkit.local.kafka import KafkaBroker
from meshkit.local.settings import LocalSettings
from meshkit.privacy import LocalKeyStore, Masker
from meshkit.privacy.keys import MASTER_KEY_ENV, new_master_key

RUNS = 5
INTERVAL = "0.05"


def _child(spec: str) -> None:
    """One run of the meshkit flow in this fresh process, as one ``RUN {json}`` line."""
    job = orjson.loads(spec)
    contract, problems = parse_contract(job["contract"])
    assert contract is not None, problems
    tmp = Path(job["tmp"])
    with LocalKeyStore.open(tmp / "keys") as store:
        masker = Masker.from_contract(contract, store=store)
        _warm_up(contract, masker)
        rate, cpu = _cpu_run(
            lambda: _meshkit(job["bootstrap"], job["source"], job["n"], contract, masker,
                             workers=1),
            job["n"],
        )  # fmt: skip
    emitter = shared_emitter()
    emitter.close(timeout=1.0)  # after the timed run: what is still queued counts as dropped
    out = {"events_s": rate, "cpu_us": cpu, "dropped": emitter.dropped, "sent": emitter.sent}
    print("RUN " + orjson.dumps(out).decode(), flush=True)


def _run(spec: str, env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.registry_down", "--child", spec],
        capture_output=True, text=True, check=False, timeout=900, env=env,
    )  # fmt: skip
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RUN ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"a run failed (exit {proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")  # fmt: skip
    return dict(orjson.loads(line[len("RUN ") :]))


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=None, help="pairs of runs (default 5)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args.child)
        return
    n = 10_000 if args.quick else 200_000
    runs = args.runs if args.runs is not None else (1 if args.quick else RUNS)
    os.environ.setdefault(MASTER_KEY_ENV, new_master_key())
    # a registry that is down the hard way: connections are accepted, nothing answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1024)
    down_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-registry-down-") as tmp_dir:
        tmp = Path(tmp_dir)
        broker = KafkaBroker(LocalSettings(state_dir=tmp / "local", kafka_port=0))
        bootstrap = broker.start().address
        try:
            contract_text = CONTRACT.format(domain=f"bench{uuid.uuid4().hex[:6]}")
            contract, problems = parse_contract(contract_text)
            assert contract is not None, problems
            with LocalKeyStore.open(tmp / "keys") as store:
                store.create_token_key("customer")
            source = _topic(
                AdminClient({"bootstrap.servers": bootstrap}), f"in-{uuid.uuid4().hex[:8]}"
            )
            _produce_events(bootstrap, source, n)
            print(f"{n:,} CDC events in {source}", flush=True)
            spec = orjson.dumps({"bootstrap": bootstrap, "source": source, "n": n,
                                 "contract": contract_text, "tmp": str(tmp)}).decode()  # fmt: skip
            base_env = {k: v for k, v in os.environ.items() if k != URL_ENV}
            down_env = {**base_env, URL_ENV: down_url, "MESHKIT_REGISTRY_TOKEN": "bench",
                        "MESHKIT_LINEAGE_INTERVAL_SECONDS": INTERVAL}  # fmt: skip
            up: list[dict[str, float]] = []
            down: list[dict[str, float]] = []
            for i in range(runs):
                up.append(_run(spec, base_env))
                down.append(_run(spec, down_env))
                print(f"pair {i + 1}/{runs}: no registry {up[-1]['events_s']:,.0f} events/s "
                      f"({up[-1]['cpu_us']:.1f} CPU µs/event); registry down "
                      f"{down[-1]['events_s']:,.0f} events/s ({down[-1]['cpu_us']:.1f} CPU "
                      f"µs/event, {down[-1]['dropped']:.0f} run events dropped)",
                      flush=True)  # fmt: skip
        finally:
            broker.stop()
            silent.close()
    if any(r["dropped"] <= 0 for r in down) or any(r["sent"] > 0 for r in down):
        raise SystemExit("the registry-down runs dropped no run event: nothing was measured")
    up_cpu = [r["cpu_us"] for r in up]
    down_cpu = [r["cpu_us"] for r in down]
    up_rates = [r["events_s"] for r in up]
    down_rates = [r["events_s"] for r in down]
    # per client CPU second, like bench.streaming's ratio=: robust to the broker's modes
    report(BenchResult("registry_down", 1e6 / _median(down_cpu), 1e6 / _median(up_cpu),
                       round(1.0 - _spread(up_cpu), 3), extra={
        "runs": runs,
        "cpu_us": round(_median(down_cpu), 2),
        "baseline_cpu_us": round(_median(up_cpu), 2),
        "cpu_spread": round(_spread(up_cpu), 3),
        "events_s": round(_median(down_rates)),
        "baseline_events_s": round(_median(up_rates)),
        "ratio_wall": round(_median(down_rates) / _median(up_rates), 3),
        "events_s_spread": round(_spread(up_rates), 3),
        "dropped": round(_median([r["dropped"] for r in down])),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
