"""``python -m meshkit.deploy.recovery DIR --count N``: this process's Bytewax recovery partition.

A flow's StatefulSet runs this as an init container. Bytewax keeps its recovery state in
``N`` partition files (one per process here) and needs every partition somewhere in the
cluster, each exactly once; a process reads the partitions in its own directory. So each
pod keeps partition ``i`` (its ordinal, from ``BYTEWAX_POD_NAME`` and
``BYTEWAX_STATEFULSET_NAME`` as ``python -m bytewax.run`` reads them) on its own
persistent volume: created once when missing, kept across restarts. A partition made for
another number of processes is refused, because Bytewax cannot resume from it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from meshkit.errors import ConfigError


def process_index(environ: Mapping[str, str]) -> int:
    """The pod's ordinal: ``BYTEWAX_POD_NAME`` minus ``BYTEWAX_STATEFULSET_NAME-``."""
    pod, sts = environ.get("BYTEWAX_POD_NAME"), environ.get("BYTEWAX_STATEFULSET_NAME")
    if not pod or not sts or not pod.startswith(f"{sts}-"):
        raise ConfigError(
            "set BYTEWAX_POD_NAME (the pod's name) and BYTEWAX_STATEFULSET_NAME (its "
            "StatefulSet's), or pass --index"
        )
    ordinal = pod.removeprefix(f"{sts}-")
    if not ordinal.isdigit():
        raise ConfigError(f"pod name {pod!r} does not end in -<ordinal> after {sts!r}")
    return int(ordinal)


def _part_count(path: Path) -> int | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT part_count FROM parts LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def ensure_partition(directory: Path, index: int, count: int) -> Path:
    """Partition ``index`` of ``count`` in ``directory``, created when missing."""
    if not 0 <= index < count:
        raise ConfigError(f"process {index} is not one of the flow's {count} processes")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"part-{index}.sqlite3"
    others = sorted(p.name for p in directory.glob("part-*.sqlite3") if p != target)
    if others:
        raise ConfigError(
            f"{directory}: holds partitions of other processes ({', '.join(others)}); "
            "each process's volume keeps its own partition only"
        )
    if target.exists():
        made_for = _part_count(target)
        if made_for != count:
            raise ConfigError(
                f"{target}: made for {made_for} processes, the flow now runs {count}: "
                "Bytewax cannot resume from it; delete the flow's recovery volumes to start "
                "its state afresh"
            )
        return target
    scratch = directory / ".init"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        subprocess.run(
            [sys.executable, "-m", "bytewax.recovery", str(scratch), str(count)],
            check=True,
            capture_output=True,
        )
        (scratch / target.name).rename(target)
    except subprocess.CalledProcessError as exc:
        raise ConfigError(
            f"{directory}: bytewax.recovery failed ({exc.returncode}): "
            f"{exc.stderr.decode(errors='replace').strip()[-500:]}"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Create this process's partition when missing; 1 with a message on failure."""
    parser = argparse.ArgumentParser(prog="python -m meshkit.deploy.recovery")
    parser.add_argument("directory", type=Path, help="the process's recovery directory")
    parser.add_argument("--count", type=int, required=True, help="processes of the flow")
    parser.add_argument("--index", type=int, help="this process (default: from the pod name)")
    args = parser.parse_args(argv)
    try:
        index = args.index if args.index is not None else process_index(os.environ)
        path = ensure_partition(args.directory, index, args.count)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"recovery partition {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
