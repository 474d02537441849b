"""``meshkit privacy ...``: scan samples for personal data, manage keys, erase a data subject.

- ``scan FILE...``: CSV, JSON lines or Parquet samples; a table per file (``--format json``
  for machines); ``--contract`` marks fields the contract declares, and
  ``--fail-on-undeclared`` exits 1 when personal data sits in an undeclared field.
- ``keys new-master-key | create NAME | rotate NAME | list | audit``: the local key store.
- ``erase --subject ID``: crypto-shreds one data subject and reports which products hold
  data of that subject (from the contracts in ``--contracts``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from meshkit.contracts import load_contract
from meshkit.errors import MeshkitError
from meshkit.files import require_regular_file
from meshkit.privacy.erasure import erase, load_holdings
from meshkit.privacy.keys import LocalKeyStore, new_master_key
from meshkit.privacy.scanner import FieldFinding, declared_of, scan_table

privacy_app = typer.Typer(
    name="privacy",
    help="Scan for personal data, manage tokenization and subject keys, erase a data subject.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    name="keys", help="The local key store (keys wrapped under MESHKIT_MASTER_KEY).",
    no_args_is_help=True,
)  # fmt: skip
privacy_app.add_typer(keys_app)

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="where keys.sqlite lives (default .state/privacy; env MESHKIT_PRIVACY_STATE_DIR)",
        show_default=False,
    ),
]
Format = Annotated[str, typer.Option("--format", help="table or json")]


def register(app: typer.Typer) -> None:
    """Add the ``privacy`` command group to the root app."""
    app.add_typer(privacy_app)


def _out() -> Console:
    return Console(highlight=False)


def _check_format(fmt: str) -> None:
    if fmt not in {"table", "json"}:
        raise MeshkitError(f"--format: expected 'table' or 'json', got {fmt!r}")


# -- scan ---------------------------------------------------------------------------------


def read_sample(path: Path) -> Any:
    """A sample file as an Arrow table: ``.csv`` (all text), ``.jsonl``, ``.parquet``."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    require_regular_file(path)  # a FIFO or a device would block or never end
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                header = next(csv.reader(fh), [])
            if not header:
                raise MeshkitError(f"{path}: empty CSV file (expected a header line)")
            types = dict.fromkeys(header, pa.string())
            return pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(column_types=types))
        if suffix in {".jsonl", ".ndjson", ".json"}:
            return pa_json.read_json(path)
        if suffix == ".parquet":
            return pq.read_table(path)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
        raise MeshkitError(f"{path}: cannot read it as {suffix[1:]}: {exc}") from None
    raise MeshkitError(
        f"{path}: unknown sample format {suffix!r}; expected .csv, .jsonl/.ndjson or .parquet"
    )


def _share_text(f: FieldFinding) -> str:
    return ", ".join(f"{c} {f.share(c):.0%}" for c in f.categories)


@privacy_app.command("scan")
def scan(
    files: Annotated[list[Path], typer.Argument(help="sample files (.csv, .jsonl, .parquet)")],
    sample: Annotated[int, typer.Option(help="rows sampled per file")] = 1000,
    fmt: Format = "table",
    contract: Annotated[
        Path | None,
        typer.Option("--contract", help="the product's contract: its declared PII is expected"),
    ] = None,
    fail_on_undeclared: Annotated[
        bool, typer.Option("--fail-on-undeclared", help="exit 1 if undeclared PII is found")
    ] = False,
) -> None:
    """Find personal data in sample files: categories, share of values, masked examples."""
    _check_format(fmt)
    declared = declared_of(load_contract(contract)) if contract is not None else None
    results: dict[str, list[FieldFinding]] = {}
    for path in files:
        results[str(path)] = scan_table(read_sample(path), sample=sample, declared=declared)
    undeclared = any(f.undeclared for fs in results.values() for f in fs)
    if fmt == "json":
        doc = {name: [f.as_dict() for f in fs if f.matches] for name, fs in results.items()}
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        console = _out()
        for name, findings in results.items():
            table = Table(title=Text(f"{name}: personal data found"), title_justify="left")
            cols = ("field", "sampled", "categories (share)", "examples (masked)", "declared")
            for col in cols:
                table.add_column(col, justify="right" if col == "sampled" else "left")
            hits = [f for f in findings if f.matches]
            for f in hits:
                examples = "; ".join(e for c in f.categories for e in f.examples[c])
                mark = Text(f.declared) if f.declared else Text("no", style="bold red")
                table.add_row(Text(f.field), str(f.sampled), _share_text(f), Text(examples), mark)
            if hits:
                console.print(table)
            else:
                console.print(
                    Text(f"{name}: no personal data found in {len(findings)} fields"),
                    soft_wrap=True,
                )
    if fail_on_undeclared and undeclared:
        raise typer.Exit(1)


# -- keys ---------------------------------------------------------------------------------


@keys_app.command("new-master-key")
def keys_new_master_key() -> None:
    """Print a fresh random master key (base64 of 32 bytes) for MESHKIT_MASTER_KEY."""
    typer.echo(new_master_key())


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="key name, e.g. customer")],
    state_dir: StateDir = None,
) -> None:
    """Create a named tokenization key (version 1)."""
    with LocalKeyStore.open(state_dir) as store:
        key = store.create_token_key(name)
    _out().print(f"created token key {key.key_id}")


@keys_app.command("rotate")
def keys_rotate(
    name: Annotated[str, typer.Argument(help="key name")],
    state_dir: StateDir = None,
) -> None:
    """Add a new current version of a tokenization key; old tokens stay verifiable."""
    with LocalKeyStore.open(state_dir) as store:
        key = store.rotate_token_key(name)
    _out().print(f"rotated: {key.key_id} is now current")


@keys_app.command("list")
def keys_list(state_dir: StateDir = None, fmt: Format = "table") -> None:
    """List tokenization keys and their versions (never the secrets)."""
    _check_format(fmt)
    with LocalKeyStore.open(state_dir) as store:
        keys = store.list_token_keys()
    if fmt == "json":
        typer.echo(json.dumps([k.__dict__ for k in keys], indent=2))
        return
    table = Table("key id", "state", "created at")
    for k in keys:
        table.add_row(k.key_id, k.state, k.created_at)
    _out().print(table)


@keys_app.command("audit")
def keys_audit(state_dir: StateDir = None, fmt: Format = "table") -> None:
    """Show the key audit log: create, rotate, create-subject, erase."""
    _check_format(fmt)
    with LocalKeyStore.open(state_dir) as store:
        events = store.audit_events()
    if fmt == "json":
        typer.echo(json.dumps([e.__dict__ for e in events], indent=2))
        return
    table = Table("at", "action", "key", "detail")
    for e in events:
        table.add_row(e.at, e.action, e.key_id, Text(e.detail))
    _out().print(table)


# -- erase --------------------------------------------------------------------------------


@privacy_app.command("erase")
def erase_subject(
    subject: Annotated[str, typer.Option("--subject", help="the data subject's id")],
    contracts: Annotated[
        Path | None,
        typer.Option("--contracts", help="directory of contracts: report the products involved"),
    ] = None,
    reason: Annotated[str, typer.Option(help="why (e.g. the request number), audited")] = "",
    state_dir: StateDir = None,
    fmt: Format = "table",
) -> None:
    """Crypto-shred one data subject: delete its key, audit it, report what it covered."""
    _check_format(fmt)
    products = load_holdings(contracts) if contracts is not None else []
    with LocalKeyStore.open(state_dir) as store:
        report = erase(store, subject, products, reason=reason)
    if fmt == "json":
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    e = report.erasure
    console = _out()
    if e.already_erased:
        console.print(f"subject already erased at {e.erased_at} (key {e.key_ref}); recorded again")
    elif e.had_key:
        console.print(f"erased: key {e.key_ref} deleted at {e.erased_at}; the subject's "
                      "encrypted fields are unreadable everywhere")  # fmt: skip
    else:
        console.print(f"no key existed for this subject; a tombstone (key {e.key_ref}) now "
                      "refuses any new data for it")  # fmt: skip
    if contracts is None:
        return
    if not report.products:
        console.print(Text(f"no product in {contracts} declares data of a data subject"))
        return
    table = Table(title="products holding data of this subject", title_justify="left")
    for col in ("product", "subject field", "now unreadable", "still to delete by key", "ports"):
        table.add_column(col)
    for p in report.products:
        cells = (p.product, p.subject_field or "", ", ".join(p.encrypted_fields) or "-",
                 ", ".join(p.other_personal_fields) or "-", ", ".join(p.ports))  # fmt: skip
        table.add_row(*map(Text, cells))
    console.print(table)
