"""``meshkit flow run``: a running flow reports its progress, stops cleanly on SIGINT and
SIGTERM with what it wrote in its ports, and a bad flow name is one line (real broker,
DuckDB and Bytewax runtime, the command run as a user runs it)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from meshkit.privacy import LocalKeyStore, Masker
from tests.sdk.observability.flowrun import flow_env
from tests.sdk.streaming.flowkit import (
    assert_ports_equal,
    customer_stream,
    expected_state,
    setup_input,
    topic_state,
    unique_contract,
    warehouse_state,
)

MESHKIT = str(Path(sys.executable).with_name("meshkit"))
FLOW = "meshkit.streaming.declarative:flow"


class Output:
    """A process's stdout lines, read as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._proc = proc
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            assert self._proc.poll() is None, "".join(self.lines)
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} in {''.join(self.lines)}")


@pytest.mark.services
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_progress_while_data_flows_then_a_clean_stop_with_the_data_in_the_ports(
    tmp_path: Path, kafka_broker: str, session_master_key: str, sig: signal.Signals
) -> None:
    del session_master_key  # the key store's master key, in the environment
    contract = unique_contract(directory=tmp_path)
    stream = customer_stream(400, customers=60, seed=5, poison=5)
    topic = setup_input(kafka_broker, contract, stream)
    keys = tmp_path / "keys"
    env = flow_env(tmp_path / "customer.yaml", tmp_path, kafka_broker, keys)
    proc = subprocess.Popen(
        [MESHKIT, "flow", "run", FLOW, "--progress-interval", "0.5", "--metrics-port", "off"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out = Output(proc)
    n = len(stream.messages)
    product = re.escape(contract.address)
    try:
        # a progress line per interval while the data flows, until every message is in
        first = out.wait_for(rf"^progress {product}, last [\d.]+ s: in \+\d+", 120)
        out.wait_for(rf"^progress {product}, .* in all: in {n:,}, dead letters 5\b", 120)
    except AssertionError as exc:
        proc.kill()
        raise AssertionError(f"{exc}\nstderr: {proc.communicate()[1][-3000:]}") from None
    assert first is not None
    proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "panicked" not in stderr
    summary = [line for line in stderr.splitlines() if line.startswith("flow stopped")]
    assert len(summary) == 1, stderr
    assert summary[0].startswith(f"flow stopped on {sig.name} after ")
    assert f"{contract.address} in {n:,}, written kafka_topic " in summary[0]
    assert "dead letters 5" in summary[0]

    # what the flow wrote before the stop is in its ports (flushed and closed)
    with LocalKeyStore.open(keys) as store:
        expected = expected_state(contract, Masker.from_contract(contract, store=store), stream,
                                  topic)  # fmt: skip
    assert expected
    assert_ports_equal(
        expected,
        warehouse=warehouse_state(tmp_path / "warehouse.duckdb", contract),
        topic=topic_state(kafka_broker, contract),
    )


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("nosuch_pkg.flow:flow", "no module 'nosuch_pkg.flow'"),
        ("meshkit.streaming.declarative:nope", "has no 'nope'"),
        ("os.path:sep", "is a str, not a Bytewax Dataflow"),
        ("orders flow", "expected <module>:<attribute>"),
    ],
)
def test_a_bad_flow_name_is_one_line_and_exit_1(tmp_path: Path, target: str, says: str) -> None:
    proc = subprocess.run(
        [MESHKIT, "flow", "run", target, "--quiet", "--metrics-port", "off"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: flow "), lines[0]
    assert says in lines[0]


def test_a_bad_flow_name_without_quiet_is_one_line_too(tmp_path: Path) -> None:
    """With progress on (the default), a flow that cannot be found stops before the
    progress starts: still one error line, not an unexpected error of the progress."""
    (tmp_path / "deep.yaml").write_text("a: 1\n")
    proc = subprocess.run(
        [MESHKIT, "flow", "run", str(tmp_path / "deep.yaml"), "--metrics-port", "off"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: flow "), lines[0]
    assert "unexpected" not in proc.stderr
