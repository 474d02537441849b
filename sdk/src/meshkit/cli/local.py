"""``meshkit local up|status|down``: the embedded local stack from the command line.

``up`` starts the services in the background (they keep running after the command exits)
and prints their endpoints; ``status`` prints a health table and exits 1 when a service
is not healthy; ``env`` prints the endpoints as shell exports (``eval "$(meshkit local
env)"``) or JSON; ``down`` stops everything ``up`` started.

``up`` also records where its stack lives (a one-line file under the user's state
directory, ``$XDG_STATE_HOME/meshkit/local-stack``), so ``status``, ``env`` and ``down``
run from any other directory find that stack when neither ``--state-dir`` nor
``MESHKIT_LOCAL_STATE_DIR`` names one and the current directory has none running.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from meshkit.cli.failures import settings_error
from meshkit.local import Endpoints, LocalSettings, LocalStack, ServiceStatus
from meshkit.local.current import existing_settings, forget, remember
from meshkit.local.stack import SERVICES, select_services
from meshkit.privacy.keys import MASTER_KEY_ENV, write_master_key_file

local_app = typer.Typer(
    name="local",
    help=(
        "Start, check and stop the embedded local stack "
        "(broker, PostgreSQL, DuckDB, search, package index)."
    ),
    no_args_is_help=True,
)

_SERVICE_HELP = f"comma-separated, from: {', '.join(SERVICES)}"
StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="data, logs and run records (default .state/local; env MESHKIT_LOCAL_STATE_DIR)",
        show_default=False,
    ),
]


def _names(values: list[str] | None) -> list[str]:
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


DEV_MASTER_KEY_FILE = "dev-master-key"


def _existing(state_dir: Path | None) -> LocalSettings:
    try:
        return existing_settings(state_dir)
    except ValidationError as exc:
        raise settings_error(LocalSettings, exc) from None


def _settings(state_dir: Path | None) -> LocalSettings:
    try:
        return LocalSettings(state_dir=state_dir) if state_dir is not None else LocalSettings()
    except ValidationError as exc:  # e.g. MESHKIT_LOCAL_KAFKA_PORT=notaport
        raise settings_error(LocalSettings, exc) from None


def status_table(rows: list[ServiceStatus]) -> Table:
    table = Table(title="meshkit local stack")
    table.add_column("service")
    table.add_column("address", overflow="fold")
    table.add_column("pid")
    table.add_column("healthy")
    table.add_column("detail")
    for row in rows:
        healthy = (
            "[yellow]skipped[/]"
            if row.skipped
            else "[green]yes[/]"
            if row.healthy
            else "[red]no[/]"
        )
        table.add_row(
            row.service, Text(row.address or "-"), str(row.pid or "-"), healthy,
            Text(row.detail or ""),
        )  # fmt: skip
    return table


@local_app.command()
def up(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"start only these services ({_SERVICE_HELP})"),
    ] = None,
    with_: Annotated[
        list[str] | None,
        typer.Option("--with", help=f"also start these services, e.g. bigquery ({_SERVICE_HELP})"),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """Start the services (default: kafka, postgres, warehouse, search, index); print them."""
    services = select_services(_names(only), _names(with_))
    # a stack already running (here, or where the last `up` started it) gets the missing
    # services; a second stack would fight the first for the package index's fixed port
    stack = LocalStack(_existing(state_dir), services=services)
    console = Console()
    with console.status(f"starting {', '.join(services)} ..."):
        stack.up()
    remember(stack.settings.root)
    dev_master_key(stack.settings.root)
    rows = stack.status()
    console.print(status_table(rows))
    console.print(Text(f"state directory: {stack.settings.root}"))
    console.print("stop everything with: meshkit local down")
    if not all(row.healthy or row.skipped for row in rows if row.service in services):
        raise typer.Exit(code=1)


@local_app.command()
def status(state_dir: StateDir = None) -> None:
    """Show each service's address, pid and health; exit 1 if one is not healthy."""
    stack = LocalStack(_existing(state_dir))
    rows = stack.status()
    console = Console()
    console.print(status_table(rows))
    if not any(stack.service(name).record() for name in SERVICES):
        Console(stderr=True).print(
            "[red]the local stack is not running[/] "
            f"(no run records under {escape(str(stack.settings.root))}); start it with: "
            "meshkit local up",
            highlight=False,
        )
        raise typer.Exit(code=1)
    unhealthy = [row.service for row in rows if not row.healthy and not row.skipped]
    if unhealthy:
        Console(stderr=True).print(
            f"[red]not healthy:[/] {', '.join(unhealthy)} "
            f"(logs under {escape(str(stack.settings.root))}); restart with: meshkit local up",
            highlight=False,
        )
        raise typer.Exit(code=1)


@local_app.command()
def down(
    state_dir: StateDir = None,
    purge: Annotated[
        bool, typer.Option("--purge", help="also delete the state directory (all local data)")
    ] = False,
) -> None:
    """Stop every service of the local stack (no process is left behind)."""
    stack = LocalStack(_existing(state_dir))
    stopped = stack.down(purge=purge)
    forget(stack.settings.root)
    console = Console()
    if stopped:
        console.print(f"stopped: {', '.join(stopped)}")
    else:
        console.print("nothing was running")
    if purge:
        console.print(Text(f"deleted {stack.settings.root}"))


def env_variables(endpoints: Endpoints) -> dict[str, str]:
    """The shell variables ``meshkit local env`` exports for the running services."""
    pairs = {
        "MESHKIT_KAFKA_BOOTSTRAP": endpoints.kafka,
        "MESHKIT_POSTGRES_URL": endpoints.postgres,
        "MESHKIT_WAREHOUSE": str(endpoints.warehouse) if endpoints.warehouse else None,
        "MESHKIT_SEARCH_URL": endpoints.search,
        "MESHKIT_BIGQUERY_URL": endpoints.bigquery,
        # The emulator's Storage Read API (meshkit.settings, meshkit.batch.resources).
        "MESHKIT_BIGQUERY_STORAGE_EMULATOR_HOST": endpoints.bigquery_grpc,
        "MESHKIT_INDEX_URL": endpoints.index,
        "MESHKIT_REGISTRY_URL": endpoints.registry,
        # The domain settings (meshkit.settings) every flow, CDC and provisioning read.
        "MESHKIT_KAFKA_BROKERS": endpoints.kafka,
        # What a declarative flow reads (meshkit.streaming.flows.StreamingSettings).
        "MESHKIT_STREAMING_BROKERS": endpoints.kafka,
        "MESHKIT_STREAMING_WAREHOUSE": str(endpoints.warehouse) if endpoints.warehouse else None,
        # What batch (Dagster) reads locally (meshkit.batch.resources).
        "MESHKIT_DUCKDB_PATH": str(endpoints.warehouse) if endpoints.warehouse else None,
    }
    return {name: value for name, value in pairs.items() if value}


def dev_master_key(root: Path) -> str:
    """The local stack's development master key (created once, mode 0600, in its state
    directory): what ``meshkit local env`` exports as ``MESHKIT_MASTER_KEY``, so every
    shell opens the same local key stores. Production never uses a generated key."""
    path = root / DEV_MASTER_KEY_FILE
    if not path.is_file():
        return write_master_key_file(path)
    return path.read_text(encoding="utf-8").strip()


@local_app.command("env")
def env_(
    state_dir: StateDir = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the endpoints as one JSON object")
    ] = False,
) -> None:
    """Print the running services' endpoints as shell exports: eval "$(meshkit local env)"."""
    stack = LocalStack(_existing(state_dir))
    variables = env_variables(stack.endpoints)
    if variables and (stack.settings.root / DEV_MASTER_KEY_FILE).is_file():
        variables[MASTER_KEY_ENV] = dev_master_key(stack.settings.root)
    if not variables:
        Console(stderr=True).print(
            "[red]the local stack is not running[/] "
            f"(no run records under {escape(str(stack.settings.root))}); start it with: "
            "meshkit local up",
            highlight=False,
        )
        raise typer.Exit(code=1)
    if as_json:
        typer.echo(json.dumps(variables, indent=2))
        return
    for name, value in variables.items():
        typer.echo(f"export {name}={shlex.quote(value)}")


def register(app: typer.Typer) -> None:
    """Add the ``local`` command group to the root app."""
    app.add_typer(local_app, name="local")


__all__ = ["register"]
