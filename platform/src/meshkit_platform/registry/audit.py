"""The audit log: every write of the registry, append-only and hash-chained.

Each entry's ``hash`` is SHA-256 over the previous entry's hash and the entry's own
canonical JSON (id, time, actor, action, subject, detail), so editing, deleting or
reordering any row breaks the chain from that row on. The database refuses UPDATE,
DELETE and TRUNCATE on the table (a trigger); ``verify`` detects what someone able to
bypass it changed anyway.

Appends take a transaction-scoped advisory lock, so concurrent writers chain in order;
an entry is written in the same transaction as the change it records.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from meshkit_platform.registry.db import AuditEntry

GENESIS = "0" * 64
_LOCK = 0x6D65736B  # the advisory lock key of the chain ("mesk")


def _digest(
    prev_hash: str,
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
) -> str:
    body = json.dumps(
        {
            "id": entry_id,
            "at": at.astimezone(UTC).isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(
    session: Session, *, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None
) -> AuditEntry:
    """Add one entry to the chain in the session's transaction."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    last = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    entry_id = 1 if last is None else last.id + 1
    prev = GENESIS if last is None else last.hash
    at = datetime.now(UTC)
    body = detail or {}
    entry = AuditEntry(
        id=entry_id,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        detail=body,
        prev_hash=prev,
        hash=_digest(prev, entry_id, at, actor, action, subject, body),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of checking the chain: ``ok``, entries checked, the first bad entry."""

    ok: bool
    entries: int
    first_bad: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch: int = 5000) -> Verification:
    """Recompute the chain from the first entry; report the first entry that does not fit."""
    prev, expected_id, checked = GENESIS, 1, 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.id != expected_id:
                return Verification(False, checked, expected_id, "an entry is missing")
            if row.prev_hash != prev:
                return Verification(
                    False, checked, row.id, "the link to the previous entry differs"
                )
            digest = _digest(prev, row.id, row.at, row.actor, row.action, row.subject, row.detail)
            if digest != row.hash:
                return Verification(False, checked, row.id, "the entry was changed")
            prev, expected_id, checked, last_id = row.hash, row.id + 1, checked + 1, row.id
        session.expunge_all()
    return Verification(True, checked)


def count(session: Session) -> int:
    """How many entries the log holds."""
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
