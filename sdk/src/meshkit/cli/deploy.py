"""``meshkit deploy render -o DIR``: the deployment artifacts of the domain repository.

Reads the repository (``--repo``, default the current directory) and its optional
``deploy.yaml``; writes the Dockerfile, the Kubernetes manifests and the Dagster Helm
values into ``DIR`` (see :mod:`meshkit.deploy.render`). The guide is docs/production.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from meshkit.deploy import render as render_domain

deploy_app = typer.Typer(
    name="deploy",
    help="Deployment artifacts of the domain: Dockerfile, Kubernetes manifests, Helm values.",
    no_args_is_help=True,
)
_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(deploy_app)


@deploy_app.command()
def render(
    out: Annotated[
        Path, typer.Option("--output", "-o", help="directory to write the artifacts into")
    ],
    repo: Annotated[
        Path, typer.Option("--repo", help="the domain repository (default: here)")
    ] = Path(),
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="deployment settings (default: REPO/deploy.yaml)"),
    ] = None,
) -> None:
    """Write the Dockerfile, Kubernetes manifests and Dagster Helm values into DIR."""
    rendered = render_domain(repo, out, config)
    for rel in sorted(rendered.files):
        _out.print(escape(str(out / rel)))
    for note in rendered.notes:
        _err.print(f"note: {escape(note)}")
