"""Domain repos on disk for the provisioning tests, and the backends of the embedded stack."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from meshkit.testing import SearchEndpoint
from meshkit_platform.provisioning import Targets
from meshkit_platform.provisioning.plan import Backend

WriteContract = Callable[..., Path]


def contract_yaml(
    domain: str,
    name: str,
    *,
    major: int = 1,
    extra_fields: tuple[str, ...] = (),
    partitions: int = 2,
    retention: str = "7d",
    compaction: bool = True,
    readers: tuple[str, ...] = (),
) -> str:
    """A contract with all four output ports."""
    fields = "\n".join(f"  - {{name: {f}, type: string}}" for f in extra_fields)
    compact = str(compaction).lower()
    return f"""domain: {domain}
name: {name}
version: {major}.0.0
status: active
description: "Test product {name}."
owner: {{team: "t", contact: "t@example.com"}}
fields:
  - {{name: id, type: string, required: true}}
  - {{name: amount, type: "decimal(12,2)", required: true}}
  - {{name: note, type: string}}
{fields}
primary_key: [id]
access: {{readers: [{", ".join(readers)}]}}
ports:
  outputs:
    - {{kind: kafka_topic, partitions: {partitions}, retention: {retention}, compaction: {compact}}}
    - {{kind: warehouse_table}}
    - {{kind: search_index, searchable: [note]}}
    - {{kind: serving_view}}
"""


@pytest.fixture
def domains_dir(tmp_path: Path) -> Path:
    root = tmp_path / "domains"
    root.mkdir()
    return root


@pytest.fixture
def domain() -> str:
    """A domain name of its own: the broker and search server are shared by the session."""
    return f"d{uuid.uuid4().hex[:10]}"


@pytest.fixture
def write_contract(domains_dir: Path) -> WriteContract:
    def write(domain: str, name: str, *, file: str | None = None, **kwargs: object) -> Path:
        path = domains_dir / domain / "contracts" / (file or f"{name}.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(contract_yaml(domain, name, **kwargs))  # type: ignore[arg-type]
        return path

    return write


@pytest.fixture
def targets(
    kafka_broker: str, tmp_path: Path, search_server: SearchEndpoint, postgres_database: str
) -> Targets:
    return Targets(
        kafka=kafka_broker,
        warehouse=str(tmp_path / "warehouse.duckdb"),
        search=search_server.url,
        postgres=postgres_database,
    )


@pytest.fixture
def backends(targets: Targets) -> Iterator[list[Backend]]:
    opened = targets.open()
    yield opened
    for b in opened:
        b.close()
