"""The domain settings matrix: each backend local and production-shaped, from the
environment and from the file, with every secret redacted wherever settings are shown."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.api_core.exceptions import ServiceUnavailable
from pydantic import SecretStr

from meshkit.clients import (
    bigquery_client,
    bigquery_read_client,
    plain_media_type_node,
    search_client,
)
from meshkit.errors import ConfigError
from meshkit.ports import KafkaTopicWriter
from meshkit.settings import MeshkitSettings, kafka_connection, load_settings
from meshkit.streaming import StreamingSettings
from meshkit.streaming.deadletter import KafkaDeadLetterPort
from meshkit.streaming.sources import KafkaBatchSource

SECRETS = {
    "kafka_sasl_password": "kafka-pw-7f3a",
    "kafka_ssl_key_password": "key-pw-91bc",
    "search_api_key": "search-key-55d1",
    "search_password": "search-pw-0e2f",
    "view_dsn": "postgresql://view:view-pw-3c4d@pg.internal:5432/serving",
    "master_key": "bWFzdGVyLWtleS1zZWNyZXQtdmFsdWUtMzItYnl0ZXM=",
    "registry_token": "registry-token-8a9b",
}
SECRET_TEXTS = [
    "kafka-pw-7f3a",
    "key-pw-91bc",
    "search-key-55d1",
    "search-pw-0e2f",
    "view-pw-3c4d",
    "bWFzdGVyLWtleS1zZWNyZXQ",
    "registry-token-8a9b",
]


# -- certificates and keys, made here ---------------------------------------------------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(subject: str, key: rsa.RSAPrivateKey, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshkit test CA")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.BasicConstraints(ca=subject == "meshkit test CA", path_length=None), critical=True
        )
        .sign(issuer_key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a client certificate and its key encrypted with the key password."""
    directory = tmp_path_factory.mktemp("tls")
    ca_key, client_key = _key(), _key()
    ca = _cert("meshkit test CA", ca_key, ca_key)
    client = _cert("orders-flow", client_key, ca_key)
    files = {
        "ca": directory / "ca.pem",
        "cert": directory / "client.pem",
        "key": directory / "client.key",
    }
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(client.public_bytes(serialization.Encoding.PEM))
    password = SECRETS["kafka_ssl_key_password"].encode()
    files["key"].write_bytes(
        client_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
    )
    return files


@pytest.fixture(scope="module")
def service_account_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = _key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    info = {
        "type": "service_account",
        "project_id": "acme-data",
        "private_key_id": "0123456789abcdef",
        "private_key": key.decode(),
        "client_email": "orders-flow@acme-data.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = tmp_path_factory.mktemp("gcp") / "key.json"
    path.write_text(json.dumps(info))
    return path


# -- the matrix -------------------------------------------------------------------------------


def production(tls: dict[str, Path], service_account: Path) -> dict[str, Any]:
    """Every backend production-shaped (as a file or the environment would give it)."""
    return {
        "env": "prod",
        "kafka_brokers": "kafka-0.kafka:9093,kafka-1.kafka:9093",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "orders-flow",
        "kafka_sasl_password": SECRETS["kafka_sasl_password"],
        "kafka_ssl_ca_location": str(tls["ca"]),
        "kafka_ssl_certificate_location": str(tls["cert"]),
        "kafka_ssl_key_location": str(tls["key"]),
        "kafka_ssl_key_password": SECRETS["kafka_ssl_key_password"],
        "warehouse_kind": "bigquery",
        "bigquery_project": "acme-data",
        "bigquery_location": "EU",
        "gcp_credentials_file": str(service_account),
        "search_url": "https://search.internal:9200",
        "search_api_key": SECRETS["search_api_key"],
        "search_ca_certs": str(tls["ca"]),
        "view_dsn": SECRETS["view_dsn"],
        "privacy_state_dir": "/var/lib/meshkit/privacy",
        "master_key": SECRETS["master_key"],
        "registry_url": "https://registry.internal",
        "registry_token": SECRETS["registry_token"],
    }


def from_source(source: str, values: dict[str, Any], tmp_path: Path) -> MeshkitSettings:
    """Settings given as MESHKIT_* variables, or as a meshkit.yaml file."""
    if source == "env":
        environ = {f"MESHKIT_{k.upper()}": str(v) for k, v in values.items()}
        return load_settings(environ=environ)
    path = tmp_path / "meshkit.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
    return load_settings(environ={"MESHKIT_SETTINGS_FILE": str(path)})


@pytest.fixture(params=["env", "file"])
def source(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_local_defaults_select_the_embedded_stack(source: str, tmp_path: Path) -> None:
    settings = from_source(source, {}, tmp_path)
    assert settings.env == "local"
    assert settings.kafka_config() == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "PLAINTEXT",
    }
    assert settings.warehouse_kind == "duckdb"
    assert settings.duckdb_path == Path(".state/local/warehouse/warehouse.duckdb")
    assert settings.search_is_stand_in
    assert settings.view_dsn is None


def test_local_stack_endpoints(source: str, tmp_path: Path) -> None:
    values = {
        "kafka_brokers": "127.0.0.1:19092",
        "duckdb_path": "w.duckdb",
        "search_url": "http://127.0.0.1:19200",
        "view_dsn": "postgresql://127.0.0.1/v",
        "bigquery_emulator_host": "127.0.0.1:19050",
        "warehouse_kind": "bigquery",
    }
    settings = from_source(source, values, tmp_path)
    assert settings.kafka_config()["bootstrap.servers"] == "127.0.0.1:19092"
    assert settings.view_dsn_value() == "postgresql://127.0.0.1/v"
    client = search_client(settings)
    assert client.transport.node_pool.all()[0].__class__ is plain_media_type_node()
    bq = bigquery_client(settings)
    assert bq.project == "meshkit-local"
    assert bq._connection.API_BASE_URL == "http://127.0.0.1:19050"
    # the emulator's Storage Read API is a setting of its own; without it, a clear refusal
    with pytest.raises(ConfigError, match="MESHKIT_BIGQUERY_STORAGE_EMULATOR_HOST"):
        bigquery_read_client(settings)
    with_grpc = from_source(
        source, {**values, "bigquery_storage_emulator_host": "127.0.0.1:19060"}, tmp_path
    )
    assert with_grpc.bigquery_storage_emulator_host == "127.0.0.1:19060"
    read = bigquery_read_client(with_grpc)
    try:  # it calls that address (where nothing listens)
        with pytest.raises(ServiceUnavailable, match=r"127\.0\.0\.1:19060"):
            read.create_read_session(
                parent="projects/p", read_session={"table": "projects/p/datasets/d/tables/t"},
                retry=None, timeout=5,
            )  # fmt: skip
    finally:
        read.transport.close()


def test_production_kafka_maps_to_librdkafka_and_every_client_accepts_it(
    source: str, tmp_path: Path, tls_files: dict[str, Path], service_account_file: Path
) -> None:
    settings = from_source(source, production(tls_files, service_account_file), tmp_path)
    config = settings.kafka_config()
    assert config == {
        "bootstrap.servers": "kafka-0.kafka:9093,kafka-1.kafka:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "orders-flow",
        "sasl.password": SECRETS["kafka_sasl_password"],
        "ssl.ca.location": str(tls_files["ca"]),
        "ssl.certificate.location": str(tls_files["cert"]),
        "ssl.key.location": str(tls_files["key"]),
        "ssl.key.password": SECRETS["kafka_ssl_key_password"],
    }
    # librdkafka checks the names and loads the CA, certificate and (encrypted) key here
    Producer(config).flush(0)
    Consumer({**config, "group.id": "settings-test"}).close()
    AdminClient(kafka_connection(config))


def test_a_wrong_key_password_is_refused_by_librdkafka(
    tmp_path: Path, tls_files: dict[str, Path], service_account_file: Path
) -> None:
    values = {**production(tls_files, service_account_file), "kafka_ssl_key_password": "wrong"}
    config = from_source("env", values, tmp_path).kafka_config()
    with pytest.raises(Exception, match=r"ssl\.key|private key|decrypt"):
        Producer(config)


def test_kafka_security_reaches_every_client_a_flow_builds(
    tmp_path: Path, tls_files: dict[str, Path], service_account_file: Path
) -> None:
    settings = from_source("env", production(tls_files, service_account_file), tmp_path)
    security = settings.kafka_security_config()
    writer = KafkaTopicWriter(settings.kafka_brokers, config=security)
    letters = KafkaDeadLetterPort(settings.kafka_brokers, "t.deadletter", **security)
    source = KafkaBatchSource(settings.kafka_brokers, ["t"], config=security)
    try:
        for config in (writer._config, letters._config, source._consumer_config()):
            assert kafka_connection(config) == settings.kafka_config()
    finally:
        writer.close()
        letters.close()


def test_production_warehouse_search_view_keys_registry(
    source: str, tmp_path: Path, tls_files: dict[str, Path], service_account_file: Path
) -> None:
    settings = from_source(source, production(tls_files, service_account_file), tmp_path)
    assert settings.env == "prod"
    assert not settings.search_is_stand_in
    bq = bigquery_client(settings)
    assert bq.project == "acme-data"
    assert bq._credentials.service_account_email == "orders-flow@acme-data.iam.gserviceaccount.com"
    read = bigquery_read_client(settings)  # the production endpoint, the same account
    try:
        assert read.api_endpoint == "bigquerystorage.googleapis.com"
        assert read._transport._credentials.service_account_email == (
            "orders-flow@acme-data.iam.gserviceaccount.com"
        )
    finally:
        read.transport.close()
    assert settings.bigquery_location == "EU"
    es = search_client(settings)
    node = es.transport.node_pool.all()[0]
    assert node.__class__ is not plain_media_type_node()  # production: the library's defaults
    assert node.config.scheme == "https"
    assert es._headers["authorization"] == f"ApiKey {SECRETS['search_api_key']}"
    assert settings.view_dsn_value() == SECRETS["view_dsn"]
    assert settings.keystore_environ()["MESHKIT_MASTER_KEY"] == SECRETS["master_key"]
    assert settings.privacy_state_dir == Path("/var/lib/meshkit/privacy")
    assert settings.registry_url == "https://registry.internal"


def test_search_basic_auth(tmp_path: Path) -> None:
    values = {
        "search_url": "https://search.internal:9200",
        "search_username": "orders",
        "search_password": SECRETS["search_password"],
        "env": "prod",
        "bigquery_project": "acme-data",
    }
    es = search_client(from_source("env", values, tmp_path))
    assert es._headers["authorization"].startswith("Basic ")


def test_the_variables_batch_and_the_key_store_read_are_the_same_settings() -> None:
    settings = load_settings(
        environ={
            "MESHKIT_BIGQUERY_PROJECT": "p",
            "MESHKIT_BIGQUERY_LOCATION": "EU",
            "MESHKIT_MASTER_KEY": "k",
            "MESHKIT_PRIVACY_STATE_DIR": "/keys",
            "MESHKIT_REGISTRY_URL": "https://r",
            "MESHKIT_REGISTRY_TOKEN": "t",
            "MESHKIT_ENV": "production",
        }
    )
    assert (settings.bigquery_project, settings.bigquery_location) == ("p", "EU")
    assert settings.privacy_state_dir == Path("/keys")
    assert settings.env == "prod"
    assert settings.registry_token == SecretStr("t")


def test_environment_beats_file_and_arguments_beat_both(tmp_path: Path) -> None:
    path = tmp_path / "meshkit.yaml"
    path.write_text("kafka_brokers: from-file:9092\nsearch_url: http://file:9200\n")
    settings = load_settings(
        path, environ={"MESHKIT_KAFKA_BROKERS": "from-env:9092"}, search_url="http://arg:9200"
    )
    assert settings.kafka_brokers == "from-env:9092"
    assert settings.search_url == "http://arg:9200"


def test_flow_settings_override_the_domain_settings(tmp_path: Path) -> None:
    domain = load_settings(
        environ={
            "MESHKIT_KAFKA_BROKERS": "domain:9092",
            "MESHKIT_WAREHOUSE_KIND": "bigquery",
            "MESHKIT_BIGQUERY_PROJECT": "p",
        }
    )
    flow = StreamingSettings(brokers="flow:9092", warehouse=tmp_path / "w.duckdb")
    backends = flow.backends(domain)
    assert backends.kafka_brokers == "flow:9092"
    assert (backends.warehouse_kind, backends.duckdb_path) == ("duckdb", tmp_path / "w.duckdb")
    assert StreamingSettings().backends(domain) is domain


# -- secrets never shown ----------------------------------------------------------------------


def assert_no_secret(text: str) -> None:
    for secret in SECRET_TEXTS:
        assert secret not in text


def test_secrets_are_redacted_in_repr_str_dumps_and_logs(
    source: str,
    tmp_path: Path,
    tls_files: dict[str, Path],
    service_account_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = from_source(source, production(tls_files, service_account_file), tmp_path)
    with caplog.at_level(logging.INFO):
        logging.getLogger("meshkit.test").info("settings: %s / %r", settings, settings)
    flow = StreamingSettings(view_dsn=SECRETS["view_dsn"])
    shown = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        json.dumps(settings.model_dump(mode="json")),
        str(settings.model_dump()),
        caplog.text,
        repr(flow),
        flow.model_dump_json(),
    ]
    for text in shown:
        assert_no_secret(text)
    assert "**********" in settings.model_dump_json()


def test_errors_name_the_place_and_never_the_value(tmp_path: Path) -> None:
    path = tmp_path / "meshkit.yaml"
    path.write_text(
        "kafka_brokers: b:9092\n"
        f"kafka_sasl_password: [{SECRETS['kafka_sasl_password']}]\n"
        f"warehouse_kind: {SECRETS['search_api_key']}\n"
        f"serach_url: {SECRETS['registry_token']}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"MESHKIT_ENV": SECRETS["search_password"]})
    message = str(info.value)
    assert_no_secret(message)
    lines = message.splitlines()
    assert any(line.startswith(f"{path}:2:22: kafka_sasl_password:") for line in lines), lines
    assert f"{path}:3:17: warehouse_kind: Input should be 'duckdb' or 'bigquery'" in lines
    assert f"{path}:4:1: serach_url: not a meshkit setting (see docs/settings.md)" in lines
    assert "environment variable MESHKIT_ENV: Input should be 'local' or 'prod'" in lines
    assert info.value.__cause__ is None  # the validation error holds the values


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs kafka_sasl_mechanism"),
        (
            {
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_mechanism": "PLAIN",
                "kafka_sasl_password": SECRETS["kafka_sasl_password"],
            },
            "SASL PLAIN needs kafka_sasl_username",
        ),
        ({"kafka_ssl_ca_location": "/ca.pem"}, "kafka_security_protocol is PLAINTEXT"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_certificate_location": "/c.pem"},
            "needs both kafka_ssl_certificate_location and kafka_ssl_key_location",
        ),
        ({"warehouse_kind": "bigquery"}, "warehouse_kind bigquery needs bigquery_project"),
        ({"search_username": "u"}, "needs both search_username and search_password"),
        (
            {
                "search_api_key": SECRETS["search_api_key"],
                "search_username": "u",
                "search_password": SECRETS["search_password"],
            },
            "not both",
        ),
        ({"env": "prod", "bigquery_emulator_host": "h:1"}, "for env local only"),
        ({"env": "prod", "bigquery_storage_emulator_host": "h:2"}, "for env local only"),
    ],
)
def test_inconsistent_settings_are_refused_with_the_fix(
    values: dict[str, Any], expected: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        from_source("env", values, tmp_path)
    assert_no_secret(str(info.value))


def test_a_bad_credentials_file_is_named_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"type": "service_account", "private_key": SECRETS["master_key"]}))
    settings = load_settings(environ={}, bigquery_project="p", gcp_credentials_file=path)
    with pytest.raises(ConfigError, match="not a readable service-account key") as info:
        bigquery_client(settings)
    assert_no_secret(str(info.value))
    encoded = base64.b64encode(path.read_bytes()).decode()
    settings = load_settings(environ={"MESHKIT_GCP_CREDENTIALS": encoded}, bigquery_project="p")
    with pytest.raises(ConfigError, match="MESHKIT_GCP_CREDENTIALS: not a service") as info:
        bigquery_client(settings)
    assert_no_secret(str(info.value))


def test_base64_credentials_as_batch_reads_them(service_account_file: Path) -> None:
    encoded = base64.b64encode(service_account_file.read_bytes()).decode()
    settings = load_settings(
        environ={
            "MESHKIT_GCP_CREDENTIALS": encoded,
            "MESHKIT_ENV": "prod",
            "MESHKIT_BIGQUERY_PROJECT": "acme-data",
        }
    )
    assert settings.warehouse_kind == "bigquery"  # env prod chooses BigQuery, as batch does
    client = bigquery_client(settings)
    assert client._credentials.service_account_email.startswith("orders-flow@")
    assert encoded not in repr(settings)
    assert encoded not in settings.model_dump_json()


@pytest.mark.services
def test_compatibility_headers_are_off_only_for_the_stand_in(search_server: Any) -> None:
    """The stand-in refuses the production client's media type; only the stand-in's
    client (env local, or ``search_stand_in``) rewrites it."""
    from elasticsearch import ApiError

    local = load_settings(environ={}, search_url=search_server.url)
    search_client(local).index(index="settings-stand-in", id="1", document={"n": 1})
    production_shaped = load_settings(
        environ={"MESHKIT_ENV": "prod", "MESHKIT_WAREHOUSE_KIND": "duckdb"},
        search_url=search_server.url,
    )
    with pytest.raises(ApiError) as info:
        search_client(production_shaped, max_retries=0).index(
            index="settings-stand-in", id="2", document={"n": 2}
        )
    assert info.value.status_code == 406


def test_a_bad_flow_variable_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    from meshkit.streaming.declarative import get_flow

    monkeypatch.setenv("MESHKIT_STREAMING_BATCH_SIZE", "many-7e1f")
    monkeypatch.setenv("MESHKIT_KAFKA_SASL_PASSWORD", SECRETS["kafka_sasl_password"])
    with pytest.raises(ConfigError) as info:
        get_flow("contracts/x.yaml")
    assert str(info.value).startswith("MESHKIT_STREAMING_BATCH_SIZE: Input should be")
    assert "many-7e1f" not in str(info.value)
    assert_no_secret(str(info.value))


def test_an_empty_variable_is_unset() -> None:
    settings = load_settings(environ={"MESHKIT_ENV": "", "MESHKIT_SEARCH_URL": ""})
    assert (settings.env, settings.search_url) == ("local", None)
