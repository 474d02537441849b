"""Key store: named tokenization keys (with versions) and one data key per data subject.

Two kinds of keys live here:

- **token keys**, named (e.g. ``customer``) and versioned; a key id is ``<name>.<version>``
  (``customer.2``). Rotation adds a version and makes it current; old versions stay, so a
  token made under ``customer.1`` can still be verified after the rotation.
- **subject keys**, one AES-256 data key per data subject, found by an opaque reference
  (``key_ref``) that travels in each ciphertext. Erasing a subject deletes its key and
  leaves a tombstone, so its ciphertext reads as "erased" everywhere (crypto-shredding).

``KeyStore`` is the interface; ``LocalKeyStore`` implements it on SQLite in the domain's
state directory, every key wrapped (AES-256-GCM) under a master key taken from the
``MESHKIT_MASTER_KEY`` environment variable (base64 of 32 bytes). A wrong master key is
detected with an authenticated check value written when the store was created.

A cloud KMS plugs in behind the same protocol with envelope encryption: keep the same
tables in a managed database, let the KMS wrap and unwrap the data keys instead of the
master key, and cache unwrapped keys in memory for a bounded time. Nothing else changes.

Raw subject ids are never stored: subjects are found by ``HMAC-SHA256(index key, id)``,
the index key derived from the master key (HKDF), and the audit log records that hash.

Erasure sticks: SQLite zeroes deleted content (``secure_delete``), and each erasure ends
with a WAL checkpoint that truncates the log, so when ``erase_subject`` returns no byte of
the erased key is left in any file of the store, even if the process dies right after.
A store written before this layout (no ``layout`` mark) is vacuumed once when opened.
The store directory is created 0700 and the database file 0600 (SQLite gives its WAL and
shared-memory files the database file's mode).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshkit.errors import ConfigError
from meshkit.files import write_private
from meshkit.privacy.errors import KeyNotFoundError, PrivacyError, SubjectErasedError

MASTER_KEY_ENV = "MESHKIT_MASTER_KEY"
STATE_DIR_ENV = "MESHKIT_PRIVACY_STATE_DIR"
KEYSTORE_FILE = "keys.sqlite"
_KEY_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")  # as contracts name token keys
_CHECK_PLAINTEXT = b"meshkit key store check v1"
_LAYOUT = b"secure-delete v1"  # meta 'layout': deleted content is zeroed, WAL truncated
_GENERATE_HINT = (
    "generate one with `meshkit privacy keys new-master-key` and keep it in your secret manager"
)


def default_state_dir() -> Path:
    """Where the local key store lives: ``$MESHKIT_PRIVACY_STATE_DIR``, else ``.state/privacy``."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path(".state") / "privacy")


def new_master_key() -> str:
    """A fresh random master key, base64-encoded, for ``MESHKIT_MASTER_KEY``."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def write_master_key_file(path: Path) -> str:
    """Write a fresh master key to ``path`` (replacing it), readable by the owner only.

    The file is created with mode 0600, so the key is never readable by others, not even
    for a moment; an existing file is removed first, whatever its mode. Returns the key.
    """
    key = new_master_key()
    write_private(path, key)
    return key


def load_master_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The 32-byte master key from ``MESHKIT_MASTER_KEY``; ``ConfigError`` if missing or bad."""
    env = os.environ if environ is None else environ
    raw = env.get(MASTER_KEY_ENV, "").strip()
    if not raw:
        raise ConfigError(
            f"{MASTER_KEY_ENV} is not set: the key store encrypts its keys under this master "
            f"key; {_GENERATE_HINT}"
        )
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{MASTER_KEY_ENV} is not valid base64; {_GENERATE_HINT}") from None
    if len(key) != 32:
        raise ConfigError(
            f"{MASTER_KEY_ENV} must decode to 32 bytes, got {len(key)}; {_GENERATE_HINT}"
        )
    return key


@dataclass(frozen=True)
class TokenKey:
    """One version of a named tokenization key; ``key_id`` travels in every token."""

    name: str
    version: int
    secret: bytes = field(repr=False)
    created_at: str

    @property
    def key_id(self) -> str:
        return f"{self.name}.{self.version}"


@dataclass(frozen=True)
class SubjectKey:
    """The data key of one data subject, found again by its opaque ``key_ref``."""

    key_ref: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class KeyInfo:
    """What ``keys list`` shows: never the secret."""

    key_id: str
    kind: str  # "token"
    state: str  # "current" or "previous"
    created_at: str


@dataclass(frozen=True)
class AuditEvent:
    """One audited key operation (create, rotate, create-subject, erase)."""

    at: str
    action: str
    key_id: str
    detail: str


@dataclass(frozen=True)
class Erasure:
    """The receipt of one erasure: which key was deleted, and whether one existed."""

    key_ref: str
    erased_at: str
    had_key: bool
    already_erased: bool


@runtime_checkable
class KeyStore(Protocol):
    """What the privacy engine needs from a key store (local SQLite, or a cloud KMS)."""

    def create_token_key(self, name: str) -> TokenKey:
        """Create version 1 of a named token key (``PrivacyError`` if it exists)."""
        ...

    def rotate_token_key(self, name: str) -> TokenKey:
        """Add a new current version; older versions stay available for verification."""
        ...

    def token_key(self, name: str, version: int | None = None) -> TokenKey:
        """A version of a token key, the current one by default (``KeyNotFoundError``)."""
        ...

    def list_token_keys(self) -> list[KeyInfo]:
        """Every version of every token key, without secrets."""
        ...

    def subject_keys(
        self, subjects: Collection[str], *, create: bool = True
    ) -> dict[str, SubjectKey | None]:
        """The data key of each subject (created when missing); ``None`` when erased."""
        ...

    def subject_key_by_ref(self, key_ref: str) -> SubjectKey:
        """The key a ciphertext names; ``SubjectErasedError`` after erasure."""
        ...

    def erase_subject(self, subject: str, *, reason: str = "") -> Erasure:
        """Delete the subject's data key (crypto-shredding) and audit it."""
        ...

    def audit_events(self) -> list[AuditEvent]:
        """The audit log, oldest first."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS token_keys (
    name TEXT NOT NULL, version INTEGER NOT NULL, wrapped BLOB NOT NULL,
    created_at TEXT NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS subject_keys (
    key_ref TEXT PRIMARY KEY, subject_hash TEXT NOT NULL UNIQUE, wrapped BLOB,
    created_at TEXT NOT NULL, erased_at TEXT);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL,
    key_id TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
"""


def _create_private(path: Path) -> None:
    """Create the store's directory (0700) and empty database file (0600) if missing.

    Both get their mode at creation, never by a ``chmod`` afterwards; SQLite creates the
    ``-wal`` and ``-shm`` files with the database file's mode.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class LocalKeyStore:
    """``KeyStore`` on a SQLite file, keys wrapped under the master key.

    Example::

        store = LocalKeyStore.open()            # .state/privacy/keys.sqlite
        key = store.create_token_key("customer")
        key.key_id                              # 'customer.1'

    Safe to share between threads; several processes may open the same file (SQLite WAL).
    """

    def __init__(self, path: Path, master_key: bytes) -> None:
        self.path = Path(path)
        self._master = AESGCM(master_key)
        self._index_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"meshkit subject index v1"
        ).derive(master_key)
        self._lock = threading.RLock()
        try:
            _create_private(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the key store {self.path}: {_reason(exc)}") from None
        try:
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._check_master_key()
            self._upgrade_layout()
        except sqlite3.Error as exc:
            self._db.close()
            raise ConfigError(f"cannot use the key store {self.path}: {_reason(exc)}") from None
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(
        cls, state_dir: Path | None = None, *, environ: Mapping[str, str] | None = None
    ) -> LocalKeyStore:
        """Open (or create) ``<state_dir>/keys.sqlite`` with the master key from the environment."""
        directory = default_state_dir() if state_dir is None else Path(state_dir)
        return cls(directory / KEYSTORE_FILE, load_master_key(environ))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LocalKeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- wrapping -----------------------------------------------------------------------

    def _wrap(self, secret: bytes, label: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._master.encrypt(nonce, secret, label.encode())

    def _unwrap(self, wrapped: bytes, label: str) -> bytes:
        try:
            return self._master.decrypt(wrapped[:12], wrapped[12:], label.encode())
        except InvalidTag:
            raise PrivacyError(
                f"key {label} in {self.path} failed authentication: the store was tampered with"
            ) from None

    def _check_master_key(self) -> None:
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE name = 'check'").fetchone()
            if row is None:
                check = self._wrap(_CHECK_PLAINTEXT, "check")
                db.execute("INSERT INTO meta (name, value) VALUES ('check', ?)", (check,))
                return
        try:
            self._master.decrypt(row[0][:12], row[0][12:], b"check")
        except InvalidTag:
            raise ConfigError(
                f"{MASTER_KEY_ENV} does not open the key store {self.path}: it is not the "
                "master key this store was created with"
            ) from None

    def _upgrade_layout(self) -> None:
        """Vacuum a store written before deleted content was zeroed, once, and mark it."""
        row = self._db.execute("SELECT value FROM meta WHERE name = 'layout'").fetchone()
        if row is not None and bytes(row[0]) == _LAYOUT:
            return
        with self._lock:
            self._db.execute("VACUUM")  # rewrites every page: no old row survives in free space
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('layout', ?)", (_LAYOUT,))
        self._truncate_wal(strict=False)

    def _truncate_wal(self, *, strict: bool) -> None:
        """Copy the WAL into the database and truncate it to zero bytes.

        Old versions of rows (an erased key among them) live on in WAL frames until then.
        With ``strict``, a checkpoint blocked by another process's reader (after the busy
        timeout) is an error: the caller must not report the erasure as complete.
        """
        with self._lock:
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy and strict:
            raise PrivacyError(
                f"the key is deleted, but another connection kept reading {self.path}, so an "
                f"old copy of it may remain in {self.path.name}-wal; stop the processes that "
                "use the key store and run the erase again (it completes the cleanup)"
            )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _audit(self, db: sqlite3.Connection, action: str, key_id: str, detail: str = "") -> None:
        db.execute(
            "INSERT INTO audit (at, action, key_id, detail) VALUES (?, ?, ?, ?)",
            (_now(), action, key_id, detail),
        )

    # -- token keys ---------------------------------------------------------------------

    def create_token_key(self, name: str) -> TokenKey:
        if not _KEY_NAME.match(name):
            raise PrivacyError(
                f"bad key name {name!r}: expected up to 64 lowercase letters, digits, '.', '-' "
                "or '_', starting with a letter or digit"
            )
        with self._write() as db:
            if db.execute("SELECT 1 FROM token_keys WHERE name = ?", (name,)).fetchone():
                raise PrivacyError(f"token key {name!r} exists already; rotate it instead")
            return self._add_version(db, name, 1, "create")

    def rotate_token_key(self, name: str) -> TokenKey:
        with self._write() as db:
            row = db.execute("SELECT MAX(version) FROM token_keys WHERE name = ?", (name,))
            current = row.fetchone()[0]
            if current is None:
                raise KeyNotFoundError(f"no token key named {name!r}; create it first")
            return self._add_version(db, name, current + 1, "rotate")

    def _add_version(
        self, db: sqlite3.Connection, name: str, version: int, action: str
    ) -> TokenKey:
        key = TokenKey(name, version, secrets.token_bytes(32), _now())
        db.execute(
            "INSERT INTO token_keys (name, version, wrapped, created_at) VALUES (?, ?, ?, ?)",
            (name, version, self._wrap(key.secret, f"token:{key.key_id}"), key.created_at),
        )
        self._audit(db, action, key.key_id)
        return key

    def token_key(self, name: str, version: int | None = None) -> TokenKey:
        with self._lock:
            if version is None:
                row = self._db.execute(
                    "SELECT version, wrapped, created_at FROM token_keys WHERE name = ? "
                    "ORDER BY version DESC LIMIT 1",
                    (name,),
                ).fetchone()
            else:
                row = self._db.execute(
                    "SELECT version, wrapped, created_at FROM token_keys "
                    "WHERE name = ? AND version = ?",
                    (name, version),
                ).fetchone()
        if row is None:
            which = name if version is None else f"{name}.{version}"
            raise KeyNotFoundError(
                f"no token key {which!r} in {self.path}; create it with "
                f"`meshkit privacy keys create {name}`"
            )
        ver, wrapped, created_at = row
        return TokenKey(name, ver, self._unwrap(wrapped, f"token:{name}.{ver}"), created_at)

    def list_token_keys(self) -> list[KeyInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, version, created_at, "
                "version = MAX(version) OVER (PARTITION BY name) FROM token_keys "
                "ORDER BY name, version"
            ).fetchall()
        return [
            KeyInfo(f"{n}.{v}", "token", "current" if cur else "previous", at)
            for n, v, at, cur in rows
        ]

    # -- subject keys -------------------------------------------------------------------

    def subject_hash(self, subject: str) -> str:
        """The pseudonymous lookup hash of a subject id (what the store keeps instead)."""
        return hmac.digest(self._index_key, subject.encode(), "sha256").hex()

    def subject_keys(
        self, subjects: Collection[str], *, create: bool = True
    ) -> dict[str, SubjectKey | None]:
        by_hash = {self.subject_hash(s): s for s in set(subjects)}
        found = self._select_subjects(list(by_hash))
        missing = [h for h in by_hash if h not in found]
        if missing and create:
            with self._write() as db:
                for h in missing:
                    ref = secrets.token_hex(10)
                    at = _now()
                    cur = db.execute(
                        "INSERT OR IGNORE INTO subject_keys "
                        "(key_ref, subject_hash, wrapped, created_at) VALUES (?, ?, ?, ?)",
                        (ref, h, self._wrap(secrets.token_bytes(32), f"subject:{ref}"), at),
                    )
                    if cur.rowcount:
                        self._audit(db, "create-subject", ref)
            found.update(self._select_subjects(missing))
        return {by_hash[h]: key for h, key in found.items()}

    def _select_subjects(self, hashes: list[str]) -> dict[str, SubjectKey | None]:
        out: dict[str, SubjectKey | None] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    "SELECT subject_hash, key_ref, wrapped FROM subject_keys "
                    f"WHERE subject_hash IN ({marks})",
                    chunk,
                ).fetchall()
            for h, ref, wrapped in rows:
                out[h] = (
                    None
                    if wrapped is None
                    else SubjectKey(ref, self._unwrap(wrapped, f"subject:{ref}"))
                )
        return out

    def subject_key_by_ref(self, key_ref: str) -> SubjectKey:
        with self._lock:
            row = self._db.execute(
                "SELECT wrapped, erased_at FROM subject_keys WHERE key_ref = ?", (key_ref,)
            ).fetchone()
        if row is None:
            raise KeyNotFoundError(f"no subject key {key_ref!r} in {self.path}")
        wrapped, erased_at = row
        if wrapped is None:
            raise SubjectErasedError(key_ref, erased_at)
        return SubjectKey(key_ref, self._unwrap(wrapped, f"subject:{key_ref}"))

    def erase_subject(self, subject: str, *, reason: str = "") -> Erasure:
        with self._write() as db:
            receipt = self._erase(db, self.subject_hash(subject), reason)
        # secure_delete zeroed the key in the new page version; old versions stay in the WAL
        # (and in the database file until a checkpoint copies over them): checkpoint, truncate.
        # An erasure recorded earlier runs this too, so repeating an erase finishes a cleanup.
        self._truncate_wal(strict=True)
        return receipt

    def _erase(self, db: sqlite3.Connection, h: str, reason: str) -> Erasure:
        at = _now()
        row = db.execute(
            "SELECT key_ref, wrapped, erased_at FROM subject_keys WHERE subject_hash = ?", (h,)
        ).fetchone()
        if row is not None and row[1] is None:
            self._audit(db, "erase", row[0], f"already erased at {row[2]}; {reason}".strip())
            return Erasure(row[0], row[2], had_key=False, already_erased=True)
        if row is None:
            # A tombstone: data arriving later for this subject is refused, not encrypted.
            ref = secrets.token_hex(10)
            db.execute(
                "INSERT INTO subject_keys (key_ref, subject_hash, wrapped, created_at, "
                "erased_at) VALUES (?, ?, NULL, ?, ?)",
                (ref, h, at, at),
            )
        else:
            ref = row[0]
            db.execute(
                "UPDATE subject_keys SET wrapped = NULL, erased_at = ? WHERE key_ref = ?",
                (at, ref),
            )
        self._audit(db, "erase", ref, f"subject {h[:16]}; {reason}".strip("; "))
        return Erasure(ref, at, had_key=row is not None, already_erased=False)

    def audit_events(self) -> list[AuditEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, action, key_id, detail FROM audit ORDER BY id"
            ).fetchall()
        return [AuditEvent(*r) for r in rows]
