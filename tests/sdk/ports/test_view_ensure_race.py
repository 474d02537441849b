"""Several sink partitions (threads, processes of a cluster) ensure the same serving view
at once: PostgreSQL's CREATE ... IF NOT EXISTS is not safe against itself, so without a
lock some of them fail with a duplicate-key error on the catalog."""

from __future__ import annotations

import threading

import pytest

from meshkit.contracts import Contract
from meshkit.ports import ServingViewWriter
from tests.sdk.streaming.flowkit import unique_contract

pytestmark = pytest.mark.services


def _ensure_at_once(dsn: str, contract: Contract, n: int) -> list[BaseException]:
    writers = [ServingViewWriter(dsn) for _ in range(n)]
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def ensure(writer: ServingViewWriter) -> None:
        start.wait()
        try:
            writer.ensure(contract)
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=ensure, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.close()
    return errors


def test_concurrent_ensure_of_a_new_view_succeeds_everywhere(postgres_database: str) -> None:
    for _ in range(3):  # a race: a few fresh tables
        assert _ensure_at_once(postgres_database, unique_contract(), 8) == []
