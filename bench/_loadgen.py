"""The registry benchmark's load generator, run as its own process.

    python -m bench._loadgen '<json spec>'   → one JSON line on stdout

A minimal HTTP/1.1 keep-alive client on asyncio streams (an async client library
managed ~100 requests/s here, too slow to load the server). Two modes:

- ``open``: requests at a fixed rate whatever the answers (open loop); each latency is
  measured from the request's *scheduled* time, so a slow server or a late generator
  shows in the numbers instead of hiding (no coordinated omission). Per kind: p50, p99;
  a request unanswered after ``timeout`` seconds counts as an error at that latency.
- ``closed``: ``concurrency`` connections each sending its next request when the last
  was answered, for ``seconds``; requests per second.

Both report the generator's own CPU use (user + system seconds per wall second).
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from typing import Any

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _connect(host: str, port: int) -> Conn:
    return await asyncio.open_connection(host, port)


async def _get(conn: Conn, host: str, path: str, token: str) -> int:
    reader, writer = conn
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    i = lower.find(b"content-length:")
    if i >= 0:
        await reader.readexactly(int(lower[i + 15 : lower.index(b"\r\n", i)]))
    else:  # chunked
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, token = spec["host"], spec["port"], spec["token"]
    rate, seconds = float(spec["rate"]), float(spec["seconds"])
    kinds: list[tuple[str, float, list[str]]] = spec["mix"]
    rng = random.Random(20261204)
    names = [k for k, _, _ in kinds]
    weights = [w for _, w, _ in kinds]
    paths = {k: p for k, _, p in kinds}
    pool: list[Conn] = [await _connect(host, port) for _ in range(8)]
    latencies: dict[str, list[float]] = {k: [] for k in names}
    errors: dict[str, int] = dict.fromkeys(names, 0)
    loop = asyncio.get_running_loop()

    limit = float(spec.get("timeout", 10.0))

    async def one(kind: str, path: str, scheduled: float) -> None:
        conn = pool.pop() if pool else await _connect(host, port)
        try:
            status = await asyncio.wait_for(_get(conn, host, path, token), limit)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            # counted at the timeout: a request that never came back is not left out
            latencies[kind].append(max(loop.time() - scheduled, limit))
            errors[kind] += 1
            conn[1].close()
            return
        latencies[kind].append(loop.time() - scheduled)
        if status != 200:
            errors[kind] += 1
        pool.append(conn)

    n = int(rate * seconds)
    cpu0, wall0 = _cpu(), time.perf_counter()
    start = loop.time() + 0.05
    tasks = []
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        kind = rng.choices(names, weights)[0]
        tasks.append(asyncio.create_task(one(kind, rng.choice(paths[kind]), scheduled)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - wall0
    return {
        "p50_ms": {k: _pct(v, 0.50) * 1000 for k, v in latencies.items()},
        "p99_ms": {k: _pct(v, 0.99) * 1000 for k, v in latencies.items()},
        "count": {k: len(v) for k, v in latencies.items()},
        "errors": errors,
        "achieved_rate": n / wall,
        "cpu": (_cpu() - cpu0) / wall,
    }


async def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, token = spec["host"], spec["port"], spec["token"]
    seconds, paths = float(spec["seconds"]), spec["paths"]
    rng = random.Random(7)
    done = 0
    errors = 0
    cpu0, wall0 = _cpu(), time.perf_counter()
    end = wall0 + seconds

    async def worker() -> None:
        nonlocal done, errors
        conn = await _connect(host, port)
        while time.perf_counter() < end:
            if await _get(conn, host, rng.choice(paths), token) == 200:
                done += 1
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(int(spec["concurrency"]))))
    wall = time.perf_counter() - wall0
    return {"rps": done / wall, "errors": errors, "cpu": (_cpu() - cpu0) / wall}


def main() -> None:
    spec = json.loads(sys.argv[1])
    run = open_loop if spec["mode"] == "open" else closed_loop
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
