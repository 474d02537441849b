"""Provisioning reads the domain settings: endpoints it is not given, Kafka's security for
its admin client, and a production search client (the stand-in's only for env local)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshkit.clients import plain_media_type_node
from meshkit.errors import ConfigError
from meshkit.settings import load_settings
from meshkit_platform.provisioning.bigquery import BigQueryBackend
from meshkit_platform.provisioning.kafka import KafkaBackend
from meshkit_platform.provisioning.search import SearchBackend
from meshkit_platform.provisioning.targets import ENV, Targets

PRODUCTION = {
    "MESHKIT_ENV": "prod",
    "MESHKIT_KAFKA_BROKERS": "kafka-0.kafka:9093",
    "MESHKIT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "MESHKIT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "MESHKIT_KAFKA_SASL_USERNAME": "platform",
    "MESHKIT_KAFKA_SASL_PASSWORD": "platform-pw-2b7c",
    "MESHKIT_BIGQUERY_PROJECT": "acme-data",
    "MESHKIT_DUCKDB_PATH": "/data/warehouse.duckdb",
    "MESHKIT_SEARCH_URL": "https://search.internal:9200",
    "MESHKIT_SEARCH_API_KEY": "search-key-6d1e",
    "MESHKIT_VIEW_DSN": "postgresql://platform:view-pw-88aa@pg.internal:5432/serving",
}


@pytest.fixture(autouse=True)
def _no_endpoint_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV.values():
        monkeypatch.delenv(name, raising=False)


def test_endpoints_and_clients_come_from_the_domain_settings() -> None:
    targets = Targets().resolved(load_settings(environ=PRODUCTION))
    assert targets.kafka == "kafka-0.kafka:9093"
    assert targets.warehouse == "bigquery:acme-data"  # env prod: warehouse_kind bigquery
    assert targets.search == "https://search.internal:9200"
    assert targets.postgres == PRODUCTION["MESHKIT_VIEW_DSN"]
    assert "view-pw-88aa" not in repr(targets)
    chosen = Targets(kafka=targets.kafka, search=targets.search, settings=targets.settings)
    backends = {b.name: b for b in chosen.open()}
    kafka = backends["kafka"]
    assert isinstance(kafka, KafkaBackend)
    assert kafka.config["security.protocol"] == "SASL_SSL"
    assert kafka.config["sasl.username"] == "platform"
    assert kafka.config["sasl.password"] == "platform-pw-2b7c"
    # a secured cluster is not probed with a plaintext request
    assert kafka.capabilities()["create_partitions"] == "supported"
    search = backends["search"]
    assert isinstance(search, SearchBackend)
    node = search.client.transport.node_pool.all()[0]
    assert node.__class__ is not plain_media_type_node()
    assert search.client._headers["authorization"] == "ApiKey search-key-6d1e"


def test_a_duckdb_file_is_the_warehouse_when_the_settings_say_duckdb() -> None:
    duck = {**PRODUCTION, "MESHKIT_WAREHOUSE_KIND": "duckdb"}
    assert Targets().resolved(load_settings(environ=duck)).warehouse == "/data/warehouse.duckdb"


def test_bigquery_without_credentials_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
    settings = load_settings(environ=PRODUCTION)
    with pytest.raises(ConfigError, match="BigQuery project acme-data: no credentials found"):
        Targets(warehouse="bigquery:acme-data", settings=settings).open()


def test_flags_win_over_the_settings() -> None:
    given = Targets(kafka="flag:9092", warehouse="flag.duckdb", search="http://flag:9200",
                    postgres="postgresql://flag/x")  # fmt: skip
    targets = given.resolved(load_settings(environ=PRODUCTION))
    assert (targets.kafka, targets.warehouse) == ("flag:9092", "flag.duckdb")
    assert (targets.search, targets.postgres) == ("http://flag:9200", "postgresql://flag/x")


def test_local_targets_keep_the_stand_in_client(tmp_path: Path) -> None:
    (search,) = Targets(search="http://127.0.0.1:9").open()
    assert isinstance(search, SearchBackend)
    node = search.client.transport.node_pool.all()[0]
    assert node.__class__ is plain_media_type_node()
    assert not (tmp_path / "x").exists()


def test_bigquery_backend_takes_the_taxonomy_and_reader_domain_from_the_settings() -> None:
    taxonomy = "projects/acme-data/locations/eu/taxonomies/123"
    settings = load_settings(
        environ={
            "MESHKIT_WAREHOUSE_KIND": "bigquery",
            "MESHKIT_BIGQUERY_EMULATOR_HOST": "127.0.0.1:9",  # the client connects lazily
            "MESHKIT_BIGQUERY_DATASET_PREFIX": "stage_",
            "MESHKIT_BIGQUERY_POLICY_TAXONOMY": taxonomy,
            "MESHKIT_BIGQUERY_READER_DOMAIN": "groups.acme.example",
        }
    )
    (backend,) = Targets(warehouse="bigquery:meshkit-local", settings=settings).open()
    assert isinstance(backend, BigQueryBackend)
    assert (backend.taxonomy, backend.reader_domain) == (taxonomy, "groups.acme.example")
    assert backend.dataset_id("orders") == "stage_orders"
    backend.close()


def test_a_taxonomy_that_is_not_a_resource_name_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"MESHKIT_BIGQUERY_POLICY_TAXONOMY": "pii-tags"})
    message = str(info.value)
    assert "MESHKIT_BIGQUERY_POLICY_TAXONOMY: String should match pattern" in message
    assert "taxonomies/" in message  # what is expected
    assert "pii-tags" not in message
