"""``meshkit publish``: send the domain's contracts to the registry (what domain CI runs).

Every contract file of the directory (``*.yaml``, ``*.yml``, ``*.json``) is checked here
first, then all of them go in one request to
``POST {MESHKIT_REGISTRY_URL}/v1/domains/<domain>/contracts`` with
``Authorization: Bearer $MESHKIT_REGISTRY_TOKEN``. The registry re-runs the compatibility
gate and registers all or none. A refusal is printed one line per problem or conflict,
naming the breaking changes and the products they would break, and the command exits 1.

The client is the standard library's ``urllib``: the SDK does not depend on an HTTP
client package (and never imports the platform).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

import meshkit
from meshkit.contracts import Problem, read_contract
from meshkit.errors import ConfigError, ContractError, MeshkitError, ServiceError

URL_ENV = "MESHKIT_REGISTRY_URL"
TOKEN_ENV = "MESHKIT_REGISTRY_TOKEN"  # noqa: S105 - a variable name, not a secret
SUFFIXES = (".yaml", ".yml", ".json")
MAX_SHOWN = 20


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)


def _contracts(directory: Path) -> tuple[str, list[dict[str, str]]]:
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory of contracts")
    files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if not files:
        raise ConfigError(f"{directory}: no contract files (*.yaml, *.yml, *.json)")
    domains: dict[str, str] = {}
    docs: list[dict[str, str]] = []
    problems: list[Problem] = []
    for path in files:
        contract, found = read_contract(path)
        problems += [p for p in found if p.severity == "error"]
        if contract is None:
            continue
        domains.setdefault(contract.domain, str(path))
        docs.append({"file": path.as_posix(), "text": path.read_text(encoding="utf-8")})
    if problems:
        raise ContractError(
            f"{len(problems)} problem(s) in the contracts; nothing was sent\n"
            + "\n".join(p.format() for p in problems[:MAX_SHOWN]),
            [*problems],
        )
    if len(domains) > 1:
        named = ", ".join(f"{d} ({f})" for d, f in sorted(domains.items()))
        raise ConfigError(f"the contracts belong to several domains: {named}; publish one domain")
    return next(iter(domains)), docs


def _refusal(status: int, body: dict[str, Any]) -> str:
    lines = [f"the registry refused the publish ({status}): {body.get('error', 'no reason')}"]
    for c in body.get("conflicts", [])[:MAX_SHOWN]:
        line = f"{c['address']} {c['version']}: {c['reason']}"
        breaking = [f"{b['kind']} {b['path']}" for b in c.get("breaking_changes", [])]
        if breaking:
            line += f"; breaking: {', '.join(breaking)}"
        if c.get("consumers"):
            line += f"; would break: {', '.join(c['consumers'])}"
        if c.get("suggested_version"):
            line += f"; suggested version: {c['suggested_version']}"
        lines.append(line)
    for p in body.get("problems", [])[:MAX_SHOWN]:
        where = f"{p['file']}:{p['line']}:{p['column']}" if p.get("line") else p["file"]
        lines.append(f"{where}: {p['field']}: {p['message']}".replace(": : ", ": "))
    return "\n".join(lines)


def _post(url: str, token: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the caller
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "User-Agent": f"meshkit/{meshkit.__version__}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        raise MeshkitError(_refusal(exc.code, body)) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServiceError(f"cannot reach the registry at {url}: {reason}") from None
    except ValueError:
        raise ServiceError(f"the registry at {url} answered something that is not JSON") from None


def publish(
    directory: Annotated[
        Path, typer.Argument(help="The directory of the domain's contracts.")
    ] = Path("contracts"),
    url: Annotated[
        str | None,
        typer.Option(envvar=URL_ENV, help="The registry's base URL.", show_default=False),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar=TOKEN_ENV, help="A domain-owner API token.", show_default=False),
    ] = None,
    repository: Annotated[
        str | None, typer.Option(help="The domain repository's URL, recorded by the registry.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the registry.")] = 60,
) -> None:
    """Publish the domain's contracts to the registry (all or none, behind its gate)."""
    if not url:
        raise ConfigError(f"no registry URL: set {URL_ENV} or pass --url")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"the registry URL must start with http:// or https://, not {url[:40]!r}")
    if not token:
        raise ConfigError(f"no registry token: set {TOKEN_ENV} (a domain-owner token)")
    domain, docs = _contracts(directory)
    payload: dict[str, Any] = {"contracts": docs, "sdk_version": meshkit.__version__}
    if repository:
        payload["repository"] = repository
    endpoint = f"{url.rstrip('/')}/v1/domains/{domain}/contracts"
    answer = _post(endpoint, token, payload, timeout)
    console = Console(highlight=False)
    for r in answer.get("results", []):
        console.print(f"{r['outcome']:<10} {r['address']} {r['version']}", markup=False)
