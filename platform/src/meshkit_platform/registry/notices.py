"""When a registry process's kept product pages went out of date: ``PageRevision``.

A background thread holds one database connection of its own that ``LISTEN``s on
``meshkit_registry_pages``; migration 0008's triggers notify that channel (at commit)
on every write to what a product page shows, whichever process or tool wrote. The
revision is a number of this process that moves on with each notification, with each
commit of this process's own sessions (``bump``, so a caller reads its own write at
once), and whenever the listening connection is (re)established. While no connection
listens, ``current()`` is None and nothing kept may be answered.

Another process's write reaches this process when its notification does (normally
within milliseconds of the commit); this process's own writes, at once.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import weakref
from typing import Any

from sqlalchemy.engine import Engine

_log = logging.getLogger(__name__)
CHANNEL = "meshkit_registry_pages"
_WAIT = 5.0  # seconds between checks that the process still wants the notices


class PageRevision:
    """This process's product-page revision, moved on by the catalog's notifications."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._n = 0
        self._listening = False
        self._started = False
        self._stop = threading.Event()

    def current(self) -> int | None:
        """The revision now, or None while no connection listens (starts listening on
        the first call)."""
        if not self._started:
            self._start()
        return self._n if self._listening else None

    def bump(self) -> None:
        """This process changed what a page shows: what is kept is out of date."""
        with self._lock:
            self._n += 1

    def stop(self) -> None:
        """Stop listening (the thread ends within a few seconds)."""
        self._stop.set()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        ref = weakref.ref(self)
        threading.Thread(
            target=_listen, args=(ref, self._engine, self._stop), daemon=True, name="page-notices"
        ).start()

    def _listening_as(self, listening: bool) -> None:
        with self._lock:
            self._n += 1
            self._listening = listening


def _listen(ref: weakref.ref[PageRevision], engine: Engine, stop: threading.Event) -> None:
    """Listen until ``stop`` or until the revision's owner is gone; reconnect after a
    lost connection (nothing is answered from what is kept meanwhile)."""
    pause = 0.1
    quiet = False  # one warning per outage
    while not stop.is_set() and ref() is not None:
        conn: Any = None
        try:
            pooled = engine.raw_connection()
            conn = pooled.dbapi_connection
            pooled.detach()  # a connection of its own, never given back to the pool
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
            owner = ref()
            if owner is None:
                return
            owner._listening_as(True)
            del owner
            pause, quiet = 0.1, False
            while not stop.is_set():
                ready, _, _ = select.select([conn], [], [], _WAIT)
                owner = ref()
                if owner is None:
                    return
                if ready:
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        owner.bump()
                del owner
        except Exception as exc:
            if not quiet:
                _log.warning(
                    "registry: page notices interrupted (%s); product pages are read from "
                    "the database until they are back",
                    type(exc).__name__,
                )
            quiet = True
        finally:
            owner = ref()
            if owner is not None:
                owner._listening_as(False)
            del owner
            if conn is not None:
                with contextlib.suppress(Exception):  # already broken
                    conn.close()
        stop.wait(pause)
        pause = min(pause * 2, _WAIT)
