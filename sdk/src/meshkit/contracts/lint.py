"""Lint many contract files at once: every problem of every file, located.

``lint_paths(paths)`` takes files and directories (searched recursively for ``*.yaml``
and ``*.yml``, skipping hidden directories) and returns a ``LintResult``. It never
raises for bad input: unreadable files, invalid YAML and invalid contracts are all
problems. It is cheap per file (libyaml parsing, one pydantic validation), so linting
hundreds of contracts takes well under a second or two.

Besides errors, lint warns (severity ``warning``, located to the field name in the rule)
about each quality rule that reads a field whose privacy transform hides its stored values
(``meshkit.contracts.evaluable``): no port can evaluate that rule on what it stores; and
about each product input port reading a major version that no linted contract produces
while the linted contracts do produce that product at another major (its source bumped
to a new major and retired the old one; a domain producing v1 and v2 side by side during
a migration is not warned about). A product none of the linted files produce is not
judged: it may live in another repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from meshkit.contracts.evaluable import hidden_fields
from meshkit.contracts.loader import read_contract
from meshkit.contracts.model import Contract
from meshkit.contracts.ports import ProductInput
from meshkit.contracts.problem import Problem, display_path
from meshkit.contracts.yamlpos import YamlError, read_yaml

SUFFIXES = (".yaml", ".yml")


@dataclass
class LintResult:
    """What ``lint_paths`` found: the files checked, the valid contracts, every problem."""

    files: list[Path] = field(default_factory=list)
    contracts: dict[Path, Contract] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    @property
    def ok(self) -> bool:
        return self.errors == 0


def contract_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """The contract files named by ``paths`` (directories searched), and missing paths."""
    files: list[Path] = []
    missing: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                missing.append(Problem(str(path), 0, 0, "", "no *.yaml contract in directory"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            missing.append(Problem(str(path), 0, 0, "", "no such file or directory"))
    return list(dict.fromkeys(files)), missing


def lint_paths(paths: Iterable[str | Path]) -> LintResult:
    """Check every contract under ``paths``."""
    files, problems = contract_files(paths)
    result = LintResult(files=files, problems=problems)
    for path in files:
        try:
            contract, found = read_contract(path)
        except Exception as exc:  # a bug must not hide the other files' problems
            found = [Problem(str(path), 0, 0, "", f"internal error while checking: {exc!r}")]
            contract = None
        if contract is not None:
            result.contracts[path] = contract
            found = found + transform_warnings(path, contract)
        result.problems.extend(found)
    result.problems.extend(retired_major_warnings(result.contracts))
    return result


def retired_major_warnings(contracts: dict[Path, Contract]) -> list[Problem]:
    """A warning for each input port reading a major no linted contract produces any more."""
    produced: dict[str, set[int]] = {}
    for contract in contracts.values():
        produced.setdefault(f"{contract.domain}.{contract.name}", set()).add(contract.major)
    out = []
    for path, contract in contracts.items():
        for i, port in enumerate(contract.ports.inputs):
            if not isinstance(port, ProductInput):
                continue
            majors = produced.get(port.product)
            if not majors or port.major in majors:
                continue
            at = ("ports", "inputs", i, "major")
            try:  # positions only
                doc = read_yaml(path.read_text(encoding="utf-8"))
                line, column = doc.position(at)
            except (OSError, UnicodeDecodeError, YamlError):
                line, column = 0, 0
            now = ", ".join(f"v{m}" for m in sorted(majors))
            out.append(
                Problem(
                    str(path),
                    line,
                    column,
                    display_path(at),
                    f"reads {port.product} v{port.major}, which no linted contract produces "
                    f"any more (produced: {now})",
                    hint=f"move this input to {port.product} v{max(majors)}, or keep a "
                    f"v{port.major} contract of {port.product} while consumers migrate",
                    severity="warning",
                )
            )
    return out


def transform_warnings(path: Path, contract: Contract) -> list[Problem]:
    """A warning for each quality rule reading a field its privacy transform hides."""
    hidden = [
        (i, h) for i, rule in enumerate(contract.quality) for h in hidden_fields(contract, rule)
    ]
    if not hidden:
        return []
    try:  # positions only (the file was just read and parsed)
        doc = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlError):
        doc = None
    out = []
    for i, h in hidden:
        at = ("quality", i, *h.at)
        line, column = doc.position(at) if doc is not None else (0, 0)
        out.append(
            Problem(
                str(path),
                line,
                column,
                display_path(at),
                f"{h.stored_as}, so no port can evaluate this rule on its stored values",
                hint="batch checks report the I/O manager's evaluation of the table before "
                "the transform, or skip the check; see the batch guide",
                severity="warning",
            )
        )
    return out
