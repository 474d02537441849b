"""A repo baked from template version A is brought to version B: B's changes arrive, the
team's own edits survive, and a clash is reported as a conflict (exit code 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from meshkit.template import update
from tests.template.conftest import BIN, ROOT, bake, git_commit, run, run_status

README = "README.md"


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of the template (version A)."""
    repo = tmp_path / "meshkit"
    shutil.copytree(ROOT / "template", repo / "template")
    git_commit(repo, "template A")
    return repo


def _template_file(template_repo: Path, rel: str) -> Path:
    return template_repo / "template" / "{{cookiecutter.project_slug}}" / rel


def test_update_brings_b_and_keeps_local_edits_then_reports_a_conflict(
    template_repo: Path, tmp_path: Path
) -> None:
    domain = bake(tmp_path / "domains", template=template_repo, domain_name="Payments")
    git_commit(domain)
    a = run(["git", "rev-parse", "HEAD"], template_repo).strip()
    assert json.loads((domain / ".cruft.json").read_text())["commit"] == a
    # the team edits its repo: a README section and its own contract
    readme = domain / README
    readme.write_text(readme.read_text() + "\n## On call\n\nPage #payments-oncall.\n")
    contract = domain / "contracts" / "account.yaml"
    contract.write_text(contract.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    git_commit(domain, "our edits")

    # template B: a new file, a changed hook config, a README line changed at the top
    runbook = _template_file(template_repo, "docs/runbook.md")
    runbook.parent.mkdir()
    runbook.write_text("# {{ cookiecutter.domain_name }} runbook\n")
    hooks = _template_file(template_repo, ".pre-commit-config.yaml")
    extra = "      - id: no-large-files\n        name: no large files\n"
    hooks.write_text(hooks.read_text() + extra + "        entry: x\n        language: system\n")
    template_readme = _template_file(template_repo, README)
    template_readme.write_text(template_readme.read_text().replace("Owner:", "Owning team:", 1))
    contract_tpl = _template_file(template_repo, "contracts/{{cookiecutter.product_name}}.yaml")
    contract_tpl.write_text(
        contract_tpl.read_text().replace("slo:\n  freshness: 1d", "slo:\n  freshness: 2d")
    )
    git_commit(template_repo, "template B")
    b = run(["git", "rev-parse", "HEAD"], template_repo).strip()

    code, out = run_status(
        [str(BIN / "meshkit"), "template", "check", "--path", str(domain)], domain
    )
    assert code == 1, out
    assert "behind the template" in out

    report = update(domain)
    assert report.clean, report
    assert (report.old_commit, report.new_commit) == (a, b)
    assert sorted(report.changed) == [".pre-commit-config.yaml", README, "docs/runbook.md"]
    assert "contracts" in report.skipped  # the team's own, listed as not touched
    assert (domain / "docs" / "runbook.md").read_text() == "# Payments runbook\n"
    assert "no-large-files" in (domain / ".pre-commit-config.yaml").read_text()
    text = readme.read_text()
    assert "Owning team: payments-team" in text  # the template's change arrived
    assert "Page #payments-oncall." in text  # the team's edit survived
    # contracts are the team's: the template's change to the example is not applied
    assert "freshness: 1d" in contract.read_text()
    assert "version: 1.1.0" in contract.read_text()
    assert json.loads((domain / ".cruft.json").read_text())["commit"] == b
    git_commit(domain, "template B")
    code, out = run_status(
        [str(BIN / "meshkit"), "template", "check", "--path", str(domain)], domain
    )
    assert code == 0, out

    # template C and the team change the same line: a conflict, named, exit code 1
    readme.write_text(readme.read_text().replace("Owning team:", "Owners:", 1))
    git_commit(domain, "our wording")
    template_readme.write_text(template_readme.read_text().replace("Owning team:", "Team:", 1))
    git_commit(template_repo, "template C")
    code, out = run_status(
        [str(BIN / "meshkit"), "template", "update", "--path", str(domain)], domain,
        COLUMNS="200",
    )  # fmt: skip
    assert code == 1, out
    assert "README.md" in out
    assert "conflict" in out
    assert "not touched (the repository's own, skipped by updates): contracts, samples" in out
    assert "<<<<<<<" in readme.read_text()


def test_update_refuses_a_dirty_repo_with_a_message(template_repo: Path, tmp_path: Path) -> None:
    domain = bake(tmp_path / "domains", template=template_repo, domain_name="Payments")
    git_commit(domain)
    (domain / README).write_text("changed\n")
    code, out = run_status(
        [str(BIN / "meshkit"), "template", "update", "--path", str(domain)], domain
    )
    assert code == 1
    assert "uncommitted changes (README.md)" in " ".join(out.split())
    assert "Traceback" not in out


def test_no_answers_file_is_a_clear_error(tmp_path: Path) -> None:
    code, out = run_status(
        [str(BIN / "meshkit"), "template", "update", "--path", str(tmp_path)], tmp_path
    )
    assert code == 1
    assert "no template answers file" in " ".join(out.split())
    assert "Traceback" not in out


def test_an_unreachable_template_is_one_clear_line(template_repo: Path, tmp_path: Path) -> None:
    domain = bake(tmp_path / "domains", template=template_repo, domain_name="Payments")
    git_commit(domain)
    gone = tmp_path / "moved-away"
    code, out = run_status(
        [str(BIN / "meshkit"), "template", "update", "--path", str(domain),
         "--template", str(gone)], domain, COLUMNS="300",
    )  # fmt: skip
    assert code == 1, out
    assert f"cannot fetch the template from {gone}" in out
    assert "fix: check the network and the address" in out
    assert "Traceback" not in out
