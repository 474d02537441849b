"""Our events against Debezium's documented examples, field by field; the generated
Debezium connector configuration against its documented required options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meshkit.cdc.config import build_config
from meshkit.cdc.connector import connect_config, server_properties
from meshkit.cdc.debezium import ValueOptions, converter
from meshkit.cdc.envelope import topic_name
from tests.sdk.cdc.helpers import Env, read_topic, running

FIXTURES = Path(__file__).parents[2] / "fixtures" / "cdc"
DOC = json.loads((FIXTURES / "debezium_doc_events.json").read_text())
OPTIONS = json.loads((FIXTURES / "debezium_connector_options.json").read_text())

# Where we knowingly differ from the documentation's examples, and why:
# - source.snapshot: the examples print a boolean, but the connector's schema declares it a
#   string enum (true/first/last/false/...), which is what the JSON converter writes (the
#   create example even says true for a streamed insert).
# - update.before with REPLICA IDENTITY DEFAULT: the example shows {"id": 1}, but pgoutput
#   sends no old tuple when the key is unchanged, so the connector emits before = null
#   (set REPLICA IDENTITY FULL for before-images; tested in test_types).
# - "transaction" (null without provide.transaction.metadata) and source.sequence are
#   part of the envelope/source schema; the abbreviated examples leave them out.
SNAPSHOT_ENUM = {"true", "first", "last", "false", "incremental"}


def _same_shape(ours: dict[str, Any], doc: dict[str, Any], where: str) -> None:
    extra_allowed = {"transaction", "sequence", "before", "after"}
    assert set(doc) <= set(ours), f"{where}: missing {set(doc) - set(ours)}"
    assert set(ours) - set(doc) <= extra_allowed, f"{where}: extra {set(ours) - set(doc)}"
    for key, expected in doc.items():
        if key == "snapshot":
            assert ours[key] in SNAPSHOT_ENUM  # value checked per event below
        elif key in ("before", "after"):
            continue  # row images: compared value by value in the test
        elif expected is None:
            assert ours[key] is None, f"{where}.{key}"
        else:
            assert type(ours[key]) is type(expected), f"{where}.{key}: {ours[key]!r}"


@pytest.mark.services
def test_events_match_the_documented_examples(cdc_env: Env) -> None:
    cdc_env.sql(
        "DROP TABLE IF EXISTS customers",
        "CREATE TABLE customers (id SERIAL, first_name VARCHAR(255) NOT NULL, "
        "last_name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL, PRIMARY KEY(id))",
    )
    config = cdc_env.config(["public.customers"], snapshot_mode="no_data")
    with running(config):
        cdc_env.sql(
            "INSERT INTO customers (first_name, last_name, email) "
            "VALUES ('Anne', 'Kretchmar', 'annek@noanswer.org')",
            "UPDATE customers SET first_name = 'Anne Marie' WHERE id = 1",
            "DELETE FROM customers WHERE id = 1",
            "TRUNCATE customers",
        )
        events = read_topic(
            cdc_env.bootstrap, topic_name(config.topic_prefix, "public", "customers"), count=5
        )
    create, update, delete, tombstone, truncate = events
    assert tombstone.value is None
    assert tombstone.key == delete.key == create.key == update.key == DOC["key"]
    assert truncate.key is None
    for name, event in [("create", create), ("update", update), ("delete", delete)]:
        ours, doc = event.value, DOC[name]
        _same_shape(ours, doc, name)
        _same_shape(ours["source"], doc["source"], f"{name}.source")
        assert ours["op"] == doc["op"]
        assert ours["after"] == doc["after"], name
        assert ours["source"]["connector"] == "postgresql"
        assert ours["source"]["name"] == config.topic_prefix  # the logical server name
        assert ours["source"]["db"] == config.database()
        assert (ours["source"]["schema"], ours["source"]["table"]) == ("public", "customers")
        assert ours["source"]["snapshot"] == "false"
        seq = json.loads(ours["source"]["sequence"])
        assert seq[1] == str(ours["source"]["lsn"])
    assert create.value["before"] is None
    assert update.value["before"] is None  # see the note above the test
    assert delete.value["before"] == DOC["delete"]["before"]
    _same_shape(truncate.value, DOC["truncate"], "truncate")
    _same_shape(truncate.value["source"], DOC["truncate"]["source"], "truncate.source")
    assert truncate.value["op"] == "t"
    ts = create.value["source"]
    assert ts["ts_us"] // 1000 == ts["ts_ms"]
    assert ts["ts_ns"] == ts["ts_us"] * 1000


def test_timestamp_maps_as_the_documented_example() -> None:
    example = DOC["timestamp_example"]
    convert = converter(1114, -1, ValueOptions())
    assert convert(example["text"]) == example["micro_timestamp"]


def _config() -> Any:
    return build_config(
        dsn="postgresql://cdc:s3cret@db.internal:5433/shop",
        tables=["public.orders", "sales.customers"],
        topic_prefix="shop.cdc",
        bootstrap_servers="kafka-1:9092,kafka-2:9092",
        slot="meshkit_shop",
        publication="meshkit_shop",
        key_columns={"sales.customers": ["customer_no"]},
    )


def test_connect_config_has_every_documented_required_option() -> None:
    body = connect_config(_config())
    config = body["config"]
    assert body["name"]
    for key in OPTIONS["required_without_default"]:
        if key != "name":
            assert config.get(key), key
    for key, value in OPTIONS["must_set_for_pgoutput"].items():
        assert config[key] == value
    assert config["connector.class"] == OPTIONS["connector_class"]
    assert set(OPTIONS["documented_example"]["config"]) <= set(config)
    assert all(isinstance(v, str) for v in config.values())  # Connect wants strings
    # the same capture as 'meshkit cdc run': names, snapshot, keys, value mapping
    assert config["database.hostname"] == "db.internal"
    assert config["database.port"] == "5433"
    assert config["database.user"] == "cdc"
    assert config["database.dbname"] == "shop"
    assert "s3cret" not in json.dumps(body)  # read from a config provider instead
    assert config["database.password"].startswith("${file:")
    assert config["topic.prefix"] == "shop.cdc"
    assert config["slot.name"] == "meshkit_shop"
    assert config["publication.name"] == "meshkit_shop"
    assert config["table.include.list"] == "public.orders,sales.customers"
    assert config["snapshot.mode"] == "initial"
    assert config["message.key.columns"] == "sales.customers:customer_no"
    assert config["decimal.handling.mode"] == "string"
    assert config["key.converter.schemas.enable"] == "false"
    assert config["value.converter.schemas.enable"] == "false"
    assert config["skipped.operations"] == "none"  # truncate events, as meshkit emits them
    # topics Connect creates: the cluster's default replication factor, or the configured one
    assert config["topic.creation.default.replication.factor"] == "-1"
    assert config["topic.creation.default.partitions"] == "1"
    configured = _config().model_copy(update={"topic_replication_factor": 3})
    assert connect_config(configured)["config"]["topic.creation.default.replication.factor"] == "3"


def test_server_properties_have_every_documented_required_property() -> None:
    text = server_properties(_config())
    props = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    for key in OPTIONS["server_required"]:
        assert props.get(key), key
    assert props["debezium.sink.type"] == "kafka"
    assert props["debezium.sink.kafka.producer.bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert props["debezium.source.connector.class"] == OPTIONS["connector_class"]
    assert props["debezium.format.value.schemas.enable"] == "false"
    assert "s3cret" not in text
    connect = connect_config(_config())["config"]
    for key, value in connect.items():
        if not key.startswith(("key.converter", "value.converter", "database.password")):
            assert props[f"debezium.source.{key}"] == value
