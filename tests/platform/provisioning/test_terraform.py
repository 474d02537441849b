"""Terraform export of the repo's domains: parses, conforms to the providers' documented
resource arguments, and protects every resource that holds data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from meshkit.contracts.exporters.kafka import kafka_topic_config
from meshkit_platform.provisioning.desired import load_domains
from meshkit_platform.provisioning.terraform import terraform_files, write_terraform

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS: dict[str, Any] = orjson.loads(
    (Path(__file__).with_name("terraform_provider_schemas.json")).read_bytes()
)
META = {"lifecycle", "depends_on", "count", "for_each", "provider"}
MEMBER = """domain: club
name: member
version: 1.0.0
status: active
description: "Members of the club."
owner: {team: "t", contact: "t@example.com"}
fields:
  - {name: member_id, type: string, required: true}
  - {name: tier, type: string, required: true}
  - {name: joined_at, type: timestamp, required: true}
primary_key: [member_id]
access: {readers: [analysts]}
ports:
  outputs:
    - kind: warehouse_table
      partitioning: {field: joined_at, granularity: day}
      clustering: [tier]
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    club = tmp_path_factory.mktemp("club") / "club" / "contracts"
    club.mkdir(parents=True)
    (club / "member.yaml").write_text(MEMBER)
    contracts = load_domains(ROOT / "domains") + load_domains(club.parent.parent)
    grants = {"kafka_topic": {"orders.order.v1": ["analytics"]},
              "warehouse_table": {"customers.customer.v1": ["analytics"]},
              "search_index": {"catalog.product.v1": ["support"]}}  # fmt: skip
    out = tmp_path_factory.mktemp("tf")
    written = write_terraform(terraform_files(contracts, grants), out)
    assert sorted(p.name for p in written) == ["bigquery.tf.json", "kafka.tf.json",
                                               "search.tf.json"]  # fmt: skip
    return {p.name: orjson.loads(p.read_bytes()) for p in written}


def resources(exported: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (kind, name, body)
        for doc in exported.values()
        for kind, named in doc["resource"].items()
        for name, body in named.items()
    ]


def problems(kind: str, body: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    out = [f"{where}: missing {a}" for a in schema["required"] if a not in body]
    known = set(schema["required"]) | set(schema["optional"]) | META
    out += [f"{where}: unknown argument {a}" for a in body if a not in known]
    for block, sub in schema.get("blocks", {}).items():
        values = body.get(block)
        for i, item in enumerate(values if isinstance(values, list) else [values] * bool(values)):
            out += problems(kind, item, {**sub, "blocks": {}}, f"{where}.{block}[{i}]")
    for path, allowed in schema.get("enums", {}).items():
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and value not in allowed:
            out.append(f"{where}: {path}={value!r} is not one of {allowed}")
    return out


def test_every_resource_conforms_to_its_providers_documented_arguments(
    exported: dict[str, dict[str, Any]],
) -> None:
    found = resources(exported)
    kinds = {kind for kind, _, _ in found}
    assert kinds == {k for k in SCHEMAS if not k.startswith("_")}, kinds
    bad = [p for kind, name, body in found for p in problems(kind, body, SCHEMAS[kind],
                                                              f"{kind}.{name}")]  # fmt: skip
    assert bad == []
    for doc in exported.values():
        (provider,) = doc["terraform"]["required_providers"]
        assert all(kind.startswith(provider + "_") for kind in doc["resource"])


def test_deletion_protection_on_every_resource_that_holds_data(
    exported: dict[str, dict[str, Any]],
) -> None:
    found = resources(exported)
    for kind, name, body in found:
        if kind in ("google_bigquery_table", "elasticstack_elasticsearch_index"):
            assert body["deletion_protection"] is True, name
        if kind in ("kafka_topic", "google_bigquery_dataset"):
            assert body["lifecycle"] == {"prevent_destroy": True}, name
        if kind == "google_bigquery_dataset":
            assert body["delete_contents_on_destroy"] is False, name


def test_the_export_carries_what_the_contracts_and_grants_ask_for(
    exported: dict[str, dict[str, Any]],
) -> None:
    bq = exported["bigquery.tf.json"]["resource"]
    table = bq["google_bigquery_table"]["customers_customer_v1"]
    columns = {f["name"]: f for f in orjson.loads(table["schema"])}
    assert columns["_meshkit_pos"] == {"name": "_meshkit_pos", "type": "INT64",
                                       "mode": "REQUIRED"}  # fmt: skip
    assert table["labels"] == {"meshkit": "managed"}
    assert table["dataset_id"] == "${google_bigquery_dataset.customers.dataset_id}"
    member = bq["google_bigquery_table"]["club_member_v1"]
    assert member["time_partitioning"] == {"type": "DAY", "field": "joined_at"}
    assert member["clustering"] == ["tier"]
    assert member["description"] == "Members of the club."
    bindings = sorted(
        (b["table_id"], b["member"], b["role"])
        for b in bq["google_bigquery_table_iam_member"].values()
    )  # fmt: skip
    assert bindings == [
        ("${google_bigquery_table.club_member_v1.table_id}",
         "group:meshkit_reader_analysts@${var.reader_domain}", "roles/bigquery.dataViewer"),
        ("${google_bigquery_table.customers_customer_v1.table_id}",
         "group:meshkit_reader_analytics@${var.reader_domain}", "roles/bigquery.dataViewer"),
    ]  # fmt: skip

    kafka = exported["kafka.tf.json"]["resource"]
    (orders,) = [dc for dc in load_domains(ROOT / "domains")
                 if dc.contract.address == "orders.order.v1"]  # fmt: skip
    topic = kafka["kafka_topic"]["orders_order_v1"]
    assert topic["name"] == "orders.order.v1"
    assert topic["config"] == {k: str(v) for k, v in
                               kafka_topic_config(orders.contract)["config"].items()}  # fmt: skip
    assert topic["partitions"] == kafka_topic_config(orders.contract)["partitions"]
    assert "orders_order_v1_deadletter" in kafka["kafka_topic"]
    granted = sorted(
        (a["resource_type"], a["resource_pattern_type_filter"], a["acl_operation"],
         a["resource_name"])
        for a in kafka["kafka_acl"].values()
        if a["acl_principal"] == "User:meshkit_reader_analytics"
    )  # fmt: skip
    assert granted == [
        ("Group", "Prefixed", "Read", "analytics."),
        ("Topic", "Literal", "Describe", "${kafka_topic.orders_order_v1.name}"),
        ("Topic", "Literal", "Read", "${kafka_topic.orders_order_v1.name}"),
    ]

    indices = exported["search.tf.json"]["resource"]["elasticstack_elasticsearch_index"]
    aliased = {i["name"]: [a["name"] for a in i.get("alias", [])] for i in indices.values()}
    assert aliased["catalog.product.v1"] == ["catalog.product"]
    mapping = orjson.loads(indices["catalog_product_v1"]["mappings"])
    assert mapping["_meta"] == {"meshkit": {"product": "catalog.product.v1"}}
    assert mapping["properties"]
    roles = exported["search.tf.json"]["resource"]["elasticstack_elasticsearch_security_role"]
    role = roles["meshkit_reader_support_catalog_product_v1"]
    assert role["name"] == "meshkit_reader_support.catalog.product.v1"
    assert role["indices"] == [{
        "names": ["catalog.product"],
        "privileges": ["read", "view_index_metadata"],
        "field_security": {"grant": sorted(mapping["properties"])},
    }]  # fmt: skip
    assert orjson.loads(role["metadata"]) == {"meshkit": {"product": "catalog.product.v1"}}


def test_the_check_refuses_an_unknown_argument_a_missing_one_and_a_bad_value() -> None:
    table = SCHEMAS["google_bigquery_table"]
    body = {"table_id": "t", "deletion_protected": True, "time_partitioning": {"type": "WEEK"}}
    assert problems("google_bigquery_table", body, table, "t") == [
        "t: missing dataset_id",
        "t: unknown argument deletion_protected",
        "t: time_partitioning.type='WEEK' is not one of ['DAY', 'HOUR', 'MONTH', 'YEAR']",
    ]
    index = SCHEMAS["elasticstack_elasticsearch_index"]
    assert problems("i", {"name": "x", "alias": [{"index": "y"}]}, index, "i") == [
        "i.alias[0]: missing name",
        "i.alias[0]: unknown argument index",
    ]
