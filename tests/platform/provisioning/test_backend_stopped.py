"""A backend that stops in the middle of an apply: apply stops at its first change with
a report of what was and was not applied, and a new plan, once it is back, finishes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from meshkit.local.search import SearchServer
from meshkit.local.settings import LocalSettings
from meshkit_platform.provisioning import Targets, apply_plan, load_domains, make_plan
from meshkit_platform.provisioning.errors import ApplyError
from meshkit_platform.provisioning.kafka import KafkaBackend
from meshkit_platform.provisioning.plan import Backend
from meshkit_platform.provisioning.resources import Change, Resource

pytestmark = [pytest.mark.services, pytest.mark.slow]


class StopsSearchAfterTopics(KafkaBackend):
    """The real Kafka backend; once its topics are created, the search server is stopped
    (apply goes Kafka, warehouse, search, views)."""

    def __init__(self, bootstrap: str, server: SearchServer) -> None:
        super().__init__(bootstrap)
        self.server = server

    def apply_batch(
        self, changes: Sequence[Change], desired: Mapping[tuple[str, str, str], Resource]
    ) -> list[Exception | None]:
        out = super().apply_batch(changes, desired)
        self.server.stop()
        return out


@pytest.fixture
def own_search(tmp_path: Path) -> Iterator[SearchServer]:
    """A search server of this test's own (the session's one is shared)."""
    server = SearchServer(LocalSettings(state_dir=tmp_path / "stack"))
    server.start()
    yield server
    server.stop()


def test_search_stopped_mid_apply_is_reported_and_a_new_plan_finishes(
    domain: str, write_contract: Any, domains_dir: Path, targets: Targets,
    own_search: SearchServer,
) -> None:  # fmt: skip
    addr = f"{domain}.item.v1"
    write_contract(domain, "item")

    def opened(kafka: KafkaBackend) -> list[Backend]:
        url = own_search.address()
        assert url is not None
        rest = Targets(warehouse=targets.warehouse, search=url, postgres=targets.postgres)
        return [kafka, *rest.open()]

    backends = opened(StopsSearchAfterTopics(str(targets.kafka), own_search))
    plan = make_plan(load_domains(domains_dir), backends)
    with pytest.raises(ApplyError) as stopped:
        apply_plan(plan, backends)
    assert f"create kafka topic {addr}" in stopped.value.applied
    assert f"create warehouse table {domain}.item_v1" in stopped.value.applied
    assert stopped.value.pending[0] == f"create search index {addr}"
    assert f"create view table public.{addr}" in stopped.value.pending
    assert "run plan again" in str(stopped.value)
    for b in backends:
        b.close()

    own_search.start()  # back, empty (it keeps indices in memory)
    backends = opened(KafkaBackend(str(targets.kafka)))
    again = make_plan(load_domains(domains_dir), backends)
    assert {(c.backend, c.action) for c in again.pending} == {("search", "create"),
                                                             ("view", "create")}  # fmt: skip
    apply_plan(again, backends)
    assert make_plan(load_domains(domains_dir), backends).pending == []
    for b in backends:
        b.close()
