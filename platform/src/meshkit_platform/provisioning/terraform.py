"""Terraform export: the desired state of the cloud resources as Terraform JSON.

``terraform_files(contracts, grants)`` turns the same desired state ``plan`` compares
(``meshkit_platform.provisioning.desired.desired_resources``) into three ``.tf.json``
documents, one per provider, for teams that run Terraform instead of ``apply``:

- ``bigquery.tf.json`` (``hashicorp/google``): a ``google_bigquery_dataset`` per domain,
  a ``google_bigquery_table`` per warehouse port (the writers' schema with
  ``_meshkit_pos``, time partitioning, clustering, description, meshkit's labels,
  ``deletion_protection = true``) and a ``google_bigquery_table_iam_member`` per reader
  group (``roles/bigquery.dataViewer`` for ``group:meshkit_reader_<group>@<domain>``);
- ``kafka.tf.json`` (``Mongey/kafka``): a ``kafka_topic`` per product topic and dead
  letter topic (partitions, config, replication factor) and, per reader group, the
  ``kafka_acl`` entries ``apply`` creates: READ and DESCRIBE on the topic (literal) and
  READ on consumer groups prefixed ``<group>.``;
- ``search.tf.json`` (``elastic/elasticstack``): an ``elasticstack_elasticsearch_index``
  per product major (the mapping with its ``_meta`` marker, the product alias on the
  newest major, ``deletion_protection = true``) and an
  ``elasticstack_elasticsearch_security_role`` per reader group's read role (``read``
  and ``view_index_metadata`` on the alias, field-level security on the mapped fields).

The project and the reader groups' e-mail domain are Terraform variables
(``var.project``, ``var.reader_domain``), so the files hold no environment. Resources that
hold data and whose provider has no ``deletion_protection`` argument (topics, datasets)
carry ``lifecycle { prevent_destroy = true }``. Serving views, CDC and the local DuckDB
warehouse are not cloud resources and are not exported. ``terraform validate`` against
the providers is what checks the files in a team's pipeline; the export itself writes
only the arguments the providers document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from meshkit.contracts.exporters.bigquery import bigquery_schema, bigquery_table_options
from meshkit.contracts.exporters.elasticsearch import elasticsearch_mapping
from meshkit.ports.base import POSITION_COLUMN
from meshkit_platform.provisioning.bigquery import MARKER, READER_ROLE
from meshkit_platform.provisioning.desired import DomainContract, desired_resources
from meshkit_platform.provisioning.resources import Resource
from meshkit_platform.provisioning.search import META_KEY

PROVIDERS: dict[str, dict[str, str]] = {
    "google": {"source": "hashicorp/google"},
    "kafka": {"source": "Mongey/kafka"},
    "elasticstack": {"source": "elastic/elasticstack"},
}
DEFAULT_REPLICATION_FACTOR = 3
_PROTECT = {"prevent_destroy": True}
_LABEL = re.compile(r"[^A-Za-z0-9_]")


def label(name: str) -> str:
    """A Terraform resource label for a meshkit name: ``orders.order.v1`` ->
    ``orders_order_v1`` (labels allow letters, digits, ``_`` and ``-``)."""
    out = _LABEL.sub("_", name)
    return out if out[:1].isalpha() or out[:1] == "_" else "_" + out


def _document(provider: str, variables: Sequence[str], resources: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "terraform": {"required_providers": {provider: PROVIDERS[provider]}},
    }
    if variables:
        doc["variable"] = {v: {"type": "string"} for v in variables}
    doc["resource"] = {kind: dict(sorted(rs.items())) for kind, rs in sorted(resources.items())}
    return doc


def _bigquery(resources: Sequence[Resource], by_address: Mapping[str, DomainContract]
              ) -> dict[str, Any]:  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    datasets = out.setdefault("google_bigquery_dataset", {})
    tables = out.setdefault("google_bigquery_table", {})
    members = out.setdefault("google_bigquery_table_iam_member", {})
    for r in resources:
        if r.backend != "bigquery":
            continue
        if r.kind == "dataset":
            datasets[label(r.name)] = {
                "project": "${var.project}",
                "dataset_id": r.name,
                "labels": dict(MARKER),
                "delete_contents_on_destroy": False,
                "lifecycle": dict(_PROTECT),
            }
        elif r.kind == "table" and r.address is not None:
            contract = by_address[r.address].contract
            dataset, table = r.name.split(".", 1)
            schema = bigquery_schema(contract, taxonomy=None)
            schema.append({"name": POSITION_COLUMN, "type": "INT64", "mode": "REQUIRED"})
            options = bigquery_table_options(contract)
            body: dict[str, Any] = {
                "project": "${var.project}",
                "dataset_id": f"${{google_bigquery_dataset.{label(dataset)}.dataset_id}}",
                "table_id": table,
                "schema": orjson.dumps(schema).decode(),
                "labels": dict(MARKER),
                "deletion_protection": True,
            }
            if "timePartitioning" in options:
                tp = options["timePartitioning"]
                body["time_partitioning"] = {"type": tp["type"], "field": tp["field"]}
            if "clustering" in options:
                body["clustering"] = list(options["clustering"]["fields"])
            if contract.description:
                body["description"] = contract.description
            tables[label(r.name)] = body
        elif r.kind == "iam":
            name, role = r.name.split(" ", 1)
            dataset, table = name.split(".", 1)
            members[label(f"{name}_{role}")] = {
                "project": "${var.project}",
                "dataset_id": dataset,
                "table_id": f"${{google_bigquery_table.{label(name)}.table_id}}",
                "role": READER_ROLE,
                "member": f"group:{role}@${{var.reader_domain}}",
            }
    return _document("google", ("project", "reader_domain"), out)


def _kafka(resources: Sequence[Resource], replication_factor: int) -> dict[str, Any]:
    topics: dict[str, Any] = {}
    acls: dict[str, Any] = {}
    for r in resources:
        if r.backend != "kafka":
            continue
        if r.kind == "topic":
            topics[label(r.name)] = {
                "name": r.name,
                "partitions": r.attrs["partitions"],
                "replication_factor": replication_factor,
                "config": {k: str(v) for k, v in sorted(r.attrs["config"].items())},
                "lifecycle": dict(_PROTECT),
            }
        elif r.kind == "acl":
            topic, principal = r.name.split(" ", 1)
            ref = f"${{kafka_topic.{label(topic)}.name}}"
            base = {"acl_principal": principal, "acl_host": "*", "acl_permission_type": "Allow"}
            for op in r.attrs["operations"]:
                acls[label(f"{topic}_{principal}_{op.lower()}")] = {
                    "resource_name": ref,
                    "resource_type": "Topic",
                    "resource_pattern_type_filter": "Literal",
                    "acl_operation": op.capitalize(),
                    **base,
                }
            acls[label(f"{topic}_{principal}_group")] = {
                "resource_name": r.attrs["consumer_group_prefix"],
                "resource_type": "Group",
                "resource_pattern_type_filter": "Prefixed",
                "acl_operation": "Read",
                **base,
            }
    return _document("kafka", (), {"kafka_topic": topics, "kafka_acl": acls})


def _search(resources: Sequence[Resource], by_address: Mapping[str, DomainContract]
            ) -> dict[str, Any]:  # fmt: skip
    aliases = {
        r.attrs["index"]: r.name for r in resources if r.backend == "search" and r.kind == "alias"
    }
    indices: dict[str, Any] = {}
    for r in resources:
        if r.backend != "search" or r.kind != "index" or r.address is None:
            continue
        contract = by_address[r.address].contract
        mapping = {**elasticsearch_mapping(contract),
                   "_meta": {META_KEY: {"product": contract.address}}}  # fmt: skip
        body: dict[str, Any] = {
            "name": r.name,
            "mappings": orjson.dumps(mapping, option=orjson.OPT_SORT_KEYS).decode(),
            "deletion_protection": True,
        }
        if r.name in aliases:
            body["alias"] = [{"name": aliases[r.name]}]
        indices[label(r.name)] = body
    roles: dict[str, Any] = {}
    for r in resources:
        if r.backend == "search" and r.kind == "role" and r.address is not None:
            roles[label(r.name)] = {
                "name": r.name,
                "indices": [{
                    "names": list(r.attrs["indices"]),
                    "privileges": list(r.attrs["privileges"]),
                    "field_security": {"grant": list(r.attrs["fields"])},
                }],
                "metadata": orjson.dumps({META_KEY: {"product": r.address}}).decode(),
            }  # fmt: skip
    return _document(
        "elasticstack",
        (),
        {"elasticstack_elasticsearch_index": indices,
         "elasticstack_elasticsearch_security_role": roles},
    )  # fmt: skip


def terraform_files(
    contracts: list[DomainContract],
    reader_grants: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    *,
    replication_factor: int = DEFAULT_REPLICATION_FACTOR,
) -> dict[str, dict[str, Any]]:
    """``file name -> Terraform JSON document`` of the cloud resources the contracts and
    the reader groups granted other ports (as ``desired_resources`` takes them) ask for."""
    resources = desired_resources(contracts, reader_grants=reader_grants)
    by_address = {dc.contract.address: dc for dc in contracts}
    return {
        "bigquery.tf.json": _bigquery(resources, by_address),
        "kafka.tf.json": _kafka(resources, replication_factor),
        "search.tf.json": _search(resources, by_address),
    }


def write_terraform(files: Mapping[str, dict[str, Any]], directory: Path) -> list[Path]:
    """Write each document to ``directory`` (created if missing); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in sorted(files.items()):
        path = directory / name
        path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        written.append(path)
    return written


__all__ = ["PROVIDERS", "label", "terraform_files", "write_terraform"]
