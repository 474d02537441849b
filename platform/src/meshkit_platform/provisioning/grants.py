"""Access grants from the registry as part of the desired state, and their state reported back.

The registry (``meshkit_platform.registry.access``) keeps the grants people approved; this
module is provisioning's side of that boundary, over the registry's HTTP API only:

- ``RegistryGrants(url, token).fetch()`` reads ``GET /v1/grants`` (a platform-admin
  token): every grant not yet removed, with whether it is ``active`` (approved, not
  revoked, not expired);
- ``view_grants(grants, contracts)`` turns the active serving-view grants of the planned
  products into ``address → role → columns`` for ``desired_resources``: the reader
  group's role (``meshkit_reader_<grantee>``) gets ``SELECT`` on exactly the granted
  columns that the contract still publishes, beside the contract's own reader groups.
  A revoked or expired grant is simply not desired any more, so the next plan revokes it.
  An active grant whose reader group cannot name a role (``reader_group_problem``) is
  refused with the grant's id, not carried out under a folded or cut role name;
- ``reader_grants(grants, contracts)`` gives the active grants on the other ports a
  reader group's permission covers, as ``port kind → address → groups``: a topic grant
  becomes the group's Kafka ACL (``READ`` and ``DESCRIBE`` on the topic, ``READ`` on its
  consumer-group prefix), a warehouse grant its BigQuery table binding, a search-index
  grant its read role on the product's alias;
- ``grant_states(plan, live)`` says, after an apply, which grants are ``applied``,
  ``pending`` or ``removed``, from the serving views' live column grants; ``report``
  posts them to ``POST /v1/grants/states`` (``report_applied`` does both after an apply).

Only serving-view grants are reported back so far: a grant on a topic or a warehouse
table or a search index joins the desired state, but its state stays ``pending`` in the
registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import httpx

from meshkit.contracts.exporters.published import published_fields
from meshkit_platform.provisioning.desired import (
    VIEW_SCHEMA,
    DomainContract,
    desired_resources,
    reader_group_problem,
    reader_role,
)
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.resources import Resource

if TYPE_CHECKING:
    from meshkit_platform.provisioning.plan import Backend

SERVING_VIEW = "serving_view"
READER_PORTS = ("kafka_topic", "warehouse_table", "search_index")
"""Ports whose grants give a reader group the whole port (an ACL, a table binding)."""
TOKEN_ENV = "MESHKIT_REGISTRY_TOKEN"  # noqa: S105 - the variable's name, not a secret
ViewGrants = dict[str, dict[str, list[str]]]
"""address → role → columns."""
ReaderGrants = dict[str, dict[str, list[str]]]
"""port kind → address → reader groups."""


@dataclass(frozen=True)
class AccessGrant:
    """One grant as provisioning needs it (a plan file carries these as JSON)."""

    id: int
    address: str
    grantee: str
    port_kind: str
    columns: tuple[str, ...]
    active: bool

    @property
    def role(self) -> str:
        return reader_role(self.grantee)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["columns"] = list(self.columns)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccessGrant:
        return cls(
            id=int(data["id"]),
            address=str(data["address"]),
            grantee=str(data["grantee"]),
            port_kind=str(data["port_kind"]),
            columns=tuple(str(c) for c in data["columns"]),
            active=bool(data["active"]),
        )


class RegistryGrants:
    """The registry's grant endpoints (``url``: its base URL; ``token``: platform-admin)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ProvisioningError(
                f"the registry at {self.url} did not answer {method} {path} "
                f"({type(exc).__name__}); check --registry and that the registry runs"
            ) from None
        if answer.status_code != 200:
            try:
                why = str(answer.json().get("error", ""))[:300]
            except ValueError:
                why = ""
            raise ProvisioningError(
                f"the registry at {self.url} answered {answer.status_code} to {method} {path}"
                f"{': ' + why if why else ''}; expected 200 (a platform-admin token in "
                f"{TOKEN_ENV})"
            )
        return answer.json()

    def fetch(self) -> list[AccessGrant]:
        """Every grant not yet removed."""
        rows = self._call("GET", "/v1/grants")
        try:
            return [AccessGrant.from_json(r) for r in rows]
        except (KeyError, TypeError, ValueError):
            raise ProvisioningError(
                f"the registry at {self.url} answered GET /v1/grants with an unexpected "
                "document; expected a list of grants"
            ) from None

    def report(self, states: Sequence[Mapping[str, Any]]) -> int:
        """Send grant states; the number the registry changed."""
        if not states:
            return 0
        answer = self._call("POST", "/v1/grants/states", json={"states": list(states)})
        return int(answer.get("changed", 0))

    def close(self) -> None:
        self._client.close()


def view_grants(grants: Iterable[AccessGrant], contracts: Sequence[DomainContract]) -> ViewGrants:
    """The active serving-view grants of the planned products: ``address → role →
    columns`` (only columns the contract publishes, sorted)."""
    published = {
        dc.contract.address: {f.name for f in published_fields(dc.contract)} for dc in contracts
    }
    out: ViewGrants = {}
    problems: list[str] = []
    for g in grants:
        if not g.active or g.port_kind != SERVING_VIEW or g.address not in published:
            continue
        why = reader_group_problem(g.grantee)
        if why is not None:
            problems.append(f"registry grant {g.id} on {g.address}: {why}")
            continue
        roles = out.setdefault(g.address, {})
        columns = set(roles.get(g.role, [])) | (set(g.columns) & published[g.address])
        roles[g.role] = sorted(columns)
    if problems:
        raise ProvisioningError("invalid desired state:\n" + "\n".join(problems))
    return out


def reader_grants(
    grants: Iterable[AccessGrant], contracts: Sequence[DomainContract]
) -> ReaderGrants:
    """The active topic, warehouse and search-index grants of the planned products: ``port kind →
    address → groups`` (sorted); a grant whose group cannot name a role is refused with
    its id."""
    planned = {dc.contract.address for dc in contracts}
    out: ReaderGrants = {}
    problems: list[str] = []
    for g in grants:
        if not g.active or g.port_kind not in READER_PORTS or g.address not in planned:
            continue
        why = reader_group_problem(g.grantee)
        if why is not None:
            problems.append(f"registry grant {g.id} on {g.address}: {why}")
            continue
        groups = out.setdefault(g.port_kind, {}).setdefault(g.address, [])
        if g.grantee not in groups:
            groups.append(g.grantee)
            groups.sort()
    if problems:
        raise ProvisioningError("invalid desired state:\n" + "\n".join(problems))
    return out


def grant_states(
    grants: Iterable[AccessGrant],
    desired: Iterable[Resource],
    live: Mapping[tuple[str, str], Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Each serving-view grant's state from the views' live column grants (``live``: the
    view backend's ``read`` after an apply; ``desired``: the plan's desired resources):
    an active grant is ``applied`` when its role holds every granted column the table
    has, else ``pending``; an inactive one is ``removed`` when its role holds no more than
    the desired state gives it (other grants, the contract's readers), else ``pending``.
    Grants of products not in the plan are left out."""
    tables = {r.name: r.attrs for r in desired if r.backend == "view" and r.kind == "table"}
    out: list[dict[str, Any]] = []
    for g in grants:
        name = f"{VIEW_SCHEMA}.{g.address}"
        if g.port_kind != SERVING_VIEW or name not in tables:
            continue
        held = set(live.get(("table", name), {}).get("grants", {}).get(g.role, []))
        if g.active:
            mine = set(g.columns) & set(tables[name].get("columns", {}))
            state = "applied" if mine and mine <= held else "pending"
        else:
            allowed = set(tables[name].get("grants", {}).get(g.role, []))
            state = "removed" if held <= allowed else "pending"
        out.append({"id": g.id, "state": state})
    return out


def report_applied(
    grants: Sequence[AccessGrant],
    contracts: Sequence[DomainContract],
    backends: Sequence[Backend],
    registry: RegistryGrants,
) -> list[dict[str, Any]]:
    """After an apply: read the serving views' column grants again, work out each grant's
    state and send it to the registry; the states sent (none without a view backend)."""
    view = next((b for b in backends if b.name == "view"), None)
    if view is None or not grants:
        return []
    live = view.read(frozenset(dc.contract.domain for dc in contracts))
    desired = desired_resources(
        list(contracts), view_grants(grants, contracts), reader_grants(grants, contracts)
    )
    states = grant_states(grants, desired, live)
    registry.report(states)
    return states
