"""``meshkit template check|update``: keep a domain repository in step with the template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

template_app = typer.Typer(
    help="Keep this domain repository in step with the meshkit template.", no_args_is_help=True
)

ProjectDir = Annotated[Path, typer.Option("--path", help="the domain repository")]
Checkout = Annotated[str | None, typer.Option("--checkout", help="template branch, tag or commit")]


def register(app: typer.Typer) -> None:
    app.add_typer(template_app, name="template")


@template_app.command("check")
def check(path: ProjectDir = Path(), checkout: Checkout = None) -> None:
    """Exit 0 when the repository is on the template's latest version, 1 when behind."""
    from meshkit.template import is_current

    if is_current(path, checkout=checkout):
        typer.echo("up to date with the template")
        return
    typer.echo("behind the template: run 'meshkit template update'")
    raise typer.Exit(1)


@template_app.command("update")
def update(
    path: ProjectDir = Path(),
    checkout: Checkout = None,
    template: Annotated[
        str | None, typer.Option("--template", help="fetch the template from here instead")
    ] = None,
) -> None:
    """Merge the template's changes into the repository; conflicts are listed, exit 1."""
    from meshkit.template import update as run_update

    report = run_update(path, checkout=checkout, template=template)
    console = Console()
    if report.up_to_date:
        console.print("already up to date with the template")
        return
    console.print(f"template {report.old_commit} → {report.new_commit}")
    table = Table(title="what the update changed")
    table.add_column("file", overflow="fold")
    table.add_column("result")
    for rel in report.changed:
        table.add_row(Text(rel), "[green]merged")
    for rel in report.conflicts:
        table.add_row(Text(rel), "[bold red]conflict: resolve the <<<<<<< markers")
    for rel in report.rejects:
        table.add_row(
            Text(rel), "[bold red]rejected hunks: apply them by hand, then delete the file"
        )
    console.print(table)
    if report.skipped:
        console.print(
            "not touched (the repository's own, skipped by updates): " + ", ".join(report.skipped),
            markup=False,
        )
    if not report.clean:
        console.print(
            f"[bold red]{len(report.conflicts) + len(report.rejects)} file(s) need a hand;[/] "
            "review with 'git diff', then commit"
        )
        raise typer.Exit(1)
    console.print("review with 'git diff', then commit")
