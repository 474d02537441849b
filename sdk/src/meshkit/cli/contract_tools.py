"""``meshkit contract diff | export | import``: compare, render and convert contracts.

Registered onto the ``contract`` group of ``meshkit.cli.contract``. Bad input (an
invalid contract, an unknown format, a missing git revision) is a message and exit
code 1, never a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from meshkit.cli.failures import clip
from meshkit.contracts.diff.report import DiffReport
from meshkit.contracts.loader import MAX_CONTRACT_BYTES
from meshkit.contracts.problem import Problem
from meshkit.errors import ContractError
from meshkit.files import UnreadableFileError, read_limited


def _console(stderr: bool = False) -> Console:
    # A wide console when not on a terminal, so piped tables are not wrapped at 80 columns.
    probe = sys.stderr if stderr else sys.stdout
    width = None if probe.isatty() else 200
    return Console(stderr=stderr, width=width, highlight=False)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {clip(message)}", err=True)
    return typer.Exit(1)


def _report_problems(problems: list[Problem]) -> None:
    for problem in problems:
        typer.echo(clip(problem.format()), err=True)


def diff(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="OLD NEW: two contract files; OLD may be git:<revision>:<path>. "
            "With --against, only NEW.",
            show_default=False,
        ),
    ],
    against: Annotated[
        str | None,
        typer.Option(
            "--against", help="Compare NEW with the same file at this git revision (e.g. main)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Compare two contracts: every change, breaking or compatible; exit 1 if the version lags.

    A breaking change needs a major version bump, any change a version increase.
    """
    from meshkit.contracts.diff import diff_contracts
    from meshkit.contracts.diff.source import (
        GitFile,
        git_text,
        load_source,
        parse_source,
        revision_of,
    )

    if fmt not in {"text", "json"}:
        raise _fail(f"--format: expected 'text' or 'json', got {fmt!r}")
    old_source: Path | GitFile
    new_source: Path | GitFile
    try:
        if against is not None:
            if len(sources) != 1:
                raise _fail("with --against, give only the NEW contract file")
            new_source = Path(sources[0])
            old_source = revision_of(against, new_source)
            if git_text(old_source) is None:
                _, problems = load_source(new_source)
                if problems:
                    _report_problems(problems)
                    raise _fail(f"{sources[0]}: invalid contract (run 'meshkit contract lint')")
                typer.echo(f"{sources[0]}: new since {against}, nothing to compare", err=True)
                raise typer.Exit(0)
        else:
            if len(sources) != 2:
                raise _fail("give two contracts, OLD and NEW (or NEW with --against <revision>)")
            old_source, new_source = parse_source(sources[0]), parse_source(sources[1])
        old, old_problems = load_source(old_source)
        new, new_problems = load_source(new_source)
    except ContractError as exc:
        raise _fail(str(exc)) from None
    if old is None or new is None:
        _report_problems(old_problems + new_problems)
        raise _fail("cannot compare: a contract is invalid (run 'meshkit contract lint')")
    report = diff_contracts(old, new)
    if fmt == "json":
        labels = {"old": _label(old_source), "new": _label(new_source)}
        typer.echo(json.dumps({**labels, **report.as_dict()}, indent=2))
    else:
        _print_report(report)
    raise typer.Exit(0 if report.gate.passed else 1)


def _label(source: object) -> str:
    label = getattr(source, "label", None)
    return label if isinstance(label, str) else str(source)


def _print_report(report: DiffReport) -> None:
    out = _console()
    if report.changes:
        table = Table(title=f"{report.old_version} → {report.new_version}", title_justify="left")
        for column in ("change", "path", "detail", "breaking?"):
            table.add_column(column, overflow="fold")
        for c in report.changes:
            mark = "[bold red]breaking[/]" if c.breaking else "[green]compatible[/]"
            table.add_row(c.kind, escape(c.path), escape(c.detail), mark)
        out.print(table)
    n, b = len(report.changes), len(report.breaking)
    gate = report.gate
    verdict = "[green]ok[/]" if gate.passed else "[bold red]FAILED[/]"
    out.print(f"{n} change{'s' * (n != 1)}, {b} breaking. gate {verdict}: {escape(gate.reason)}")
    if not gate.passed and gate.suggested_version:
        out.print(f"hint: set version: {gate.suggested_version}")


def export(
    path: Annotated[Path, typer.Argument(help="The contract file.", show_default=False)],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="The target format (see the list below)."),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Render a contract as a schema or config of another system (see the formats below)."""
    from meshkit.contracts.exporters.base import get_exporter
    from meshkit.contracts.loader import read_contract

    try:
        exporter = get_exporter(fmt)
    except ContractError as exc:
        raise _fail(str(exc)) from None
    contract, problems = read_contract(path)
    if contract is None:
        _report_problems(problems)
        raise _fail(f"{path}: invalid contract (run 'meshkit contract lint')")
    try:
        text = exporter.export(contract)
    except ContractError as exc:
        raise _fail(f"{path}: cannot export as {fmt}: {exc}") from None
    if output is None:
        typer.echo(text, nl=False)
    else:
        _write(output, text)
        typer.echo(f"wrote {output} ({exporter.name})", err=True)


def import_(
    path: Annotated[Path, typer.Argument(help="The document to import.", show_default=False)],
    source_format: Annotated[
        str, typer.Option("--from", help="The format of the document: odcs (v3.0 or v3.1).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the contract to this file, or into this existing directory as "
            "<product>.yaml, one contract per schema object; default: stdout.",
        ),
    ] = None,
    domain: Annotated[
        str | None, typer.Option("--domain", help="The owning domain (overrides the document).")
    ] = None,
    product: Annotated[
        str | None,
        typer.Option("--product", help="The product name (overrides the document)."),
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="The owning team's e-mail address (the owner contact)."),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option("--schema", help="Import only the schema object of this name."),
    ] = None,
) -> None:
    """Import a contract from another format; what cannot be carried over is warned on stderr.

    Several ODCS schema objects: one contract each with -o DIR, or one with --schema NAME.
    """
    from meshkit.contracts.model import EMAIL_PATTERN, NAME_PATTERN
    from meshkit.contracts.odcs import ImportOptions, from_odcs, from_odcs_each

    if source_format != "odcs":
        raise _fail(f"--from: unknown format {source_format!r}; valid formats: odcs")
    for option, value in (("--domain", domain), ("--product", product)):
        if value is not None and not re.fullmatch(NAME_PATTERN, value):
            raise _fail(
                f"{option}: {value!r} is not a meshkit name "
                "(lower-case letters, digits and _, starting with a letter)"
            )
    if owner is not None and not re.fullmatch(EMAIL_PATTERN, owner):
        raise _fail(f"--owner: {owner!r} is not an e-mail address")
    try:
        text = read_limited(path, limit=MAX_CONTRACT_BYTES).decode("utf-8")
    except UnreadableFileError as exc:
        raise _fail(str(exc)) from None
    except UnicodeDecodeError:
        raise _fail(f"{path}: the file is not UTF-8 text") from None
    options = ImportOptions(domain=domain, product=product, owner=owner, schema=schema)
    into_dir = output is not None and output.is_dir()
    results = (
        from_odcs_each(text, str(path), options)
        if into_dir
        else [from_odcs(text, str(path), options)]
    )
    if product is not None and len(results) > 1:
        raise _fail(
            f"--product names one product, but {path} has {len(results)} schema objects: "
            "pick one with --schema NAME, or leave out --product to name each after its object"
        )
    found = dict.fromkeys(w for r in results for w in r.warnings)  # each object repeats the rest
    warnings = sorted(found, key=lambda w: (w.line, w.column))
    _report_problems(warnings)
    failed = [p for r in results if r.contract is None for p in r.problems]
    if failed or any(r.contract is None for r in results):
        _report_problems(failed)
        raise _fail(f"{path}: cannot import ({len(failed)} problem(s))")
    n = len(warnings)
    if output is None:
        assert results[0].data is not None
        typer.echo(_yaml(results[0].data), nl=False)
        return
    targets = [
        (output / f"{r.contract.name}.yaml" if into_dir else output, r)
        for r in results
        if r.contract is not None
    ]
    names = [t for t, _ in targets]
    if len(set(names)) != len(names):
        raise _fail(f"{path}: two schema objects import as the same product name")
    for target, r in targets:
        assert r.data is not None
        _write(target, _yaml(r.data))
        typer.echo(f"wrote {target}", err=True)
    typer.echo(f"{len(targets)} contract(s), {n} warning{'s' * (n != 1)}", err=True)


def _write(target: Path, text: str) -> None:
    """Write an output file, or fail with one line naming it (a directory, no parent, …)."""
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{target}: cannot write the output: {exc.strerror or exc}") from None


def _yaml(data: dict[str, object]) -> str:
    from meshkit.contracts.exporters.odcs import dump_yaml

    head = "# Imported from ODCS by 'meshkit contract import'; check the warnings it printed.\n"
    return head + dump_yaml(data)


def register(group: typer.Typer) -> None:
    """Add ``diff``, ``export`` and ``import`` to the ``contract`` group."""
    from meshkit.contracts.exporters.base import exporter_names

    group.command("diff")(diff)
    export.__doc__ = (export.__doc__ or "") + f"\n\nFormats: {', '.join(exporter_names())}."
    group.command("export")(export)
    group.command("import")(import_)
