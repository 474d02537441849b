"""ODCS interop: lossless round trips, a full ODCS v3 import with its warnings, bad documents."""

from __future__ import annotations

import importlib
import importlib.resources
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.contracts import Contract
from meshkit.contracts.exporters.odcs import dump_yaml, odcs_yaml
from meshkit.contracts.lint import lint_paths
from meshkit.contracts.loader import load_contract
from meshkit.contracts.odcs import ImportOptions, from_odcs, from_odcs_each, to_odcs

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
    options = ImportOptions(schema="payment" if name == "payments-v3.1" else None)
    result = from_odcs(path.read_text(encoding="utf-8"), f"odcs/{path.name}", options)
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
    text = (ODCS / "payments-v3.1.odcs.yaml").read_text(encoding="utf-8")
    result = from_odcs(text, "p.yaml", ImportOptions(schema="payment"))
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
        ("accepted_values", "currency"), ("custom_sql", ""), ("not_null", "amount"),
        ("range", "amount"), ("regex", "country"), ("row_count", ""), ("unique", ""),
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
    ],
)
def test_malformed_documents_are_located(text: str, expected: str) -> None:
    result = from_odcs(text, "c.odcs.yaml")
    assert result.contract is None
    assert result.problems[0].format().startswith(expected)


def test_cli_import_writes_the_contract_and_warns_on_stderr(tmp_path: Path) -> None:
    runner = CliRunner()
    source = ODCS / "payments-v3.1.odcs.yaml"
    pick = ["--schema", "payment"]
    result = runner.invoke(app, ["contract", "import", "--from", "odcs", str(source), *pick])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["name"] == "payment"
    assert f"{source}:122:13: warning: roles[1].access: role 'payments_writers'" in result.stderr
    out = tmp_path / "payment.yaml"
    result = runner.invoke(
        app, ["contract", "import", "--from", "odcs", str(source), *pick, "-o", str(out)]
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


# -- documents as other tools write them: one per section of the standard, one per shape --

STANDARD = ODCS / "standard"
DOCUMENTS = sorted(STANDARD.glob("*.odcs.yaml"))
REFUSED = {"shape-no-schema", "shape-no-properties"}
LIBRARY_TEXT = ("Traceback", "Input should", "should have at least", "after validation",
                "Value error", "validation error", "pydantic")  # fmt: skip


def odcs_schema() -> dict[str, Any]:
    """The ODCS v3.1.0 JSON Schema, as the standard publishes it."""
    files = importlib.resources.files("open_data_contract_standard")
    schema: dict[str, Any] = json.loads(files.joinpath("schema.json").read_text("utf-8"))
    assert "v3.1.0" in schema["properties"]["apiVersion"]["enum"]
    return schema


def odcs_errors(doc: Any) -> list[str]:
    """What the standard's JSON Schema finds wrong with ``doc`` (empty: valid)."""
    validator = jsonschema.Draft201909Validator(
        odcs_schema(), format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER
    )
    data = json.loads(json.dumps(doc, default=str))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def run_import(path: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(path.parent)
    return CliRunner().invoke(app, ["contract", "import", "--from", "odcs", path.name, *args])


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name.removesuffix(".odcs.yaml"))
def test_each_section_and_shape_imports_to_contracts_that_lint_clean(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = path.name.removesuffix(".odcs.yaml")
    assert odcs_errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []  # real ODCS
    out = tmp_path / "contracts"
    out.mkdir()
    result = run_import(path, "-o", str(out), monkeypatch=monkeypatch)
    assert not [t for t in LIBRARY_TEXT if t in result.output], result.output
    written = sorted(out.glob("*.yaml"))
    report = result.stderr.replace(str(out), "DIR") + "".join(
        f"--- {p.name}\n{p.read_text(encoding='utf-8')}" for p in written
    )
    golden = STANDARD / f"{name}.import.txt"
    if UPDATE:
        golden.write_text(report, encoding="utf-8")
    assert report == golden.read_text(encoding="utf-8")
    if name in REFUSED:
        assert (result.exit_code, written) == (1, [])
        return
    assert result.exit_code == 0, result.output
    assert written
    linted = lint_paths([out])
    # warnings (a rule on a field its transform hides) are the contract's, not the import's
    assert [p.format() for p in linted.problems if p.severity == "error"] == []
    for line in result.stderr.splitlines()[: -len(written) - 1]:
        assert re.match(rf"{re.escape(path.name)}:\d+:\d+: warning: ", line), line


def test_several_schema_objects_without_a_directory_are_refused_with_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = STANDARD / "shape-several-objects.odcs.yaml"
    for args in ([], ["-o", str(tmp_path / "one.yaml")]):
        result = run_import(path, *args, monkeypatch=monkeypatch)
        assert result.exit_code == 1
        assert (
            "shape-several-objects.odcs.yaml:10:3: error: schema: 3 schema objects (stores, "
            "sales, Store Events): a meshkit contract holds one (expected one picked by name "
            "(--schema NAME), or each imported into a directory of contracts (-o DIR))"
        ) in result.stderr
        assert not (tmp_path / "one.yaml").exists()


def test_schema_picks_one_object_and_names_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = STANDARD / "shape-several-objects.odcs.yaml"
    result = run_import(path, "--schema", "sales", monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    imported = yaml.safe_load(result.stdout)
    assert (imported["domain"], imported["name"]) == ("retail", "sales")
    assert [f["name"] for f in imported["fields"]] == ["sale_id", "store_id", "amount"]
    assert "schema[0]: schema object 'stores' not imported: another was picked" in result.stderr
    result = run_import(path, "--schema", "refunds", monkeypatch=monkeypatch)
    assert result.exit_code == 1
    assert (
        "error: schema: no schema object named 'refunds' (expected one of stores, sales, "
        "Store Events)"
    ) in result.stderr
    out = tmp_path / "contracts"
    out.mkdir()
    result = run_import(path, "--product", "shop", "-o", str(out), monkeypatch=monkeypatch)
    assert result.exit_code == 1
    assert "--product names one product" in result.stderr
    assert list(out.iterdir()) == []


def test_options_supply_domain_product_and_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    path = STANDARD / "shape-no-owner.odcs.yaml"
    args = ("--domain", "sellers", "--product", "seller_payments", "--owner", "sp@example.com")
    result = run_import(path, *args, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    imported = yaml.safe_load(result.stdout)
    assert (imported["domain"], imported["name"], imported["owner"]) == (
        "sellers",
        "seller_payments",
        {"team": "sellers", "contact": "sp@example.com"},
    )
    assert "domain 'seller' replaced by --domain" in result.stderr
    assert "no owner contact" not in result.stderr
    for option, value, message in (
        ("--domain", "Sales Ops", "--domain: 'Sales Ops' is not a meshkit name"),
        ("--product", "1st", "--product: '1st' is not a meshkit name"),
        ("--owner", "sales", "--owner: 'sales' is not an e-mail address"),
    ):
        result = run_import(path, option, value, monkeypatch=monkeypatch)
        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: {message}")


NUMBER_KEY = BASE.replace(
    "      - name: order_id\n        logicalType: string\n",
    "      - name: departmentid\n        logicalType: number\n        primaryKey: true\n",
)


@pytest.mark.parametrize(
    ("physical", "expected"),
    [
        ("        physicalType: INTEGER\n", "integer"),
        ("        physicalType: bigint\n", "integer"),
        ("        physicalType: NUMERIC(12,0)\n", "decimal(12,0)"),
        ("", None),
        ("        physicalType: DOUBLE\n", None),
    ],
)
def test_a_number_primary_key_is_mapped_by_its_physical_type(
    physical: str, expected: str | None
) -> None:
    result = from_odcs(NUMBER_KEY + physical, "k.odcs.yaml")
    if expected is not None:
        assert result.contract is not None, result.problems
        key = result.contract.field("departmentid")
        assert key is not None
        assert (str(key.type), key.required) == (expected, True)
        return
    assert result.contract is None
    assert [p.format() for p in result.problems] == [
        "k.odcs.yaml:13:22: error: schema[0].properties[0].logicalType: primary key "
        "'departmentid' is a number without an integer physicalType: it would import as a "
        "float, which cannot identify a record (expected logicalType: integer, or a "
        "physicalType such as INT, BIGINT or NUMERIC(10,0), or logicalTypeOptions format i32 "
        "or i64)"
    ]


def test_property_names_become_meshkit_names_and_contract_errors_speak_meshkit() -> None:
    result = from_odcs(BASE.replace("order_id", "order-id"), "c.odcs.yaml")
    assert result.contract is not None
    assert [f.name for f in result.contract.fields] == ["order_id"]
    assert any("property 'order-id' imported as 'order_id'" in w.format() for w in result.warnings)
    twice = BASE + "      - name: order id\n        logicalType: string\n"
    result = from_odcs(twice, "c.odcs.yaml")
    assert result.contract is None
    found = " ".join(p.format() for p in result.problems)
    assert "imported contract:" in found
    assert "order_id" in found
    assert not [t for t in LIBRARY_TEXT if t in found], found


def test_an_object_without_properties_says_so_in_meshkit_words() -> None:
    text = BASE.split("    properties:")[0]
    result = from_odcs(text, "k.odcs.yaml")
    assert result.contract is None
    assert [p.format() for p in result.problems] == [
        "k.odcs.yaml:10:5: error: schema[0]: schema object 'order' has no properties: nothing "
        "to import (expected properties: the fields of the object) hint: meshkit does not read "
        "a schema kept elsewhere, such as in a schema registry: list its fields as properties"
    ]


EXPORTED = sorted((Path(__file__).parents[3] / "domains").glob("*/contracts/*.yaml"))


@pytest.mark.parametrize(
    "path", EXPORTED + CONTRACTS, ids=lambda p: f"{p.parent.parent.name}/{p.stem}"
)
def test_the_standards_json_schema_validates_every_export(path: Path) -> None:
    assert len(EXPORTED) >= 4
    runner = CliRunner()
    result = runner.invoke(app, ["contract", "export", "-f", "odcs", str(path)])
    assert result.exit_code == 0, result.output
    assert odcs_errors(yaml.safe_load(result.stdout)) == []


def test_each_schema_object_becomes_a_contract_of_its_own() -> None:
    text = (STANDARD / "shape-several-objects.odcs.yaml").read_text(encoding="utf-8")
    results = from_odcs_each(text, "r.odcs.yaml", ImportOptions(owner="retail@example.com"))
    contracts = [r.contract for r in results]
    assert [(c.id, c.owner.contact) for c in contracts if c is not None] == [
        ("retail.stores", "retail@example.com"),
        ("retail.sales", "retail@example.com"),
    ]
    assert all(r.problems == [] for r in results)
    assert "Store Events" in " ".join(w.message for w in results[0].warnings)


PROPERTY_QUALITY = BASE + "        quality:\n"


@pytest.mark.parametrize(
    "text",
    [
        PROPERTY_QUALITY
        + "          - {type: custom, engine: meshkit, implementation: 'kind: ['}\n",
        PROPERTY_QUALITY + "          - {type: custom, engine: meshkit, implementation: '- a'}\n",
        PROPERTY_QUALITY + "          - {type: custom, engine: meshkit, implementation: {a: 1}}\n",
        PROPERTY_QUALITY
        + "          - {type: custom, engine: meshkit, implementation: {kind: x}}\n",
        PROPERTY_QUALITY
        + "          - {metric: invalidValues, validValues: [{a: 1}], mustBe: 0}\n",
        PROPERTY_QUALITY
        + "          - {metric: invalidValues, arguments: {validValues: abc}, mustBe: 0}\n",
        PROPERTY_QUALITY
        + "          - {metric: duplicateValues, arguments: {properties: nope}, mustBe: 0}\n",
        PROPERTY_QUALITY + "          - {metric: rowCount, mustBe: many}\n",
        BASE + "slaProperties:\n  - {property: latency, value: 1000000000000000000000, unit: d}\n",
        BASE + "slaProperties:\n  - {property: availability, value: 1000}\n",
        BASE.replace("status: active", "status: deprecated")
        + "slaProperties:\n  - {property: endOfLife, value: soon}\n",
        BASE.replace("version: 1.0.0", "version: release-one"),
        BASE.replace(
            "logicalType: string",
            "logicalType: string\n        primaryKey: true\n        items: {logicalType: string}",
        ),
    ],
)
def test_odd_documents_never_raise_nor_leak_library_text(text: str) -> None:
    result = from_odcs(text, "odd.odcs.yaml")
    said = " ".join(p.format() for p in [*result.warnings, *result.problems])
    assert not [t for t in LIBRARY_TEXT if t in said], said
    assert (result.contract is None) == bool(result.problems)


def test_problems_of_the_imported_contract_point_at_their_odcs_source() -> None:
    text = BASE + "slaProperties:\n  - {property: availability, value: 1000}\n"
    result = from_odcs(text, "sla.odcs.yaml")
    assert [p.format() for p in result.problems] == [
        "sla.odcs.yaml:15:3: error: slo.availability: imported contract: 10.0 is out of range "
        "(expected a value <= 1.0)"
    ]


def test_a_directory_import_writes_nothing_when_one_object_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (STANDARD / "shape-several-objects.odcs.yaml").read_text(encoding="utf-8")
    source = tmp_path / "retail.odcs.yaml"
    source.write_text(
        text.replace("      - name: sale_id\n        logicalType: string", "      - name: sale_id\n"
                     "        logicalType: number"),
        encoding="utf-8",
    )  # fmt: skip
    out = tmp_path / "contracts"
    out.mkdir()
    result = run_import(source, "-o", str(out), monkeypatch=monkeypatch)
    assert result.exit_code == 1
    assert "primary key 'sale_id' is a number without an integer physicalType" in result.stderr
    assert list(out.iterdir()) == []


def test_tags_go_out_as_odcs_tags_and_come_back() -> None:
    original = load_contract(CONTRACTS[0]).model_copy(update={"tags": ("crm", "customer-360")})
    doc = to_odcs(original)
    assert doc["tags"] == ["crm", "customer-360"]
    result = from_odcs(dump_yaml(doc), "x.odcs.yaml")
    assert result.warnings == []
    assert result.contract is not None
    assert result.contract.tags == ("crm", "customer-360")


def test_free_odcs_tags_become_meshkit_tags_or_are_named_in_a_warning() -> None:
    doc = to_odcs(load_contract(CONTRACTS[0]))
    doc["tags"] = ["Customer 360", "crm", "CRM", "!!!"]
    result = from_odcs(dump_yaml(doc), "x.odcs.yaml")
    assert result.contract is not None
    assert result.contract.tags == ("customer-360", "crm")
    assert [w.message for w in result.warnings] == [
        "tag 'Customer 360' imported as 'customer-360'",
        "tag 'CRM' not imported: it is 'crm' again",
        "tag '!!!' not imported",
    ]
    assert all(w.path.startswith("tags[") for w in result.warnings)
