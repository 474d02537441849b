"""The domain's contracts are valid, and no personal data leaves the domain untransformed."""

from pathlib import Path

from meshkit.contracts.lint import lint_paths

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"


def test_contracts_lint_clean():
    result = lint_paths([CONTRACTS])
    assert result.ok, "\n".join(str(p) for p in result.problems)
    assert {c.name for c in result.contracts.values()} == {
        "recommendation",
    }


def test_every_personal_field_has_a_transform():
    for contract in lint_paths([CONTRACTS]).contracts.values():
        for field in contract.fields:
            if field.pii is not None:
                assert field.transform is not None, f"{contract.name}.{field.name}"
