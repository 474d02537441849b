"""CDC reads the domain's settings: brokers and Kafka security where its own file and
flags say nothing, so a capture reaches a secured cluster with the flows' settings."""

from __future__ import annotations

from pathlib import Path

from meshkit.cdc.config import build_config
from meshkit.cdc.sink import KafkaSink
from meshkit.settings import load_settings

SECURED = {
    "MESHKIT_KAFKA_BROKERS": "kafka-0.kafka:9093",
    "MESHKIT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "MESHKIT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
    "MESHKIT_KAFKA_SASL_USERNAME": "orders-cdc",
    "MESHKIT_KAFKA_SASL_PASSWORD": "cdc-pw-4411",
}
DSN = "postgresql://cdc@127.0.0.1:5432/shop"


def test_capture_takes_brokers_and_security_from_the_domain_settings() -> None:
    domain = load_settings(environ=SECURED)
    config = build_config(None, domain=domain, dsn=DSN, tables=["public.orders"])
    assert config.bootstrap_servers == "kafka-0.kafka:9093"
    assert config.producer == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-256",
        "sasl.username": "orders-cdc",
        "sasl.password": "cdc-pw-4411",
    }
    assert "cdc-pw-4411" not in repr(config)
    sink = KafkaSink(config.bootstrap_servers, config.producer)  # librdkafka accepts it
    assert sink._connection["sasl.username"] == "orders-cdc"  # the admin client's too


def test_the_capture_file_and_flags_win_over_the_domain_settings(tmp_path: Path) -> None:
    path = tmp_path / "cdc.yaml"
    path.write_text(
        f"dsn: {DSN}\nbootstrap_servers: file:9092\n"
        "producer: {sasl.username: from-file, linger.ms: 20}\n"
    )
    domain = load_settings(environ=SECURED)
    config = build_config(path, domain=domain)
    assert config.bootstrap_servers == "file:9092"
    assert config.producer["sasl.username"] == "from-file"
    assert config.producer["linger.ms"] == 20
    assert config.producer["sasl.password"] == "cdc-pw-4411"
    flagged = build_config(path, domain=domain, bootstrap_servers="flag:9092")
    assert flagged.bootstrap_servers == "flag:9092"


def test_without_domain_settings_the_capture_is_unchanged() -> None:
    config = build_config(None, dsn=DSN)
    assert config.bootstrap_servers == ""
    assert config.producer == {}
