"""Encryption per data subject (AES-256-GCM-SIV) and its crypto-shredding semantics.

Each data subject has its own data key in the key store. A ciphertext is the text::

    enc:v2:<key_ref>:<base64url(ciphertext || tag)>

``v2`` is the format version, ``key_ref`` the opaque reference of the subject's key (the
subject id itself never appears). The associated data binds the ciphertext to that key
and to the field it was written to (``meshkit-enc-v2|<key_ref>|<field>``), so a ciphertext
moved to another field or edited fails authentication. The reader needs the grant to the
key store, not the raw subject id (the subject field may itself be tokenized).

Encryption is deterministic on purpose: the same value of the same subject in the same
field encrypts to the same text on the record and the batch path and on a replay
(idempotent sinks). That is AES-GCM-SIV (RFC 8452, ``cryptography``'s ``AESGCMSIV``), a
nonce-misuse-resistant AEAD, used with a fixed nonce: it then reveals only whether two
ciphertexts under one subject's key hold the same value, and nothing else. (Format ``v1``
built the same property by hand, AES-GCM with a synthetic nonce from an HMAC of the value;
``v1`` texts still decrypt.)

After ``erase_subject`` the key is gone: decryption yields an "erased" result, and new
values for that subject are not stored at all (``encrypt`` returns ``None``; the masker
writes null). Writers cache keys for ``cache_ttl`` seconds, so a long-running writer in
another process stops using an erased key within that time.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV

from meshkit.privacy.errors import (
    DecryptionError,
    KeyNotFoundError,
    PrivacyError,
    SubjectErasedError,
)
from meshkit.privacy.keys import KeyStore, SubjectKey

PREFIX = "enc:v2:"
"""What every ciphertext written now starts with."""
PREFIX_V1 = "enc:v1:"
"""The first format (AES-GCM with a synthetic nonce): read, no longer written."""
_NONCE = bytes(12)  # fixed: AES-GCM-SIV as a deterministic AEAD (see the module docstring)


def _encode(v: Any) -> bytes:
    t = type(v)
    if t is str:
        return b"s" + str(v).encode()
    if t is bytes:
        return b"b" + bytes(v)
    if t is int:
        return b"i" + str(v).encode()
    if t is date:
        return b"d" + str(v.isoformat()).encode()
    raise PrivacyError(
        f"encrypt applies to text, bytes, integers and dates, got {t.__name__}"
        + (" (use a date or text)" if t is datetime else "")
    )


def _decode(p: bytes) -> Any:
    tag, body = p[:1], p[1:]
    if tag == b"s":
        return body.decode()
    if tag == b"b":
        return body
    if tag == b"i":
        return int(body)
    if tag == b"d":
        return date.fromisoformat(body.decode())
    raise DecryptionError("unknown plaintext type tag")


class _Key:
    __slots__ = ("_secret", "ref", "siv")

    def __init__(self, key: SubjectKey) -> None:
        self.ref = key.key_ref
        self.siv = AESGCMSIV(key.secret)
        self._secret = key.secret

    def open_v1(self, raw: bytes, aad: bytes) -> bytes:
        """Decrypt a ``v1`` body (nonce || ciphertext || tag under AES-GCM)."""
        return AESGCM(self._secret).decrypt(raw[:12], raw[12:], aad)


@dataclass(frozen=True)
class Decrypted:
    """One decryption outcome: ``ok`` (with ``value``), ``erased`` or ``invalid``."""

    status: str
    value: Any = None
    reason: str = ""


class SubjectCipher:
    """Encrypts and decrypts values under each data subject's own key.

    Example::

        cipher = SubjectCipher(store)
        text = cipher.encrypt("ada@example.com", subject="c-42", field="email")
        cipher.decrypt(text, field="email")      # 'ada@example.com'
    """

    def __init__(self, store: KeyStore, *, cache_ttl: float = 60.0) -> None:
        self.store = store
        self.cache_ttl = cache_ttl
        self._by_subject: dict[str, _Key | None] = {}
        self._by_ref: dict[str, _Key] = {}
        self._loaded = time.monotonic()

    def clear_cache(self) -> None:
        self._by_subject.clear()
        self._by_ref.clear()
        self._loaded = time.monotonic()

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded > self.cache_ttl:
            self.clear_cache()

    def _keys(self, subjects: Sequence[str]) -> dict[str, _Key | None]:
        self._fresh()
        cache = self._by_subject
        missing = {s for s in subjects if s not in cache}
        if missing:
            for subject, key in self.store.subject_keys(missing, create=True).items():
                cache[subject] = None if key is None else _Key(key)
        return cache

    # -- encryption ---------------------------------------------------------------------

    def encrypt(self, value: Any, subject: str, field: str) -> str | None:
        """The ciphertext of one value; ``None`` when the subject was erased."""
        key = self._keys([subject])[subject]
        return None if key is None else _seal(key, value, field)

    def encrypt_many(
        self, values: Sequence[Any], subjects: Sequence[str | None], field: str
    ) -> list[str | None]:
        """Ciphertexts of many values, each under its subject's key (one key-store trip)."""
        if len(values) != len(subjects):
            raise PrivacyError("encrypt: values and subjects differ in length")
        keys = self._keys(
            [s for s, v in zip(subjects, values, strict=True) if v is not None and s is not None]
        )
        out: list[str | None] = []
        for v, s in zip(values, subjects, strict=True):
            if v is None:
                out.append(None)
                continue
            if s is None:
                raise PrivacyError(
                    "encrypt: a non-null value has no data subject (subject is null)"
                )
            key = keys[s]
            out.append(None if key is None else _seal(key, v, field))
        return out

    def encrypt_array(self, values: pa.Array, subjects: pa.Array, field: str) -> pa.Array:
        """The batch face of ``encrypt_many`` over Arrow columns."""
        subject_text = [None if s is None else str(s) for s in subjects.to_pylist()]
        return pa.array(self.encrypt_many(values.to_pylist(), subject_text, field), pa.string())

    # -- decryption ---------------------------------------------------------------------

    def _key_by_ref(self, ref: str) -> _Key:
        self._fresh()
        key = self._by_ref.get(ref)
        if key is None:
            key = self._by_ref[ref] = _Key(self.store.subject_key_by_ref(ref))
        return key

    def decrypt(self, text: str, field: str) -> Any:
        """The plaintext; ``SubjectErasedError`` after erasure, ``DecryptionError`` if tampered."""
        v1 = text.startswith(PREFIX_V1)
        if not (v1 or text.startswith(PREFIX)) or text.count(":") != 3:
            raise DecryptionError(f"field {field!r}: not a meshkit ciphertext ('{PREFIX}…')")
        ref, _, body = text[len(PREFIX) :].partition(":")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionError(f"field {field!r}: ciphertext is not base64url") from None
        key = self._key_by_ref(ref)
        try:
            if v1:
                plain = key.open_v1(raw, f"meshkit-enc-v1|{ref}|{field}".encode())
            else:
                plain = key.siv.decrypt(_NONCE, raw, _aad(ref, field))
        except InvalidTag:
            raise DecryptionError(
                f"field {field!r}: ciphertext failed authentication (tampered, truncated, "
                "or written to another field)"
            ) from None
        return _decode(plain)

    def decrypt_many(self, texts: Sequence[str | None], field: str) -> list[Decrypted | None]:
        """Decrypt many values without raising: each gets ``ok``, ``erased`` or ``invalid``."""
        out: list[Decrypted | None] = []
        for t in texts:
            if t is None:
                out.append(None)
                continue
            try:
                out.append(Decrypted("ok", self.decrypt(t, field)))
            except SubjectErasedError as exc:
                out.append(Decrypted("erased", reason=str(exc)))
            except (DecryptionError, KeyNotFoundError) as exc:
                out.append(Decrypted("invalid", reason=str(exc)))
        return out


def _aad(ref: str, field: str) -> bytes:
    return f"meshkit-enc-v2|{ref}|{field}".encode()


def _seal(key: _Key, value: Any, field: str) -> str:
    body = base64.urlsafe_b64encode(key.siv.encrypt(_NONCE, _encode(value), _aad(key.ref, field)))
    return f"{PREFIX}{key.ref}:{body.rstrip(b'=').decode()}"
