"""Read contracts from YAML files, reporting every problem with its file, line and column.

- ``parse_contract(text, file)`` → ``(Contract | None, [Problem])``: never raises for bad
  input; problems are sorted by position.
- ``read_contract(path)`` → the same for a file (unreadable files become problems, as do
  FIFOs, devices and files over ``MAX_CONTRACT_BYTES``, refused before reading).
- ``load_contract(path)`` → a ``Contract``, or ``ContractError`` carrying the problems.
- ``parse_model(text, file, model)``: the same machinery for any pydantic model read from
  YAML (used by importers of other contract formats).
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from meshkit.contracts.messages import describe, problems_from_error
from meshkit.contracts.model import Contract
from meshkit.contracts.problem import Problem
from meshkit.contracts.yamlpos import YamlError, read_yaml
from meshkit.errors import ContractError
from meshkit.files import MIB, UnreadableFileError, read_limited

M = TypeVar("M", bound=BaseModel)
MAX_CONTRACT_BYTES = 4 * MIB  # a contract is a few KiB; 4 MiB is far beyond any real one
CONTRACT_SHAPE = "a mapping with domain, name, version, owner and fields"


def parse_model(
    text: str, file: str, model: type[M], *, shape: str = "a mapping"
) -> tuple[M | None, list[Problem]]:
    """Validate YAML ``text`` as ``model``; problems located in ``file``, never an exception."""
    try:
        doc = read_yaml(text)
    except YamlError as exc:
        return None, [Problem(file, exc.line, exc.column, "", exc.message, hint=exc.hint)]
    if doc.data is None:
        return None, [Problem(file, 1, 1, "", "the file is empty", expected=shape)]
    if not isinstance(doc.data, dict):
        line, column = doc.position(())
        return None, [
            Problem(file, line, column, "", f"the top level is {describe(doc.data)}", shape)
        ]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        return None, problems_from_error(exc, doc, file, model)
    except RecursionError:
        return None, [Problem(file, 1, 1, "", "the document is nested too deeply")]


def parse_contract(text: str, file: str = "<string>") -> tuple[Contract | None, list[Problem]]:
    """A contract from YAML text, or the problems that prevent it."""
    return parse_model(text, file, Contract, shape=CONTRACT_SHAPE)


def read_contract(path: str | Path) -> tuple[Contract | None, list[Problem]]:
    """A contract from a file, or the problems that prevent it (unreadable files included)."""
    name = str(path)
    try:
        raw = read_limited(path, limit=MAX_CONTRACT_BYTES)
    except UnreadableFileError as exc:
        return None, [Problem(name, 0, 0, "", exc.reason)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(name, line, 1, "", "the file is not UTF-8 text", "UTF-8")]
    return parse_contract(text, name)


def load_contract(path: str | Path) -> Contract:
    """A contract from a file; ``ContractError`` listing every problem otherwise."""
    contract, problems = read_contract(path)
    if contract is None:
        lines = "\n".join(p.format() for p in problems)
        raise ContractError(f"{path}: invalid contract\n{lines}", list(problems))
    return contract
