"""``cdc status``: how far behind a capture is, and whether its slot is filling the disk.

From the server: the slot's confirmed (acknowledged) LSN, its lag in bytes behind the
current WAL position, the WAL it retains (from ``restart_lsn``) and, for an active slot,
PostgreSQL's own ``flush_lag`` in seconds. From the capture's state file: its event rate
and when it last acknowledged. An unused slot keeps every WAL segment since its restart
LSN, which is the classic way to fill a database disk: above ``wal_warn_bytes`` the
status carries a warning saying what to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg2.extensions

from meshkit.cdc.pgoutput import format_lsn
from meshkit.cdc.state import CaptureState

_STALE_SECONDS = 10.0


@dataclass(frozen=True)
class SlotStatus:
    """One capture's slot as ``cdc status`` shows it."""

    slot: str
    exists: bool
    active: bool = False
    active_pid: int | None = None
    confirmed_lsn: int | None = None
    current_lsn: int = 0
    lag_bytes: int = 0
    retained_bytes: int = 0
    lag_seconds: float = 0.0
    events_per_s: float = 0.0
    events_total: int = 0
    snapshot_completed: bool = False
    publication_tables: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """For ``--format json``."""
        return {
            "slot": self.slot,
            "exists": self.exists,
            "active": self.active,
            "active_pid": self.active_pid,
            "confirmed_lsn": None if self.confirmed_lsn is None else format_lsn(self.confirmed_lsn),
            "current_lsn": format_lsn(self.current_lsn),
            "lag_bytes": self.lag_bytes,
            "retained_wal_bytes": self.retained_bytes,
            "lag_seconds": round(self.lag_seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
            "events_total": self.events_total,
            "snapshot_completed": self.snapshot_completed,
            "publication_tables": list(self.publication_tables),
            "warnings": list(self.warnings),
        }


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def slot_status(
    conn: psycopg2.extensions.connection,
    slot: str,
    publication: str,
    state: CaptureState,
    wal_warn_bytes: int,
) -> SlotStatus:
    """Read the slot's figures (see the module docstring)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        current = int(cur.fetchone()[0])  # type: ignore[index]
        cur.execute(
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables "
            "WHERE pubname = %s ORDER BY 1",
            (publication,),
        )
        tables = tuple(r[0] for r in cur.fetchall())
        cur.execute(
            "SELECT s.active, s.active_pid, s.confirmed_flush_lsn - '0/0'::pg_lsn, "
            "  pg_current_wal_lsn() - s.restart_lsn, "
            "  extract(epoch FROM r.flush_lag) "
            "FROM pg_replication_slots s "
            "LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid "
            "WHERE s.slot_name = %s",
            (slot,),
        )
        row = cur.fetchone()
    conn.rollback()
    if row is None:
        return SlotStatus(slot=slot, exists=False, current_lsn=current, publication_tables=tables)
    active, pid, confirmed, retained, flush_lag = row
    confirmed_lsn = int(confirmed) if confirmed is not None else None
    lag_bytes = max(0, current - (confirmed_lsn or 0))
    fresh = state.updated_at > time.time() - _STALE_SECONDS
    if active:
        lag_seconds = float(flush_lag) if flush_lag is not None else 0.0
    elif lag_bytes > 0 and state.acked_at:
        lag_seconds = max(0.0, time.time() - state.acked_at)
    else:
        lag_seconds = 0.0
    warnings: list[str] = []
    retained_bytes = int(retained or 0)
    if retained_bytes > wal_warn_bytes:
        warnings.append(
            f"slot {slot} retains {_human(retained_bytes)} of WAL (threshold "
            f"{_human(wal_warn_bytes)}): "
            + (
                "the capture is behind; check it keeps up"
                if active
                else "no capture is reading it; start 'meshkit cdc run', or drop the slot "
                "with 'meshkit cdc reset' if it is no longer needed"
            )
        )
    return SlotStatus(
        slot=slot,
        exists=True,
        active=bool(active),
        active_pid=pid,
        confirmed_lsn=confirmed_lsn,
        current_lsn=current,
        lag_bytes=lag_bytes,
        retained_bytes=retained_bytes,
        lag_seconds=lag_seconds,
        events_per_s=state.events_per_s if (active and fresh) else 0.0,
        events_total=state.events_total,
        snapshot_completed=state.snapshot_completed,
        publication_tables=tables,
        warnings=tuple(warnings),
    )
