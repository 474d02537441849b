"""Keyed tokenization: deterministic HMAC-SHA256 under a named, versioned key.

A token is ``tok:<key_id>:<hex>``, e.g. ``tok:customer.2:9f86d0…`` (64 hex digits, the
full HMAC-SHA256 of the UTF-8 value; integers are tokenized by their decimal text). The
same value under the same key gives the same token in every port, so products stay
joinable; the key id in the token says which key version made it, so keys can rotate
and old tokens remain verifiable (``verify_token``).

Two paths, identical value for value:

- the record path (``Tokenizer.token``) is one ``hmac.digest`` call per value;
- the batch path (``Tokenizer.tokens``) runs the standard HMAC construction
  ``H((K ^ opad) || H((K ^ ipad) || m))`` over the whole Arrow column with two vectorised
  SHA-256 passes of polars-hash (Rust, no Python code per value); the inner digests go
  from hex to bytes with ``binascii`` and the outer input and the token text are laid out
  with NumPy. Columns of ``PARALLEL_MIN_ROWS`` values or more are hashed by polars'
  streaming engine on every core polars may use. Tests check it against ``hmac``.
"""

from __future__ import annotations

import binascii
import hmac
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meshkit.privacy.errors import KeyNotFoundError, PrivacyError
from meshkit.privacy.keys import KeyStore, TokenKey

if TYPE_CHECKING:
    import polars as pl

TOKEN_PREFIX = "tok:"  # noqa: S105 - a format marker, not a secret
_digest = hmac.digest
_BLOCK = 64  # SHA-256 block size in bytes
_HEX = 64  # hex digits of a SHA-256 digest
PARALLEL_MIN_ROWS = 50_000
"""From this many values on, the batch path hashes on every core polars may use."""
_local = threading.local()


def set_batch_threads(threads: int) -> None:
    """Whether the batch path may use more than one thread in this thread (default: yes).

    With ``1`` it hashes in the calling thread only; with more, columns of
    ``PARALLEL_MIN_ROWS`` values or more use polars' thread pool (as many threads as
    ``POLARS_MAX_THREADS``, by default one per core).
    """
    _local.parallel = int(threads) > 1


def _pads(secret: bytes) -> tuple[bytes, bytes]:
    if len(secret) > _BLOCK:
        raise PrivacyError("token keys longer than 64 bytes are not supported")
    padded = secret.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)


def _sha256_hex(frame: pl.DataFrame) -> memoryview:
    """The SHA-256 hex digests of the one binary column of ``frame`` (no nulls), as one
    buffer of 64 ASCII hex digits per row."""
    import polars_hash as plh  # imported on first use: polars takes half a second to import

    query = frame.lazy().select(plh.col(frame.columns[0]).chash.sha2_256())
    parallel = getattr(_local, "parallel", True) and frame.height >= PARALLEL_MIN_ROWS
    hexes = query.collect(engine="streaming" if parallel else "in-memory").to_series().to_arrow()
    if not pa.types.is_large_string(hexes.type):
        hexes = hexes.cast(pa.large_string())
    _, offsets_buffer, data = hexes.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64, len(hexes) + 1, hexes.offset * 8)
    start, end = int(offsets[0]), int(offsets[-1])
    if data is None or end - start != _HEX * len(hexes):
        raise PrivacyError("polars-hash returned SHA-256 digests of an unexpected length")
    return memoryview(data)[start:end]


def _fixed_width(rows: np.ndarray, *, text: bool) -> pa.Array:
    """The equal-width rows of a 2-D uint8 array as an Arrow string or binary array."""
    n, width = rows.shape
    large = width * n >= 2**31
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int64 if large else np.int32)
    typ = (pa.large_string() if large else pa.string()) if text else pa.large_binary()
    if not text:
        offsets = offsets.astype(np.int64)
    return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(rows)])


class Tokenizer:
    """Tokens under one key version.

    Example::

        tok = Tokenizer(store.token_key("customer"))
        tok.token("ada@example.com")            # 'tok:customer.1:…'
        tok.tokens(pa.array(["ada@example.com", None]))
    """

    def __init__(self, key: TokenKey) -> None:
        self.key = key
        self.prefix = f"{TOKEN_PREFIX}{key.key_id}:"
        self._secret = key.secret
        self._ipad, self._opad = _pads(key.secret)

    def token(self, value: str | int) -> str:
        """The token of one value (a string, or an integer by its decimal text)."""
        text = value if type(value) is str else str(value)
        return self.prefix + _digest(self._secret, text.encode(), "sha256").hex()

    def tokens(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The tokens of a string or integer Arrow column; nulls stay null.

        The result is a ``string`` array (``large_string`` past 2 GiB of token text).
        """
        typ = values.type
        t = pa.types
        if t.is_integer(typ) or t.is_large_string(typ) or t.is_string_view(typ):
            values = pc.cast(values, pa.string())
        elif not pa.types.is_string(typ):
            raise PrivacyError(f"cannot tokenize a column of type {typ}")
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        n = len(values)
        if n == 0:
            return pa.array([], pa.string())
        import polars as pl  # imported on first use, as in _sha256_hex

        # inner digests H((K ^ ipad) || m), from hex back to 32 bytes each
        message = pl.from_arrow(values).fill_null("").cast(pl.Binary)
        inner = pl.DataFrame({"i": message}).select(
            pl.lit(self._ipad, dtype=pl.Binary) + pl.col("i")
        )
        digests = np.frombuffer(binascii.unhexlify(_sha256_hex(inner)), np.uint8)
        # outer digests H((K ^ opad) || inner)
        outer = np.empty((n, _BLOCK + 32), np.uint8)
        outer[:, :_BLOCK] = np.frombuffer(self._opad, np.uint8)
        outer[:, _BLOCK:] = digests.reshape(n, 32)
        hexes = _sha256_hex(pl.DataFrame({"o": pl.from_arrow(_fixed_width(outer, text=False))}))
        # the token text: the prefix, then the 64 hex digits
        prefix = self.prefix.encode()
        text = np.empty((n, len(prefix) + _HEX), np.uint8)
        text[:, : len(prefix)] = np.frombuffer(prefix, np.uint8)
        text[:, len(prefix) :] = np.frombuffer(hexes, np.uint8).reshape(n, _HEX)
        tokens = _fixed_width(text, text=True)
        if values.null_count:
            tokens = pc.if_else(pc.is_valid(values), tokens, pa.scalar(None, tokens.type))
        return tokens


def parse_token(token: str) -> tuple[str, int, str]:
    """``(key name, key version, hex digest)`` of a token; ``PrivacyError`` if malformed."""
    parts = token.split(":")
    if len(parts) != 3 or parts[0] + ":" != TOKEN_PREFIX or "." not in parts[1]:
        raise PrivacyError("not a meshkit token: expected 'tok:<name>.<version>:<hex>'")
    name, _, version = parts[1].rpartition(".")
    if not version.isdigit() or len(parts[2]) != 64:
        raise PrivacyError("not a meshkit token: expected 'tok:<name>.<version>:<64 hex>'")
    return name, int(version), parts[2]


def verify_token(store: KeyStore, token: str, value: str | int) -> bool:
    """Whether ``token`` is the token of ``value`` under the key version the token names."""
    name, version, _ = parse_token(token)
    try:
        key = store.token_key(name, version)
    except KeyNotFoundError:
        return False
    return hmac.compare_digest(Tokenizer(key).token(value), token)


def tokenize_any(tokenizer: Tokenizer, value: Any) -> str:
    """``Tokenizer.token`` with a type check, for callers holding untyped values."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PrivacyError(f"cannot tokenize a {type(value).__name__}")
    return tokenizer.token(value)
