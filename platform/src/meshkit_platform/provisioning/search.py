"""The search backend: a versioned index per product major and an alias per product.

Ownership is by marker: an index is meshkit's when its mapping's ``_meta`` holds
``{"meshkit": {"product": <address>}}``. ``read`` gets the mappings and aliases of the
planned domains' indices (``<domain>.*``) in one request each; an index without the
marker is never changed or deleted.

``apply`` creates an index (or adds the fields a contract gained) with the SDK's writer
(``meshkit.ports.search.SearchIndexWriter.ensure``: the mapping of
``meshkit.contracts.exporters.elasticsearch``, and the alias ``<domain>.<product>`` moved
to the newest major in one ``update_aliases``), then writes the ``_meta`` marker. An
alias is pointed at its index with one atomic ``update_aliases``.

Reader groups of a search port (a contract's ``access.readers``, the registry's approved
search-index grants) get a read role each, ``meshkit_reader_<group>.<address>``, for a
production cluster's security API (``put_role``): ``read`` and ``view_index_metadata`` on
the product's alias, with field-level security granting the fields the index maps, and
``{"meshkit": {"product": <address>}}`` in the role's metadata as the ownership marker.
The security API is probed first (``GET /_security/_authenticate``); a server without it
(the embedded search server, or a cluster with security off) has the roles shown as
"not applicable here" in the plan, and apply never sends a role request to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshkit.contracts import Contract
from meshkit.ports.search import SearchIndexWriter
from meshkit_platform.provisioning.errors import ProvisioningError
from meshkit_platform.provisioning.resources import Change, Resource

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

META_KEY = "meshkit"
ROLE_PRIVILEGES = ["read", "view_index_metadata"]


class SearchBackend:
    """Indices and aliases of the planned domains on one search cluster."""

    name = "search"

    def __init__(self, client: Elasticsearch) -> None:
        self.client = client
        self.foreign: set[tuple[str, str]] = set()
        """Indices of the planned domains without the marker (found by the last ``read``)."""
        self._roles: str | None = None

    def capabilities(self) -> dict[str, str]:
        """Indices and aliases; read roles where the server has a security API."""
        return {"indices": "supported", "aliases": "supported", "roles": self._probe_roles()}

    def _probe_roles(self) -> str:
        """``supported`` when ``GET /_security/_authenticate`` answers, else why not."""
        if self._roles is None:
            from elasticsearch import ApiError

            try:
                self.client.security.authenticate()
                self._roles = "supported"
            except ApiError as exc:
                self._roles = (
                    "not applicable here: the search server has no security API "
                    f"(GET /_security/_authenticate answered {exc.status_code})"
                )
        return self._roles

    def not_applicable(self, desired: Resource) -> str | None:
        """Why a read role cannot be provisioned here (no security API)."""
        if desired.kind != "role":
            return None
        state = self._probe_roles()
        return None if state == "supported" else state

    def read(self, domains: frozenset[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """Owned indices (their mapped properties) and the aliases that point at them."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        self.foreign = set()
        if not domains:
            return out
        pattern = ",".join(f"{d}.*" for d in sorted(domains))
        mappings = self.client.indices.get_mapping(
            index=pattern, allow_no_indices=True, ignore_unavailable=True
        )
        owned: set[str] = set()
        for index, body in dict(mappings).items():
            mapping = body.get("mappings", {})
            if META_KEY in mapping.get("_meta", {}):
                owned.add(index)
                out[("index", index)] = {"properties": mapping.get("properties", {})}
            else:
                self.foreign.add(("index", index))
        if owned:
            aliases = self.client.indices.get_alias(index=",".join(sorted(owned)))
            for index, body in dict(aliases).items():
                for alias in body.get("aliases", {}):
                    out[("alias", alias)] = {"index": index}
        if self._probe_roles() == "supported":
            out.update(self._read_roles(domains))
        return out

    def _read_roles(self, domains: frozenset[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """meshkit's read roles (the marker in their metadata) of the planned domains."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for name, role in dict(self.client.security.get_role()).items():
            product = (role.get("metadata") or {}).get(META_KEY, {}).get("product", "")
            if not product or product.split(".", 1)[0] not in domains:
                continue
            entries = role.get("indices") or [{}]
            out[("role", name)] = {
                "indices": sorted(entries[0].get("names", [])),
                "privileges": sorted(entries[0].get("privileges", [])),
                "fields": sorted((entries[0].get("field_security") or {}).get("grant", [])),
            }
        return out

    def judge(self, desired: Resource, live: dict[str, Any]) -> tuple[str, str] | None:
        """A field the index maps but the contract no longer does needs a reindex."""
        if desired.kind != "index":
            return None
        gone = sorted(set(live.get("properties", {})) - set(desired.attrs["properties"]))
        if gone:
            reason = (
                f"field(s) {', '.join(gone)} mapped but no longer published: a mapping "
                "loses no field without a reindex (a new major)"
            )
            return ("not applicable", reason)
        return None

    def apply(self, change: Change, desired: Resource | None, contract: Contract | None) -> None:
        """Carry out one change."""
        if change.kind == "role":
            self._apply_role(change, desired)
            return
        if change.kind == "alias":
            if change.action == "delete":
                self.client.indices.delete_alias(index="_all", name=change.name)
                return
            assert desired is not None
            actions: list[dict[str, Any]] = []
            if self.client.indices.exists_alias(name=change.name):
                held = list(self.client.indices.get_alias(name=change.name))
                actions += [{"remove": {"index": h, "alias": change.name}} for h in held]
            actions.append({"add": {"index": desired.attrs["index"], "alias": change.name}})
            self.client.indices.update_aliases(actions=actions)
            return
        if change.action == "delete":
            self.client.indices.delete(index=change.name)
            return
        assert contract is not None
        SearchIndexWriter(self.client).ensure(contract)
        self.client.indices.put_mapping(
            index=change.name, meta={META_KEY: {"product": contract.address}}
        )

    def _apply_role(self, change: Change, desired: Resource | None) -> None:
        """Put or delete one read role; never a call to a server without a security API."""
        state = self._probe_roles()
        if state != "supported":
            raise ProvisioningError(f"search role {change.name}: {state}")
        if change.action == "delete":
            self.client.security.delete_role(name=change.name)
            return
        assert desired is not None
        assert desired.address is not None
        self.client.security.put_role(
            name=change.name,
            indices=[{
                "names": desired.attrs["indices"],
                "privileges": desired.attrs["privileges"],
                "field_security": {"grant": desired.attrs["fields"]},
            }],
            metadata={META_KEY: {"product": desired.address}},
        )  # fmt: skip

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
