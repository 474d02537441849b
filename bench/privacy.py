"""Benchmark of the privacy engine: keyed tokenization and encryption per data subject.

    python -m bench.privacy [--quick]

Tokenizes 1,000,000 distinct short strings (``--quick``: 50,000) three ways in the same
run and reports values/s of each:

- baseline: a bare ``hmac.digest(key, value.encode(), "sha256")`` loop (raw digests, no
  token text);
- record path: ``Tokenizer.token(value)`` per value (what a streaming step calls);
- batch path: ``Tokenizer.tokens(column)`` over the Arrow column (what a batch asset
  calls), with DuckDB's default thread count and again with one thread;
- for information, ``Masker.mask_record`` on two-field records (one tokenized field):
  the whole streaming step, with its per-record dict copy.

``ratio=`` is the batch path against the bare loop (target >= 1.0); ``ratio_record=`` the
record path (target >= 0.7). Every token is checked against the bare loop's digests.
Encryption per subject: values/s of ``SubjectCipher.encrypt_many`` over 10,000 distinct
subjects, cold (keys created in the SQLite key store during the run) and warm.
"""

from __future__ import annotations

import base64
import hmac
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from bench._common import BenchResult, best_of, parser, report
from meshkit.privacy.encrypt import SubjectCipher
from meshkit.privacy.keys import MASTER_KEY_ENV, LocalKeyStore
from meshkit.privacy.masker import FieldPlan, Masker
from meshkit.privacy.tokenize import Tokenizer, set_batch_threads


class _Result(BenchResult):
    """Passes only when both the batch and the record path reach their targets."""

    @property
    def passed(self) -> bool:
        return super().passed and float(self.extra["ratio_record"]) >= RECORD_TARGET


RECORD_TARGET = 0.7


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 50_000 if args.quick else 1_000_000
    repeat = 2 if args.quick else 3
    values = [f"user{i:07d}@example.com" for i in range(n)]
    column = pa.array(values, pa.string())

    with tempfile.TemporaryDirectory() as tmp:
        environ = {MASTER_KEY_ENV: base64.b64encode(os.urandom(32)).decode()}
        store = LocalKeyStore.open(Path(tmp), environ=environ)
        key = store.create_token_key("bench")
        tok = Tokenizer(key)
        secret, digest = key.secret, hmac.digest

        def bare() -> list[bytes]:
            return [digest(secret, v.encode(), "sha256") for v in values]

        def record() -> list[str]:
            token = tok.token
            return [token(v) for v in values]

        expected = [f"{tok.prefix}{d.hex()}" for d in bare()]
        assert record() == expected, "record path differs from hmac.digest"
        assert tok.tokens(column).to_pylist() == expected, "batch path differs from hmac.digest"

        t_bare = best_of(bare, repeat)
        t_record = best_of(record, repeat)
        t_batch = best_of(lambda: tok.tokens(column), repeat)
        masker = Masker([FieldPlan("email", "tokenize", key="bench")], store=store)
        records = [{"id": i, "email": v} for i, v in enumerate(values)]
        t_masker = best_of(lambda: masker.mask_records(records), repeat)
        set_batch_threads(1)
        t_batch_1 = best_of(lambda: tok.tokens(column), repeat)

        subjects = [f"customer-{i % 10_000}" for i in range(min(n, 200_000))]
        plain = values[: len(subjects)]
        cipher = SubjectCipher(store)
        start = time.perf_counter()
        first = cipher.encrypt_many(plain, subjects, "email")
        t_cold = time.perf_counter() - start
        t_warm = best_of(lambda: cipher.encrypt_many(plain, subjects, "email"), repeat)
        assert cipher.decrypt(first[0] or "", "email") == plain[0]
        store.close()

    rate = {
        "bare": n / t_bare,
        "record": n / t_record,
        "batch": n / t_batch,
        "batch_1thread": n / t_batch_1,
        "masker_record": n / t_masker,
    }
    m = len(subjects)
    print(f"tokenization of {n:,} distinct short strings (values/s, best of {repeat}):")
    for name, r in rate.items():
        print(f"  {name:<14} {r:>12,.0f}   {r / rate['bare']:.2f}x the bare hmac.digest loop")
    print(f"encryption per subject, {m:,} values over 10,000 subjects:")
    print(f"  cold (creates 10,000 keys) {m / t_cold:>10,.0f} values/s")
    print(f"  warm (keys cached)         {m / t_warm:>10,.0f} values/s")
    report(
        _Result(
            name="privacy",
            value=rate["batch"],
            baseline=rate["bare"],
            target=1.0,
            extra={
                "ratio_record": round(rate["record"] / rate["bare"], 4),
                "ratio_batch_1thread": round(rate["batch_1thread"] / rate["bare"], 4),
                "ratio_masker_record": round(rate["masker_record"] / rate["bare"], 4),
                "record_target": RECORD_TARGET,
                "encrypt_cold": round(m / t_cold),
                "encrypt_warm": round(m / t_warm),
            },
        )
    )


if __name__ == "__main__":
    main()
