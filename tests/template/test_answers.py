"""Bad answers are rejected before anything is generated, each with a message saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.template.conftest import BIN, ROOT, run_status

CASES = [
    ({"domain_name": "!!!"}, "project_slug '': the domain name has no letters or digits"),
    ({"domain_name": "1-bad name!"}, "project_slug '1-bad-name': it starts with a digit"),
    ({"project_slug": "Customers_2"}, "project_slug 'Customers_2': it has characters other"),
    ({"domain_name": "Class"}, "the package name 'class' is reserved"),
    ({"domain_name": "Meshkit"}, "the package name 'meshkit' is reserved"),
    ({"domain_name": "JSON"}, "the package name 'json' is reserved"),
    ({"owner_contact": "team.example.com"}, "owner_contact 'team.example.com': not an e-mail"),
    ({"owner_contact": "a b@example.com"}, "owner_contact 'a b@example.com': not an e-mail"),
    ({"owner_team": ""}, "owner_team '': expected a team name"),
    ({"product_name": "Customer-Profile"}, "product_name 'Customer-Profile': expected lowercase"),
    ({"product_name": "cdc"}, "product_name 'cdc': reserved"),
    ({"source_table": "order items"}, "source_table 'order items': expected an unquoted"),
    ({"meshkit_version": "latest"}, "meshkit_version 'latest': expected a version"),
    ({"meshkit_path": "/nowhere"}, "meshkit_path '/nowhere': no pyproject.toml there"),
    ({"package_index": "pypi.internal"}, "package_index 'pypi.internal': expected the http(s)"),
    ({"package_index": "ftp://x/simple"}, "package_index 'ftp://x/simple': expected the http"),
    ({"description": ""}, "description: expected one non-empty line"),
    # derived names must fit where they end up: meshkit_<domain> is the replication slot
    ({"domain_name": "x" * 56}, f"project_slug '{'x' * 56}': too long (56 characters)"),
    ({"source_table": "t" * 64}, f"source_table '{'t' * 64}': too long (64 characters)"),
]


@pytest.mark.parametrize(("answers", "message"), CASES, ids=[c[1][:30] for c in CASES])
def test_bad_answer_is_rejected_with_a_message(
    answers: dict[str, str], message: str, tmp_path: Path
) -> None:
    args = [f"{k}={v}" for k, v in {"meshkit_path": str(ROOT / "sdk"), **answers}.items()]
    output = tmp_path / "out"
    cmd = [str(BIN / "cookiecutter"), "--no-input", "-o", str(output), str(ROOT),
           "--directory", "template", *args]  # fmt: skip
    code, out = run_status(cmd, tmp_path)
    assert code != 0, out
    assert message in out, out
    assert "nothing was generated" in out
    assert not output.exists() or not any(output.iterdir())  # the half-made repo is removed


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    cmd = [str(BIN / "cookiecutter"), "--no-input", "-o", str(tmp_path), str(ROOT),
           "--directory", "template", "owner_contact=nope", "product_name=X",
           "source_table=a-b"]  # fmt: skip
    code, out = run_status(cmd, tmp_path)
    assert code != 0
    assert out.count("error: ") == 3, out
    assert "3 bad answer(s)" in out
