"""``meshkit contract lint``: exact messages for bad contracts, clean exit for good ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.contracts.lint import lint_paths
from meshkit.contracts.loader import load_contract, parse_contract
from meshkit.errors import ContractError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "contracts"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
runner = CliRunner()


def test_there_are_many_distinct_bad_cases() -> None:
    assert len(INVALID) >= 15
    messages = {p.with_suffix(".expected").read_text(encoding="utf-8") for p in INVALID}
    assert len(messages) == len(INVALID)


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_lint_reports_exactly_the_expected_problems(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case.parent)
    result = runner.invoke(app, ["contract", "lint", case.name])
    assert result.exit_code == 1
    assert result.stdout == case.with_suffix(".expected").read_text(encoding="utf-8")
    assert "Traceback" not in result.output


def test_valid_contracts_lint_clean() -> None:
    result = runner.invoke(app, ["contract", "lint", str(FIXTURES / "valid")])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "checked 2 contract file(s): ok" in result.stderr


def test_json_format_lists_every_problem_with_its_location(tmp_path: Path) -> None:
    bad = tmp_path / "contracts"
    bad.mkdir()
    (bad / "a.yaml").write_text((FIXTURES / "invalid" / "status_typo.yaml").read_text())
    (bad / "b.yml").write_text("")
    (bad / ".hidden").mkdir()
    (bad / ".hidden" / "c.yaml").write_text("[")
    result = runner.invoke(app, ["contract", "lint", str(bad), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["files"] == 2
    assert doc["errors"] == 2
    first, second = doc["problems"]
    assert first == {
        "file": str(bad / "a.yaml"),
        "line": 4,
        "column": 9,
        "path": "status",
        "message": "invalid value 'activ'",
        "expected": "one of draft, active, deprecated, retired",
        "hint": "did you mean 'active'?",
        "severity": "error",
    }
    assert (second["file"], second["line"], second["message"]) == (
        str(bad / "b.yml"),
        1,
        "the file is empty",
    )


def test_missing_path_and_unknown_format() -> None:
    result = runner.invoke(app, ["contract", "lint", "no/such/contract.yaml"])
    assert result.exit_code == 1
    assert result.stdout == "no/such/contract.yaml: error: no such file or directory\n"
    result = runner.invoke(app, ["contract", "lint", str(FIXTURES / "valid"), "--format", "xml"])
    assert result.exit_code != 0


def test_not_utf8_and_alias_bomb_are_problems(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"domain: shop\ndescription: caf\xe9\n")
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
              for i in range(1, 12)]  # fmt: skip
    bomb.write_text("\n".join(lines) + "\n")
    result = lint_paths([latin, bomb])
    assert [(p.file, p.line, p.message) for p in result.problems] == [
        (str(latin), 2, "the file is not UTF-8 text"),
        (str(bomb), 1, "the document expands to more than 200000 values (aliases?)"),
    ]


def test_yaml_12_scalars_and_merge_keys() -> None:
    text = (FIXTURES / "valid" / "order.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "access:\n", "x-defaults: &acc {visibility: domain_private}\naccess:\n  <<: *acc\n"
    )
    _, problems = parse_contract(text, "order.yaml")
    assert [p.message for p in problems] == ["unknown key 'x-defaults'"]
    text = text.replace("x-defaults: &acc {visibility: domain_private}\n", "").replace(
        "  <<: *acc\n", ""
    )
    text = text.replace("values: [EUR, USD, GBP]", "values: [EUR, NO, 'off']")
    contract, problems = parse_contract(text, "order.yaml")
    assert problems == []
    assert contract is not None
    assert contract.quality[1].values == ("EUR", "NO", "off")  # type: ignore[union-attr]


def test_load_contract_raises_contract_error_with_problems() -> None:
    with pytest.raises(ContractError) as info:
        load_contract(FIXTURES / "invalid" / "status_typo.yaml")
    assert len(info.value.problems) == 1
    assert "status_typo.yaml:4:9: error: status: invalid value 'activ'" in str(info.value)
    assert load_contract(FIXTURES / "valid" / "customer.yaml").address == "customers.customer.v1"


def test_lint_of_500_contracts(tmp_path: Path) -> None:
    # Its speed is measured by bench.contracts (lint_500_s=), not asserted here.
    text = (FIXTURES / "valid" / "customer.yaml").read_text(encoding="utf-8")
    for i in range(500):
        (tmp_path / f"c{i}.yaml").write_text(text.replace("name: customer\n", f"name: c{i}\n"))
    result = lint_paths([tmp_path])
    assert result.ok
    assert len(result.contracts) == 500


def test_a_rule_on_a_field_its_transform_hides_is_a_located_warning(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "domain: d\nname: p\nversion: 1.0.0\nowner: {team: t, contact: t@example.com}\n"
        "subject: id\n"
        "fields:\n"
        "  - {name: id, type: string, required: true}\n"
        "  - {name: email, type: string, pii: email, transform: {kind: tokenize, key: k}}\n"
        "  - {name: name, type: string, pii: name, transform: {kind: redact}}\n"
        "quality:\n"
        "  - {kind: not_null, field: email}\n"
        "  - {kind: regex, field: email, pattern: '.+@.+', severity: warn}\n"
        "  - {kind: unique, fields: [id, name]}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["contract", "lint", str(path)])
    assert result.exit_code == 0, result.output  # a warning, not an error
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:12:26: warning: quality[1].field: ")
    assert "'email' is stored tokenized" in lines[0]
    assert lines[1].startswith(f"{path}:13:33: warning: quality[2].fields[1]: ")
    assert "'name' is stored redacted" in lines[1]
    assert lint_paths([path]).errors == 0


def _product(domain: str, name: str, version: str, inputs: str = "") -> str:
    return (
        f"domain: {domain}\nname: {name}\nversion: {version}\n"
        "owner: {team: t, contact: t@example.com}\n"
        "fields:\n  - {name: id, type: string, required: true}\n" + inputs
    )


def test_reading_a_major_no_longer_produced_is_a_located_warning(tmp_path: Path) -> None:
    reads_v1 = "ports:\n  inputs:\n    - {kind: product, product: orders.order, major: 1}\n"
    (tmp_path / "order_v2.yaml").write_text(_product("orders", "order", "2.0.0"))
    consumer = tmp_path / "report.yaml"
    consumer.write_text(_product("reports", "report", "1.0.0", reads_v1))
    result = runner.invoke(app, ["contract", "lint", str(tmp_path)])
    assert result.exit_code == 0, result.output  # a warning, not an error
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(f"{consumer}:9:")
    assert "warning: ports.inputs[0].major: reads orders.order v1, which no linted " in lines[0]
    assert "(produced: v2)" in lines[0]
    # producing v1 and v2 side by side during the migration: no warning
    (tmp_path / "order_v1.yaml").write_text(_product("orders", "order", "1.0.0"))
    assert lint_paths([tmp_path]).problems == []
    # a product none of the linted files produce is not judged
    assert lint_paths([consumer]).problems == []
