"""The search port: one Elasticsearch index per product major version, behind an alias.

The index is named by the product's address (``shop.customer.v1``) with the mapping from
``meshkit.contracts.exporters.elasticsearch`` (``dynamic: strict``; personal data only as
tokens: other PII fields are left out of the documents). The alias ``<domain>.<product>``
points at the newest major's index: ``ensure`` of a new major creates its index and moves
the alias in one atomic ``update_aliases``.

Writes go through ``elasticsearch.helpers.streaming_bulk`` (``raise_on_error=False``),
one action per key (the batch compacted to its newest change per key). Idempotence uses
Elasticsearch's external versioning: the version of a document is its change's source
position, so an older or replayed change is refused by the server with a version
conflict (409), which counts as already applied. Per item:

- ok, 409 (older or same version), 404 on delete (already gone): done;
- 429 and 5xx (and transport errors): retried ``retries`` times with back-off;
- any other failure (e.g. a value the mapping cannot parse): a dead letter, after retries.

Dead letters are never dropped: they go to the ``dead_letter`` callback when one is given
(and ``write`` returns them in its report), otherwise ``write`` raises ``DeliveryError``
naming them, after the rest of the batch was applied.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from elasticsearch.helpers import streaming_bulk

from meshkit.contracts import Contract
from meshkit.contracts.exporters.elasticsearch import elasticsearch_mapping, indexed
from meshkit.contracts.exporters.published import PublishedField, published_fields
from meshkit.ports.base import (
    Change,
    DeadLetter,
    DeliveryError,
    NotEnsuredError,
    SchemaChangeError,
    WriteReport,
)
from meshkit.ports.intake import Intake

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

_RETRYABLE = {429, 500, 502, 503, 504}


def document_id(key: tuple[Any, ...]) -> str:
    """The document id of a key: its text for a one-field key, a JSON array otherwise."""
    if len(key) == 1:
        return str(key[0])
    return orjson.dumps(list(key), default=str).decode()


class SearchIndexWriter:
    """Search-index writer (see the module docstring).

    ``check=False`` skips the contract check for callers that validated already (the
    server's strict mapping still refuses what does not fit, as dead letters). ``prefix``
    goes in front of the index and alias names (e.g. an environment, ``staging-``).
    """

    def __init__(
        self,
        client: Elasticsearch,
        *,
        retries: int = 3,
        backoff: float = 0.5,
        dead_letter: Callable[[list[DeadLetter]], None] | None = None,
        check: bool = True,
        chunk_size: int = 1000,
        prefix: str = "",
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.retries = retries
        self.backoff = backoff
        self.dead_letter = dead_letter
        self.check = check
        self.chunk_size = chunk_size
        self.index = ""
        self.alias = ""
        self._intake: Intake | None = None
        self._fields: tuple[PublishedField, ...] = ()

    # -- ensure ---------------------------------------------------------------------------

    def ensure(self, contract: Contract) -> list[str]:
        """Create the index (or add new fields to its mapping) and point the alias at it.

        Returns the names of fields added to an existing mapping.
        """
        index, alias = self.prefix + contract.address, self.prefix + contract.id
        port = f"{contract.address} (search index {index})"
        mapping = elasticsearch_mapping(contract)
        added: list[str] = []
        if not self.client.indices.exists(index=index):
            self.client.indices.create(index=index, mappings=mapping)
        else:
            current = self.client.indices.get_mapping(index=index)[index]["mappings"]
            props = current.get("properties", {})
            refused = [
                f"field {name!r} changes mapping {props[name]} -> {spec}"
                for name, spec in mapping["properties"].items()
                if name in props and _normal(props[name]) != _normal(spec)
            ]
            refused += [
                f"field {name!r} was removed" for name in props if name not in mapping["properties"]
            ]
            if refused:
                raise SchemaChangeError(port, refused)
            new = {k: v for k, v in mapping["properties"].items() if k not in props}
            if new:
                self.client.indices.put_mapping(index=index, properties=new)
                added = sorted(new)
        self._point_alias(alias, index, contract.major)
        self.index, self.alias = index, alias
        self._intake = Intake(contract, port)
        self._fields = published_fields(contract)
        return added

    def _point_alias(self, alias: str, index: str, major: int) -> None:
        holders: list[str] = []
        if self.client.indices.exists_alias(name=alias):
            holders = list(self.client.indices.get_alias(name=alias))
        if holders == [index]:
            return
        newer = [h for h in holders if _major(h) > major]
        if newer:
            return  # a newer major serves the alias already
        actions: list[Mapping[str, Any]] = [
            {"remove": {"index": h, "alias": alias}} for h in holders
        ]
        actions.append({"add": {"index": index, "alias": alias}})
        self.client.indices.update_aliases(actions=actions)

    # -- write ----------------------------------------------------------------------------

    def write(self, batch: Sequence[Change]) -> WriteReport:
        """Check the batch, then bulk-apply it (see the module docstring for failures)."""
        if self._intake is None:
            raise NotEnsuredError("call ensure(contract) before write()")
        if self.check:
            self._intake.check(batch)
        pending = {document_id(c.key): c for c in Intake.compact(batch)}
        report = WriteReport(skipped=len(batch) - len(pending))
        failures: dict[str, str] = {}
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            retry: dict[str, Change] = {}
            for ok, item in streaming_bulk(
                self.client,
                (self._action(i, c) for i, c in pending.items()),
                chunk_size=self.chunk_size,
                raise_on_error=False,
                raise_on_exception=False,
                max_retries=0,
            ):
                ((op, result),) = item.items()
                doc_id = str(result.get("_id"))
                status = int(result.get("status", 0))
                if ok:
                    report.written += result.get("result") != "not_found"
                    continue
                if status == 409 or (op == "delete" and status == 404):
                    report.skipped += 1
                    continue
                failures[doc_id] = _reason(result)
                if status in _RETRYABLE or not status:
                    retry[doc_id] = pending[doc_id]
                else:
                    report.dead_letters.append(DeadLetter(pending[doc_id], failures[doc_id]))
            pending = retry
            if not pending:
                break
        report.dead_letters += [DeadLetter(c, failures[i]) for i, c in pending.items()]
        if report.dead_letters:
            if self.dead_letter is None:
                raise DeliveryError(f"search index {self.index}", report.dead_letters)
            self.dead_letter(report.dead_letters)
        return report

    def _action(self, doc_id: str, change: Change) -> dict[str, Any]:
        base = {
            "_index": self.alias,
            "_id": doc_id,
            "version": change.position,
            "version_type": "external",
        }
        if change.record is None:
            return {"_op_type": "delete", **base}
        return {"_op_type": "index", "_source": _document(self._fields, change.record), **base}

    def flush(self) -> None:
        """Make everything written visible to searches (bulk responses already confirmed it)."""
        if self.index:
            self.client.indices.refresh(index=self.index)

    def close(self) -> None:
        self.flush()


def _document(fields: Sequence[PublishedField], record: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for f in fields:
        if f.name not in record or not indexed(f):
            continue
        value = record[f.name]
        if f.fields and value is not None:
            if isinstance(value, list):
                value = [_document(f.fields, v) if v is not None else None for v in value]
            elif isinstance(value, Mapping):
                value = _document(f.fields, value)
        doc[f.name] = _json(value)
    # names outside the contract are kept, so the strict mapping reports them
    doc.update({k: _json(v) for k, v in record.items() if k not in {f.name for f in fields}})
    return doc


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _reason(result: Mapping[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, Mapping):
        return f"{result.get('status')} {error.get('type')}: {error.get('reason')}"
    return f"{result.get('status')} {error or result.get('exception') or 'failed'}"


def _normal(mapping: Any) -> Any:
    """A field mapping as servers echo it (``type: object`` is implied by ``properties``)."""
    if not isinstance(mapping, Mapping):
        return mapping
    out = {k: _normal(v) for k, v in mapping.items()}
    if "properties" in out and out.get("type") == "object":
        del out["type"]
    return out


def _major(index: str) -> int:
    tail = index.rsplit(".v", 1)[-1]
    return int(tail) if tail.isdigit() else -1
