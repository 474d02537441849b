"""``meshkit erasure work``: the domain's erasure worker, once or on a timer.

It asks the registry (``MESHKIT_REGISTRY_URL``, a domain-owner token in
``MESHKIT_REGISTRY_TOKEN``) for the open erasure requests concerning the domain's
products, erases each subject (key store, then by key in every port), verifies and
reports (``meshkit.erasure``). One line per product: the request, the product and the
registry's judgement. Exits 1 when a product's evidence was judged ``failed``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from meshkit.erasure import ErasureSettings, ErasureWorker, Outcome, RegistryClient
from meshkit.errors import ConfigError, MeshkitError
from meshkit.privacy.keys import LocalKeyStore

erasure_app = typer.Typer(
    name="erasure",
    help="Carry out the registry's erasure requests for this domain's products.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``erasure`` command group to the root app."""
    app.add_typer(erasure_app)


_DOMAIN = re.compile(r"^[a-z][a-z0-9_]{0,127}$")


def _url(url: str) -> str:
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise ConfigError("MESHKIT_REGISTRY_URL: expected an http:// or https:// URL")
    return url


@erasure_app.command("work")
def work(
    domain: Annotated[str, typer.Option("--domain", help="The domain this worker serves.")],
    contracts: Annotated[
        Path, typer.Option("--contracts", help="The domain's contracts directory.")
    ] = Path("contracts"),
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep polling the registry every --interval s.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, max=86400.0, help="Seconds between polls.")
    ] = 300.0,
) -> None:
    """Erase, verify and report every open request for DOMAIN's products."""
    if not _DOMAIN.match(domain):
        raise ConfigError("--domain: expected a domain name (lower-case letters, digits, _)")
    settings = ErasureSettings()
    if not settings.registry_url or settings.registry_token is None:
        raise ConfigError(
            "MESHKIT_REGISTRY_URL and MESHKIT_REGISTRY_TOKEN (a domain-owner token of the "
            "domain) must be set to take erasure requests"
        )
    client = RegistryClient(_url(settings.registry_url), settings.registry_token.get_secret_value())
    out = Console(highlight=False)
    with LocalKeyStore.open(settings.keystore_dir) as store:
        worker = ErasureWorker(domain, contracts, store, settings.targets(), client)
        while True:
            outcomes = worker.run_once()
            _show(out, outcomes)
            if not watch:
                break
            time.sleep(interval)
    if any(o.status == "failed" for o in outcomes):
        raise MeshkitError("the registry judged the evidence of a product failed (see above)")


def _show(out: Console, outcomes: list[Outcome]) -> None:
    if not outcomes:
        out.print("no open erasure requests for this domain")
    for o in outcomes:
        line = f"{o.request_id}  {o.product}  {o.status}"
        out.print(line + (f"  ({o.problem})" if o.problem else ""), markup=False)
