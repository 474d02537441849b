"""A declarative flow as a Bytewax cluster: 2 processes x 2 workers over a 4-partition CDC
topic, recovery partitioned per process. Each topic partition is read by exactly one
worker; one process is killed (-9) mid-run and restarted, and the serving view, the
product topic, the dead-letter topic and the counts end exactly as expected (real broker,
real PostgreSQL, real Bytewax runtime). The sink runs one partition per worker, so
every process writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from meshkit.privacy import LocalKeyStore, Masker
from meshkit.streaming import dead_letter_topic, read_stats
from meshkit.streaming.sources import cdc_topics
from tests.sdk.observability.flowrun import FlowProcess, flow_env
from tests.sdk.observability.scrape import free_port, scrape, wait_for
from tests.sdk.streaming.flowkit import (
    Stream,
    consume_all,
    create_topic,
    customer_stream,
    expected_state,
    produce,
    topic_state,
    unique_contract,
    view_state,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

PROCESSES = 2
WORKERS = 2
PARTITIONS = 4


def recovery_dirs(tmp: Path, processes: int) -> list[Path]:
    """One recovery directory per process, holding its own partition only (as each pod's
    volume does in a StatefulSet): Bytewax needs every partition exactly once."""
    scratch = tmp / "recovery-init"
    scratch.mkdir()
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(scratch), str(processes)],
        check=True,
        capture_output=True,
    )
    dirs = []
    for i in range(processes):
        target = tmp / f"recovery-{i}"
        target.mkdir()
        shutil.move(scratch / f"part-{i}.sqlite3", target / f"part-{i}.sqlite3")
        dirs.append(target)
    return dirs


class Cluster:
    """The flow's processes: ``-i i -a <addresses> -w WORKERS``, each with its metrics port."""

    def __init__(self, tmp: Path, env: dict[str, str], processes: int) -> None:
        self.tmp = tmp
        self.addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
        self.metrics = [free_port() for _ in range(processes)]
        self.procs = [
            FlowProcess(
                {**env, "MESHKIT_METRICS_PORT": str(self.metrics[i])},
                recovery,
                tmp / f"flow-{i}.log",
                *("-w", str(WORKERS), "-i", str(i), "-a", self.addresses),
            )
            for i, recovery in enumerate(recovery_dirs(tmp, processes))
        ]

    def start(self) -> None:
        for p in self.procs:
            p.start()

    def received(self) -> int:
        stats = self.tmp / "stats"
        if not stats.exists():
            return 0
        try:
            return int(read_stats(stats)["counts"]["received"])
        except (ValueError, KeyError):  # a file being replaced
            return 0

    def logs(self) -> str:
        return "\n".join(f"--- process {i}\n{p.tail()}" for i, p in enumerate(self.procs))

    def kill(self) -> None:
        for p in self.procs:
            p.kill()


def produce_partitioned(bootstrap: str, topic: str, stream: Stream) -> None:
    """The stream into a topic of ``PARTITIONS`` partitions, by key (as CDC keys them: a
    row's changes stay in one partition, in order)."""
    create_topic(bootstrap, topic, PARTITIONS)
    produce(bootstrap, topic, stream)


def test_two_processes_one_killed_and_restarted_end_exactly_as_expected(
    tmp_path: Path, kafka_broker: str, postgres_database: str, session_master_key: str
) -> None:
    del session_master_key  # the key store's master key, in the environment
    contract = unique_contract(directory=tmp_path)
    stream = customer_stream(40_000, customers=3000, seed=23, poison=40)
    (topic,) = cdc_topics(contract)
    produce_partitioned(kafka_broker, topic, stream)
    keys = tmp_path / "keys"
    env = flow_env(
        tmp_path / "customer.yaml", tmp_path, kafka_broker, keys,
        MESHKIT_STREAMING_VIEW_DSN=postgres_database,
        MESHKIT_STREAMING_PORTS='["kafka_topic", "serving_view"]',
        MESHKIT_STREAMING_SINK_PARTITIONS=str(PROCESSES * WORKERS),
        MESHKIT_STREAMING_BATCH_SIZE="200",
    )  # fmt: skip
    cluster = Cluster(tmp_path, env, PROCESSES)
    n = len(stream.messages)
    cluster.start()
    try:
        # each partition is read by exactly one worker of the cluster: its lag gauge is
        # in exactly one process's metrics
        def owners() -> dict[str, list[int]]:
            seen: dict[str, list[int]] = {}
            for i, port in enumerate(cluster.metrics):
                for (name, labels), _ in scrape(port).items():
                    if name == "meshkit_flow_consumer_lag" and dict(labels)["topic"] == topic:
                        seen.setdefault(dict(labels)["partition"], []).append(i)
            return seen

        def all_read() -> bool:
            for p in cluster.procs:
                assert p.alive(), cluster.logs()
            return len(owners()) == PARTITIONS

        wait_for(all_read, 120, lambda: f"partitions read: {owners()}\n{cluster.logs()}")
        readers = owners()
        assert sorted(readers) == [str(p) for p in range(PARTITIONS)]
        assert all(len(procs) == 1 for procs in readers.values()), readers
        assert {p for procs in readers.values() for p in procs} == set(range(PROCESSES))

        # kill -9 process 1 once a snapshot counted a part, not all, of the input
        def midway() -> bool:
            for p in cluster.procs:
                assert p.alive(), cluster.logs()
            return cluster.received() >= n // 4

        wait_for(midway, 180, lambda: f"at {cluster.received()} of {n}\n{cluster.logs()}")
        at_kill = cluster.received()
        assert at_kill < n, "the flow finished before the kill: make the input larger"
        victim = cluster.procs[1]
        victim.kill()
        # its peer loses the connection and stops too (as a pod's peers do); both restart
        wait_for(lambda: not cluster.procs[0].alive(), 60, cluster.logs)
        victim.start()
        cluster.procs[0].start()

        def finished() -> bool:
            for p in cluster.procs:
                assert p.alive(), cluster.logs()
            return cluster.received() == n

        wait_for(finished, 300, lambda: f"at {cluster.received()} of {n}\n{cluster.logs()}")
    finally:
        cluster.kill()

    with LocalKeyStore.open(keys) as store:
        masker = Masker.from_contract(contract, store=store)
        expected = expected_state(contract, masker, stream, topic)
    want = {_doc_id(k): v for k, v in expected.items()}
    assert view_state(postgres_database, contract) == want
    topic_docs = topic_state(kafka_broker, contract)
    assert set(topic_docs) == set(want)
    for k, doc in topic_docs.items():  # JSON values: compare in their JSON form
        assert doc == orjson.loads(orjson.dumps(want[k], default=str)), k
    counts: dict[str, Any] = read_stats(tmp_path / "stats")["counts"]
    assert counts["received"] == n
    assert counts["dead_letters"] == len(stream.poison)
    assert counts["received"] == counts["written"] + counts["skipped"] + counts["dead_letters"]
    letters = {m.key() for m in consume_all(kafka_broker, dead_letter_topic(contract))}
    assert len(letters) == len(stream.poison)


def _doc_id(key: tuple[Any, ...]) -> str:
    from meshkit.ports.search import document_id

    return document_id(key)
