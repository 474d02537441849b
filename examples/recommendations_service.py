"""The recommendations domain as it runs in production: two processes on the demo's stack.

- its Bytewax flow (``python -m bytewax.run recommendations.flow:flow``), tailing the
  ``orders.order.v1`` and ``catalog.product.v1`` product topics through its input ports
  and keeping the serving view ``recommendations.recommendation.v1``;
- its HTTP service (``python -m recommendations.api``), one lookup in the view per request.

The demo starts both before the other domains' flows run, so the lists are built while
the orders and articles arrive; it then asks the service for one customer's list over
HTTP and waits until the list reflects every order the customer has (the condition, not
a fixed time).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from examples.mesh_job import DOMAINS

SRC = DOMAINS / "recommendations" / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Recommendations:
    """The flow and the HTTP service as child processes, logs under ``state``."""

    def __init__(self, brokers: str, serving: str, state: Path) -> None:
        self.state = state
        self.port = free_port()
        path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
        self.env = {
            **os.environ,
            "PYTHONPATH": path,
            "MESHKIT_STREAMING_BROKERS": brokers,
            "MESHKIT_STREAMING_VIEW_DSN": serving,
            "MESHKIT_VIEW_DSN": serving,
            "MESHKIT_METRICS_PORT": "off",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.url = f"http://127.0.0.1:{self.port}/customers"

    def start(self) -> None:
        commands = {
            "recommendations-flow": ["-m", "bytewax.run", "recommendations.flow:flow"],
            "recommendations-api": ["-m", "recommendations.api", "--port", str(self.port)],
        }
        self.state.mkdir(parents=True, exist_ok=True)
        for name, args in commands.items():
            with (self.state / f"{name}.log").open("wb") as log:
                self.procs[name] = subprocess.Popen(
                    [sys.executable, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
                )

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def get(self, customer: str) -> tuple[int, dict[str, Any]]:
        """``GET /customers/<id>/recommendations``: the status and the JSON body."""
        url = f"{self.url}/{customer}/recommendations"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - local
                return int(answer.status), json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), json.loads(exc.read() or b"{}")

    def wait_for(self, customer: str, orders: int, timeout: float = 60) -> dict[str, Any]:
        """The customer's list once it is built from all ``orders`` of theirs."""
        deadline = time.monotonic() + timeout
        last: tuple[int, dict[str, Any]] | None = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see {self.state / name}.log"
                    )
            try:
                last = self.get(customer)
            except (urllib.error.URLError, ConnectionError):
                last = None  # the service is still starting
            if last is not None and last[0] == 200 and last[1].get("orders") == orders:
                return last[1]
            time.sleep(0.1)
        raise RuntimeError(
            f"the recommendations of customer {customer} did not reflect their {orders} "
            f"order(s) within {timeout:.0f} s (last answer: HTTP {last[0] if last else '-'}); "
            f"see {self.state}"
        )

    def stop(self) -> None:
        """Stop both processes, as ``kill`` does, then wait for them (the flow has written
        each batch to the view before taking the next, so nothing is half done)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
