"""The platform team's ``meshkit-platform`` command line (Typer)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from rich.console import Console

import meshkit
import meshkit_platform
from meshkit.cli.failures import run
from meshkit_platform import release
from meshkit_platform.provisioning import cli as provisioning_cli
from meshkit_platform.registry.cli import app as registry_app

app = typer.Typer(
    name="meshkit-platform",
    help="meshkit platform: provision and register every domain's data products.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(registry_app, name="registry")


@app.command()
def version() -> None:
    """Print the platform and SDK versions."""
    Console().print(f"meshkit-platform {meshkit_platform.__version__} (sdk {meshkit.__version__})")


release.register(app)
provisioning_cli.register(app)


@app.callback()
def _root() -> None:
    """meshkit platform commands."""


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``meshkit-platform`` console script.

    Failures end as the SDK's do (``meshkit.cli.failures.run``): one line, exit code 1.
    """
    sys.exit(run(app, argv, prog_name="meshkit-platform"))
