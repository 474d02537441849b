"""Reading a process's ``/metrics``, ``/healthz`` and ``/readyz`` as a scraper would."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (name, sorted labels) → value."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:  # fmt: skip
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        v for (n, ls), v in samples.items()
        if n == name and all(dict(ls).get(k) == w for k, w in labels.items())
    )  # fmt: skip


def probe(port: int, path: str) -> tuple[int, Any]:
    r = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    return r.status_code, r.json()


def wait_for(what: Callable[[], bool], timeout: float, why: Callable[[], str]) -> None:
    """Until ``what()`` holds (a connection refused counts as not yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if what():
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, why()
        time.sleep(0.1)
