"""The PII scanner: precision and recall on the labelled set, batch findings, streaming guard."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from meshkit.privacy.detectors import STRUCTURED, detect
from meshkit.privacy.scanner import PiiGuard, scan_table

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "privacy" / "scanner_labelled.jsonl"
TODAY = date(2026, 6, 1)  # the labelled set's ages are relative to this day


def test_precision_and_recall_on_the_labelled_set() -> None:
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    negatives = sum(1 for r in rows if r["label"] is None)
    assert len(rows) >= 500
    assert negatives >= len(rows) / 2 - 30
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    wrong = []
    for r in rows:
        hit = detect(r["value"], r["field"], TODAY)
        predicted = hit.category if hit else None
        if predicted == r["label"]:
            tp[predicted or ""] += 1
            continue
        wrong.append(f"{r['field']}={r['value']!r}: expected {r['label']}, got {predicted}")
        if predicted:
            fp[predicted] += 1
        if r["label"]:
            fn[r["label"]] += 1
    print(f"\nscanner on {len(rows)} labelled values ({negatives} negatives)")
    print(f"{'category':<15} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}")
    worst = 1.0
    for c in STRUCTURED:
        precision = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 0.0
        recall = tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else 0.0
        print(f"{c:<15} {tp[c]:>4} {fp[c]:>4} {fn[c]:>4} {precision:>9.3f} {recall:>7.3f}")
        worst = min(worst, precision, recall)
    all_tp = sum(tp[c] for c in STRUCTURED)
    print(
        f"overall precision {all_tp / (all_tp + sum(fp.values())):.3f} "
        f"recall {all_tp / (all_tp + sum(fn.values())):.3f}"
    )
    for line in wrong:
        print("  miss:", line)
    assert worst >= 0.95, wrong


def test_scan_table_reports_categories_shares_and_masked_examples() -> None:
    table = pa.table(
        {
            "id": pa.array(range(6), pa.int64()),
            "contact": ["ada@example.com", "bob@example.org", None, "n/a", "eve@example.net", "x"],
            "card": ["4111 1111 1111 1111", None, None, None, None, None],
            "born": pa.array([date(1990, 5, 17)] * 6),
            "meta": pa.array([{"ip": "192.0.2.7"}] * 6),
        }
    )
    findings = {f.field: f for f in scan_table(table, declared={"contact": "email"}, today=TODAY)}
    contact = findings["contact"]
    assert contact.sampled == 5
    assert contact.categories == ["email"]
    assert contact.share("email") == pytest.approx(0.6)
    assert contact.examples["email"] == ["***@example.com", "***@example.org", "***@example.net"]
    assert not contact.undeclared
    assert findings["card"].examples["payment_card"] == ["*****************11"]
    assert findings["card"].undeclared
    assert findings["born"].categories == ["date_of_birth"]
    assert findings["meta.ip"].categories == ["ip"]
    assert not findings["id"].matches
    assert "ada" not in json.dumps([f.as_dict() for f in findings.values()])


def test_scan_table_samples_large_tables() -> None:
    table = pa.table({"email": [f"user{i}@example.com" for i in range(5000)]})
    (finding,) = scan_table(table, sample=200)
    assert finding.sampled == 200
    assert finding.share("email") == 1.0


def test_guard_quarantines_undeclared_personal_data() -> None:
    guard = PiiGuard(allowed={"email"}, today=TODAY)
    assert guard.check({"id": 7, "email": "ada@example.com", "amount": 12.5}).ok
    bad = guard.check({"id": 7, "note": "+31 6 12345678", "tags": ["x", "192.0.2.1"]})
    assert not bad.ok
    assert bad.fields == {"note": "phone", "tags": "ip"}
    assert "field 'note' holds phone (not declared)" in bad.reason
    nested = guard.check({"customer": {"iban": "NL91ABNA0417164300"}})
    assert nested.fields == {"customer.iban": "iban"}
    assert guard.check({"token": "tok:customer.1:" + "ab" * 32, "ok": True}).ok
