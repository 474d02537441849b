"""Keyed tokenization: HMAC-SHA256, record path == batch path, key rotation."""

from __future__ import annotations

import hmac

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.privacy.errors import PrivacyError
from meshkit.privacy.keys import LocalKeyStore, TokenKey
from meshkit.privacy.tokenize import Tokenizer, parse_token, verify_token

KEY = TokenKey("customer", 3, bytes(range(32)), "2026-01-01")
TOK = Tokenizer(KEY)


def test_token_is_the_hmac_sha256_with_the_key_id() -> None:
    expected = hmac.digest(KEY.secret, b"ada@example.com", "sha256").hex()
    assert TOK.token("ada@example.com") == f"tok:customer.3:{expected}"
    assert TOK.token(42) == TOK.token("42")
    assert parse_token(TOK.token("x")) == ("customer", 3, TOK.token("x")[-64:])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.text(max_size=40), max_size=30))
def test_batch_tokens_equal_record_tokens(values: list[str | None]) -> None:
    batch = TOK.tokens(pa.array(values, pa.string())).to_pylist()
    assert batch == [None if v is None else TOK.token(v) for v in values]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=20))
def test_integer_columns_tokenize_by_their_decimal_text(values: list[int | None]) -> None:
    batch = TOK.tokens(pa.array(values, pa.int64())).to_pylist()
    assert batch == [None if v is None else TOK.token(v) for v in values]


def test_large_string_and_chunked_columns() -> None:
    chunked = pa.chunked_array([["a", "b"], ["c", None]], pa.large_string())
    assert TOK.tokens(chunked).to_pylist() == [TOK.token("a"), TOK.token("b"), TOK.token("c"), None]


def test_wrong_column_type_is_an_error() -> None:
    with pytest.raises(PrivacyError, match="cannot tokenize a column of type double"):
        TOK.tokens(pa.array([1.5]))


def test_old_tokens_stay_verifiable_after_rotation(store: LocalKeyStore) -> None:
    old = Tokenizer(store.create_token_key("customer")).token("ada@example.com")
    new = Tokenizer(store.rotate_token_key("customer")).token("ada@example.com")
    assert old != new
    assert old.startswith("tok:customer.1:")
    assert new.startswith("tok:customer.2:")
    assert verify_token(store, old, "ada@example.com")
    assert verify_token(store, new, "ada@example.com")
    assert not verify_token(store, old, "bob@example.com")
    assert not verify_token(store, old.replace("customer.1", "customer.9"), "ada@example.com")


@pytest.mark.parametrize("bad", ["tok:x", "tok:customer:abc", "enc:v2:a:b", "tok:c.x:" + "0" * 64])
def test_malformed_tokens_are_rejected(bad: str) -> None:
    with pytest.raises(PrivacyError, match="not a meshkit token"):
        parse_token(bad)
