"""The README's main job (``./dev demo``) runs end to end on embedded defaults and stops cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.services
def test_demo_runs_and_leaves_no_process(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "160"}
    proc = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--state-dir", str(tmp_path / "demo")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "1000/1000" in out
    assert "wal_level" in out
    assert "logical" in out
    assert "stopped: search, warehouse, postgres, kafka" in out
    pids = [
        int(line.split("│")[3].strip())
        for line in out.splitlines()
        if line.count("│") >= 5 and line.split("│")[3].strip().isdigit()
    ]
    assert len(pids) == 3, out  # broker, PostgreSQL, search server
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        ), f"process {pid} is still running after the demo"
