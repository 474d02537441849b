"""ODCS interop: lossless round trips, a full ODCS v3 import with its warnings, bad documents."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.contracts import Contract
from meshkit.contracts.exporters.odcs import dump_yaml, odcs_yaml
from meshkit.contracts.loader import load_contract
from meshkit.contracts.odcs import from_odcs, to_odcs

FIXTURES = Path(__file__).parents[2] / "fixtures" / "contracts"
ODCS = FIXTURES / "odcs"
UPDATE = os.environ.get("MESHKIT_UPDATE_GOLDENS") == "1"
CONTRACTS = [
    FIXTURES / "export" / "customer.yaml",
    FIXTURES / "export" / "order.yaml",
    FIXTURES / "diff" / "base.yaml",
]


def canonical(contract: Contract) -> dict[str, Any]:
    """The contract's data, quality rules as a sorted list (ODCS keeps no rule order)."""
    data = contract.model_dump(mode="json")
    data["quality"] = sorted(data["quality"], key=lambda r: json.dumps(r, sort_keys=True))
    return data


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_meshkit_to_odcs_to_meshkit_is_lossless(path: Path) -> None:
    original = load_contract(path)
    result = from_odcs(odcs_yaml(original), "exported.odcs.yaml")
    assert result.problems == []
    assert result.warnings == []
    assert result.contract is not None
    assert canonical(result.contract) == canonical(original)


@pytest.mark.parametrize("api_version", ["v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0"])
def test_every_v3_version_is_read(api_version: str) -> None:
    original = load_contract(CONTRACTS[0])
    doc = {**to_odcs(original), "apiVersion": api_version}
    result = from_odcs(dump_yaml(doc), "x.odcs.yaml")
    assert result.contract is not None
    assert canonical(result.contract) == canonical(original)


def test_exported_document_uses_odcs_keys_for_what_odcs_can_hold() -> None:
    doc = to_odcs(load_contract(CONTRACTS[0]))
    assert (doc["apiVersion"], doc["kind"], doc["id"]) == (
        "v3.1.0",
        "DataContract",
        "customers.customer",
    )
    props = {p["name"]: p for p in doc["schema"][0]["properties"]}
    assert props["email"]["tags"] == ["pii", "email"]
    assert props["email"]["classification"] == "confidential"
    assert {"property": "anonymizationStrategy", "value": "tokenize"} in props["email"][
        "customProperties"
    ]
    assert props["full_name"]["encryptedName"] == "full_name"
    assert props["customer_id"]["primaryKey"] is True
    assert props["lifetime_value"]["physicalType"] == "decimal(12,2)"
    assert props["tier"]["quality"][0]["arguments"] == {"validValues": ["free", "plus", "pro"]}
    assert {"property": "latency", "value": 15, "unit": "min"} in doc["slaProperties"]
    assert doc["roles"] == [
        {"role": "analytics", "access": "read"},
        {"role": "marketing", "access": "read"},
    ]
    assert doc["team"]["members"] == [{"username": "customer-data@example.com", "role": "owner"}]


@pytest.mark.parametrize("name", ["payments-v3.1", "accounts-v3.0"])
def test_full_odcs_documents_import_with_the_expected_warnings(name: str) -> None:
    path = ODCS / f"{name}.odcs.yaml"
    result = from_odcs(path.read_text(encoding="utf-8"), f"odcs/{path.name}")
    assert result.problems == []
    assert result.contract is not None
    imported = dump_yaml(result.contract.model_dump(mode="json", exclude_defaults=True))
    warnings = "".join(w.format() + "\n" for w in result.warnings)
    expected_contract, expected_warnings = (
        ODCS / f"{name}.expected.yaml",
        ODCS / f"{name}.warnings.txt",
    )
    if UPDATE:
        expected_contract.write_text(imported, encoding="utf-8")
        expected_warnings.write_text(warnings, encoding="utf-8")
    assert imported == expected_contract.read_text(encoding="utf-8")
    assert warnings == expected_warnings.read_text(encoding="utf-8")


def test_the_full_example_maps_privacy_quality_sla_and_roles() -> None:
    result = from_odcs((ODCS / "payments-v3.1.odcs.yaml").read_text(encoding="utf-8"), "p.yaml")
    c = result.contract
    assert c is not None
    assert (c.domain, c.name, c.version, c.primary_key) == (
        "payments",
        "payment",
        "2.3.0",
        ("payment_id",),
    )
    email, card, holder = c.field("customer_email"), c.field("card_number"), c.field("cardholder")
    assert email is not None
    assert card is not None
    assert holder is not None
    assert (email.pii, email.classification, email.transform and email.transform.kind) == (
        "email", "confidential", "tokenize",
    )  # fmt: skip
    assert (card.pii, card.transform and card.transform.kind) == ("payment_card", "encrypt")
    assert c.subject == "payment_id"
    assert (holder.pii, holder.transform and holder.transform.kind) == ("other", "drop")
    kinds = sorted((r.kind, getattr(r, "field", None) or "") for r in c.quality)
    assert kinds == [
        ("accepted_values", "currency"), ("not_null", "amount"), ("range", "amount"),
        ("regex", "country"), ("row_count", ""), ("unique", ""),
    ]  # fmt: skip
    assert c.slo is not None
    assert (c.slo.availability, str(c.slo.freshness)) == (0.999, "0:30:00")
    assert (c.owner.team, c.owner.contact) == ("payments-team", "payments-owner@example.com")
    assert c.access.readers == ("finance_analysts",)


def test_v3_0_structures_are_understood() -> None:
    result = from_odcs((ODCS / "accounts-v3.0.odcs.yaml").read_text(encoding="utf-8"), "a.yaml")
    c = result.contract
    assert c is not None
    assert c.status == "draft"  # proposed
    assert c.owner.contact == "ana@example.com"
    created, ssn, email = c.field("created_at"), c.field("ssn"), c.field("email")
    assert created is not None
    assert ssn is not None
    assert email is not None
    assert str(created.type) == "timestamp"
    assert (ssn.pii, ssn.transform and ssn.transform.kind) == ("government_id", "drop")
    assert email.transform is not None
    assert email.transform.model_dump() == {
        "kind": "mask",
        "keep_last": None,
        "keep_email_domain": True,
        "char": "*",
    }
    assert {r.kind for r in c.quality} == {"unique", "accepted_values"}


BASE = """apiVersion: v3.1.0
kind: DataContract
id: shop.order
version: 1.0.0
status: active
domain: shop
dataProduct: order
team: {name: t, members: [{username: t@example.com, role: owner}]}
schema:
  - name: order
    properties:
      - name: order_id
        logicalType: string
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BASE.replace("      - name: order_id", "\t- name: order_id"),
            "c.odcs.yaml:12:1: error: invalid YAML: while scanning for the next token found "
            "character that cannot start any token hint: indent with spaces, not tabs, and quote "
            "values starting with @ ` % or |",
        ),
        (
            BASE.replace("logicalType: string", "logicalTyp: string"),
            "c.odcs.yaml:13:9: error: schema[0].properties[0].logicalTyp: unknown key 'logicalTyp'",
        ),
        (
            BASE + "        required: maybe\n",
            "c.odcs.yaml:14:19: error: schema[0].properties[0].required: wrong type: the text "
            "'maybe' (expected true or false)",
        ),
        (
            BASE.replace("v3.1.0", "v2.2.2"),
            "c.odcs.yaml:1:13: error: apiVersion: invalid value 'v2.2.2' (expected one of v3.0.0, "
            "v3.0.1, v3.0.2, v3.1.0)",
        ),
        (
            BASE.replace("id: shop.order\n", ""),
            "c.odcs.yaml:1:1: error: id: missing key 'id' (expected the contract id)",
        ),
        (
            BASE.replace("logicalType: string", "logicalType: text"),
            "c.odcs.yaml:13:22: error: schema[0].properties[0].logicalType: invalid value 'text' "
            "(expected one of string, date, timestamp, time, number, integer, object, array, "
            "boolean)",
        ),
        (
            BASE
            + "        quality:\n          - metric: nullValues\n            mustBeBetween: [1]\n",
            "c.odcs.yaml:16:28: error: schema[0].properties[0].quality[0].mustBeBetween: needs at "
            "least 2 items",
        ),
        (
            "- a\n- b\n",
            "c.odcs.yaml:1:1: error: the top level is a list (expected an ODCS v3 document: "
            "apiVersion, kind, id, version, status, schema)",
        ),
        (
            BASE.replace(
                "team: {name: t, members: [{username: t@example.com, role: owner}]}\n", ""
            ),
            "c.odcs.yaml:1:1: error: team: no owner contact (expected a team member with role "
            "owner whose username is an e-mail address, or a support channel with tool email)",
        ),
        (
            BASE.replace("order_id", "order-id"),
            "c.odcs.yaml:12:15: error: fields[0].name: imported contract: String should match "
            "pattern '^[A-Za-z_][A-Za-z0-9_]*$'",
        ),
    ],
    ids=[
        "tab",
        "unknown-key",
        "wrong-type",
        "api-version",
        "missing-id",
        "logical-type",
        "operator",
        "top-level",
        "no-owner",
        "field-name",
    ],
)
def test_malformed_documents_are_located(text: str, expected: str) -> None:
    result = from_odcs(text, "c.odcs.yaml")
    assert result.contract is None
    assert result.problems[0].format().startswith(expected)


def test_cli_import_writes_the_contract_and_warns_on_stderr(tmp_path: Path) -> None:
    runner = CliRunner()
    source = ODCS / "payments-v3.1.odcs.yaml"
    result = runner.invoke(app, ["contract", "import", "--from", "odcs", str(source)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["name"] == "payment"
    assert f"{source}:122:13: warning: roles[1].access: role 'payments_writers'" in result.stderr
    out = tmp_path / "payment.yaml"
    result = runner.invoke(
        app, ["contract", "import", "--from", "odcs", str(source), "-o", str(out)]
    )
    assert result.exit_code == 0
    assert load_contract(out).id == "payments.payment"
    lint = runner.invoke(app, ["contract", "lint", str(out)])
    assert lint.exit_code == 0, lint.output


def test_cli_import_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.odcs.yaml"
    bad.write_text(BASE.replace("v3.1.0", "v9"))
    result = runner.invoke(app, ["contract", "import", "--from", "odcs", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1:13: error: apiVersion: invalid value 'v9'" in result.stderr
    result = runner.invoke(app, ["contract", "import", "--from", "dbt", str(bad)])
    assert (result.exit_code, result.stderr.strip()) == (
        1,
        "error: --from: unknown format 'dbt'; valid formats: odcs",
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize("module", ["meshkit.contracts.diff", "meshkit.contracts.odcs"])
def test_public_faces_are_sorted_and_resolve(module: str) -> None:
    mod = importlib.import_module(module)
    # isort style, as ruff keeps it: constants, then classes, then functions
    assert mod.__all__ == sorted(mod.__all__, key=lambda n: (not n.isupper(), n.islower(), n))
    assert all(getattr(mod, name) is not None for name in mod.__all__)
    assert not [n for n in mod.__all__ if n.startswith("_")]
