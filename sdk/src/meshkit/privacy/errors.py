"""Errors of the privacy engine.

The hierarchy (all are ``meshkit.errors.MeshkitError``, so the CLI prints them without a
traceback)::

    MeshkitError
    ├── ConfigError               master key missing, not base64, or not the store's key
    └── PrivacyError              base of the errors below
        ├── TransformError        a value or column does not fit the declared transform
        ├── KeyNotFoundError      no key with that name, version or reference
        ├── SubjectErasedError    the data subject was erased: its key no longer exists
        └── DecryptionError       a ciphertext is malformed or failed authentication
"""

from __future__ import annotations

from meshkit.errors import MeshkitError


class PrivacyError(MeshkitError):
    """Base of every error the privacy engine raises on purpose."""


class TransformError(PrivacyError):
    """A value (record path) or a column (batch path) does not fit the field's transform."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field {field!r}: {message}")
        self.field = field


class KeyNotFoundError(PrivacyError):
    """The key store holds no key with that name, version or reference."""


class SubjectErasedError(PrivacyError):
    """The data subject was erased (crypto-shredded): its data key was deleted."""

    def __init__(self, key_ref: str, erased_at: str) -> None:
        super().__init__(f"erased: the data subject of key {key_ref} was erased at {erased_at}")
        self.key_ref = key_ref
        self.erased_at = erased_at


class DecryptionError(PrivacyError):
    """A ciphertext is malformed, or failed authentication (tampered, or moved to another field)."""
