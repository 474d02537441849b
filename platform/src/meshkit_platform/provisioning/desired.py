"""Desired state: every domain's contracts, read from domain repos on disk, as resources.

``load_domains(root)`` reads ``<root>/<domain>/contracts/*.yaml`` with the SDK's contract
loader (``meshkit.contracts.loader.read_contract``) and refuses, naming the files:

- a contract that does not load (its problems, with file, line and field);
- a contract whose ``domain`` is not the directory it lives in (it would claim another
  domain's topic, table and index);
- two contracts with the same address (two files claiming the same topic);
- a reader group in ``access.readers`` that cannot name a PostgreSQL role: its role
  ``meshkit_reader_<group>`` must be lowercase letters, digits and ``_`` within
  PostgreSQL's 63 characters (``READER_GROUP``, the registry's rule for a grantee), or
  PostgreSQL would fold or cut the name and every plan would show the grant as drift.

``desired_resources(contracts)`` turns them into ``Resource`` values (see
``meshkit_platform.provisioning.resources``), with every schema taken from the SDK's
exporters (``meshkit.contracts.exporters``) and the writers' own type mappings, so
provisioning creates exactly what the output-port writers expect:

- a contract with a ``kafka_topic`` port: its topic (partitions, ``cleanup.policy``,
  ``retention.ms`` from ``kafka_topic_config``; ``compact`` for a keyed product whose port
  asks for compaction) and its dead-letter topic ``<address>.deadletter`` (one
  partition, ``delete``, seven days);
- ``warehouse_table``: the domain's schema and the table ``<product>_v<major>`` with the
  DuckDB columns of ``duckdb_columns`` plus the writers' ``_meshkit_pos``; and for
  BigQuery the domain's dataset, the table (columns, partitioning, clustering,
  description: ``meshkit_platform.provisioning.bigquery.table_attrs``), the policy tags
  of its personal columns, and per reader group (``access.readers`` and the registry's
  approved warehouse grants) a ``roles/bigquery.dataViewer`` binding on the table;
- ``search_index``: the index ``<address>`` with the ``elasticsearch_mapping``
  properties, the alias ``<domain>.<product>`` on the newest major's index, and per
  reader group (``readers`` and granted) the read role ``meshkit_reader_<group>.<address>``
  on the alias, limited to the mapped fields;
- for each group in the contract's ``access.readers`` and each group the registry granted
  the topic (``reader_grants``), with a ``kafka_topic`` port: an ACL resource
  ``<topic> User:meshkit_reader_<group>`` (``acl_attrs``: ``READ`` and ``DESCRIBE`` on
  the topic, ``READ`` on consumer groups prefixed ``<group>.``);
- CDC input ports: per domain and service database, the publication of the captured
  tables and the capture's replication slot, ``<database>.meshkit_<domain>`` (see
  ``meshkit_platform.provisioning.cdc``);
- ``serving_view``: the PostgreSQL table ``"<address>"`` with the serving-view writer's
  column types, and for each group in the contract's ``access.readers`` a role
  ``meshkit_reader_<group>`` granted ``SELECT`` on exactly the published columns (not
  the writer's ``_meshkit_pos``); approved access grants from the registry
  (``view_grants``: ``address -> role -> columns``, see
  ``meshkit_platform.provisioning.grants``) add their reader group's columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshkit.contracts import Contract
from meshkit.contracts.exporters.duckdb import duckdb_columns, duckdb_table_name
from meshkit.contracts.exporters.elasticsearch import elasticsearch_mapping
from meshkit.contracts.exporters.kafka import kafka_topic_config
from meshkit.contracts.exporters.published import published_fields
from meshkit.contracts.loader import read_contract
from meshkit.contracts.ports import CdcInput, KafkaTopic, SearchIndex, ServingView, WarehouseTable
from meshkit.ports.base import POSITION_COLUMN
from meshkit.ports.view import postgres_type
from meshkit_platform.provisioning.bigquery import READER_ROLE, policy_tag_categories, table_attrs
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.resources import Resource

DEAD_LETTER_SUFFIX = ".deadletter"
DEAD_LETTER_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}
VIEW_SCHEMA = "public"
READER_GROUP = re.compile(r"[a-z][a-z0-9_]{0,47}")
"""A reader group's name: its role ``meshkit_reader_<group>`` fits PostgreSQL's 63 characters."""


@dataclass(frozen=True)
class DomainContract:
    """A contract and where it came from (the plan carries the text, so apply needs no disk)."""

    contract: Contract
    file: str
    text: str


def reader_role(group: str) -> str:
    """The PostgreSQL role of a reader group: ``meshkit_reader_<group>``."""
    return f"meshkit_reader_{group}"


def acl_name(topic: str, group: str) -> str:
    """A Kafka ACL resource's name: ``<topic> User:meshkit_reader_<group>``."""
    return f"{topic} User:{reader_role(group)}"


def acl_attrs(group: str) -> dict[str, Any]:
    """What a reader group's principal may do: read and describe the topic, and read
    (join) consumer groups whose id starts with ``<group>.``."""
    return {"operations": ["DESCRIBE", "READ"], "consumer_group_prefix": f"{group}."}


def reader_group_problem(group: str) -> str | None:
    """Why ``group`` cannot be a reader group (``None`` when it can); never echoes it whole."""
    if READER_GROUP.fullmatch(group):
        return None
    shown = group if len(group) <= 60 else group[:57] + "..."
    return (
        f"reader group {shown!r} cannot name a database role; expected lowercase letters, "
        "digits and _, starting with a letter, at most 48 characters (role "
        "meshkit_reader_<group>)"
    )


def load_domains(root: str | Path) -> list[DomainContract]:
    """Every contract under ``<root>/<domain>/contracts/``; ``ProvisioningError`` naming
    each file that is wrong (see the module docstring)."""
    base = Path(root)
    if not base.is_dir():
        raise ProvisioningError(f"{base}: not a directory of domain repos (<domain>/contracts/)")
    found: list[DomainContract] = []
    problems: list[str] = []
    for path in sorted(base.glob("*/contracts/*.yaml")):
        contract, errors = read_contract(path)
        if contract is None:
            problems.extend(p.format() for p in errors)
            continue
        domain_dir = path.parent.parent.name
        if contract.domain != domain_dir:
            problems.append(
                f"{path}: domain {contract.domain!r} in the repo of domain {domain_dir!r}; "
                f"expected domain: {domain_dir}"
            )
            continue
        bad = [reader_group_problem(g) for g in contract.access.readers]
        problems.extend(f"{path}: access.readers: {why}" for why in bad if why)
        found.append(DomainContract(contract, str(path), path.read_text(encoding="utf-8")))
    problems.extend(_claims(found))
    if problems:
        raise ProvisioningError("invalid desired state:\n" + "\n".join(problems))
    return found


def _claims(contracts: list[DomainContract]) -> list[str]:
    seen: dict[str, str] = {}
    out: list[str] = []
    for dc in contracts:
        address = dc.contract.address
        if address in seen:
            out.append(
                f"{dc.file}: product {address} (topic {address}) is claimed by {seen[address]} "
                "too; expected one contract per product major"
            )
        else:
            seen[address] = dc.file
    return out


def _has(contract: Contract, kind: type[Any]) -> bool:
    return any(isinstance(p, kind) for p in contract.ports.outputs)


def desired_resources(
    contracts: list[DomainContract],
    view_grants: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    reader_grants: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> list[Resource]:
    """The resources every contract asks for, with the access grants: column grants on
    serving views (``view_grants``: address -> role -> columns) and the reader groups
    granted other ports (``reader_grants``: port kind -> address -> groups); see the
    module docstring."""
    by_port = reader_grants or {}
    out: list[Resource] = []
    newest: dict[str, DomainContract] = {}
    schemas: dict[str, str] = {}
    for dc in contracts:
        c, src = dc.contract, dc.file
        if _has(c, KafkaTopic):
            spec = kafka_topic_config(c)
            topic_attrs = {"partitions": spec["partitions"], "config": dict(spec["config"])}
            out.append(Resource("kafka", "topic", spec["topic"], topic_attrs, c.address, src))
            dead = {"partitions": 1, "config": dict(DEAD_LETTER_CONFIG)}
            out.append(
                Resource("kafka", "topic", c.address + DEAD_LETTER_SUFFIX, dead, c.address, src)
            )
            out.extend(
                Resource("kafka", "acl", acl_name(spec["topic"], group), acl_attrs(group),
                         c.address, src, holds_data=False)
                for group in _readers(c, by_port.get("kafka_topic", {}))
            )  # fmt: skip
        if _has(c, WarehouseTable):
            out.extend(_bigquery_resources(dc, _readers(c, by_port.get("warehouse_table", {}))))
            schema, table = duckdb_table_name(c)
            schemas.setdefault(schema, src)
            columns = {n: f"{t}{' NOT NULL' if nn else ''}" for n, t, nn in duckdb_columns(c)}
            columns[POSITION_COLUMN] = "BIGINT NOT NULL"
            out.append(
                Resource("warehouse", "table", f"{schema}.{table}", {"columns": columns},
                         c.address, src)
            )  # fmt: skip
        if _has(c, SearchIndex):
            mapping = elasticsearch_mapping(c)
            out.append(
                Resource("search", "index", c.address, {"properties": mapping["properties"]},
                         c.address, src)
            )  # fmt: skip
            if c.id not in newest or newest[c.id].contract.major < c.major:
                newest[c.id] = dc
            role_attrs = {"indices": [c.id], "privileges": ["read", "view_index_metadata"],
                          "fields": sorted(mapping["properties"])}  # fmt: skip
            out.extend(
                Resource("search", "role", f"{reader_role(g)}.{c.address}", role_attrs,
                         c.address, src, holds_data=False)
                for g in _readers(c, by_port.get("search_index", {}))
            )  # fmt: skip
        if _has(c, ServingView):
            columns = {
                f.name: postgres_type(f) + ("" if not f.required else " NOT NULL")
                for f in published_fields(c)
            }
            granted = sorted(f.name for f in published_fields(c))
            grants = {reader_role(group): granted for group in c.access.readers}
            for role, cols in (view_grants or {}).get(c.address, {}).items():
                grants[role] = sorted(set(grants.get(role, [])) | set(cols))
            columns[POSITION_COLUMN] = "bigint NOT NULL"
            attrs = {"columns": columns, "grants": grants}
            out.append(
                Resource("view", "table", f"{VIEW_SCHEMA}.{c.address}", attrs, c.address, src)
            )
    out.extend(_cdc_resources(contracts))
    out.extend(
        Resource(backend, kind, schema, {}, None, src, holds_data=False)
        for schema, src in schemas.items()
        for backend, kind in (("warehouse", "schema"), ("bigquery", "dataset"))
    )
    out.extend(
        Resource("search", "alias", product, {"index": dc.contract.address},
                 dc.contract.address, dc.file, holds_data=False)
        for product, dc in newest.items()
    )  # fmt: skip
    return out


def _readers(contract: Contract, granted: Mapping[str, Sequence[str]]) -> list[str]:
    """The contract's reader groups and those the registry granted this port, sorted."""
    return sorted(set(contract.access.readers) | set(granted.get(contract.address, ())))


def _bigquery_resources(dc: DomainContract, groups: Sequence[str]) -> list[Resource]:
    """The BigQuery table, policy tags and reader bindings of a warehouse port (the
    domain's dataset is added once per domain)."""
    c, src = dc.contract, dc.file
    port = next(p for p in c.ports.outputs if isinstance(p, WarehouseTable))
    name = port.name_in(c)
    out = [Resource("bigquery", "table", name, table_attrs(c), c.address, src)]
    tags = policy_tag_categories(c)
    if tags:
        out.append(Resource("bigquery", "policy_tags", name, {"columns": tags}, c.address, src,
                            holds_data=False))  # fmt: skip
    out.extend(
        Resource("bigquery", "iam", f"{name} {reader_role(g)}", {"role": READER_ROLE},
                 c.address, src, holds_data=False)
        for g in groups
    )  # fmt: skip
    return out


def _cdc_resources(contracts: Sequence[DomainContract]) -> list[Resource]:
    """Per domain and service database its contracts capture from: the publication of
    the tables and the capture's slot, both ``<database>.meshkit_<domain>``."""
    tables: dict[tuple[str, str], set[str]] = {}
    files: dict[tuple[str, str], list[str]] = {}
    for dc in contracts:
        for port in dc.contract.ports.inputs:
            if isinstance(port, CdcInput):
                key = (dc.contract.domain, port.database)
                tables.setdefault(key, set()).add(f"{port.db_schema}.{port.table}")
                if dc.file not in files.setdefault(key, []):
                    files[key].append(dc.file)
    out: list[Resource] = []
    for (domain, database), names in sorted(tables.items()):
        name, src = f"{database}.meshkit_{domain}", ", ".join(files[(domain, database)])
        out.append(Resource("cdc", "publication", name, {"tables": sorted(names)}, None, src,
                            holds_data=False))  # fmt: skip
        out.append(Resource("cdc", "slot", name, {"plugin": "pgoutput"}, None, src))
    return out
