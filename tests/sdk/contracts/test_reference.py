"""The contract reference page is generated from the models and kept up to date."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from meshkit.contracts import Contract
from meshkit.contracts.loader import parse_contract
from meshkit.contracts.reference import EXAMPLES, FULL_EXAMPLE, SECTIONS, render_reference

PAGE = Path(__file__).parents[3] / "docs" / "contracts.md"
DOCUMENTED = [cls for _, models in SECTIONS for cls in models]


def test_committed_page_is_up_to_date() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_reference(), (
        "docs/contracts.md is out of date: run "
        "'.venv/bin/python -m meshkit.contracts.reference --write docs/contracts.md'"
    )


def reachable(cls: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    if cls in seen:
        return seen
    seen.add(cls)

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            reachable(annotation, seen)
        for arg in typing.get_args(annotation):
            walk(arg)

    for info in cls.model_fields.values():
        walk(info.annotation)
    return seen


def test_every_model_and_key_is_documented() -> None:
    models = reachable(Contract, set())
    assert models == set(DOCUMENTED)
    page = PAGE.read_text(encoding="utf-8")
    for cls in models:
        assert f"### {cls.__name__}\n" in page
        for name, info in cls.model_fields.items():
            assert info.description, f"{cls.__name__}.{name} has no description"
            assert f"| `{info.alias or name}` |" in page


@pytest.mark.parametrize(
    "cls", [c for c in DOCUMENTED if c is not Contract], ids=lambda c: c.__name__
)
def test_each_example_is_valid_for_its_model(cls: type[BaseModel]) -> None:
    data = yaml.safe_load(EXAMPLES[cls])
    if isinstance(data, list):
        data = data[0]
    keys = {info.alias or name for name, info in cls.model_fields.items()}
    if isinstance(data, dict) and len(data) == 1 and next(iter(data)) not in keys:
        data = next(iter(data.values()))
    cls.model_validate(data)


def test_the_complete_example_is_a_valid_contract() -> None:
    contract, problems = parse_contract(FULL_EXAMPLE, "example.yaml")
    assert problems == []
    assert contract is not None
    assert contract.address == "customers.customer.v1"
