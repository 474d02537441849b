"""The search port: one Elasticsearch index per product major version, behind an alias.

The index is named by the product's address (``shop.customer.v1``) with the mapping from
``meshkit.contracts.exporters.elasticsearch`` (``dynamic: strict``; personal data only as
tokens: other PII fields are left out of the documents). The alias ``<domain>.<product>``
points at the newest major's index: ``ensure`` of a new major creates its index and moves
the alias in one atomic ``update_aliases``. The alias is for readers: a writer writes to
its own major's index, never through the alias, so a writer of the old major still
running after the alias moved keeps filling the old index, not the new one.

Writes are ``_bulk`` requests of ``chunk_size`` actions, one action per key (the batch
compacted to its newest change per key): the NDJSON body (action line, then the document
for an ``index``; a ``delete`` has no document) is serialised in one pass with orjson and
sent pre-serialised with ``client.bulk``; the response is matched to the actions by
position (the bulk API answers in request order). Idempotence uses
Elasticsearch's external versioning: the version of a document is its change's source
position, so an older or replayed change is refused by the server with a version
conflict (409), which counts as already applied. Per item:

- ok, 409 (older or same version), 404 on delete (already gone): done;
- 429 and 5xx, or no item in the response: retried ``retries`` times with exponential
  back-off (``backoff``, ``2 * backoff``, ...), only the changes still failing;
- any other failure (e.g. a value the mapping cannot parse, or a value that cannot be
  serialised to JSON at all): a dead letter.

A request that fails as a whole (an HTTP 429 or 5xx for the ``_bulk`` request itself, or
a connection error or timeout after the client's own connection retries) is retried the
same way. The writer turns off the client's retries on status for ``_bulk`` (the client
would resend at once, without back-off, up to ``max_retries`` times per attempt), so its
own back-off is the one retry policy, except that a ``Retry-After`` header on a 429 or
503 answer is honoured when it asks for a longer wait (up to ``MAX_RETRY_AFTER``
seconds). A whole request refused with another status (400, 401, 403, 413, ...) is not
retried.

What still fails for one of these passing reasons after the retries (429/5xx per item or
for the request, no answer) or was refused with the whole request is not the records'
fault, so it is never a dead letter: ``write`` raises ``DeliveryError`` naming those
changes (and any dead letters of the same batch, which then do not go to the callback),
having applied the rest. The caller does not commit its position and replays the batch
later; the external versions make that replay harmless.

Dead letters are never dropped: they go to the ``dead_letter`` callback when one is given
(and ``write`` returns them in its report), otherwise ``write`` raises ``DeliveryError``
naming them, after the rest of the batch was applied.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from elasticsearch import ApiError, TransportError
from elasticsearch.serializer import JsonSerializer

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
_WHOLE_REQUEST = "_meshkit_whole_request"  # marks a result made up for a failed request
_RETRY_AFTER = "_meshkit_retry_after"  # seconds a whole-request answer asked us to wait
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is capped: the caller's own timeouts matter
_MAX_CHUNK_BYTES = 100 * 1024 * 1024  # Elasticsearch's default http.max_content_length
# what the bulk response needs to carry: items in request order, without _index/_id/...
_FILTER = "items.*.status,items.*.result,items.*.error"


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
        # the writer retries bulk requests itself, with back-off (the client would resend a
        # 429/502/503/504 at once); connection retries (another node) stay the client's
        self._bulk_client = client.options(retry_on_status=())
        self.prefix = prefix
        self.retries = retries
        self.backoff = backoff
        self.dead_letter = dead_letter
        self.check = check
        self.chunk_size = chunk_size
        self.index = ""
        self.alias = ""
        self._intake: Intake | None = None
        self._shape = _NO_FIELDS

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
                line
                for name, spec in mapping["properties"].items()
                if name in props
                for line in _mapping_changes(name, _normal(props[name]), _normal(spec))
            ]
            refused += [
                f"field {name!r} was removed (the index maps it, the contract no longer "
                "publishes or indexes it)"
                for name in props
                if name not in mapping["properties"]
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
        self._shape = _Shape.of(published_fields(contract))
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
        unconfirmed: list[DeadLetter] = []  # whole request refused: not the records' fault
        attempts = 0
        asked = 0.0  # the longest Retry-After of the last attempt
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(max(self.backoff * 2 ** (attempt - 1), asked))
            attempts += 1
            asked = 0.0
            retry: dict[str, Change] = {}
            for doc_id, op, result in self._bulk(pending):
                status = int(result.get("status", 0))
                if result.get(_WHOLE_REQUEST):  # whatever its status (even a 2xx: see _send)
                    asked = max(asked, float(result.get(_RETRY_AFTER, 0.0)))
                    failures[doc_id] = _reason(result)
                    if status in _RETRYABLE or not status:
                        retry[doc_id] = pending[doc_id]
                    else:
                        unconfirmed.append(DeadLetter(pending[doc_id], failures[doc_id]))
                    continue
                if 200 <= status < 300:
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
        if pending or unconfirmed:
            tried = f" (after {attempts} attempts)"
            unconfirmed += [DeadLetter(c, failures[i] + tried) for i, c in pending.items()]
            raise DeliveryError(f"search index {self.index}", unconfirmed + report.dead_letters)
        if report.dead_letters:
            if self.dead_letter is None:
                raise DeliveryError(f"search index {self.index}", report.dead_letters)
            self.dead_letter(report.dead_letters)
        return report

    def _bulk(self, pending: Mapping[str, Change]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """Send ``pending`` in chunks; yield (document id, op, bulk item result) per change.

        A document that cannot be serialised is not sent: its result is a 400 with the
        serialisation error. A request that fails as a whole gives every action of the
        chunk that request's status (0 without one), marked as a whole-request failure.
        """
        index = orjson.dumps(self.index)  # never the alias: it may name another major
        lines: list[bytes] = []
        sent: list[tuple[str, str]] = []
        size = 0
        for doc_id, change in pending.items():
            meta = b'{"_index":%b,"_id":%b,"version":%d,"version_type":"external"}}\n' % (
                index,
                orjson.dumps(doc_id),
                change.position,
            )
            if change.record is None:
                lines += (b'{"delete":', meta)
                sent.append((doc_id, "delete"))
                size += 10 + len(meta)
            else:
                try:
                    source = orjson.dumps(
                        _document(self._shape, change.record),
                        default=_default,
                        option=orjson.OPT_APPEND_NEWLINE,
                    )
                except TypeError:  # the serialiser's message quotes the value
                    yield doc_id, "index", {"status": 400, "error": "not serialisable as JSON"}
                    continue
                lines += (b'{"index":', meta, source)
                sent.append((doc_id, "index"))
                size += 9 + len(meta) + len(source)
            if len(sent) >= self.chunk_size or size >= _MAX_CHUNK_BYTES:
                yield from self._send(lines, sent)
                lines, sent, size = [], [], 0
        if sent:
            yield from self._send(lines, sent)

    def _send(
        self, lines: list[bytes], sent: list[tuple[str, str]]
    ) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        try:
            # a pre-serialised NDJSON body is passed through as is
            body: Any = b"".join(lines)
            response = self._bulk_client.bulk(operations=body, filter_path=_FILTER)
            items = response.body.get("items", [])
        except (ApiError, TransportError) as e:
            # the request failed as a whole: a status (ApiError; a 2xx one too, e.g. the
            # client's UnsupportedProductError for an answer not from Elasticsearch, whose
            # items say nothing), or none (connection error or timeout: status 0, retried)
            status = e.status_code if isinstance(e, ApiError) else 0
            failed: dict[str, Any] = {
                "status": status,
                "error": _request_error(e),
                _WHOLE_REQUEST: True,
                _RETRY_AFTER: _retry_after(e) if status in (429, 503) else 0.0,
            }
            for doc_id, op in sent:
                yield doc_id, op, failed
            return
        for n, (doc_id, op) in enumerate(sent):
            if n < len(items):
                ((_, result),) = items[n].items()
                yield doc_id, op, result
            else:  # not answered: retried
                yield doc_id, op, {"status": 0, "error": "no item in the bulk response"}

    def flush(self) -> None:
        """Make everything written visible to searches (bulk responses already confirmed it)."""
        if self.index:
            self.client.indices.refresh(index=self.index)

    def close(self) -> None:
        self.flush()


def _retry_after(error: ApiError | TransportError) -> float:
    """The seconds of a ``Retry-After: <seconds>`` answer header (0 without a usable one;
    the HTTP-date form is not used by Elasticsearch), capped at ``MAX_RETRY_AFTER``."""
    meta = getattr(error, "meta", None)
    headers = getattr(meta, "headers", None) or {}
    try:
        seconds = float(headers.get("Retry-After", 0))
    except (TypeError, ValueError):
        return 0.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else 0.0


@dataclass(frozen=True, slots=True)
class _Shape:
    """What of a record goes into a document, worked out once per contract."""

    indexed: tuple[tuple[str, _Shape | None], ...]  # (name, struct members' shape)
    names: frozenset[str]  # every field of the contract, indexed or not

    @classmethod
    def of(cls, fields: Sequence[PublishedField]) -> _Shape:
        return cls(
            tuple((f.name, cls.of(f.fields) if f.fields else None) for f in fields if indexed(f)),
            frozenset(f.name for f in fields),
        )


_NO_FIELDS = _Shape((), frozenset())


def _document(shape: _Shape, record: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name, inner in shape.indexed:
        if name not in record:
            continue
        value = record[name]
        if inner is not None and value is not None:
            if isinstance(value, list):
                value = [_document(inner, v) if v is not None else None for v in value]
            elif isinstance(value, Mapping):
                value = _document(inner, value)
        doc[name] = value
    if not shape.names.issuperset(record):
        # names outside the contract are kept, so the strict mapping reports them
        doc.update({k: v for k, v in record.items() if k not in shape.names})
    return doc


_client_default = JsonSerializer().default


def _default(value: Any) -> Any:
    """JSON for what orjson does not serialise itself: decimals as exact strings, bytes as
    base64, the rest as the elasticsearch client would (UUIDs, numpy and pandas values)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return _client_default(value)


def _request_error(e: ApiError | TransportError) -> str:
    """Why a whole bulk request failed, in one line: the server's error type, and its
    reason text only for 429 and 5xx (the server's state; a 4xx reason may quote the
    documents)."""
    if isinstance(e, ApiError):
        error = e.body.get("error") if isinstance(e.body, Mapping) else None
        what = _error_type(error) if isinstance(error, Mapping) else type(e).__name__
        if isinstance(error, Mapping) and (e.status_code == 429 or e.status_code >= 500):
            what = f"{error.get('type')}: {str(error.get('reason'))[:200]}"  # server state
        return f"the bulk request failed with HTTP {e.status_code}: {what}"
    return f"the bulk request failed: {type(e).__name__}: {e.message}"  # no answer: no data


_FIELD = re.compile(r"field \[([^\]]+)\]")
_TYPE = re.compile(r"of type \[([^\]]+)\]")


def _error_type(error: Mapping[str, Any]) -> str:
    """A server error as its type, its cause's type and the field and type it names, never
    its reason text: that quotes the document id (the key) and a preview of the value."""
    what = str(error.get("type"))
    reason = str(error.get("reason") or "")
    field, typ = _FIELD.search(reason), _TYPE.search(reason)
    if field is not None:
        what += f": field {field.group(1)}" + (f" of type {typ.group(1)}" if typ else "")
    cause = error.get("caused_by")
    if isinstance(cause, Mapping) and cause.get("type"):
        what += f" (caused by {cause.get('type')})"
    return what


def _reason(result: Mapping[str, Any]) -> str:
    error = result.get("error")
    if result.get(_WHOLE_REQUEST):
        return str(error)
    if isinstance(error, Mapping):
        status = int(result.get("status") or 0)
        if status == 429 or status >= 500:  # the server's state, not the document's
            return f"{status} {error.get('type')}: {str(error.get('reason'))[:200]}"
        return f"{status} {_error_type(error)}"
    return f"{result.get('status')} {error if isinstance(error, str) else 'failed'}"  # ours


def _mapping_changes(path: str, old: Any, new: Any) -> list[str]:
    """How the index's mapping of field ``path`` differs from the contract's, one line per
    field: the attributes that differ (``type long -> keyword``), or a member of an object
    removed or added (members of an existing object are not changed in place)."""
    if old == new:
        return []
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return [f"field {path!r}: mapping {old!r} -> {new!r}"]
    lines: list[str] = []
    old_props, new_props = old.get("properties"), new.get("properties")
    if isinstance(old_props, Mapping) and isinstance(new_props, Mapping):
        for name, spec in new_props.items():
            if name in old_props:
                lines += _mapping_changes(f"{path}.{name}", old_props[name], spec)
            else:
                lines.append(
                    f"field {f'{path}.{name}'!r} is new inside the existing object {path!r} "
                    "(members of an object are not added in place)"
                )
        lines += [
            f"field {f'{path}.{name}'!r} was removed" for name in old_props if name not in new_props
        ]
        old = {k: v for k, v in old.items() if k != "properties"}
        new = {k: v for k, v in new.items() if k != "properties"}
    attrs = [
        f"{k} {_shown(old.get(k))} -> {_shown(new.get(k))}"
        for k in sorted({*old, *new})
        if old.get(k) != new.get(k)
    ]
    if attrs:
        lines.insert(0, f"field {path!r} changes mapping: {', '.join(attrs)}")
    return lines


def _shown(value: Any) -> str:
    """A mapping attribute's value in a message (``(none)`` when the mapping lacks it)."""
    if value is None:
        return "(none)"
    if isinstance(value, str | int | float | bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


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
