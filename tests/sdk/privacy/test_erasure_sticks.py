"""Erasure that sticks: once ``erase`` returns, no byte of an erased key is left in any file.

SQLite keeps old versions of rows in its write-ahead log and in freed space of the
database file; an "erased" key left there opens the subject's data again to anyone with
the store files and the master key. These tests erase in a separate process, kill it with
SIGKILL the moment ``erase`` returns (no clean close, no final checkpoint), and scan the
raw bytes of every file in the store directory.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from meshkit.privacy.errors import PrivacyError
from meshkit.privacy.keys import (
    KEYSTORE_FILE,
    MASTER_KEY_ENV,
    LocalKeyStore,
    load_master_key,
    new_master_key,
    write_master_key_file,
)

# Runs in the child: creates subjects in many transactions (page splits, WAL frames), prints
# every subject's wrapped and plain key, erases every 7th subject, says so, then waits to be
# killed. Nothing closes the store or checkpoints after ``erase`` returns.
_CHILD = textwrap.dedent(
    """
    import json, sqlite3, sys
    from pathlib import Path
    from meshkit.privacy.erasure import erase
    from meshkit.privacy.keys import LocalKeyStore

    store = LocalKeyStore.open(Path(sys.argv[1]))
    subjects = [f"customer-{i}" for i in range(int(sys.argv[2]))]
    plain = {}
    for start in range(0, len(subjects), 50):
        for subject, key in store.subject_keys(subjects[start : start + 50]).items():
            plain[subject] = key
    raw = sqlite3.connect(store.path)
    wrapped = dict(raw.execute("SELECT key_ref, wrapped FROM subject_keys").fetchall())
    raw.close()
    keys = {s: [wrapped[k.key_ref].hex(), k.secret.hex()] for s, k in plain.items()}
    print(json.dumps(keys), flush=True)
    for subject in subjects[::7]:
        erase(store, subject, reason="test")
    print("erased", flush=True)
    sys.stdin.read()
    """
)


def _windows(secret: bytes, width: int = 12) -> set[bytes]:
    """Every ``width``-byte slice of a secret: finds partial copies too."""
    return {secret[i : i + width] for i in range(len(secret) - width + 1)}


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def _holding(directory: Path, secrets: Iterable[bytes]) -> dict[str, int]:
    """How many of ``secrets`` have at least one slice in each file of ``directory``."""
    contents = {p.name: p.read_bytes() for p in _files(directory)}
    counts = dict.fromkeys(contents, 0)
    for secret in secrets:
        pieces = _windows(secret)
        for name, data in contents.items():
            if any(piece in data for piece in pieces):
                counts[name] += 1
    return counts


def _erase_then_kill(state: Path, subjects: int) -> tuple[dict[str, list[bytes]], list[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(state), str(subjects)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        try:
            keys = json.loads(child.stdout.readline())
            assert child.stdout.readline() == "erased\n"  # erase returned for every subject
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    names = [f"customer-{i}" for i in range(subjects)]
    by_subject = {s: [bytes.fromhex(w), bytes.fromhex(p)] for s, (w, p) in keys.items()}
    return by_subject, names[::7]


def test_no_byte_of_an_erased_key_survives_a_kill_right_after_erase(
    tmp_path: Path, master_key: str
) -> None:
    state = tmp_path / "state"
    keys, erased = _erase_then_kill(state, subjects=1500)
    assert {p.name for p in _files(state)} >= {KEYSTORE_FILE}

    wrapped_erased = [keys[s][0] for s in erased]
    plain_erased = [keys[s][1] for s in erased]
    assert _holding(state, wrapped_erased) == dict.fromkeys(_holding(state, []), 0)
    assert _holding(state, plain_erased) == dict.fromkeys(_holding(state, []), 0)

    # The scan finds keys that were not erased (it can fail), and they still open.
    kept = [s for s in keys if s not in set(erased)]
    assert sum(_holding(state, [keys[s][0] for s in kept[:50]]).values()) >= 50
    with LocalKeyStore.open(state) as store:
        found = store.subject_keys([*erased[:5], *kept[:5]], create=False)
    assert [found[s] for s in erased[:5]] == [None] * 5
    assert [k.secret if k else None for s in kept[:5] if (k := found[s])] == [
        keys[s][1] for s in kept[:5]
    ]


def test_erase_cleans_copies_left_by_stores_without_secure_delete(
    tmp_path: Path, master_key: str
) -> None:
    """A store written where SQLite does not zero deleted content (its default on many
    builds) keeps copies of old rows in free space; the next erase removes them too."""
    state = tmp_path / "state"
    with LocalKeyStore.open(state) as store:
        subjects = [f"c-{i}" for i in range(600)]
        keys = store.subject_keys(subjects)
    raw = sqlite3.connect(state / KEYSTORE_FILE, isolation_level=None)
    raw.execute("PRAGMA secure_delete=OFF")
    wrapped = dict(raw.execute("SELECT key_ref, wrapped FROM subject_keys").fetchall())
    refs = {s: k.key_ref for s, k in keys.items() if k is not None}
    # What an older meshkit did: erase without zeroing; and it left no layout mark in meta.
    old = subjects[::5]
    for subject in old:
        raw.execute(
            "UPDATE subject_keys SET wrapped = NULL, erased_at = 'then' WHERE key_ref = ?",
            (refs[subject],),
        )
    raw.execute("DELETE FROM meta WHERE name = 'layout'")
    raw.close()
    secrets = [wrapped[refs[s]] for s in [*old, "c-1"]]
    assert sum(_holding(state, secrets).values()) > 0  # the copies this test looks for
    with LocalKeyStore.open(state) as store:
        store.erase_subject("c-1")
    assert sum(_holding(state, secrets).values()) == 0


def test_erase_refuses_to_report_success_while_a_reader_pins_old_copies(
    tmp_path: Path, master_key: str
) -> None:
    state = tmp_path / "state"
    with LocalKeyStore.open(state) as store:
        key = store.subject_keys(["c-1", "c-2"])["c-1"]
        assert key is not None
        raw = sqlite3.connect(store.path)
        (wrapped,) = raw.execute(
            "SELECT wrapped FROM subject_keys WHERE key_ref = ?", (key.key_ref,)
        ).fetchone()
        raw.close()
        reader = sqlite3.connect(store.path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM subject_keys").fetchone()  # holds a snapshot
        with pytest.raises(PrivacyError, match=r"an old copy of it may remain in keys\.sqlite-wal"):
            store.erase_subject("c-1")  # waits the busy timeout (10 s), then says so
        assert sum(_holding(state, [wrapped]).values()) > 0
        reader.execute("COMMIT")
        reader.close()
        again = store.erase_subject("c-1")
    assert again.already_erased
    assert sum(_holding(state, [wrapped]).values()) == 0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_directory_and_files_are_private_from_creation(
    tmp_path: Path, master_key: str
) -> None:
    old_umask = os.umask(0o022)
    try:
        state = tmp_path / "new" / "privacy"
        with LocalKeyStore.open(state) as store:
            store.subject_keys(["c-1"])
            files = _files(state)
            assert {p.name for p in files} >= {KEYSTORE_FILE, f"{KEYSTORE_FILE}-wal"}
            assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert _mode(state) == 0o700
    finally:
        os.umask(old_umask)


def test_master_key_file_is_private_from_creation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, mode: int = 0o777, **kw: object) -> int:
        fd = real_open(path, flags, mode, **kw)  # type: ignore[arg-type]
        if str(path).endswith("master.key"):
            created.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return fd

    path = tmp_path / "master.key"
    path.write_text("an old, world-readable key file")
    path.chmod(0o644)
    monkeypatch.setattr(os, "open", spy)
    key = write_master_key_file(path)
    monkeypatch.undo()
    assert created == [0o600]  # 0600 the moment it exists, before a byte is written
    assert _mode(path) == 0o600
    assert path.read_text() == key
    assert len(load_master_key({MASTER_KEY_ENV: key})) == 32
    assert key != new_master_key()
