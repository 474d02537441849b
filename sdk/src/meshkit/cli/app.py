"""The root ``meshkit`` Typer app: registers each command group and turns errors into exit codes.

``main`` runs the app through ``meshkit.cli.failures.run``, the one place where failures
become messages and exit codes.

Each command group lives in its own module (``meshkit.cli.<group>``) and exposes a
``register(app)`` function, so adding a group is one line in ``_GROUPS``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

import meshkit
from meshkit.cli.failures import run

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
    "meshkit.cli.publish",
    "meshkit.cli.erasure",
    "meshkit.cli.deploy",
    "meshkit.cli.flow",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"meshkit {meshkit.__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """meshkit: declare, check and run data products."""


def _register_groups() -> None:
    for module_name in _GROUPS:
        module = importlib.import_module(module_name)
        module.register(app)


_register_groups()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``meshkit`` console script: one clear line for every failure.

    ``meshkit.cli.failures.run`` turns every expected failure into ``error: <message>``
    and exit code 1 (usage errors exit 2); ``MESHKIT_DEBUG=1`` shows the traceback of an
    unexpected one.
    """
    sys.exit(run(app, argv, prog_name="meshkit"))
