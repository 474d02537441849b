"""``meshkit hooks``: the checks behind the pre-commit hooks that domain repos use.

pre-commit passes many files at once; these commands take them all and check each the
way its single-file command would:

- ``contract-diff FILE...``: the breaking-change gate (``meshkit contract diff --against``)
  of every contract against a git revision (default ``HEAD``, the last commit).
- ``pii-scan FILE...``: ``meshkit privacy scan --fail-on-undeclared`` of every sample file
  ``samples/<product>.<ext>`` with its contract ``contracts/<product>.yaml``.

The hook definitions are ``.pre-commit-hooks.yaml`` at the root of the meshkit repository.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from meshkit.cli.failures import clip

hooks_app = typer.Typer(
    help="The checks behind meshkit's pre-commit hooks (many files per call).",
    no_args_is_help=True,
)

Files = Annotated[list[Path], typer.Argument(help="files to check", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(hooks_app, name="hooks")


def _exit_code(call: Callable[[], None]) -> int:
    try:
        call()
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    return 0


def _has_commit(revision: str, cwd: Path) -> bool:
    probe = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@hooks_app.command("contract-diff")
def contract_diff(
    files: Files,
    against: Annotated[
        str, typer.Option("--against", help="git revision to compare with")
    ] = "HEAD",
) -> None:
    """The breaking-change gate of each contract against a git revision."""
    from meshkit.cli.contract_tools import diff

    if not _has_commit(against, Path.cwd()):
        typer.echo(
            clip(f"no commit {against!r} yet: nothing to compare the contracts with"), err=True
        )
        return
    failed: list[str] = []
    for path in files:
        typer.echo(clip(f"== {path} (against {against})"))
        if _exit_code(partial(diff, [str(path)], against=against, fmt="text")):
            failed.append(str(path))
    if failed:
        typer.echo(clip(f"contract gate failed: {', '.join(failed)}"), err=True)
        raise typer.Exit(1)


def contract_for(sample: Path) -> Path | None:
    """``contracts/<product>.yaml`` of ``samples/<product>.<ext>`` (searched upwards)."""
    for parent in sample.resolve().parents:
        for suffix in (".yaml", ".yml"):
            candidate = parent / "contracts" / f"{sample.stem}{suffix}"
            if candidate.is_file():
                return candidate
        if (parent / ".git").exists():
            break
    return None


@hooks_app.command("pii-scan")
def pii_scan(files: Files) -> None:
    """Scan sample files for personal data their product's contract does not declare."""
    from meshkit.cli.privacy import scan

    failed: list[str] = []
    for path in files:
        contract = contract_for(path)
        if contract is None:
            typer.echo(
                clip(
                    f"{path}: no contract contracts/{path.stem}.yaml for this sample; every "
                    "sample must be named after the product it shows"
                ),
                err=True,
            )
            failed.append(str(path))
            continue
        if _exit_code(partial(scan, [path], contract=contract, fail_on_undeclared=True)):
            failed.append(str(path))
    if failed:
        typer.echo(
            clip(
                f"undeclared personal data (or no contract) in: {', '.join(failed)}; declare "
                "it in the contract (pii + transform) or remove it from the sample"
            ),
            err=True,
        )
        raise typer.Exit(1)
