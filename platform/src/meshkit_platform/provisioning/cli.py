"""``meshkit-platform plan`` and ``meshkit-platform apply`` (Typer).

``plan`` prints one table per backend (or ``--json``), writes the plan with ``--out`` and
exits 2 when changes are pending, 0 when the live state matches the contracts (for CI).
``apply PLAN`` carries out a saved plan; ``--allow-delete NAME`` (repeatable) names each
data-holding resource it may delete. Failures are one line and exit code 1
(``meshkit.cli.failures``). Endpoints: flags, else ``MESHKIT_*`` variables, else the
running local stack (``meshkit_platform.provisioning.targets``). With ``--registry URL``
(or ``MESHKIT_REGISTRY_URL``) and a platform-admin token in ``MESHKIT_REGISTRY_TOKEN``,
``plan`` adds the registry's approved access grants to the desired state and ``apply``
reports each grant's state back (``meshkit_platform.provisioning.grants``). ``--source
URL`` adds the CDC publications and slots; ``plan --debezium DIR`` also writes the
Debezium connector configs (``meshkit_platform.provisioning.debezium``); ``plan
--terraform DIR`` writes the cloud resources' desired state as Terraform JSON
(``meshkit_platform.provisioning.terraform``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from meshkit.files import read_limited
from meshkit_platform.provisioning.apply import apply_plan, plan_contracts, plan_grants
from meshkit_platform.provisioning.debezium import connector_configs, write_configs
from meshkit_platform.provisioning.desired import desired_resources, load_domains
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.grants import (
    TOKEN_ENV,
    AccessGrant,
    RegistryGrants,
    reader_grants,
    report_applied,
)
from meshkit_platform.provisioning.plan import Plan, make_plan, render
from meshkit_platform.provisioning.targets import Targets
from meshkit_platform.provisioning.terraform import terraform_files, write_terraform

MAX_PLAN_BYTES = 256 * 1024 * 1024
PENDING_EXIT = 2

KafkaOpt = Annotated[str | None, typer.Option("--kafka", help="Kafka bootstrap servers.")]
WarehouseOpt = Annotated[
    str | None, typer.Option("--warehouse", help="The DuckDB file, or bigquery:<project>.")
]
SearchOpt = Annotated[str | None, typer.Option("--search", help="Search API base URL.")]
PostgresOpt = Annotated[
    str | None, typer.Option("--postgres", help="libpq URL of the serving views' database.")
]
SourceOpt = Annotated[
    str | None,
    typer.Option("--source", help="libpq URL of the service databases' server (CDC)."),
]
RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry",
        envvar="MESHKIT_REGISTRY_URL",
        help=f"The registry's base URL: its access grants (token in {TOKEN_ENV}).",
    ),
]


def _registry(url: str | None) -> RegistryGrants | None:
    if not url:
        return None
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise ProvisioningError(
            f"--registry needs a platform-admin token of the registry in {TOKEN_ENV}"
        )
    return RegistryGrants(url, token)


def _targets(kafka: str | None, warehouse: str | None, search: str | None,
             postgres: str | None, source: str | None = None) -> Targets:  # fmt: skip
    found = Targets(kafka, warehouse, search, postgres, source=source).resolved()
    if not any((found.kafka, found.warehouse, found.search, found.postgres, found.source)):
        raise ProvisioningError(
            "no backend to provision: no local stack is running and no endpoint is given; "
            "run `meshkit local up`, or pass --kafka/--warehouse/--search/--postgres"
        )
    return found


def plan(
    domains: Annotated[
        Path, typer.Option("--domains", help="Directory of domain repos (<domain>/contracts/).")
    ] = Path("domains"),
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan to this file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    kafka: KafkaOpt = None,
    warehouse: WarehouseOpt = None,
    search: SearchOpt = None,
    postgres: PostgresOpt = None,
    source: SourceOpt = None,
    registry: RegistryOpt = None,
    debezium: Annotated[
        Path | None,
        typer.Option("--debezium", help="Write Debezium connector configs (JSON) here."),
    ] = None,
    terraform: Annotated[
        Path | None,
        typer.Option(
            "--terraform", help="Write the cloud resources as Terraform JSON (.tf.json) here."
        ),
    ] = None,
) -> None:
    """Compare the domains' contracts with the live systems; exit 2 when changes are pending."""
    contracts = load_domains(domains)
    if debezium is not None:
        if not source:
            raise ProvisioningError("--debezium needs --source (the service databases' server)")
        written = write_configs(connector_configs(desired_resources(contracts), source), debezium)
        Console(stderr=True).print(
            f"wrote {len(written)} Debezium connector config(s) to {debezium}",
            markup=False,
            highlight=False,
        )
    grants: list[AccessGrant] = []
    client = _registry(registry)
    if client is not None:
        try:
            grants = client.fetch()
        finally:
            client.close()
    if terraform is not None:
        files = terraform_files(contracts, reader_grants(grants, contracts))
        written = write_terraform(files, terraform)
        Console(stderr=True).print(
            f"wrote {len(written)} Terraform file(s) to {terraform}", markup=False, highlight=False
        )
    backends = _targets(kafka, warehouse, search, postgres, source).open()
    try:
        result = make_plan(contracts, backends, grants)
    finally:
        for b in backends:
            b.close()
    data = orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2)
    if out is not None:
        out.write_bytes(data)
    if as_json:
        typer.echo(data.decode())
    else:
        render(result, Console())
    if result.pending:
        raise typer.Exit(PENDING_EXIT)


def apply(
    plan_file: Annotated[Path, typer.Argument(help="A plan written by `plan --out`.")],
    allow_delete: Annotated[
        list[str] | None,
        typer.Option("--allow-delete", help="A data-holding resource the plan may delete."),
    ] = None,
    kafka: KafkaOpt = None,
    warehouse: WarehouseOpt = None,
    search: SearchOpt = None,
    postgres: PostgresOpt = None,
    source: SourceOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Carry out a saved plan, if the live state still matches it."""
    raw = read_limited(plan_file, limit=MAX_PLAN_BYTES)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProvisioningError(f"{plan_file}: not JSON ({exc}); expected a plan file") from None
    if not isinstance(data, dict):
        raise ProvisioningError(f"{plan_file}: not a meshkit plan; expected a JSON object")
    saved = Plan.from_json(data, str(plan_file))
    client = _registry(registry)
    backends = _targets(kafka, warehouse, search, postgres, source).open()
    try:
        report = apply_plan(saved, backends, allow_delete=allow_delete or ())
        states = []
        if client is not None:
            states = report_applied(plan_grants(saved), plan_contracts(saved), backends, client)
    finally:
        for b in backends:
            b.close()
        if client is not None:
            client.close()
    Console().print(f"applied {len(report.applied)} change(s)", markup=False, highlight=False)
    if states:
        counts = {
            s: sum(1 for x in states if x["state"] == s) for s in ("applied", "pending", "removed")
        }
        Console().print(
            "grants reported to the registry: " + ", ".join(f"{n} {s}" for s, n in counts.items()),
            markup=False,
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``apply`` to the platform app."""
    app.command("plan")(plan)
    app.command("apply")(apply)
