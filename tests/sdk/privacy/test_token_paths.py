"""One value, one token: every path that tokenizes gives the same text, byte for byte.

The paths: the record path (``Tokenizer.token``, ``Masker.mask_record``), the batch path
(``Tokenizer.tokens`` in one thread and on polars' thread pool, ``Masker.mask_table`` as
the batch I/O manager calls it) and the streaming pipeline's columnar path (polls masked
as a table and polls masked record by record). Each is compared with ``hmac`` directly.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

import orjson
import pyarrow as pa
import pytest

from meshkit.privacy import LocalKeyStore, Masker, Tokenizer
from meshkit.privacy.keys import TokenKey
from meshkit.privacy.tokenize import PARALLEL_MIN_ROWS, set_batch_threads
from meshkit.streaming import Pipeline, RawMessage, SourcePosition
from meshkit.streaming.columnar import MASK_TABLE_MIN_ROWS
from tests.sdk.streaming.helpers import TOPIC, envelope, key_bytes, load, row

KEY = TokenKey("customer", 7, bytes(range(100, 132)), "2026-01-01")


def expected(value: str) -> str:
    return "tok:customer.7:" + hmac.digest(KEY.secret, value.encode(), "sha256").hex()


def awkward(i: int) -> str | None:
    """Values of every shape: empty, one SHA-256 block and more, non-ASCII, NUL, null."""
    shapes: list[str | None] = [
        f"user{i}@example.com",
        "",
        None,
        "é" * (i % 70),
        "x" * (50 + i % 30),  # around the 55/64-byte block edges with the 64-byte pad
        f"\0{i}\U0001f600",
        "ada@example.com " * (i % 9),
    ]
    return shapes[i % len(shapes)]


@pytest.fixture
def serial() -> Iterator[None]:
    set_batch_threads(1)
    yield
    set_batch_threads(2)


@pytest.mark.parametrize("n", [1, 7, 1000, PARALLEL_MIN_ROWS + 3])
def test_batch_tokens_are_the_hmac_of_each_value(n: int) -> None:
    values = [awkward(i) for i in range(n)]
    want = [None if v is None else expected(v) for v in values]
    tokenizer = Tokenizer(KEY)
    got = tokenizer.tokens(pa.array(values, pa.string()))
    assert got.type == pa.string()
    assert got.to_pylist() == want
    chunked = pa.chunked_array([values[: n // 2], values[n // 2 :]], pa.large_string())
    assert tokenizer.tokens(chunked).to_pylist() == want
    assert [None if v is None else tokenizer.token(v) for v in values] == want


def test_batch_tokens_in_one_thread_equal_the_parallel_ones(serial: None) -> None:
    values = [awkward(i) for i in range(PARALLEL_MIN_ROWS + 3)]
    assert Tokenizer(KEY).tokens(pa.array(values)).to_pylist() == [
        None if v is None else expected(v) for v in values
    ]


def test_all_null_and_empty_columns() -> None:
    assert Tokenizer(KEY).tokens(pa.array([None, None], pa.string())).to_pylist() == [None, None]
    assert Tokenizer(KEY).tokens(pa.array([], pa.string())).to_pylist() == []
    sliced = pa.array(["a", None, "b", "c"]).slice(1, 2)
    assert Tokenizer(KEY).tokens(sliced).to_pylist() == [None, expected("b")]


def test_masker_record_and_table_paths_give_the_same_tokens(store: LocalKeyStore) -> None:
    key = store.create_token_key("customer")
    masker = Masker.from_contract(load("customer"), store=store)
    emails = [f"user{i}@example.com" for i in range(3000)] + ["é€", ""]
    want = [Tokenizer(key).token(e) for e in emails]
    assert [masker.mask_record({"email": e})["email"] for e in emails] == want
    table = masker.mask_table(pa.table({"email": emails}))
    assert table.column("email").to_pylist() == want


def test_streaming_polls_give_the_same_tokens_on_both_mask_paths(store: LocalKeyStore) -> None:
    key = store.create_token_key("customer")
    contract = load("customer")
    masker = Masker.from_contract(contract, store=store)
    events = [
        RawMessage(
            key_bytes(i),
            orjson.dumps(envelope("c", None, row(i, email_address=f"u{i}-é@example.com"), 10 + i)),
            SourcePosition(TOPIC, 0, i),
        )
        for i in range(MASK_TABLE_MIN_ROWS + 10)
    ]
    for size in (7, MASK_TABLE_MIN_ROWS + 10):  # masked record by record, then as a table
        batch = Pipeline(contract, masker)(events[:size])
        assert len(batch.changes) == size
        tokens = [c.record["email"] for c in batch.changes if c.record]
        assert tokens == [Tokenizer(key).token(f"u{i}-é@example.com") for i in range(size)]
