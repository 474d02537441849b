"""Benchmark of contracts: the runtime validator against plain pydantic, and lint speed.

    python -m bench.contracts [--quick]

Validator: 1,000,000 generated records (``--quick``: 20,000) of a 12-field contract
(text, integer, float, decimal(12,2), boolean, date, tz-aware timestamp, array, struct;
per-record rules: accepted values, range, regex, not null), JSON-style as they arrive from
Kafka (ISO timestamps, decimals as text), generated in chunks of 100,000. Each chunk is
validated by

- ``ContractValidator.validate_batch`` (the validator built from the contract), and
- the baseline: pydantic ``TypeAdapter(list[Record]).validate_python`` where ``Record`` is a
  hand-written ``TypedDict`` with the same types and the same rules as pydantic
  constraints (``Literal``, ``ge``/``le``, ``pattern``),

in alternating order; ``ratio=`` is validator rate / pydantic rate (target >= 0.8). Both
must accept every record. For information, ``stream_ratio=`` is the same comparison one
record at a time (``validate_record`` against ``TypeAdapter(Record)``).

Lint: 500 generated contracts (``--quick``: 50) written to a temporary directory, then
``lint_paths`` over the directory; ``lint_500_s=`` is its wall time (target < 5 s), and
``cli_lint_500_s=`` the whole ``meshkit contract lint DIR`` process, start-up included.
"""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

from bench._common import BenchResult, parser, report
from meshkit.contracts.lint import lint_paths
from meshkit.contracts.loader import parse_contract
from meshkit.contracts.validator import ContractValidator

TARGET = 0.8
LINT_TARGET_S = 5.0
CHUNK = 100_000

CONTRACT = """\
domain: bench
name: {name}
version: 1.0.0
status: active
owner: {{team: bench, contact: bench@example.com}}
subject: user_id
fields:
  - {{name: user_id, type: string, required: true}}
  - name: email
    type: string
    required: true
    pii: email
    transform: {{kind: tokenize, key: bench}}
  - {{name: age, type: integer}}
  - {{name: score, type: float}}
  - {{name: balance, type: "decimal(12,2)"}}
  - {{name: active, type: boolean, required: true}}
  - {{name: country, type: string, required: true}}
  - name: born
    type: date
    pii: date_of_birth
    transform: {{kind: generalize, to: year}}
  - {{name: updated_at, type: timestamp, required: true}}
  - {{name: tags, type: array<string>}}
  - name: address
    type: struct
    fields:
      - {{name: city, type: string}}
      - {{name: zip, type: string}}
  - {{name: notes, type: string}}
primary_key: [user_id]
event_time: updated_at
quality:
  - {{kind: accepted_values, field: country, values: [NL, BE, DE, FR]}}
  - {{kind: range, field: age, min: 0, max: 130}}
  - {{kind: regex, field: address.zip, pattern: "[0-9]{{4}}[A-Z]{{2}}"}}
  - {{kind: not_null, field: email}}
  - {{kind: unique, fields: [user_id]}}
ports:
  outputs:
    - {{kind: kafka_topic, partitions: 6}}
    - {{kind: warehouse_table, partitioning: {{field: updated_at}}}}
"""


@with_config(ConfigDict(extra="forbid"))
class Address(TypedDict):
    city: NotRequired[str | None]
    zip: NotRequired[Annotated[str, Field(pattern=r"^[0-9]{4}[A-Z]{2}$")] | None]


@with_config(ConfigDict(extra="forbid"))
class Record(TypedDict):
    user_id: str
    email: str
    age: NotRequired[Annotated[int, Field(ge=0, le=130)] | None]
    score: NotRequired[Annotated[float, Field(allow_inf_nan=False)] | None]
    balance: NotRequired[Annotated[Decimal, Field(max_digits=12, decimal_places=2)] | None]
    active: bool
    country: Literal["NL", "BE", "DE", "FR"]
    born: NotRequired[date | None]
    updated_at: AwareDatetime
    tags: NotRequired[list[str] | None]
    address: NotRequired[Address | None]
    notes: NotRequired[str | None]


def records(start: int, n: int, rng: random.Random) -> list[dict[str, Any]]:
    countries = ["NL", "BE", "DE", "FR"]
    out = []
    for i in range(start, start + n):
        out.append(
            {
                "user_id": f"u{i:08d}",
                "email": f"user{i}@example.com",
                "age": rng.randint(0, 99),
                "score": rng.random() * 100,
                "balance": f"{rng.randint(0, 10**8) / 100:.2f}",
                "active": i % 3 != 0,
                "country": countries[i % 4],
                "born": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                "updated_at": f"2025-0{i % 9 + 1}-1{i % 10}T1{i % 10}:00:0{i % 10}+00:00",
                "tags": ["a", "b"] if i % 2 else [],
                "address": {"city": "Delft", "zip": f"{2600 + i % 100}AB"},
                "notes": None if i % 5 else "call back",
            }
        )
    return out


def bench_validator(n: int) -> tuple[float, float, float]:
    contract, problems = parse_contract(CONTRACT.format(name="users"))
    assert contract is not None, problems
    validator = ContractValidator(contract)
    many = TypeAdapter(list[Record])
    one = TypeAdapter(Record)
    rng = random.Random(7)
    t_ours = t_base = 0.0
    for k, start in enumerate(range(0, n, CHUNK)):
        chunk = records(start, min(CHUNK, n - start), rng)
        order = [0, 1] if k % 2 == 0 else [1, 0]
        for which in order:
            gc.collect()  # both timed without collector pauses (as timeit does)
            gc.disable()
            begin = time.perf_counter()
            if which == 0:
                result = validator.validate_batch(chunk)
                t_ours += time.perf_counter() - begin
                gc.enable()
                assert not result.failures, result.failures[:3]
                assert len(result.valid) == len(chunk)
            else:
                base = many.validate_python(chunk)
                t_base += time.perf_counter() - begin
                gc.enable()
                assert len(base) == len(chunk)
        if k == 0:  # one record at a time, on the first chunk only
            sample = chunk[: min(len(chunk), 20_000)]
            begin = time.perf_counter()
            for r in sample:
                one.validate_python(r)
            t_one_base = time.perf_counter() - begin
            begin = time.perf_counter()
            for r in sample:
                validator.validate_record(r)
            t_one_ours = time.perf_counter() - begin
    return n / t_ours, n / t_base, t_one_base / t_one_ours


def bench_lint(count: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(count):
            (root / f"product_{i}.yaml").write_text(CONTRACT.format(name=f"product_{i}"))
        begin = time.perf_counter()
        result = lint_paths([root])
        took = time.perf_counter() - begin
        assert result.ok, result.problems[:3]
        assert len(result.contracts) == count
        begin = time.perf_counter()
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "meshkit"), "contract", "lint", str(root)],
            capture_output=True,
            text=True,
            check=False,
        )
        took_cli = time.perf_counter() - begin
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return took, took_cli


class _Result(BenchResult):
    """Passes only when the validator ratio and the lint time both reach their targets."""

    @property
    def passed(self) -> bool:
        return super().passed and float(self.extra["lint_500_s"]) < LINT_TARGET_S


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 20_000 if args.quick else 1_000_000
    count = 50 if args.quick else 500
    ours, base, stream_ratio = bench_validator(n)
    lint_s, cli_s = bench_lint(count)
    print(f"validator: {ours:,.0f} records/s; pydantic TypeAdapter: {base:,.0f} records/s")
    print(f"one record at a time: validator / pydantic = {stream_ratio:.3f}")
    print(f"lint of {count} contracts: {lint_s:.2f} s in-process, {cli_s:.2f} s CLI")
    report(
        _Result(
            "contracts",
            ours,
            base,
            TARGET,
            extra={
                "records": n,
                "stream_ratio": round(stream_ratio, 3),
                "contracts": count,
                "lint_500_s": round(lint_s, 3),
                "cli_lint_500_s": round(cli_s, 3),
            },
        )
    )


if __name__ == "__main__":
    main()
