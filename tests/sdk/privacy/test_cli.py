"""``meshkit privacy``: scan sample files, manage keys, erase a data subject."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.privacy.keys import MASTER_KEY_ENV, STATE_DIR_ENV

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    return tmp_path


def write_samples(directory: Path) -> list[Path]:
    csv = directory / "customers.csv"
    csv.write_text(
        "id,contact,card,zip\n"
        "0012,ada@example.com,4111 1111 1111 1111,1012 AB\n"
        "0013,bob@example.org,,1013 CD\n",
        encoding="utf-8",
    )
    jsonl = directory / "events.jsonl"
    jsonl.write_text(
        '{"ip": "192.0.2.7", "user": {"phone": "+31 6 12345678"}}\n{"ip": "198.51.100.1"}\n',
        encoding="utf-8",
    )
    parquet = directory / "clean.parquet"
    pq.write_table(pa.table({"sku": ["A-1", "B-2"], "qty": [1, 2]}), parquet)
    return [csv, jsonl, parquet]


def test_scan_json_reports_each_file_and_field(tmp_path: Path) -> None:
    files = write_samples(tmp_path)
    result = runner.invoke(app, ["privacy", "scan", *map(str, files), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    customers = {f["field"]: f for f in doc[str(files[0])]}
    assert customers["contact"]["categories"][0]["share"] == 1.0
    assert customers["contact"]["categories"][0]["examples"] == [
        "***@example.com",
        "***@example.org",
    ]
    assert customers["card"]["categories"][0]["category"] == "payment_card"
    assert "id" not in customers  # leading zeros kept as text, not a person's data
    events = {f["field"]: f["categories"][0]["category"] for f in doc[str(files[1])]}
    assert events == {"ip": "ip", "user.phone": "phone"}
    assert doc[str(files[2])] == []
    assert "ada" not in result.output
    assert "4111 1111" not in result.output


def test_scan_table_output_and_fail_on_undeclared(tmp_path: Path) -> None:
    files = write_samples(tmp_path)
    result = runner.invoke(app, ["privacy", "scan", str(files[0]), str(files[2])])
    assert result.exit_code == 0, result.output
    assert "contact" in result.output
    assert "email 100%" in result.output
    assert "no personal data found in 2 fields" in result.output
    failing = runner.invoke(app, ["privacy", "scan", str(files[0]), "--fail-on-undeclared"])
    assert failing.exit_code == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.txt", "a", "unknown sample format '.txt'"),
        ("empty.csv", "", "empty CSV file"),
        ("bad.jsonl", "{not json", "cannot read it as jsonl"),
        ("missing.csv", None, "no such file"),
    ],
)
def test_scan_bad_input_is_a_clear_error(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["privacy", "scan", str(path)])
    assert result.exit_code == 1
    assert message in str(result.exception) or message in result.output


def test_keys_create_rotate_list_audit(env: Path) -> None:
    assert runner.invoke(app, ["privacy", "keys", "create", "customer"]).exit_code == 0
    rotated = runner.invoke(app, ["privacy", "keys", "rotate", "customer"])
    assert "customer.2 is now current" in rotated.output
    listed = json.loads(runner.invoke(app, ["privacy", "keys", "list", "--format", "json"]).output)
    assert [(k["key_id"], k["state"]) for k in listed] == [
        ("customer.1", "previous"),
        ("customer.2", "current"),
    ]
    audit = runner.invoke(app, ["privacy", "keys", "audit", "--format", "json"])
    assert [e["action"] for e in json.loads(audit.output)] == ["create", "rotate"]
    assert (env / "state" / "keys.sqlite").is_file()


def test_new_master_key_is_32_random_bytes() -> None:
    import base64

    out = runner.invoke(app, ["privacy", "keys", "new-master-key"]).output.strip()
    assert len(base64.b64decode(out)) == 32


def test_missing_master_key_is_reported_without_traceback(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV)
    result = runner.invoke(app, ["privacy", "keys", "list"])
    assert result.exit_code == 1
    assert "MESHKIT_MASTER_KEY is not set" in str(result.exception)


def test_erase_shreds_the_subject_and_is_audited(env: Path) -> None:
    from meshkit.privacy.encrypt import SubjectCipher
    from meshkit.privacy.keys import LocalKeyStore

    with LocalKeyStore.open() as store:
        cipher = SubjectCipher(store)
        gone = cipher.encrypt("ada@example.com", "c-1", "email")
        kept = cipher.encrypt("bob@example.com", "c-2", "email")
    result = runner.invoke(app, ["privacy", "erase", "--subject", "c-1", "--reason", "ticket 9"])
    assert result.exit_code == 0, result.output
    assert "erased: key" in result.output
    again = runner.invoke(app, ["privacy", "erase", "--subject", "c-1", "--format", "json"])
    assert json.loads(again.output)["already_erased"] is True
    with LocalKeyStore.open() as store:
        results = SubjectCipher(store).decrypt_many([gone, kept], "email")
        assert [r.status for r in results if r] == ["erased", "ok"]
        erasures = [e for e in store.audit_events() if e.action == "erase"]
    assert len(erasures) == 2
    assert "ticket 9" in erasures[0].detail
    assert all("c-1" not in e.detail for e in erasures)
