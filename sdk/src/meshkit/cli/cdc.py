"""``meshkit cdc run|status|reset|connector-config``: change data capture of a service database.

Settings come from ``--config cdc.yaml`` (or ``.toml``), flags on top; ``--contracts DIR``
reads the tables from the contracts' CDC input ports (topic prefix ``<domain>.cdc``,
slot and publication ``meshkit_<domain>`` unless set).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from meshkit.cdc import catalog
from meshkit.cdc.capture import Capture, Progress
from meshkit.cdc.config import CaptureConfig, build_config
from meshkit.cdc.connector import connect_config, server_properties
from meshkit.cdc.pgoutput import format_lsn
from meshkit.cdc.sources import CdcSources, breaking, load_sources
from meshkit.cdc.state import CaptureState, SchemaChange
from meshkit.cdc.status import slot_status
from meshkit.errors import ConfigError
from meshkit.observability import PORT_ENV, configure_logging, observe_process, port_from_env
from meshkit.observability.logs import LEVEL_ENV
from meshkit.observability.logs import log_format as log_format_of
from meshkit.redaction import redact_dsn
from meshkit.settings import load_settings

cdc_app = typer.Typer(
    name="cdc",
    help="Capture a service database's changes into Kafka (Debezium format).",
    no_args_is_help=True,
)
_out = Console()
_err = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="cdc.yaml / cdc.toml with the settings")
]
ContractsOpt = Annotated[
    Path | None,
    typer.Option("--contracts", help="read tables from these contracts' CDC input ports"),
]
DsnOpt = Annotated[str | None, typer.Option("--dsn", help="source database (libpq URL)")]
TableOpt = Annotated[
    list[str] | None, typer.Option("--table", "-t", help="schema.table (repeatable)")
]
PrefixOpt = Annotated[str | None, typer.Option("--topic-prefix", help="topics <prefix>.<s>.<t>")]
SlotOpt = Annotated[str | None, typer.Option("--slot", help="replication slot name")]
PubOpt = Annotated[str | None, typer.Option("--publication", help="publication name")]
ServersOpt = Annotated[
    str | None, typer.Option("--bootstrap-servers", "-b", help="Kafka bootstrap servers")
]
StateOpt = Annotated[Path | None, typer.Option("--state-dir", help="capture state directory")]


def _config(
    config: Path | None,
    contracts: Path | None,
    *,
    dsn: str | None = None,
    tables: list[str] | None = None,
    topic_prefix: str | None = None,
    slot: str | None = None,
    publication: str | None = None,
    bootstrap_servers: str | None = None,
    state_dir: Path | None = None,
    snapshot_mode: str | None = None,
) -> tuple[CaptureConfig, CdcSources | None]:
    sources = load_sources(contracts) if contracts is not None else None
    defaults: dict[str, Any] = {}
    if sources is not None:
        defaults = {
            "tables": list(sources.tables),
            "topic_prefix": sources.topic_prefix,
            "slot": f"meshkit_{sources.domain}",
            "publication": f"meshkit_{sources.domain}",
        }
    overrides: dict[str, Any] = {
        "dsn": dsn,
        "tables": tables or None,
        "topic_prefix": topic_prefix,
        "slot": slot,
        "publication": publication,
        "bootstrap_servers": bootstrap_servers,
        "state_dir": state_dir,
        "snapshot_mode": snapshot_mode,
    }
    merged = {**defaults, **{k: v for k, v in overrides.items() if v is not None}}
    if config is None and "dsn" not in merged:
        merged["dsn"] = "postgresql://postgres@127.0.0.1:5432/postgres"
    return build_config(config, domain=load_settings(), **merged), sources


def _progress_table(progress: Progress) -> Table:
    table = Table(title="meshkit cdc", show_header=False, min_width=60)
    table.add_column("what")
    table.add_column("value")
    table.add_row("phase", progress.phase)
    if progress.phase == "snapshot":
        pct = 100 * progress.snapshot_done / max(progress.snapshot_estimate, 1)
        table.add_row(
            "snapshot",
            f"{progress.table}: {progress.snapshot_done:,} / ~{progress.snapshot_estimate:,} "
            f"rows ({pct:.0f}%)",
        )
    table.add_row("events", f"{progress.events:,}")
    table.add_row("events/s", f"{progress.events_per_s:,.0f}")
    table.add_row("acknowledged LSN", format_lsn(progress.acked_lsn))
    if progress.schema_changes:
        table.add_row("schema changes", str(len(progress.schema_changes)))
    return table


@cdc_app.command()
def run(
    config: ConfigOpt = None,
    contracts: ContractsOpt = None,
    dsn: DsnOpt = None,
    table: TableOpt = None,
    topic_prefix: PrefixOpt = None,
    slot: SlotOpt = None,
    publication: PubOpt = None,
    bootstrap_servers: ServersOpt = None,
    state_dir: StateOpt = None,
    snapshot_mode: Annotated[
        str | None, typer.Option("--snapshot-mode", help="initial | no_data")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no live display")] = False,
    metrics_port: Annotated[
        str | None,
        typer.Option(
            "--metrics-port",
            help="/metrics, /healthz and /readyz on this port, or off "
            "(default: MESHKIT_METRICS_PORT, else 9464)",
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option("--log-format", help="console | json (default: MESHKIT_LOG_FORMAT)"),
    ] = None,
) -> None:
    """Capture until SIGTERM / Ctrl-C, then flush, acknowledge and stop cleanly."""
    cfg, sources = _config(
        config,
        contracts,
        dsn=dsn,
        tables=table,
        topic_prefix=topic_prefix,
        slot=slot,
        publication=publication,
        bootstrap_servers=bootstrap_servers,
        state_dir=state_dir,
        snapshot_mode=snapshot_mode,
    )
    chosen = log_format_of(log_format)
    level = os.environ.get(LEVEL_ENV) or ("INFO" if chosen == "json" else "WARNING")
    if metrics_port is None and PORT_ENV not in os.environ:  # the default port, if free
        observe_process(log_format=chosen, level=level)
    elif (port := port_from_env({PORT_ENV: metrics_port or os.environ[PORT_ENV]})) is None:
        configure_logging(chosen, level)  # off
    else:
        observe_process(port=port, log_format=chosen, level=level)
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    def on_schema_change(change: SchemaChange) -> None:
        _err.print(f"[yellow]schema change[/] {escape(f'{change.table}: {change.describe()}')}")
        for message in breaking(sources, change) if sources is not None else []:
            _err.print(f"[bold red]contract broken:[/] {escape(message)}", highlight=False)

    live: Live | None = None
    last_draw = [0.0]

    def on_progress(progress: Progress) -> None:
        if live is not None and time.monotonic() - last_draw[0] > 0.25:
            last_draw[0] = time.monotonic()
            live.update(_progress_table(progress))

    capture = Capture(cfg, on_progress=on_progress, on_schema_change=on_schema_change)
    if quiet or not _out.is_terminal:
        capture.run(stop)
    else:
        with Live(_progress_table(capture.progress), console=_out, refresh_per_second=4) as lv:
            live = lv
            capture.run(stop)
    p = capture.progress
    summary = f"cdc stopped: {p.events:,} events, acknowledged up to {format_lsn(p.acked_lsn)}"
    if chosen == "json":  # every line of a JSON log is JSON
        logging.getLogger("meshkit.cdc").info(summary, extra={"slot": cfg.slot})
    else:
        _err.print(summary, highlight=False)


@cdc_app.command()
def status(
    config: ConfigOpt = None,
    contracts: ContractsOpt = None,
    dsn: DsnOpt = None,
    slot: SlotOpt = None,
    publication: PubOpt = None,
    state_dir: StateOpt = None,
    output: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Slot lag (bytes, seconds), acknowledged LSN, events/s, retained-WAL warnings."""
    cfg, _ = _config(
        config, contracts, dsn=dsn, slot=slot, publication=publication, state_dir=state_dir
    )
    conn = catalog.connect(cfg.dsn)
    try:
        state = CaptureState.load(cfg.state_path(), cfg.slot)
        st = slot_status(conn, cfg.slot, cfg.publication, state, cfg.wal_warn_bytes)
    finally:
        catalog.close_quietly(conn)
    if output == "json":
        _out.print_json(json.dumps(st.as_dict()))
    else:
        table = Table(title=f"cdc slot {cfg.slot}")
        table.add_column("what")
        table.add_column("value")
        for key, value in st.as_dict().items():
            if key != "warnings":
                table.add_row(key, Text(str(value)))
        _out.print(table)
    for warning in st.warnings:
        _err.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False)
    if not st.exists:
        _err.print(f"slot {cfg.slot} does not exist (no capture has run yet)")
        raise typer.Exit(1)


@cdc_app.command()
def reset(
    config: ConfigOpt = None,
    contracts: ContractsOpt = None,
    dsn: DsnOpt = None,
    slot: SlotOpt = None,
    publication: PubOpt = None,
    state_dir: StateOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Drop the slot and the publication (the next run snapshots again)."""
    cfg, _ = _config(
        config, contracts, dsn=dsn, slot=slot, publication=publication, state_dir=state_dir
    )
    if not yes and not typer.confirm(
        f"Drop replication slot {cfg.slot!r} and publication {cfg.publication!r} in "
        f"{redact_dsn(cfg.dsn)}? The next run takes a new snapshot",
        default=False,
    ):
        _err.print("nothing dropped")
        raise typer.Exit(1)
    conn = catalog.connect(cfg.dsn)
    try:
        slot_dropped = catalog.drop_slot(conn, cfg.slot)
        pub_dropped = catalog.drop_publication(conn, cfg.publication)
    finally:
        catalog.close_quietly(conn)
    CaptureState(cfg.state_path(), cfg.slot).delete()
    _out.print(
        f"slot {cfg.slot}: {'dropped' if slot_dropped else 'absent'}; "
        f"publication {cfg.publication}: {'dropped' if pub_dropped else 'absent'}",
        highlight=False,
    )


@cdc_app.command("connector-config")
def connector_config(
    config: ConfigOpt = None,
    contracts: ContractsOpt = None,
    dsn: DsnOpt = None,
    table: TableOpt = None,
    topic_prefix: PrefixOpt = None,
    slot: SlotOpt = None,
    publication: PubOpt = None,
    bootstrap_servers: ServersOpt = None,
    output: Annotated[
        str, typer.Option("--format", help="connect (REST JSON) | server (properties)")
    ] = "connect",
    name: Annotated[str | None, typer.Option("--name", help="Connect connector name")] = None,
) -> None:
    """Print the real Debezium connector configuration for the same capture."""
    cfg, _ = _config(
        config,
        contracts,
        dsn=dsn,
        tables=table,
        topic_prefix=topic_prefix,
        slot=slot,
        publication=publication,
        bootstrap_servers=bootstrap_servers,
    )
    if output == "server":
        typer.echo(server_properties(cfg), nl=False)
    elif output == "connect":
        typer.echo(json.dumps(connect_config(cfg, name=name), indent=2))
    else:
        raise ConfigError(f"--format {output!r}: expected 'connect' or 'server'")


def register(app: typer.Typer) -> None:
    """Add the ``cdc`` group to the root app."""
    app.add_typer(cdc_app)
