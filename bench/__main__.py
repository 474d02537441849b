"""Run every benchmark (or those named) and print one summary table.

    python -m bench [--quick] [name ...]

Each benchmark runs as its own process (``python -m bench.<name>``); the summary is
read from the ``BENCH`` line each prints last. Exit code 1 if any failed or crashed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).parent


def discover() -> list[str]:
    """Benchmark module names: every ``bench/<name>.py`` not starting with an underscore."""
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_"))


def parse_bench_line(output: str) -> dict[str, str] | None:
    """The key=value pairs of the last ``BENCH`` line in ``output`` (plus name and verdict)."""
    lines = [ln for ln in output.splitlines() if ln.startswith("BENCH ")]
    if not lines:
        return None
    words = lines[-1].split()
    fields = {"name": words[1], "verdict": words[-1]}
    for word in words[2:-1]:
        key, _, value = word.partition("=")
        fields[key] = value
    return fields


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args(argv)
    names = args.names or discover()
    console = Console()
    table = Table(title="meshkit benchmarks" + (" (quick)" if args.quick else ""))
    for col in ("benchmark", "value", "baseline", "ratio", "target", "result", "seconds"):
        table.add_column(col, justify="left" if col == "benchmark" else "right")
    failed = False
    for name in names:
        cmd = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if args.quick else [])
        console.print(f"[bold]running[/] {' '.join(cmd[1:])}")
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent, check=False)
        took = f"{time.perf_counter() - start:.1f}"
        sys.stdout.write(proc.stdout)
        fields = parse_bench_line(proc.stdout)
        if proc.returncode != 0 or fields is None:
            failed = True
            sys.stderr.write(proc.stderr[-4000:])
            table.add_row(name, "", "", "", "", f"[red]CRASH rc={proc.returncode}[/]", took)
            continue
        verdict = fields["verdict"]
        failed |= verdict != "PASS"
        colour = "green" if verdict == "PASS" else "red"
        table.add_row(
            name,
            fields.get("value", ""),
            fields.get("baseline", ""),
            fields.get("ratio", ""),
            fields.get("target", ""),
            f"[{colour}]{verdict}[/]",
            took,
        )
    console.print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
