"""``meshkit-platform plan`` / ``apply`` as a user runs them (exit codes, files, messages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from meshkit.cli.failures import run
from meshkit_platform.cli import app
from meshkit_platform.provisioning import Targets

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # resource names unfolded in the tables


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(app, args, prog_name="meshkit-platform")
    out, err = capsys.readouterr()
    return code, out, err


def endpoints(targets: Targets) -> list[str]:
    return [
        "--kafka", str(targets.kafka), "--warehouse", str(targets.warehouse),
        "--search", str(targets.search), "--postgres", str(targets.postgres),
    ]  # fmt: skip


def test_plan_exits_2_when_pending_and_apply_makes_it_0(
    domain: str, write_contract: Any, domains_dir: Path, targets: Targets, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    write_contract(domain, "item")
    plan_file = tmp_path / "plan.json"
    args = ["plan", "--domains", str(domains_dir), "--out", str(plan_file), *endpoints(targets)]
    code, out, _ = cli(args, capsys)
    assert code == 2
    assert f"{domain}.item.v1" in out
    assert "7 to create" in out
    assert "create_partitions: not applicable here" in out
    saved = orjson.loads(plan_file.read_bytes())
    assert saved["summary"]["create"] == 7
    assert len(saved["live_hash"]) == 64

    code, out, err = cli(["apply", str(plan_file), *endpoints(targets)], capsys)
    assert code == 0, err
    assert "applied 7 change(s)" in out

    code, out, _ = cli(["plan", "--domains", str(domains_dir), "--json", *endpoints(targets)],
                       capsys)  # fmt: skip
    assert code == 0
    assert orjson.loads(out)["summary"] == {"no change": 7}

    code, _, err = cli(["apply", str(plan_file), *endpoints(targets)], capsys)
    assert code == 1
    assert err.startswith("error: the plan is stale")
    assert "Traceback" not in err


def test_bad_input_is_one_line_and_exit_1(
    domain: str, write_contract: Any, domains_dir: Path, targets: Targets, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    first = write_contract(domain, "item")
    write_contract(domain, "item", file="again.yaml")
    code, _, err = cli(["plan", "--domains", str(domains_dir), *endpoints(targets)], capsys)
    assert code == 1
    assert err.startswith("error: invalid desired state:")
    assert str(first) in err

    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    code, _, err = cli(["apply", str(junk), *endpoints(targets)], capsys)
    assert code == 1
    assert "not a meshkit plan" in err

    code, _, err = cli(["plan", "--domains", str(tmp_path / "nowhere"), *endpoints(targets)],
                       capsys)  # fmt: skip
    assert code == 1
    assert "not a directory of domain repos" in err


def test_plan_writes_terraform_json_of_the_cloud_resources(
    domain: str, write_contract: Any, domains_dir: Path, targets: Targets, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    write_contract(domain, "item", readers=("analysts",))
    out_dir = tmp_path / "tf"
    args = ["plan", "--domains", str(domains_dir), "--terraform", str(out_dir), *endpoints(targets)]
    code, _, err = cli(args, capsys)
    assert code == 2, err
    assert f"wrote 3 Terraform file(s) to {out_dir}" in err
    kafka = orjson.loads((out_dir / "kafka.tf.json").read_bytes())["resource"]
    assert kafka["kafka_topic"][f"{domain}_item_v1"]["name"] == f"{domain}.item.v1"
    assert len(kafka["kafka_acl"]) == 3
    bq = orjson.loads((out_dir / "bigquery.tf.json").read_bytes())["resource"]
    assert bq["google_bigquery_table"][f"{domain}_item_v1"]["deletion_protection"] is True
    search = orjson.loads((out_dir / "search.tf.json").read_bytes())["resource"]
    index = search["elasticstack_elasticsearch_index"][f"{domain}_item_v1"]
    assert index["alias"] == [{"name": f"{domain}.item"}]
