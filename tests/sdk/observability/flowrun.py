"""A declarative flow run as ``python -m bytewax.run`` (with recovery), for the tests of
metrics, logs and clusters: its environment, its processes and its log files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.sdk.streaming.flowkit import OVERSIZED_LIMIT

CANARY = b"zqcanary"


def flow_env(contract: Path, tmp: Path, kafka: str, keys: Path, **extra: str) -> dict[str, str]:
    """A flow writing the product topic and a DuckDB warehouse (the ports under test)."""
    return {
        **os.environ,
        "MESHKIT_STREAMING_CONTRACT": str(contract),
        "MESHKIT_STREAMING_BROKERS": kafka,
        "MESHKIT_STREAMING_WAREHOUSE": str(tmp / "warehouse.duckdb"),
        "MESHKIT_STREAMING_KEYSTORE_DIR": str(keys),
        "MESHKIT_STREAMING_STATS_DIR": str(tmp / "stats"),
        "MESHKIT_STREAMING_BATCH_SIZE": "500",
        "MESHKIT_STREAMING_MAX_VALUE_BYTES": str(OVERSIZED_LIMIT),
        "MESHKIT_STREAMING_PORTS": '["kafka_topic", "warehouse_table"]',
        **extra,
    }


def init_recovery(directory: Path, processes: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(directory), str(processes)],
        check=True,
        capture_output=True,
    )


class FlowProcess:
    """One process of the flow: ``bytewax.run`` with recovery, restartable; its stdout and
    stderr appended to ``log``."""

    def __init__(self, env: dict[str, str], recovery: Path, log: Path, *args: str) -> None:
        self.env = env
        self.recovery = recovery
        self.log = log
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "bytewax.run", "meshkit.streaming.declarative:flow",
               "-r", str(self.recovery), "-s", "1", "-b", "0", *self.args]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=out)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
