"""Process plumbing shared by the services: free ports, detached children, run records, stop.

Children start in their own session (so their process group id is their pid) with output
appended to a log file under the state directory. A JSON run record beside the log keeps
the pid and its creation time, so another process (``meshkit local down``) can find and
stop exactly that process later, and a recycled pid is never mistaken for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from meshkit.errors import ServiceError

# Popen handles of the children this process started, so they are reaped (no zombies)
# and never garbage-collected while still running.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class RunRecord:
    """What a later process needs to find, address and stop a running service."""

    service: str
    pid: int | None
    create_time: float | None
    address: str
    log: str
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        """Write the record atomically."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> RunRecord | None:
        """Read a record; ``None`` when absent or unreadable."""
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def process_create_time(pid: int) -> float | None:
    """Creation time of a live, non-zombie process, else ``None``."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(proc.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_alive(pid: int | None, create_time: float | None) -> bool:
    """Whether the recorded process still runs (same pid *and* same creation time)."""
    if pid is None:
        return False
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(pid, None)
        return False
    now = process_create_time(pid)
    if now is None:
        return False
    return create_time is None or abs(now - create_time) < 1.0


def spawn(
    command: Sequence[str],
    *,
    log: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> tuple[int, float]:
    """Start a detached child in its own session, output appended to ``log``.

    Returns the pid and its creation time.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with log.open("ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServiceError(f"cannot run {command[0]}: {exc}") from exc
    _CHILDREN[proc.pid] = proc
    created = process_create_time(proc.pid)
    return proc.pid, created if created is not None else time.time()


def terminate(pid: int, create_time: float | None, *, grace: float = 5.0) -> None:
    """Stop a recorded process and its whole process group: SIGTERM, then SIGKILL."""
    if not is_alive(pid, create_time):
        _reap(pid)
        return
    _signal_group(pid, signal.SIGTERM)
    if not wait_for(lambda: not is_alive(pid, create_time), grace):
        _signal_group(pid, signal.SIGKILL)
        wait_for(lambda: not is_alive(pid, create_time), grace)
    _reap(pid)
    if is_alive(pid, create_time):
        raise ServiceError(f"process {pid} did not stop after SIGKILL")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    # Only signal the group when the process leads it (we started it with its own session);
    # never the group of whoever called us.
    target_group = pgid == pid and pgid != os.getpgid(0)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if target_group:
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def log_tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
