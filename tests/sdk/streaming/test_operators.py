"""Every Bytewax operator of meshkit.streaming, fed by TestingSource, collected by TestingSink."""

from __future__ import annotations

from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

import meshkit.streaming as ms
from meshkit.contracts import Contract
from meshkit.privacy import Masker
from meshkit.streaming import Failure, PortBatch, ProductChange, TopN
from tests.sdk.streaming.helpers import envelope, key_bytes, message, row


def run(build: Any, batches: list[list[Any]]) -> tuple[list[Any], list[Any]]:
    """Run ``build(stream) -> OksErrs | stream`` over ``batches``; (oks items, errs items)."""
    flow = Dataflow("test")
    up = op.input("in", flow, TestingSource(batches))
    out = build(up)
    oks: list[Any] = []
    errs: list[Any] = []
    if isinstance(out, ms.OksErrs):
        op.output("oks", out.oks, TestingSink(oks))
        op.output("errs", out.errs, TestingSink(errs))
    else:
        op.output("oks", out, TestingSink(oks))
    run_main(flow)
    return oks, errs


def flat(batches: list[list[Any]]) -> list[Any]:
    return [x for b in batches for x in b]


def raw_batches() -> list[list[Any]]:
    return [
        [
            message(envelope("c", None, row(1), 100), 0, key_bytes(1)),
            message(b"{oops", 1),
            message(None, 2, key_bytes(1)),
        ],
        [message(envelope("u", row(1), row(1, tier="pro"), 110), 3, key_bytes(1))],
    ]


def test_parse_operator() -> None:
    oks, errs = run(lambda s: ms.parse("parse", s), raw_batches())
    assert [len(b) for b in oks] == [1, 1]  # one item per batch, not per message
    assert [r.op for r in flat(oks)] == ["c", "u"]
    assert [f.reason[:12] for f in flat(errs)] == ["invalid JSON"]


def test_map_validate_mask_guard_operators(contract: Contract, masker: Masker) -> None:
    def build(s: Any) -> ms.OksErrs[ProductChange]:
        parsed = ms.parse("parse", s)
        mapped = ms.map_changes("map", parsed.oks, contract)
        valid = ms.validate("validate", mapped.oks, contract)
        masked = ms.mask("mask", valid.oks, masker)
        guarded = ms.pii_guard("guard", masked.oks, contract)
        errs = op.merge("all_errs", parsed.errs, mapped.errs, valid.errs, masked.errs, guarded.errs)
        return ms.OksErrs(guarded.oks, errs)

    batches = [
        [
            message(envelope("c", None, row(1), 100), 0, key_bytes(1)),
            message(envelope("c", None, row(2, tier="gold"), 101), 1, key_bytes(2)),
            message(envelope("c", None, row(3, balance_cents_eur=[1]), 102), 2, key_bytes(3)),
            message(envelope("c", None, row(4, note="mail me: a.b@example.com"), 103), 3),
        ]
    ]
    oks, errs = run(build, batches)
    assert [c.key for c in flat(oks)] == [("1",)]
    assert flat(oks)[0].record["email"].startswith("tok:customer.1:")
    assert sorted(f.step for f in flat(errs)) == ["map", "pii_guard", "validate"]


def test_process_operator_runs_the_whole_pipeline(contract: Contract, masker: Masker) -> None:
    pipeline = ms.Pipeline(contract, masker)
    oks, _ = run(lambda s: ms.process("process", s, pipeline), raw_batches())
    routes = [route for route, _ in oks]
    batches: list[PortBatch] = [b for _, b in oks]
    assert routes == ["0", "0"]
    assert sum(b.received for b in batches) == 4
    assert sum(len(b.changes) for b in batches) == 2
    assert sum(len(b.failures) for b in batches) == 1
    assert sum(b.skipped for b in batches) == 1


def change(user: str, item: str, score: float | None, pos: int) -> ProductChange:
    if score is None:
        return ProductChange("delete", (user, item), None, pos)
    record = {"user_id": user, "item_id": item, "score": score}
    return ProductChange("upsert", (user, item), record, pos)


def test_top_n_operator_keeps_state_per_group() -> None:
    topn = TopN(
        key_fields=("user_id", "item_id"), group_by=("user_id",), score="score", n=2, item="item_id"
    )
    batches = [
        [change("u1", "a", 1.0, 1), change("u1", "b", 3.0, 2), change("u2", "a", 5.0, 3)],
        [change("u1", "c", 2.0, 4), change("u1", "b", None, 5)],
    ]
    oks, _ = run(lambda s: ms.top_n("topn", s, topn), batches)
    last: dict[tuple[Any, ...], ProductChange] = {}
    for c in flat(oks):
        last[c.key] = c
    assert last[("u1",)].record == {"user_id": "u1", "items": ["c", "a"], "scores": [2.0, 1.0]}
    assert last[("u2",)].record == {"user_id": "u2", "items": ["a"], "scores": [5.0]}


def test_write_ports_operator_feeds_the_sink(contract: Contract) -> None:
    written: list[Any] = []

    class Writer:
        def ensure(self, contract: Contract) -> None: ...

        def write(self, batch: Any) -> Any:
            from meshkit.ports import WriteReport

            written.extend(batch)
            return WriteReport(written=len(batch))

        def flush(self) -> None: ...

        def close(self) -> None: ...

    letters: list[Any] = []

    class Letters:
        def write(self, batch: Any) -> None:
            letters.extend(batch)

        def flush(self) -> None: ...

        def close(self) -> None: ...

    sink = ms.PortSink(
        lambda: ms.PortSet({"memory": Writer()}, Letters(), ms.DeadLetters(contract))
    )
    flow = Dataflow("ports")
    changes = op.input("changes", flow, TestingSource([[change("u", "a", 1.0, 1)]]))
    failures = op.input(
        "failures",
        flow,
        TestingSource([[Failure("map", "bad", None, {"email_address": "x@y.com"})]]),
    )
    ms.write_ports("write", changes, failures, sink)
    run_main(flow)
    assert [c.key for c in written] == [("u", "a")]
    assert [(d.step, d.payload) for d in letters] == [("map", {"email": "[REDACTED]"})]
