"""The local key store: master key errors, token key rotation, subject keys, the audit log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from meshkit.errors import ConfigError
from meshkit.privacy.errors import KeyNotFoundError, PrivacyError, SubjectErasedError
from meshkit.privacy.keys import (
    MASTER_KEY_ENV,
    KeyStore,
    LocalKeyStore,
    load_master_key,
    new_master_key,
)


def test_missing_master_key_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"{MASTER_KEY_ENV} is not set.*new-master-key"):
        LocalKeyStore.open(tmp_path, environ={})


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64!!", "not valid base64"), ("c2hvcnQ=", "must decode to 32 bytes, got 5")],
)
def test_malformed_master_key_is_rejected(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_master_key({MASTER_KEY_ENV: value})


def test_wrong_master_key_is_detected_by_the_check_value(tmp_path: Path) -> None:
    with LocalKeyStore.open(tmp_path, environ={MASTER_KEY_ENV: new_master_key()}) as s:
        s.create_token_key("customer")
    with pytest.raises(ConfigError, match=r"does not open the key store .*keys.sqlite"):
        LocalKeyStore.open(tmp_path, environ={MASTER_KEY_ENV: new_master_key()})


def test_keys_are_encrypted_at_rest(store: LocalKeyStore) -> None:
    key = store.create_token_key("customer")
    store.subject_keys(["c-1"])
    raw = store.path.read_bytes() + Path(f"{store.path}-wal").read_bytes()
    assert key.secret not in raw
    assert b"c-1" not in raw


def test_rotation_keeps_old_versions_and_audits(store: LocalKeyStore) -> None:
    assert isinstance(store, KeyStore)
    v1 = store.create_token_key("customer")
    v2 = store.rotate_token_key("customer")
    assert (v1.key_id, v2.key_id) == ("customer.1", "customer.2")
    assert store.token_key("customer") == v2
    assert store.token_key("customer", 1) == v1
    assert [(k.key_id, k.state) for k in store.list_token_keys()] == [
        ("customer.1", "previous"),
        ("customer.2", "current"),
    ]
    assert [(e.action, e.key_id) for e in store.audit_events()] == [
        ("create", "customer.1"),
        ("rotate", "customer.2"),
    ]


def test_token_key_errors_name_the_key(store: LocalKeyStore) -> None:
    with pytest.raises(KeyNotFoundError, match=r"no token key 'orders'.*keys create orders"):
        store.token_key("orders")
    with pytest.raises(KeyNotFoundError, match="create it first"):
        store.rotate_token_key("orders")
    store.create_token_key("orders")
    with pytest.raises(PrivacyError, match="exists already"):
        store.create_token_key("orders")
    with pytest.raises(PrivacyError, match="bad key name"):
        store.create_token_key("Bad Name")


def test_subject_keys_are_stable_and_erasure_is_a_tombstone(store: LocalKeyStore) -> None:
    first = store.subject_keys(["a", "b"])
    assert store.subject_keys(["a", "b"]) == first
    key_a = first["a"]
    assert key_a is not None
    receipt = store.erase_subject("a", reason="request 17")
    assert receipt.had_key
    assert receipt.key_ref == key_a.key_ref
    assert store.subject_keys(["a", "b"]) == {"a": None, "b": first["b"]}
    with pytest.raises(SubjectErasedError, match="erased"):
        store.subject_key_by_ref(key_a.key_ref)
    again = store.erase_subject("a")
    assert again.already_erased
    never_seen = store.erase_subject("z")
    assert not never_seen.had_key
    assert store.subject_keys(["z"]) == {"z": None}
    actions = [e.action for e in store.audit_events()]
    assert actions == ["create-subject", "create-subject", "erase", "erase", "erase"]
    assert all(e.detail != "a" for e in store.audit_events())


def test_a_tampered_wrapped_key_is_reported(store: LocalKeyStore) -> None:
    store.create_token_key("customer")
    db = sqlite3.connect(store.path)
    (wrapped,) = db.execute("SELECT wrapped FROM token_keys").fetchone()
    flipped = wrapped[:20] + bytes([wrapped[20] ^ 1]) + wrapped[21:]
    db.execute("UPDATE token_keys SET wrapped = ?", (flipped,))
    db.commit()
    db.close()
    with pytest.raises(PrivacyError, match="failed authentication"):
        store.token_key("customer")
