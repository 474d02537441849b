"""Every benchmark runs in ``--quick`` mode and ends with a well-formed BENCH line, so none rots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import discover, parse_bench_line

ROOT = Path(__file__).resolve().parents[2]


def test_there_are_benchmarks() -> None:
    assert discover(), "bench/ holds no benchmark modules"


@pytest.mark.slow
@pytest.mark.parametrize("name", discover())
def test_benchmark_quick_mode_reports(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    fields = parse_bench_line(proc.stdout)
    assert fields is not None, f"no BENCH line in output:\n{proc.stdout[-2000:]}"
    assert fields["name"] == name
    for key in ("value", "baseline", "ratio", "target"):
        assert key in fields, f"BENCH line lacks {key}="
    assert float(fields["value"]) > 0
    assert float(fields["baseline"]) > 0
    assert fields["verdict"] in {"PASS", "FAIL"}


def test_parse_bench_line_reads_the_last_line() -> None:
    out = "noise\nBENCH x value=2 baseline=4 ratio=0.5 target=>=0.8 FAIL\n"
    assert parse_bench_line(out) == {
        "name": "x",
        "verdict": "FAIL",
        "value": "2",
        "baseline": "4",
        "ratio": "0.5",
        "target": ">=0.8",
    }
    assert parse_bench_line("nothing here") is None
