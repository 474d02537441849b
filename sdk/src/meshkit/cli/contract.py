"""``meshkit contract ...``: the domain-facing verbs on contracts.

``lint PATH...`` lives here. Other verbs live in their own modules, each exposing
``register(group: typer.Typer) -> None`` and listed in ``_COMMAND_MODULES``; they add
their commands to ``contract_app``.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated

import typer

from meshkit.cli.failures import clip
from meshkit.errors import MeshkitError

contract_app = typer.Typer(
    name="contract",
    help="Check, compare, export and import data-product contracts.",
    no_args_is_help=True,
)

# Modules adding commands to ``contract_app``: each has ``register(group: typer.Typer)``.
_COMMAND_MODULES: tuple[str, ...] = ("meshkit.cli.contract_tools",)


def register(app: typer.Typer) -> None:
    """Add the ``contract`` command group (with every command module's verbs) to the root app."""
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(contract_app)
    app.add_typer(contract_app)


@contract_app.command("lint")
def lint(
    paths: Annotated[
        list[Path], typer.Argument(help="Contract files or directories (searched for *.yaml).")
    ],
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Validate contracts: every problem with file:line:column, exit code 1 on any error."""
    if fmt not in {"text", "json"}:
        raise MeshkitError(f"--format: expected 'text' or 'json', got {fmt!r}")
    from meshkit.contracts.lint import lint_paths

    result = lint_paths(paths)
    if fmt == "json":
        doc = {
            "files": len(result.files),
            "errors": result.errors,
            "problems": [p.to_dict() for p in result.problems],
        }
        typer.echo(json.dumps(doc, indent=2))
    else:
        for problem in result.problems:
            typer.echo(clip(problem.format()))
        verdict = "ok" if result.ok else f"{result.errors} error{'s' * (result.errors != 1)}"
        typer.echo(f"checked {len(result.files)} contract file(s): {verdict}", err=True)
    raise typer.Exit(0 if result.ok else 1)
