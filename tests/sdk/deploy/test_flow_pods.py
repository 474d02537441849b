"""A flow's StatefulSet, run as Kubernetes would run its pods, on one machine.

Each of the two rendered pods is one process here: the init container's command, then
the flow container's command, with the rendered environment. What only Kubernetes
provides is substituted: the pod name (``fieldRef``), the pods' addresses (each pod's
DNS name becomes a local port) and, because both processes share this machine, a metrics
port each. Both processes of the orders flow, one of which owns no sink partition, answer
``/readyz`` on their metrics port, which the rendered readiness probe asks.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from meshkit.deploy import render
from meshkit.local.kafka import admin_config
from tests.sdk.deploy.conftest import ROOT, documents

PROCESSES = 2


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _pod_env(container: dict[str, Any], pod: str, replace: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            value = item["value"]
        elif item["valueFrom"].get("fieldRef", {}).get("fieldPath") == "metadata.name":
            value = pod
        else:  # a secretKeyRef: none in this test's settings
            raise AssertionError(f"unexpected reference {item}")
        for old, new in replace.items():
            value = value.replace(old, new)
        env[item["name"]] = value
    return env


def _readyz(port: int) -> tuple[int, str]:
    """(status, body) of ``GET /readyz``; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def test_both_rendered_flow_pods_answer_the_readiness_probe(
    kafka_broker: str, tmp_path: Path
) -> None:
    domain = f"d{uuid.uuid4().hex[:8]}"  # topics of its own on the session's broker
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "domains" / "orders", repo, ignore=shutil.ignore_patterns(".*cache"))
    for contract in (repo / "contracts").glob("*.yaml"):
        contract.write_text(contract.read_text().replace("domain: orders", f"domain: {domain}"))
    (repo / "deploy.yaml").write_text(
        f"kafka_brokers: {kafka_broker}\n"
        "env: {MESHKIT_ENV: local}\n"  # the local stand-ins' settings, no BigQuery
        f"products:\n  order:\n    flow: {{processes: {PROCESSES}}}\n"
    )
    admin = AdminClient(admin_config(kafka_broker))
    topic = f"{domain}.cdc.public.orders"
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(10)

    render(repo, tmp_path / "out")
    (manifest,) = (tmp_path / "out" / "k8s").glob("flow-*.yaml")
    sts = next(d for d in documents(manifest) if d["kind"] == "StatefulSet")
    name = sts["metadata"]["name"]
    pod_spec = sts["spec"]["template"]["spec"]
    (init,) = pod_spec["initContainers"]
    (flow,) = pod_spec["containers"]
    recovery_dir = flow["volumeMounts"][-1]["mountPath"]
    cluster = _free_ports(PROCESSES)
    metrics = _free_ports(PROCESSES)
    base = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
            "PYTHONPATH": str(repo / "src")}  # fmt: skip
    procs = []
    try:
        for i in range(PROCESSES):
            pod = f"{name}-{i}"
            replace = {
                f"{name}-{j}.{name}:2101": f"127.0.0.1:{cluster[j]}" for j in range(PROCESSES)
            }
            replace[recovery_dir] = str(tmp_path / pod / "recovery")
            volume = tmp_path / pod / "recovery"
            volume.mkdir(parents=True)
            init_env = {**base, **_pod_env(init, pod, replace)}
            argv = [sys.executable, *[a.replace(recovery_dir, str(volume)) for a in init["args"]]]
            done = subprocess.run(argv, cwd=repo, env=init_env, capture_output=True, text=True,
                                  check=False, timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert sorted(p.name for p in volume.iterdir()) == [f"part-{i}.sqlite3"]
            env = {**base, **_pod_env(flow, pod, replace), "MESHKIT_METRICS_PORT": str(metrics[i]),
                   "MESHKIT_STREAMING_PORTS": '["kafka_topic"]'}  # fmt: skip
            assert env.get("BYTEWAX_ADDRESSES", "127.0.0.1:").count("127.0.0.1:") == PROCESSES
            argv = [sys.executable, *flow["args"]]
            assert flow["command"] == ["python"]
            procs.append(
                subprocess.Popen(
                    argv,
                    cwd=repo,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + 120
        waiting = set(range(PROCESSES))
        while waiting and time.monotonic() < deadline:
            for i in list(waiting):
                assert procs[i].poll() is None, procs[i].communicate()[1][-3000:]
                if _readyz(metrics[i])[0] == 200:
                    waiting.discard(i)
        answers = {i: _readyz(metrics[i]) for i in sorted(waiting)}
        if waiting:
            for proc in procs:
                proc.terminate()
            logs = {i: procs[i].communicate(timeout=30)[1][-2000:] for i in sorted(waiting)}
            raise AssertionError(f"never ready (/readyz status, body): {answers}; logs: {logs}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        admin.delete_topics([topic])[topic].result(10)
