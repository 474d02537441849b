"""What every output-port writer shares: the ``Change`` record, the writer protocol, errors.

A writer receives micro-batches of ``Change`` records, each an upsert or a delete of one
key, with the *source position* it came from (a Kafka offset, a PostgreSQL LSN, a batch
run's row number: any integer that grows, for a given key, in the order the changes
happened). Writers apply a change only when its position is newer than the one stored
for that key, so replaying a micro-batch after a crash (at-least-once delivery upstream)
leaves the port as if the batch had been applied once.

The protocol (``PortWriter``)::

    writer.ensure(contract)   # create the topic/table/index/view, or evolve it additively
    writer.write(batch)       # validate the whole batch, then upsert/delete it
    writer.flush()            # returns once everything written is durable (or raises)

A caller commits its own source position only after ``flush`` returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from meshkit.errors import MeshkitError

if TYPE_CHECKING:
    from meshkit.contracts import Contract

Op = Literal["upsert", "delete"]
POSITION_COLUMN = "_meshkit_pos"
"""The hidden column (warehouse, view) or field (search) holding a row's source position."""


@dataclass(frozen=True, slots=True)
class Change:
    """One change of one key: an upsert with its record, or a delete (``record`` None).

    Example::

        Change.upsert({"customer_id": "c-1", "tier": "pro", ...}, key=("c-1",), position=42)
        Change.delete(key=("c-1",), position=43)
    """

    op: Op
    key: tuple[Any, ...]
    record: Mapping[str, Any] | None
    position: int

    @classmethod
    def upsert(cls, record: Mapping[str, Any], *, key: tuple[Any, ...], position: int) -> Change:
        return cls("upsert", key, record, position)

    @classmethod
    def delete(cls, *, key: tuple[Any, ...], position: int) -> Change:
        return cls("delete", key, None, position)


def changes_of(
    key_fields: Sequence[str], records: Sequence[Mapping[str, Any]], first_position: int = 0
) -> list[Change]:
    """Upserts of ``records`` keyed by ``key_fields``, at consecutive positions."""
    return [
        Change("upsert", tuple(r[f] for f in key_fields), r, first_position + i)
        for i, r in enumerate(records)
    ]


@dataclass(frozen=True)
class DeadLetter:
    """A change a port refused for good, with the port's reason."""

    change: Change
    reason: str


@dataclass
class WriteReport:
    """What one ``write`` did: changes sent, skipped as already applied, and dead letters.

    ``staged``: changes checked and accepted, to be applied by a later ``write`` or by
    ``flush`` (a writer that applies many micro-batches at once, the DuckDB warehouse);
    whether each is then written or skipped as already applied is counted in that
    writer's ``applied`` report.
    """

    written: int = 0
    skipped: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    staged: int = 0


class PortWriter(Protocol):
    """An output-port writer (Kafka topic, warehouse table, search index, serving view).

    Optional: a class attribute ``flush_when_idle = True`` tells a streaming sink that a
    ``flush`` is cheap enough to call whenever no batch waits for the port (the DuckDB
    warehouse), so readers see writes without waiting for the next snapshot.
    """

    def ensure(self, contract: Contract) -> object:
        """Create the port from the contract, or evolve it additively; refuse anything else.

        Returns what was changed (writer-specific), or raises ``SchemaChangeError``.
        """
        ...

    def write(self, batch: Sequence[Change]) -> WriteReport:
        """Validate the whole batch (nothing is written if one change is bad), then apply it."""
        ...

    def flush(self) -> None:
        """Return once every change written so far is durable in the port; raise otherwise."""
        ...

    def close(self) -> None:
        """Flush and release connections."""
        ...


class PortError(MeshkitError):
    """Base of the errors output-port writers raise on purpose."""


_KINDS = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    Decimal: "a decimal",
    dict: "a JSON object",
    list: "a list",
    bytes: "bytes",
    date: "a date",
    datetime: "a timestamp",
}


def kind_of(value: Any) -> str:
    """What a value is, in words (``text``, ``an integer``...), for messages that must not
    show the value itself (it may be personal data)."""
    return _KINDS.get(type(value)) or f"a {type(value).__name__}"


_PG_VALUE_CLASSES = ("22", "P0", "XX")
"""SQLSTATE classes whose primary message may quote a value (``invalid input syntax for
type integer: "..."``, a trigger's ``RAISE``, internal errors)."""
_DUCKDB_SAFE = frozenset(
    {
        "BinderException",
        "CatalogException",
        "ConnectionException",
        "HTTPException",
        "IOException",
        "InterruptException",
        "OutOfMemoryException",
        "PermissionException",
        "TransactionException",
    }
)
"""DuckDB errors whose message names objects, files or resources, never a row's value
(a conversion or constraint error quotes the value: ``Duplicate key "id: 42"``)."""
_DUCKDB_NAMED_CONSTRAINTS = (
    "Constraint Error: CHECK constraint failed",
    "Constraint Error: NOT NULL constraint failed",
)
"""Constraint errors that name the rule and the table, not the row."""


def describe_error(exc: BaseException) -> str:
    """A database or server error in one line, without any value of a record.

    Drivers put values in their messages (PostgreSQL's ``DETAIL: Failing row contains
    (...)`` and ``Key (id)=(...)``, DuckDB's ``Could not convert string '...'``, a
    BigQuery job's ``Bad int64 value: ...``), and records are personal data. This keeps
    what names the problem: the error's class, PostgreSQL's SQLSTATE with the primary
    message (unless its class may quote a value) and the constraint, column and table it
    names, DuckDB's message for errors that never carry a value, BigQuery's HTTP status
    and error reasons. Callers raise their own error ``from None`` with it, so that the
    driver's text is not chained either.
    """
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith("psycopg2"):
        code = getattr(exc, "pgcode", None)
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None)
        if code is None:  # no server answer (connection): libpq's own text
            primary = str(exc).strip().splitlines()[0] if str(exc).strip() else None
        elif code.startswith(_PG_VALUE_CLASSES):
            primary = None
        named = [
            f"{what} {value}"
            for what in ("constraint", "column", "table", "datatype")
            if (value := getattr(diag, f"{what}_name", None))
            and (primary is None or value not in primary)
        ]
        head = f"{name} (SQLSTATE {code})" if code else name
        return ": ".join([head, *filter(None, [primary, ", ".join(named)])])
    if module.startswith(("duckdb", "_duckdb")):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if name == "ConstraintException":
            if not first.startswith(_DUCKDB_NAMED_CONSTRAINTS):
                first = first.split('"')[0].strip()  # 'Duplicate key "id: <value>" ...'
        elif name not in _DUCKDB_SAFE:
            first = ""
        return f"{name}: {first}" if first else name
    if module.startswith("google"):
        code = getattr(exc, "code", None)
        # REST errors list dicts with a reason; gRPC ones list the call's status objects
        reasons = sorted(
            {
                str(e.get("reason"))
                for e in getattr(exc, "errors", None) or []
                if isinstance(e, dict) and e.get("reason")
            }
        )
        grpc_code = getattr(getattr(exc, "grpc_status_code", None), "name", None)
        return (
            name
            + (f" (HTTP {code})" if code else "")
            + (f", gRPC {grpc_code}" if grpc_code else "")
            + (f": {', '.join(reasons)}" if reasons else "")
        )
    if module.startswith(("requests", "urllib3")):  # no answer: the text names the host
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{name}: {first[:300]}" if first else name
    return name


class RecordRefusedError(PortError):
    """A change does not match the contract (or carries untransformed personal data).

    Raised before anything of its batch is written; ``field`` names the field at fault.
    The message names the change by its source position and says what is wrong, never a
    value of the record (its key included: it may be personal data); ``change`` holds it.
    """

    def __init__(self, port: str, change: Change | None, field: str | None, message: str) -> None:
        where = ""
        if change is not None:
            where = f" {change.op} at position {change.position}:"
        what = f" field {field!r}:" if field else ""
        super().__init__(f"{port}:{where}{what} {message}; nothing of this batch was written")
        self.port = port
        self.change = change
        self.field = field


class SchemaChangeError(PortError):
    """The contract changed the port's schema in a way that is not additive.

    ``changes`` explains each refused change in one line; for tables, ``diff`` holds the
    contracts' diff entries (``meshkit.contracts.diff.Change``) they come from.
    """

    def __init__(self, port: str, changes: Sequence[str], diff: Sequence[Any] = ()) -> None:
        lines = "\n".join(f"  - {c}" for c in changes)
        super().__init__(
            f"{port}: the contract changes the schema in ways a port cannot evolve into:\n"
            f"{lines}\n"
            "  only new optional fields and required -> optional are applied in place; "
            "publish a new major version (a new table/index/topic) for the rest"
        )
        self.changes = list(changes)
        self.diff = tuple(diff)


class DeliveryError(PortError):
    """The port did not confirm some changes (after retries); nothing was dropped silently.

    The message names the changes by source position, not by key; ``failures`` holds them.
    """

    def __init__(self, port: str, failures: Sequence[DeadLetter]) -> None:
        first = "; ".join(f"position {d.change.position}: {d.reason}" for d in failures[:3])
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        super().__init__(f"{port}: {len(failures)} changes were not delivered: {first}{more}")
        self.failures = list(failures)


class NotEnsuredError(PortError):
    """``write`` was called before ``ensure(contract)``."""
