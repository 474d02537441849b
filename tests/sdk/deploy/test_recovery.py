"""The flows' recovery layout: each process keeps one partition on its own volume.

``python -m meshkit.deploy.recovery`` is what a flow pod's init container runs. The test
runs a real two-process Bytewax cluster, each process with only its own partition in its
own directory (as two pods with a volume each), twice: the second run resumes from the
partitions the first one wrote.
"""

from __future__ import annotations

import ast
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from meshkit.deploy.recovery import ensure_partition, main, process_index
from meshkit.errors import ConfigError

FLOW = """\
import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("recovery_layout")
numbers = op.input("in", flow, TestingSource(range(10)))
keyed = op.key_on("key", numbers, lambda n: str(n % 2))
total = op.stateful_map("sum", keyed, lambda s, n: ((s or 0) + n, (s or 0) + n))
op.output("out", total, StdOutSink())
"""


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_each_process_keeps_only_its_own_partition(tmp_path: Path) -> None:
    first = ensure_partition(tmp_path / "pod-0", 0, 2)
    second = ensure_partition(tmp_path / "pod-1", 1, 2)
    assert sorted(p.name for p in (tmp_path / "pod-0").iterdir()) == ["part-0.sqlite3"]
    assert sorted(p.name for p in (tmp_path / "pod-1").iterdir()) == ["part-1.sqlite3"]
    for path, index in ((first, 0), (second, 1)):
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT part_index, part_count FROM parts").fetchall() == [(index, 2)]
    # a restart keeps the partition (and what it holds)
    before = first.stat().st_mtime_ns
    assert ensure_partition(tmp_path / "pod-0", 0, 2) == first
    assert first.stat().st_mtime_ns == before


def test_a_partition_for_another_cluster_size_is_refused(tmp_path: Path) -> None:
    ensure_partition(tmp_path, 0, 2)
    with pytest.raises(ConfigError, match="made for 2 processes, the flow now runs 3"):
        ensure_partition(tmp_path, 0, 3)
    with pytest.raises(ConfigError, match="not one of the flow's 2 processes"):
        ensure_partition(tmp_path / "other", 2, 2)


def test_the_process_index_comes_from_the_pod_name() -> None:
    env = {
        "BYTEWAX_POD_NAME": "orders-order-flow-3",
        "BYTEWAX_STATEFULSET_NAME": "orders-order-flow",
    }
    assert process_index(env) == 3
    with pytest.raises(ConfigError, match="BYTEWAX_POD_NAME"):
        process_index({})


def test_the_init_command_reports_a_failure_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path), "--count", "2", "--index", "1"]) == 0
    assert main([str(tmp_path), "--count", "3", "--index", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err


def _run_cluster(tmp_path: Path, dirs: list[Path]) -> list[tuple[str, int]]:
    ports = _free_ports(len(dirs))
    addresses = ";".join(f"127.0.0.1:{p}" for p in ports)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bytewax.run",
                "layout_flow:flow",
                "-i",
                str(i),
                "-a",
                addresses,
                "-r",
                str(d),
                "-s",
                "1",
                "-b",
                "0",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, d in enumerate(dirs)
    ]
    lines: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        # timely reports its connection retries on stdout too: keep the flow's output
        lines += [line for line in out.splitlines() if line.startswith("(")]
    return sorted(ast.literal_eval(line) for line in lines)


def test_a_two_process_cluster_runs_and_resumes_on_per_process_partitions(
    tmp_path: Path,
) -> None:
    (tmp_path / "layout_flow.py").write_text(FLOW)
    dirs = [tmp_path / f"pod-{i}" for i in range(2)]
    for i, d in enumerate(dirs):
        assert main([str(d), "--count", "2", "--index", str(i)]) == 0
    first = _run_cluster(tmp_path, dirs)
    assert len(first) == 10  # every number once, a running sum per key
    assert max(total for key, total in first if key == "0") == 0 + 2 + 4 + 6 + 8
    assert max(total for key, total in first if key == "1") == 1 + 3 + 5 + 7 + 9
    # the input is finished and its state snapshotted: a resumed cluster has nothing to redo
    assert _run_cluster(tmp_path, dirs) == []
