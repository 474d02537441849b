"""``meshkit deploy render``: every document it writes validates offline against a pinned
Kubernetes version's schemas, for the example domains and freshly baked template domains;
secrets are referenced, never written; a flow's StatefulSet has as many replicas as the
flow has processes; bad settings are refused with their file, line and field.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import meshkit.cli
from meshkit.deploy import build, render
from meshkit.errors import ConfigError
from tests.sdk.deploy.conftest import ROOT, documents, validate, validate_as
from tests.template.conftest import bake

DOMAINS = ROOT / "domains"
# The fields of one entry of the Dagster Helm chart's dagster-user-deployments.deployments.
CHART_DEPLOYMENT_FIELDS = {
    "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "port",
    "includeConfigInLaunchedRuns", "volumes", "volumeMounts", "env", "envConfigMaps",
    "envSecrets", "initContainers", "sidecarContainers", "annotations", "nodeSelector",
    "affinity", "tolerations", "podSecurityContext", "securityContext", "resources",
    "labels", "schedulerName", "readinessProbe", "livenessProbe", "startupProbe", "service",
}  # fmt: skip


def _copy_domain(name: str, tmp_path: Path) -> Path:
    repo = tmp_path / name
    shutil.copytree(DOMAINS / name, repo, ignore=shutil.ignore_patterns(".*_cache", ".state"))
    return repo


def _validate_tree(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Validate every rendered file; the manifests by kind."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    files = sorted((out / "k8s").glob("*.yaml"))
    assert files, "no manifests rendered"
    for path in files:
        for doc in documents(path):
            validate(doc)
            by_kind.setdefault(doc["kind"], []).append(doc)
    values = out / "helm" / "dagster-values.yaml"
    if values.exists():
        for deployment in yaml.safe_load(values.read_text())["dagster-user-deployments"][
            "deployments"
        ]:
            assert set(deployment) <= CHART_DEPLOYMENT_FIELDS
            validate_as(deployment["resources"], "core.v1.ResourceRequirements")
            validate_as(deployment["podSecurityContext"], "core.v1.PodSecurityContext")
            validate_as(deployment["securityContext"], "core.v1.SecurityContext")
            for item in deployment["env"]:
                validate_as(item, "core.v1.EnvVar")
            for item in deployment["envSecrets"]:
                validate_as(item, "core.v1.SecretEnvSource")
            for item in deployment["envConfigMaps"]:
                validate_as(item, "core.v1.ConfigMapEnvSource")
    return by_kind


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


ORDERS_SETTINGS = """\
image: registry.example.com/data/orders
namespace: orders
kafka_brokers: kafka-0.kafka.streaming:9092,kafka-1.kafka.streaming:9092
secrets: [orders-runtime]
secret_env:
  MESHKIT_STREAMING_VIEW_DSN: {secret: orders-view, key: dsn}
products:
  order:
    resources:
      requests: {cpu: "1", memory: 1Gi}
      limits: {cpu: "2", memory: 2Gi}
    flow: {processes: 3, workers: 2, storage: 5Gi}
cdc:
  resources: {requests: {cpu: 100m, memory: 256Mi}}
"""


def test_orders_renders_valid_manifests_with_its_settings(tmp_path: Path) -> None:
    repo = _copy_domain("orders", tmp_path)
    (repo / "deploy.yaml").write_text(ORDERS_SETTINGS)
    out = tmp_path / "out"
    render(repo, out)
    by_kind = _validate_tree(out)
    assert {k: len(v) for k, v in by_kind.items()} == {
        "PersistentVolumeClaim": 1, "Deployment": 1, "Service": 1, "StatefulSet": 1,
    }  # fmt: skip
    (sts,) = by_kind["StatefulSet"]
    assert sts["metadata"]["name"] == "orders-order-flow"
    assert sts["metadata"]["namespace"] == "orders"
    assert sts["spec"]["replicas"] == 3  # = the flow's processes
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    init, flow = _containers(sts)
    argv = flow["command"] + flow["args"]
    assert argv == ["python", "-m", "meshkit.deploy.flow", "orders.flow:flow"]
    assert flow["image"] == "registry.example.com/data/orders:0.1.0"
    assert flow["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    env = _env(flow)
    assert env["BYTEWAX_ADDRESSES"]["value"] == ";".join(
        f"orders-order-flow-{i}.orders-order-flow.orders.svc:2101" for i in range(3)
    )
    assert env["BYTEWAX_WORKERS_PER_PROCESS"]["value"] == "2"
    assert env["BYTEWAX_STATEFULSET_NAME"]["value"] == "orders-order-flow"
    assert env["BYTEWAX_POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    brokers = "kafka-0.kafka.streaming:9092,kafka-1.kafka.streaming:9092"
    assert env["MESHKIT_KAFKA_BROKERS"]["value"] == brokers
    assert env["MESHKIT_STREAMING_BROKERS"]["value"] == brokers
    assert env["MESHKIT_STREAMING_VIEW_DSN"]["valueFrom"] == {
        "secretKeyRef": {"name": "orders-view", "key": "dsn"}
    }
    assert {"secretRef": {"name": "orders-runtime"}} in flow["envFrom"]
    recovery = ["-m", "meshkit.deploy.recovery", "/var/lib/meshkit/recovery", "--count", "3"]
    assert init["args"] == recovery
    (service,) = by_kind["Service"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]

    (cdc,) = by_kind["Deployment"]
    assert cdc["metadata"]["name"] == "orders-cdc-shop"
    assert cdc["spec"]["replicas"] == 1
    assert cdc["spec"]["strategy"] == {"type": "Recreate"}
    (capture,) = _containers(cdc)
    argv = capture["command"] + capture["args"]
    assert argv[:3] == ["meshkit", "cdc", "run"]
    assert argv[argv.index("--dsn") + 1] == "dbname=shop"  # the rest from PG* in the Secret
    assert argv[argv.index("--table") + 1] == "public.orders"
    assert argv[argv.index("--slot") + 1] == "meshkit_orders"
    assert argv[argv.index("--bootstrap-servers") + 1] == "$(MESHKIT_KAFKA_BROKERS)"
    assert _env(capture)["MESHKIT_KAFKA_BROKERS"]["value"] == brokers
    assert capture["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}}
    (state,) = by_kind["PersistentVolumeClaim"]
    volumes = cdc["spec"]["template"]["spec"]["volumes"]
    assert {"name": "state", "persistentVolumeClaim": {"claimName": state["metadata"]["name"]}} in (
        volumes
    )


@pytest.mark.parametrize("kind", ["StatefulSet", "Deployment"])
def test_probes_and_scraping_use_the_metrics_port(tmp_path: Path, kind: str) -> None:
    repo = _copy_domain("orders", tmp_path)
    (repo / "deploy.yaml").write_text("metrics_port: 9500\n")
    render(repo, tmp_path / "out")
    (doc,) = _validate_tree(tmp_path / "out")[kind]
    annotations = doc["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9500",
        "prometheus.io/path": "/metrics",
    }
    main = _containers(doc)[-1]
    assert {"name": "metrics", "containerPort": 9500, "protocol": "TCP"} in main["ports"]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert _env(main)["MESHKIT_METRICS_PORT"]["value"] == "9500"
    assert _env(main)["MESHKIT_LOG_FORMAT"]["value"] == "json"


def test_every_process_runs_as_a_non_root_user_on_a_read_only_root(tmp_path: Path) -> None:
    repo = _copy_domain("orders", tmp_path)
    render(repo, tmp_path / "out")
    by_kind = _validate_tree(tmp_path / "out")
    for doc in [*by_kind["Deployment"], *by_kind["StatefulSet"]]:
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for container in _containers(doc):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    dockerfile = (tmp_path / "out" / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert "USER 10001:10001" in final_stage
    assert dockerfile.count("uv sync --frozen --no-dev") == 2
    assert "FROM python:3.12-slim-bookworm AS build" in dockerfile


def test_customers_renders_one_flow_and_its_code_location(tmp_path: Path) -> None:
    repo = _copy_domain("customers", tmp_path)
    out = tmp_path / "out"
    render(repo, out)
    by_kind = _validate_tree(out)
    (sts,) = by_kind["StatefulSet"]
    assert sts["spec"]["replicas"] == 1
    flow = _containers(sts)[-1]
    assert "BYTEWAX_ADDRESSES" not in _env(flow)  # one process: no cluster
    capture = _containers(by_kind["Deployment"][0])[0]
    assert "MESHKIT_KAFKA_BROKERS" not in _env(capture)  # from the ConfigMap then
    assert {"configMapRef": {"name": "customers-config", "optional": True}} in capture["envFrom"]
    values = yaml.safe_load((out / "helm" / "dagster-values.yaml").read_text())
    (location,) = values["dagster-user-deployments"]["deployments"]
    assert location["dagsterApiGrpcArgs"][:2] == ["-m", "customers.definitions"]
    assert location["envSecrets"] == [{"name": "customers-secrets"}]
    assert location["includeConfigInLaunchedRuns"] == {"enabled": True}


@pytest.mark.parametrize("parts", ["both", "streaming", "batch"])
def test_a_freshly_baked_domain_renders_valid_manifests(tmp_path: Path, parts: str) -> None:
    repo = bake(
        tmp_path / "baked", domain_name="Loyalty Points", product_name="member",
        source_database="loyalty", parts=parts, meshkit_path="",
    )  # fmt: skip
    out = tmp_path / "out"
    render(repo, out)
    by_kind = _validate_tree(out)
    assert len(by_kind["Deployment"]) == 1  # the CDC of the loyalty database
    assert len(by_kind.get("StatefulSet", [])) == (0 if parts == "batch" else 1)
    assert (out / "helm" / "dagster-values.yaml").exists()
    dockerfile = (out / "Dockerfile").read_text()
    # the company index's credentials are build secrets, never build arguments or layers
    assert "--mount=type=secret,id=uv_index_meshkit_password,env=UV_INDEX_MESHKIT_PASSWORD" in (
        dockerfile
    )
    assert "ARG " not in dockerfile
    if (repo / "deploy" / "dagster.yaml").exists():
        assert "COPY deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml" in dockerfile


SECRET_VALUES = {
    "PGPASSWORD": "pg-Secret-4711",
    "MESHKIT_STREAMING_VIEW_DSN": "postgresql://view:view-Secret-0815@db:5432/orders",
    "MESHKIT_MASTER_KEY": "master-Secret-2323",
    "UV_INDEX_MESHKIT_PASSWORD": "index-Secret-9999",
    "MESHKIT_REGISTRY_TOKEN": "registry-Secret-1234",
}


def test_secrets_are_referenced_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets in the renderer's environment reach no file; the manifests name Secrets."""
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(name, value)
    repo = _copy_domain("orders", tmp_path)
    (repo / "deploy.yaml").write_text(ORDERS_SETTINGS)
    out = tmp_path / "out"
    render(repo, out)
    texts = {p: p.read_text() for p in out.rglob("*") if p.is_file()}
    for path, text in texts.items():
        for value in SECRET_VALUES.values():
            assert value not in text, f"{path} holds a secret"
        assert "view-Secret-0815" not in text  # the DSN's password on its own
    for path in (out / "k8s").glob("*.yaml"):
        for doc in documents(path):
            if doc["kind"] not in {"Deployment", "StatefulSet"}:
                continue
            for container in _containers(doc):
                for item in container.get("env", []):
                    if any(word in item["name"] for word in ("DSN", "PASSWORD", "TOKEN", "KEY")):
                        assert "value" not in item, item["name"]
    assert "kind: Secret" not in "".join(texts.values())


def test_a_secret_written_as_a_plain_value_is_refused(tmp_path: Path) -> None:
    repo = _copy_domain("orders", tmp_path)
    (repo / "deploy.yaml").write_text(
        "env:\n  MESHKIT_ENV: prod\n  MESHKIT_STREAMING_VIEW_DSN: postgresql://u:hunter2@db/x\n"
    )
    with pytest.raises(ConfigError) as caught:
        build(repo)
    message = str(caught.value)
    assert f"{repo / 'deploy.yaml'}:3:" in message
    assert "env.MESHKIT_STREAMING_VIEW_DSN" in message
    assert "secret_env" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ("products:\n  order:\n    flow: {processes: 0}\n", ":3:", "products.order.flow.processes"),
        ("products:\n  nosuch: {}\n", ":2:3", "no contract of the domain is named 'nosuch'"),
        ("products:\n  order_daily:\n    flow: {processes: 2}\n", ":3:", "has no Bytewax flow"),
        ("resources:\n  requests: {cpu: lots}\n", ":2:", "Kubernetes quantity"),
        ("namespace: Orders_NS\n", ":1:", "expected a Kubernetes name"),
        ("replicas: 3\n", ":1:1", "replicas: not a deployment setting"),
        ("products: [\n", ":", "invalid YAML"),
    ],
)
def test_bad_settings_are_refused_with_file_line_and_field(
    tmp_path: Path, text: str, where: str, expected: str
) -> None:
    repo = _copy_domain("orders", tmp_path)
    (repo / "deploy.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        build(repo)
    message = str(caught.value)
    assert f"{repo / 'deploy.yaml'}{where}" in message, message
    assert expected in message, message


def test_a_later_render_removes_what_it_no_longer_makes(tmp_path: Path) -> None:
    repo = _copy_domain("orders", tmp_path)
    out = tmp_path / "out"
    render(repo, out)
    assert (out / "k8s" / "flow-order.yaml").exists()
    (repo / "src" / "orders" / "flow.py").unlink()
    (out / "k8s" / "mine.yaml").write_text("# a file of the team's own\n")
    render(repo, out)
    assert not (out / "k8s" / "flow-order.yaml").exists()
    assert (out / "k8s" / "mine.yaml").exists()
    assert (out / "k8s" / "cdc-shop.yaml").exists()


def test_the_command_line_writes_the_files_and_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _copy_domain("orders", tmp_path)
    monkeypatch.chdir(repo)
    runner = CliRunner()
    result = runner.invoke(meshkit.cli.app, ["deploy", "render", "-o", "build/deploy"])
    assert result.exit_code == 0, result.output
    assert "build/deploy/k8s/flow-order.yaml" in result.output
    assert (repo / "build" / "deploy" / "Dockerfile").is_file()

    monkeypatch.chdir(tmp_path)  # not a domain repository
    code = _main(["deploy", "render", "-o", "out"])
    assert code == 1


def _main(argv: list[str]) -> int:
    try:
        meshkit.cli.main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def test_the_dockerfile_copies_what_the_repository_has_and_notes_what_is_missing(
    tmp_path: Path,
) -> None:
    repo = bake(tmp_path / "baked", domain_name="Loyalty Points", parts="both")
    notes = build(repo).notes
    assert any("no uv.lock" in note for note in notes)
    (repo / "uv.lock").write_text(
        'version = 1\n[[package]]\nname = "dagster-postgres"\nversion = "0.29.0"\n'
    )
    rendered = build(repo)
    assert rendered.notes == []
    dockerfile = rendered.files["Dockerfile"]
    copies = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    sources = [s for parts in copies if not parts[0].startswith("--") for s in parts]
    assert sources == ["pyproject.toml", "uv.lock", "README.md", "src", "contracts",
                       "deploy/dagster.yaml"]  # fmt: skip
    for source in sources:
        assert (repo / source).exists(), source
    ignored = rendered.files["Dockerfile.dockerignore"].splitlines()
    assert {".venv", ".state", ".git", "**/__pycache__"} <= set(ignored)


def _documented_example(text: str, after: str) -> str:
    start = text.index(after)
    block = text.index("```yaml\n", start) + len("```yaml\n")
    return text[block : text.index("```", block)]


@pytest.mark.parametrize("source", ["docs", "docstring"])
def test_the_documented_settings_example_renders(tmp_path: Path, source: str) -> None:
    import meshkit.deploy.settings

    if source == "docs":
        doc = (ROOT / "docs" / "production.md").read_text()
        example = _documented_example(doc, "### `deploy.yaml`")
    else:
        docstring = meshkit.deploy.settings.__doc__ or ""
        example = docstring.split("::\n\n", 1)[1].split("\n\nProblems", 1)[0]
        example = "\n".join(line.removeprefix("    ") for line in example.splitlines())
    repo = _copy_domain("orders", tmp_path)
    (repo / "deploy.yaml").write_text(example)
    render(repo, tmp_path / "out")
    sts = _validate_tree(tmp_path / "out")["StatefulSet"][0]
    assert sts["spec"]["replicas"] == (2 if source == "docstring" else 3)
