"""A decoder of PostgreSQL's ``pgoutput`` logical replication protocol, version 1.

The walsender sends one message per ``XLogData`` payload; :func:`decode` turns one payload
into a small message object. Column values arrive in text format (the default of protocol
version 1), so a tuple is a list of ``str | None`` with :data:`UNCHANGED_TOAST` marking
an unchanged TOASTed value that the server did not send (``'u'``).

Message layouts are those of the PostgreSQL documentation, "Logical Replication Message
Formats": Begin ``B``, Commit ``C``, Origin ``O``, Relation ``R``, Type ``Y``, Insert
``I``, Update ``U`` (with an optional old tuple, ``K`` = replica-identity key columns
only, ``O`` = the whole old row), Delete ``D``, Truncate ``T`` and Message ``M``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from meshkit.errors import MeshkitError

#: Marks a column whose unchanged TOASTed value was not sent by the server.
UNCHANGED_TOAST: Final = object()

#: A decoded tuple: text values, ``None`` for SQL NULL, or :data:`UNCHANGED_TOAST`.
Tuple = list[object]

#: PostgreSQL timestamps count microseconds from 2000-01-01 UTC.
PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
PG_EPOCH_MICROS: Final = 946_684_800_000_000

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_BEGIN = struct.Struct("!QqI")
_COMMIT = struct.Struct("!BQQq")
_REL_HEAD = struct.Struct("!I")
_COL_TAIL = struct.Struct("!Ii")


class ProtocolError(MeshkitError):
    """A pgoutput message could not be decoded (a bug, or an unsupported protocol version)."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a relation as pgoutput describes it."""

    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True, slots=True)
class Relation:
    """``R``: the shape of a table, sent before its first change and after each DDL."""

    relation_id: int
    namespace: str
    name: str
    replica_identity: str  # 'd' default, 'n' nothing, 'f' full, 'i' index
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class Begin:
    """``B``: a transaction starts; ``final_lsn`` is the LSN of its commit record."""

    final_lsn: int
    commit_time_us: int  # microseconds since the Unix epoch
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    """``C``: the transaction ends; ``end_lsn`` is where the next one may start."""

    commit_lsn: int
    end_lsn: int
    commit_time_us: int


@dataclass(frozen=True, slots=True)
class Origin:
    """``O``: the transaction was replicated from another node."""

    lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """``Y``: a user-defined type (enum, domain, composite) used by a published column."""

    type_oid: int
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Insert:
    """``I``: a new row."""

    relation_id: int
    new: Tuple


@dataclass(frozen=True, slots=True)
class Update:
    """``U``: a changed row; ``old`` is present with REPLICA IDENTITY FULL or a key change."""

    relation_id: int
    old_kind: str | None  # 'K' key columns only, 'O' whole row, None not sent
    old: Tuple | None
    new: Tuple


@dataclass(frozen=True, slots=True)
class Delete:
    """``D``: a removed row; ``old`` holds the key columns ('K') or the whole row ('O')."""

    relation_id: int
    old_kind: str
    old: Tuple


@dataclass(frozen=True, slots=True)
class Truncate:
    """``T``: one TRUNCATE statement over one or more tables."""

    relation_ids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True, slots=True)
class LogicalMessage:
    """``M``: ``pg_logical_emit_message`` content (only with the ``messages`` option)."""

    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = (
    Begin
    | Commit
    | Origin
    | Relation
    | TypeInfo
    | Insert
    | Update
    | Delete
    | Truncate
    | LogicalMessage
)


def pg_time_to_unix_us(value: int) -> int:
    """A PostgreSQL timestamp (µs since 2000-01-01) as µs since the Unix epoch."""
    return value + PG_EPOCH_MICROS


def unix_us_to_datetime(value: int) -> datetime:
    """µs since the Unix epoch as an aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def _cstring(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(b"\x00", pos)
    return buf[pos:end].decode(), end + 1


def _tuple(buf: bytes, pos: int) -> tuple[Tuple, int]:
    (count,) = _I16.unpack_from(buf, pos)
    pos += 2
    values: Tuple = []
    append = values.append
    unpack_len = _I32.unpack_from
    for _ in range(count):
        kind = buf[pos]
        pos += 1
        if kind == 0x74:  # 't' text
            (length,) = unpack_len(buf, pos)
            pos += 4
            append(buf[pos : pos + length].decode())
            pos += length
        elif kind == 0x6E:  # 'n' null
            append(None)
        elif kind == 0x75:  # 'u' unchanged TOAST
            append(UNCHANGED_TOAST)
        elif kind == 0x62:  # 'b' binary: only with the binary option, which we never ask for
            raise ProtocolError("binary tuple data is not supported (binary option must be off)")
        else:
            raise ProtocolError(f"unknown tuple data kind {chr(kind)!r} at byte {pos - 1}")
    return values, pos


def _relation(buf: bytes) -> Relation:
    (relation_id,) = _REL_HEAD.unpack_from(buf, 1)
    namespace, pos = _cstring(buf, 5)
    name, pos = _cstring(buf, pos)
    identity = chr(buf[pos])
    (ncols,) = _I16.unpack_from(buf, pos + 1)
    pos += 3
    columns: list[Column] = []
    for _ in range(ncols):
        flags = buf[pos]
        col_name, pos = _cstring(buf, pos + 1)
        type_oid, modifier = _COL_TAIL.unpack_from(buf, pos)
        pos += 8
        columns.append(Column(col_name, type_oid, modifier, bool(flags & 1)))
    return Relation(relation_id, namespace or "pg_catalog", name, identity, tuple(columns))


def decode(buf: bytes) -> Message:
    """Decode one pgoutput message (the payload of one ``XLogData``)."""
    kind = buf[0]
    try:
        if kind == 0x49:  # 'I'
            (relation_id,) = _U32.unpack_from(buf, 1)
            new, _ = _tuple(buf, 6)  # byte 5 is 'N'
            return Insert(relation_id, new)
        if kind == 0x55:  # 'U'
            (relation_id,) = _U32.unpack_from(buf, 1)
            marker = buf[5]
            old_kind: str | None = None
            old: Tuple | None = None
            pos = 6
            if marker in (0x4B, 0x4F):  # 'K' or 'O'
                old_kind = chr(marker)
                old, pos = _tuple(buf, 6)
                pos += 1  # the 'N' that follows
            new, _ = _tuple(buf, pos)
            return Update(relation_id, old_kind, old, new)
        if kind == 0x44:  # 'D'
            (relation_id,) = _U32.unpack_from(buf, 1)
            old_tuple, _ = _tuple(buf, 6)
            return Delete(relation_id, chr(buf[5]), old_tuple)
        if kind == 0x42:  # 'B'
            final_lsn, commit_time, xid = _BEGIN.unpack_from(buf, 1)
            return Begin(final_lsn, pg_time_to_unix_us(commit_time), xid)
        if kind == 0x43:  # 'C'
            _flags, commit_lsn, end_lsn, commit_time = _COMMIT.unpack_from(buf, 1)
            return Commit(commit_lsn, end_lsn, pg_time_to_unix_us(commit_time))
        if kind == 0x52:  # 'R'
            return _relation(buf)
        if kind == 0x54:  # 'T'
            (count,) = _U32.unpack_from(buf, 1)
            options = buf[5]
            ids = struct.unpack_from(f"!{count}I", buf, 6)
            return Truncate(tuple(ids), bool(options & 1), bool(options & 2))
        if kind == 0x59:  # 'Y'
            (type_oid,) = _U32.unpack_from(buf, 1)
            namespace, pos = _cstring(buf, 5)
            name, _ = _cstring(buf, pos)
            return TypeInfo(type_oid, namespace, name)
        if kind == 0x4F:  # 'O'
            (lsn,) = struct.unpack_from("!Q", buf, 1)
            name, _ = _cstring(buf, 9)
            return Origin(lsn, name)
        if kind == 0x4D:  # 'M'
            transactional = bool(buf[1])
            (lsn,) = struct.unpack_from("!Q", buf, 2)
            prefix, pos = _cstring(buf, 10)
            (length,) = _I32.unpack_from(buf, pos)
            content = bytes(buf[pos + 4 : pos + 4 + length])
            return LogicalMessage(transactional, lsn, prefix, content)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed pgoutput {chr(kind)!r} message: {exc}") from exc
    raise ProtocolError(f"unsupported pgoutput message type {chr(kind)!r}")


def format_lsn(lsn: int) -> str:
    """An LSN in PostgreSQL's ``X/X`` notation."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """PostgreSQL's ``X/X`` notation as an integer."""
    high, _, low = text.partition("/")
    try:
        return (int(high, 16) << 32) | int(low, 16)
    except ValueError as exc:
        raise ProtocolError(f"not an LSN: {text!r}") from exc
