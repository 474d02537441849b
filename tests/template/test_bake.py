"""Every option combination bakes into a repo whose own tests, pre-commit hooks and Dagster
definitions pass (one baked repo per combination, shared by the tests of that combination).

Each repo installs the way a domain team's does: ``uv sync`` from a package index into
which this checkout's HEAD was released (``released_index``), into the repo's own
``.venv``; the hooks run through ``uv run pre-commit``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.template.conftest import (
    COMBOS,
    ROOT,
    UV,
    Baked,
    Released,
    bake,
    git_commit,
    run,
    run_status,
)


@pytest.fixture(scope="module", params=COMBOS, ids=[f"{p}-{w}" for p, w in COMBOS])
def baked(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    released_index: Released,
) -> Baked:
    parts, warehouse = request.param
    base = tmp_path_factory.mktemp(f"bake-{parts}-{warehouse}")
    # The template's commit at bake time (others may commit to the checkout meanwhile).
    head = run(["git", "rev-parse", "HEAD"], ROOT).strip()
    repo = bake_from_index(base / "out", released_index, domain_name="Customer Accounts",
                           parts=parts, warehouse=warehouse)  # fmt: skip
    python = sync(repo)
    git_commit(repo)  # as the guide says: after `uv sync`, so uv.lock is committed
    return Baked(repo, python, {"parts": parts, "warehouse": warehouse, "head": head})


def bake_from_index(output_dir: Path, released: Released, **answers: str) -> Path:
    """A bake that installs meshkit from the package index (no local SDK path)."""
    return bake(output_dir, meshkit_path="", package_index=released.simple_url, **answers)


def sync(repo: Path) -> Path:
    """``uv sync`` in the baked repo, from the index and PyPI; the repo's own Python."""
    run([str(UV), "sync", "--python", sys.executable], repo, timeout=600)
    return repo / ".venv" / "bin" / "python"


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def test_names_come_from_the_domain_name_and_parts_match_the_answers(baked: Baked) -> None:
    repo, parts = baked.repo, baked.answers["parts"]
    assert repo.name == "customer-accounts"
    pkg = repo / "src" / "customer_accounts"
    contract = yaml.safe_load((repo / "contracts" / "account.yaml").read_text())
    assert contract["domain"] == "customer_accounts"
    assert contract["owner"] == {
        "team": "customer-accounts-team",
        "contact": "customer-accounts-team@example.com",
    }
    assert (pkg / "definitions.py").is_file()
    assert (pkg / "defs" / "assets.py").is_file() == (parts != "streaming")
    assert (pkg / "flow.py").is_file() == (parts != "batch")
    assert (repo / "tests" / "test_flow.py").is_file() == (parts != "batch")
    assert (repo / "contracts" / "account_daily.yaml").is_file() == (parts == "both")
    kinds = [p["kind"] for p in contract["ports"]["outputs"]]
    assert ("kafka_topic" in kinds) == (parts != "batch")
    assert ("mapping" in contract) == (parts != "batch")
    definitions = (pkg / "definitions.py").read_text()
    assert ("DuckDBWarehouse" in definitions) == (baked.answers["warehouse"] == "duckdb")
    answers = json.loads((repo / ".cruft.json").read_text())
    assert answers["commit"] == baked.answers["head"]
    assert answers["directory"] == "template"
    assert answers["context"]["cookiecutter"]["domain_name"] == "Customer Accounts"
    assert "contracts" in answers["skip"]
    assert (repo / ".github" / "workflows" / "ci.yaml").is_file()
    assert "uv.lock" in run(["git", "ls-files"], repo).split()  # for CI's `uv sync --frozen`
    for path in repo.rglob("*"):
        if path.is_file() and not {".git", ".github", ".venv"} & set(path.parts):
            assert "{{" not in path.read_text(errors="replace"), path


def test_own_test_suite_passes(baked: Baked, tmp_path: Path) -> None:
    out = run(
        [str(baked.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
         str(tmp_path / "t")],
        baked.repo,
    )  # fmt: skip
    # `run` checked pytest's exit code (0: every test passed, none errored); the output
    # is only asked whether tests ran. Not for "failed": librdkafka logs "Connect to
    # ...:<port> failed" when a producer outlives the test broker at teardown.
    assert re.search(r"^\d+ passed\b", out, re.MULTILINE), out[-3000:]


def test_pre_commit_hooks_pass(baked: Baked, pre_commit_home: Path) -> None:
    code, out = _pre_commit(baked.repo, pre_commit_home)
    assert code == 0, out
    for hook in ("meshkit contract lint", "contract diff", "PII scan", "ruff check", "ruff format"):
        assert _result(out, hook) == "Passed", out


def test_dagster_definitions_validate(baked: Baked) -> None:
    out = run([str(baked.python), "-m", "dagster", "definitions", "validate"], baked.repo)
    assert "Validation successful for code location customer_accounts" in out


def _pre_commit(repo: Path, home: Path) -> tuple[int, str]:
    """pre-commit run --all-files with the generated config, as a user runs it."""
    data = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    assert [repo_["repo"] for repo_ in data["repos"]] == ["local"]  # nothing fetched
    assert [h["id"] for h in data["repos"][0]["hooks"]][:3] == [
        "meshkit-contract-lint", "meshkit-contract-diff", "meshkit-pii-scan",
    ]  # fmt: skip
    # `uv run` puts the repo's .venv/bin (its meshkit and ruff) first on PATH, as for a user.
    cmd = [str(UV), "run", "--frozen", "pre-commit", "run", "--all-files", "--color", "never"]
    return run_status(cmd, repo, PRE_COMMIT_HOME=str(home))


def _result(out: str, hook: str) -> str:
    line = next(line for line in out.splitlines() if hook in line)
    return line.rsplit(".", 1)[-1]


def test_hooks_catch_a_breaking_change_and_undeclared_pii(
    tmp_path: Path, pre_commit_home: Path, released_index: Released
) -> None:
    repo = bake_from_index(tmp_path, released_index, parts="batch")
    sync(repo)
    git_commit(repo)
    contract = repo / "contracts" / "account.yaml"
    text = contract.read_text().replace("version: 1.0.0", "version: 1.1.0")
    text = text.replace('  - {kind: regex, field: country, pattern: "^[A-Z]{2}$"}\n', "")
    contract.write_text("".join(line for line in text.splitlines(keepends=True)
                                if "name: country" not in line))  # fmt: skip
    sample = repo / "samples" / "account.csv"
    rows = sample.read_text().splitlines()
    rows = [rows[0] + ",phone"] + [f"{r},+44 20 7946 09{i:02d}" for i, r in enumerate(rows[1:])]
    sample.write_text("\n".join(rows) + "\n")

    code, out = _pre_commit(repo, pre_commit_home)
    assert code == 1, out
    assert _result(out, "meshkit contract lint") == "Passed", out
    assert _result(out, "contract diff") == "Failed", out
    assert "breaking" in out, out
    assert "major" in out, out
    assert _result(out, "PII scan") == "Failed", out
    assert "phone" in out, out
