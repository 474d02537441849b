"""Benchmark: one declarative flow run as 1, 2 and 4 workers / processes on this machine.

    python -m bench.streaming_scale [--quick]

Starts the local stack's broker in a temporary directory, writes 100,000 Debezium change
events (``--quick``: 10,000) of ``bench.streaming``'s customer contract to a CDC topic of
four partitions, and runs the declarative flow (parse, map, validate, mask, product
topic; ``python -m bytewax.run``, recovery off, reading to the end of the topic) as:

- ``proc1``: 1 process, 1 worker (the baseline);
- ``workers2``: 1 process, 2 workers (``-w 2``);
- ``proc2``: 2 processes of 1 worker (``-i/-a``), the value;
- ``proc4``: 4 processes of 1 worker.

Each figure is events / wall time from the start of the processes to the end of the
last, so it includes each process's start (imports, Kafka metadata, cluster
connection), the same for every run. ``ratio_2proc=`` is proc2 / proc1. It measures
whether the flow scales where cores exist, which needs more cores than processes: on a
machine with fewer cores than the processes plus the broker, extra processes only share
the same cores and add work one process does not do: the sink's partitions are keyed,
so about half of every batch is pickled and sent to the other process, and every epoch
is agreed over the network. There the ratio stays below 1; ``cores=`` says how many
cores this machine has. The target (ratio >= 0.5) is that a cluster does not collapse.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._common import BenchResult, parser, report
from bench.streaming import CONTRACT, _produce_events
from meshkit.contracts.loader import parse_contract
from meshkit.local.kafka import KafkaBroker
from meshkit.local.settings import LocalSettings
from meshkit.privacy import LocalKeyStore
from meshkit.privacy.keys import MASTER_KEY_ENV, new_master_key
from meshkit.streaming.sources import cdc_topics

PARTITIONS = 4
TARGET = 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(env: dict[str, str], processes: int, workers: int, logs: Path) -> float:
    """Wall seconds of the flow as ``processes`` x ``workers``, to the end of its input."""
    addresses = ";".join(f"127.0.0.1:{_free_port()}" for _ in range(processes))
    cmd = [sys.executable, "-m", "bytewax.run", "meshkit.streaming.declarative:flow",
           "-w", str(workers)]  # fmt: skip
    start = time.perf_counter()
    procs = []
    for i in range(processes):
        args = ["-i", str(i), "-a", addresses] if processes > 1 else []
        with (logs / f"{processes}x{workers}-{i}.log").open("wb") as out:
            procs.append(subprocess.Popen([*cmd, *args], env=env, stdout=out, stderr=out))
    codes = [p.wait(600) for p in procs]
    elapsed = time.perf_counter() - start
    if any(codes):
        text = (logs / f"{processes}x{workers}-0.log").read_text()[-2000:]
        raise SystemExit(f"the flow failed ({processes}x{workers}, exit {codes}): {text}")
    return elapsed


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 10_000 if args.quick else 100_000
    os.environ.setdefault(MASTER_KEY_ENV, new_master_key())
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-scale-") as tmp_dir:
        tmp = Path(tmp_dir)
        broker = KafkaBroker(LocalSettings(state_dir=tmp / "local", kafka_port=0))
        bootstrap = broker.start().address
        try:
            text = CONTRACT.format(domain=f"bench{uuid.uuid4().hex[:6]}")
            contract, problems = parse_contract(text)
            assert contract is not None, problems
            (tmp / "customer.yaml").write_text(text)
            with LocalKeyStore.open(tmp / "keys") as store:
                store.create_token_key("customer")
            (topic,) = cdc_topics(contract)
            from confluent_kafka.admin import AdminClient
            from confluent_kafka.cimpl import NewTopic

            admin = AdminClient({"bootstrap.servers": bootstrap})
            new = NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)
            admin.create_topics([new])[topic].result(10)
            _produce_events(bootstrap, topic, n)
            print(f"{n:,} CDC events in {topic} ({PARTITIONS} partitions)", flush=True)
            env = {
                **os.environ,
                "MESHKIT_STREAMING_CONTRACT": str(tmp / "customer.yaml"),
                "MESHKIT_STREAMING_BROKERS": bootstrap,
                "MESHKIT_STREAMING_KEYSTORE_DIR": str(tmp / "keys"),
                "MESHKIT_STREAMING_PORTS": '["kafka_topic"]',
                "MESHKIT_STREAMING_TAIL": "false",
                "MESHKIT_STREAMING_GUARD": "false",
                "MESHKIT_METRICS_PORT": "off",
            }
            logs = tmp / "logs"
            logs.mkdir()
            rates: dict[str, float] = {}
            for name, processes, workers in (("proc1", 1, 1), ("workers2", 1, 2),
                                             ("proc2", 2, 1), ("proc4", 4, 1)):  # fmt: skip
                env["MESHKIT_STREAMING_SINK_PARTITIONS"] = str(processes * workers)
                rates[name] = n / _run(env, processes, workers, logs)
                print(f"{processes} process(es) x {workers} worker(s): "
                      f"{rates[name]:,.0f} events/s", flush=True)  # fmt: skip
        finally:
            broker.stop()
    cores = os.cpu_count() or 1
    ratio = rates["proc2"] / rates["proc1"]
    if cores < 4:
        why = (
            "extra processes share the same cores and add the exchange of keyed batches "
            "between processes, so they cannot scale here"
        )
    else:
        why = "each process can have a core of its own"
    why = f"this machine has {cores} cores for the broker and the flow's processes: {why}"
    print(f"ratio_2proc={ratio:.2f}: {why}", flush=True)
    extra = {
        "proc1": round(rates["proc1"]),
        "workers2": round(rates["workers2"]),
        "proc2": round(rates["proc2"]),
        "proc4": round(rates["proc4"]),
        "ratio_2proc": round(ratio, 3),
        "ratio_workers2": round(rates["workers2"] / rates["proc1"], 3),
        "cores": cores,
    }
    report(BenchResult("streaming_scale", rates["proc2"], rates["proc1"], TARGET, extra=extra))


if __name__ == "__main__":
    main()
