"""Encryption per data subject: round trips, crypto-shredding, tampering, batch == record."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from meshkit.privacy.encrypt import SubjectCipher
from meshkit.privacy.errors import DecryptionError, PrivacyError, SubjectErasedError
from meshkit.privacy.keys import LocalKeyStore


@pytest.mark.parametrize(
    "value", ["ada@example.com", "", "ünïcødé", b"\x00\xff", 42, date(1990, 5, 17)]
)
def test_round_trip_keeps_the_value_and_its_type(store: LocalKeyStore, value: object) -> None:
    cipher = SubjectCipher(store)
    text = cipher.encrypt(value, subject="c-1", field="f")
    assert text is not None
    assert text.startswith("enc:v2:")
    back = SubjectCipher(store).decrypt(text, field="f")
    assert back == value
    assert type(back) is type(value)


def test_ciphertext_names_the_key_not_the_subject(store: LocalKeyStore) -> None:
    cipher = SubjectCipher(store)
    text = cipher.encrypt("ada@example.com", "customer-4711", "email")
    assert text is not None
    key = store.subject_keys(["customer-4711"])["customer-4711"]
    assert key is not None
    assert text.split(":")[2] == key.key_ref
    # whole values only: a short piece such as "ada" turns up in random base64 by chance
    # (about once in 5,000 runs; it did once)
    assert "customer-4711" not in text
    assert "ada@example.com" not in text


def test_erasure_shreds_one_subject_only(store: LocalKeyStore) -> None:
    writer = SubjectCipher(store)
    texts = writer.encrypt_many(["a@x.org", "b@x.org", "a2@x.org"], ["A", "B", "A"], "email")
    store.erase_subject("A")
    reader = SubjectCipher(store)
    results = reader.decrypt_many(texts, "email")
    assert [r.status if r else None for r in results] == ["erased", "ok", "erased"]
    assert results[1] is not None
    assert results[1].value == "b@x.org"
    assert results[0] is not None
    assert "erased" in results[0].reason
    assert texts[0] is not None
    with pytest.raises(SubjectErasedError, match="erased"):
        reader.decrypt(texts[0], "email")
    # New values for an erased subject are not stored at all.
    assert SubjectCipher(store).encrypt("a3@x.org", "A", "email") is None


def test_a_writer_cache_expires(store: LocalKeyStore) -> None:
    writer = SubjectCipher(store, cache_ttl=0.0)
    assert writer.encrypt("v", "A", "f") is not None
    store.erase_subject("A")
    assert writer.encrypt("v", "A", "f") is None


def test_tampered_or_moved_ciphertext_is_rejected(store: LocalKeyStore) -> None:
    cipher = SubjectCipher(store)
    text = cipher.encrypt("ada@example.com", "c-1", "email")
    assert text is not None
    body = text.rsplit(":", 1)[1]
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    with pytest.raises(DecryptionError, match="failed authentication"):
        cipher.decrypt(text.rsplit(":", 1)[0] + ":" + flipped, "email")
    with pytest.raises(DecryptionError, match="failed authentication"):
        cipher.decrypt(text[:-4], "email")
    with pytest.raises(DecryptionError, match="written to another field"):
        cipher.decrypt(text, "phone")
    with pytest.raises(DecryptionError, match="not a meshkit ciphertext"):
        cipher.decrypt("tok:a.1:00", "email")
    other = cipher.encrypt("bob@example.com", "c-2", "email")
    assert other is not None
    swapped = other.rsplit(":", 1)[0] + ":" + body  # c-2's key, c-1's ciphertext
    assert [r.status for r in cipher.decrypt_many([swapped], "email") if r] == ["invalid"]


def test_batch_equals_record_and_is_deterministic(store: LocalKeyStore) -> None:
    cipher = SubjectCipher(store)
    values = pa.array(["a@x.org", None, "b@x.org", "a@x.org"])
    subjects = pa.array([1, 2, 3, 1], pa.int64())
    batch = cipher.encrypt_array(values, subjects, "email").to_pylist()
    record = [
        None if v is None else cipher.encrypt(v, str(s), "email")
        for v, s in zip(values.to_pylist(), subjects.to_pylist(), strict=True)
    ]
    assert batch == record
    assert batch[0] == batch[3]
    assert batch[0] != batch[2]


def test_unsupported_types_and_missing_subjects(store: LocalKeyStore) -> None:
    cipher = SubjectCipher(store)
    with pytest.raises(PrivacyError, match="encrypt applies to text, bytes, integers and dates"):
        cipher.encrypt(1.5, "c", "f")
    with pytest.raises(PrivacyError, match="no data subject"):
        cipher.encrypt_many(["x"], [None], "f")


def _v1(store: LocalKeyStore, value: str, subject: str, field: str) -> str:
    """A ciphertext in the first format (AES-GCM, HMAC-derived nonce), built by hand."""
    import base64
    import hmac

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = store.subject_keys([subject])[subject]
    assert key is not None
    plain = b"s" + value.encode()
    aad = f"meshkit-enc-v1|{key.key_ref}|{field}".encode()
    nonce_key = hmac.digest(key.secret, b"meshkit nonce key v1", "sha256")
    nonce = hmac.digest(nonce_key, aad + b"\0" + plain, "sha256")[:12]
    body = base64.urlsafe_b64encode(nonce + AESGCM(key.secret).encrypt(nonce, plain, aad))
    return f"enc:v1:{key.key_ref}:{body.rstrip(b'=').decode()}"


def test_first_format_ciphertexts_still_decrypt_and_shred(store: LocalKeyStore) -> None:
    old = _v1(store, "ada@example.com", "c-1", "email")
    assert SubjectCipher(store).decrypt(old, "email") == "ada@example.com"
    with pytest.raises(DecryptionError, match="authentication"):
        SubjectCipher(store).decrypt(old, "phone")  # still bound to its field
    store.erase_subject("c-1")
    with pytest.raises(SubjectErasedError):
        SubjectCipher(store, cache_ttl=0).decrypt(old, "email")


def test_deterministic_per_subject_and_field_only(store: LocalKeyStore) -> None:
    cipher = SubjectCipher(store)
    a = cipher.encrypt("same", "c-1", "f")
    assert a == SubjectCipher(store).encrypt("same", "c-1", "f")  # replays write the same text
    assert a != cipher.encrypt("same", "c-2", "f")  # another subject's key
    assert a != cipher.encrypt("same", "c-1", "g")  # another field
    assert a != cipher.encrypt("Same", "c-1", "f")
