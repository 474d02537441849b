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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshkit.contracts import Contract
from meshkit.ports.search import SearchIndexWriter
from meshkit_platform.provisioning.resources import Change, Resource

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

META_KEY = "meshkit"


class SearchBackend:
    """Indices and aliases of the planned domains on one search cluster."""

    name = "search"

    def __init__(self, client: Elasticsearch) -> None:
        self.client = client
        self.foreign: set[tuple[str, str]] = set()
        """Indices of the planned domains without the marker (found by the last ``read``)."""

    def capabilities(self) -> dict[str, str]:
        """Indices and aliases are all this backend provisions."""
        return {"indices": "supported", "aliases": "supported"}

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

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
