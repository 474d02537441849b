"""``meshkit-platform registry …``: serve the registry, migrate its database, manage tokens.

The catalog database is ``--database-url`` or ``MESHKIT_REGISTRY_DATABASE_URL``; without
either, the embedded PostgreSQL of ``meshkit local`` is started (or reused) and the
registry keeps its catalog in a database named ``meshkit_registry`` there.
"""

from __future__ import annotations

import os
import tempfile
from typing import Annotated, Any

import psycopg2
import typer
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meshkit.errors import ConfigError
from meshkit.observability import configure_logging
from meshkit_platform.registry import migrate
from meshkit_platform.registry.auth import ROLES, TokenError, create_token, revoke_token
from meshkit_platform.registry.db import make_engine
from meshkit_platform.registry.settings import RegistrySettings

EMBEDDED_DATABASE = "meshkit_registry"
_URL_VARIABLE = "MESHKIT_REGISTRY_DATABASE_URL"

app = typer.Typer(help="The registry: the central catalog of data products.", no_args_is_help=True)
token_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the catalog (default: MESHKIT_REGISTRY_DATABASE_URL, "
        "else the embedded PostgreSQL).",
        show_default=False,
    ),
]


def _embedded_url() -> str:
    from meshkit.local.postgres import Postgres
    from meshkit.local.settings import LocalSettings

    service = Postgres(LocalSettings())
    service.start()
    dsn = service.dsn()
    if dsn is None:
        raise ConfigError("the embedded PostgreSQL started but reports no address")
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(EMBEDDED_DATABASE)))
    finally:
        conn.close()
    p = parse_dsn(make_dsn(dsn, dbname=EMBEDDED_DATABASE))
    return f"postgresql+psycopg2://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


def database_url(option: str | None, settings: RegistrySettings) -> str:
    """The catalog's URL: the option, the setting, or the embedded PostgreSQL's."""
    if option:
        return option
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return _embedded_url()


def _engine(option: str | None, settings: RegistrySettings) -> Engine:
    url = database_url(option, settings)
    if not url.startswith(("postgresql://", "postgresql+")):
        raise ConfigError("the registry database URL must be a postgresql:// URL")
    return make_engine(url)


@app.command("migrate")
def migrate_command(
    database: DatabaseUrl = None,
    revision: Annotated[
        str, typer.Option(help="Target revision: head, or e.g. -1 to step back.")
    ] = migrate.HEAD,
) -> None:
    """Bring the catalog database to the newest schema (or to --revision)."""
    engine = _engine(database, RegistrySettings())
    before = migrate.current(engine)
    if revision == migrate.HEAD or revision.startswith("+"):
        migrate.upgrade(engine, revision)
    else:
        migrate.downgrade(engine, revision)
    Console().print(f"registry schema: {before or 'empty'} → {migrate.current(engine) or 'empty'}")


@app.command()
def serve(
    database: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="uvicorn worker processes on the one port (default: "
            "MESHKIT_REGISTRY_WORKERS, else 1).",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option("--log-format", help="console | json (default: MESHKIT_LOG_FORMAT)"),
    ] = None,
) -> None:
    """Migrate the catalog and serve the registry API (uvicorn); /metrics and /readyz on
    the same port. With several workers, each is a process with its own engine and
    caches, and /metrics adds up every worker's figures."""
    import uvicorn

    configure_logging(log_format, "WARNING")  # uvicorn's loggers go to the same handler

    settings = RegistrySettings()
    url = database_url(database, settings)
    engine = _engine(url, settings)
    migrate.upgrade(engine)
    workers = workers or settings.workers
    address = f"http://{host or settings.host}:{port or settings.port}"
    Console().print(
        f"registry on {address} (schema {migrate.current(engine)}, "
        f"{workers} worker{'s' if workers > 1 else ''})"
    )
    where: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": "warning",
        "log_config": None,
    }
    if workers == 1:
        from meshkit_platform.registry.api import create_app

        uvicorn.run(create_app(engine, settings), **where)
        return
    engine.dispose()
    # The workers are fresh processes: they read the catalog's URL and the settings from
    # the environment, and count their metrics in files /metrics adds up.
    with tempfile.TemporaryDirectory(prefix="meshkit-registry-metrics-") as figures:
        os.environ[_URL_VARIABLE] = url
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = figures
        uvicorn.run(
            "meshkit_platform.registry.api:app_from_environment",
            factory=True,
            workers=workers,
            **where,
        )


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what the token is for.")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    domain: Annotated[
        str | None, typer.Option(help="The domain a domain-owner token may publish.")
    ] = None,
    database: DatabaseUrl = None,
) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    engine = _engine(database, RegistrySettings())
    try:
        with Session(engine) as s:
            token_id, token = create_token(s, name=name, role=role, domain=domain)
            s.commit()
    except TokenError as exc:
        raise ConfigError(str(exc)) from None
    console = Console(highlight=False)
    console.print(f"token {token_id} ({role}{' of ' + domain if domain else ''}):", markup=False)
    console.print(token, markup=False, soft_wrap=True)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (printed when created).")],
    database: DatabaseUrl = None,
) -> None:
    """Revoke an API token: requests with it are answered 401 from now on."""
    engine = _engine(database, RegistrySettings())
    try:
        with Session(engine) as s:
            revoke_token(s, token_id)
            s.commit()
    except TokenError as exc:
        raise ConfigError(str(exc)) from None
    Console().print(f"token {token_id} revoked")
