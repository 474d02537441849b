"""The root ``meshkit`` Typer app: registers each command group and turns errors into exit codes.

Each command group lives in its own module (``meshkit.cli.<group>``) and exposes a
``register(app)`` function, so adding a group is one line in ``_GROUPS``.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from meshkit.errors import MeshkitError

app = typer.Typer(
    name="meshkit",
    help="meshkit: declare, check and run data products.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command-group modules, each with ``register(app: typer.Typer) -> None``.
_GROUPS: tuple[str, ...] = (
    "meshkit.cli.local",
    "meshkit.cli.privacy",
    "meshkit.cli.cdc",
    "meshkit.cli.contract",
    "meshkit.cli.hooks",
    "meshkit.cli.template",
)


def _register_groups() -> None:
    for module_name in _GROUPS:
        module = importlib.import_module(module_name)
        module.register(app)


_register_groups()


def main() -> None:
    """Entry point of the ``meshkit`` console script: no traceback for expected errors."""
    try:
        app(standalone_mode=True)
    except MeshkitError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
