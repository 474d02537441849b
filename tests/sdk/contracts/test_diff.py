"""The compatibility gate: every change kind classified, and the version rule over them."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from meshkit.cli import app
from meshkit.contracts import Contract, DataType
from meshkit.contracts.diff import KINDS, compare_types, diff_contracts, version_gate
from meshkit.contracts.diff.report import Change, Version

FIXTURES = Path(__file__).parents[2] / "fixtures" / "contracts"
BASE: dict[str, Any] = yaml.safe_load((FIXTURES / "diff" / "base.yaml").read_text("utf-8"))
Mutation = Callable[[dict[str, Any]], None]


def field(doc: dict[str, Any], name: str) -> dict[str, Any]:
    parts = name.split(".")
    fields = doc["fields"]
    for part in parts[:-1]:
        fields = next(f for f in fields if f["name"] == part)["fields"]
    found: dict[str, Any] = next(f for f in fields if f["name"] == parts[-1])
    return found


def output(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in doc["ports"]["outputs"] if p["kind"] == kind)
    return found


def rule(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in doc["quality"] if r["kind"] == kind)
    return found


def remove_field(doc: dict[str, Any], name: str) -> None:
    doc["fields"] = [f for f in doc["fields"] if f["name"] != name]


def s(**updates: Any) -> Mutation:
    """Set top-level keys."""
    return lambda d: d.update(updates)


def f(name: str, **updates: Any) -> Mutation:
    """Set keys of a field."""
    return lambda d: field(d, name).update(updates)


def fpop(name: str, key: str) -> Mutation:
    return lambda d: field(d, name).pop(key)


def port(kind: str, **updates: Any) -> Mutation:
    return lambda d: output(d, kind).update(updates)


def q(kind: str, **updates: Any) -> Mutation:
    return lambda d: rule(d, kind).update(updates)


def seq(*mutations: Mutation) -> Mutation:
    def run(d: dict[str, Any]) -> None:
        for m in mutations:
            m(d)

    return run


def drop_rule(kind: str) -> Mutation:
    return lambda d: d.update(quality=[r for r in d["quality"] if r["kind"] != kind])


def drop_port(kind: str) -> Mutation:
    return lambda d: d["ports"].update(
        outputs=[p for p in d["ports"]["outputs"] if p["kind"] != kind]
    )


def add_field(spec: dict[str, Any]) -> Mutation:
    return lambda d: d["fields"].append(spec)


def rename_note(d: dict[str, Any]) -> None:
    field(d, "note")["name"] = "remark"
    output(d, "search_index")["searchable"] = ["remark", "channel"]


def remove_note(d: dict[str, Any]) -> None:
    remove_field(d, "note")
    output(d, "search_index")["searchable"] = ["channel"]


# (id, mutation, the exact set of change kinds expected)
CASES: list[tuple[str, Mutation, set[str]]] = [
    ("rename product", s(name="order"), {"product_renamed"}),
    ("retire", s(status="retired", sunset="2030-01-01"), {"status_retired", "sunset_changed"}),
    (
        "deprecate",
        s(status="deprecated", sunset="2030-01-01"),
        {"status_changed", "sunset_changed"},
    ),
    ("describe product", s(description="All purchases."), {"description_changed"}),
    ("tag product", s(tags=["sales", "customer-360"]), {"tags_changed"}),
    ("new owner", s(owner={"team": "sales", "contact": "s@example.com"}), {"owner_changed"}),
    ("contract subject", s(subject="purchase_id"), {"subject_changed"}),
    ("remove field", remove_note, {"field_removed", "searchable_removed"}),
    ("rename field", rename_note, {"field_renamed", "searchable_removed", "searchable_added"}),
    ("add optional", add_field({"name": "coupon", "type": "string"}), {"field_added_optional"}),
    (
        "add required",
        add_field({"name": "coupon", "type": "string", "required": True}),
        {"field_added_required"},
    ),
    ("integer to float", f("quantity", type="float"), {"type_widened"}),
    ("integer to decimal(20,0)", f("quantity", type="decimal(20,0)"), {"type_widened"}),
    ("integer to decimal(10,2)", f("quantity", type="decimal(10,2)"), {"type_narrowed"}),
    ("decimal wider", f("amount", type="decimal(12,3)"), {"type_widened"}),
    ("decimal fewer decimals", f("amount", type="decimal(10,1)"), {"type_narrowed"}),
    ("float to integer", f("score", type="integer"), {"type_narrowed"}),
    ("array element widened", f("codes", type="array<float>"), {"type_widened"}),
    ("string to integer", f("note", type="integer"), {"type_changed"}),
    ("timestamp to date", f("purchased_at", type="date"), {"type_changed"}),
    ("optional to required", f("score", required=True), {"made_required"}),
    ("required to optional", f("quantity", required=False), {"made_optional"}),
    ("describe field", f("score", description="Fraud score."), {"field_description_changed"}),
    (
        "reorder fields",
        lambda d: d.update(fields=[d["fields"][1], d["fields"][0], *d["fields"][2:]]),
        {"fields_reordered"},
    ),
    ("struct member removed", lambda d: field(d, "address")["fields"].pop(0), {"field_removed"}),
    ("struct member required", f("address.city", required=True), {"made_required"}),
    ("classification up", f("channel", classification="internal"), {"classification_raised"}),
    ("classification down", f("note", classification="public"), {"classification_lowered"}),
    (
        "declare pii",
        f("note", pii="free_text", classification="restricted", transform={"kind": "encrypt"}),
        {"pii_declared", "classification_raised", "transform_added"},
    ),
    ("pii category", f("email", pii="other"), {"pii_category_changed"}),
    (
        "undeclare pii",
        seq(fpop("email", "pii"), fpop("email", "transform")),
        {"pii_undeclared", "transform_removed"},
    ),
    (
        "transform key",
        f("email", transform={"kind": "tokenize", "key": "b2"}),
        {"transform_changed"},
    ),
    (
        "transform kind",
        f("email", transform={"kind": "mask", "keep_email_domain": True}),
        {"transform_changed"},
    ),
    ("transform added", f("note", transform={"kind": "redact"}), {"transform_added"}),
    ("field subject", f("email", subject="purchase_id"), {"field_subject_changed"}),
    ("primary key", s(primary_key=["purchase_id", "buyer_id"]), {"primary_key_changed"}),
    (
        # the freshness rule without a field follows the event time to another field
        "event time moved",
        s(event_time="purchased_at"),
        {"event_time_changed", "quality_rule_removed", "quality_rule_added"},
    ),
    (
        "event time removed",
        seq(lambda d: d.pop("event_time"), q("freshness", field="updated_at")),
        {"event_time_removed"},
    ),
    (
        "add rule",
        lambda d: d["quality"].append({"kind": "not_null", "field": "score"}),
        {"quality_rule_added"},
    ),
    ("remove rule", drop_rule("unique"), {"quality_rule_removed"}),
    (
        "fewer accepted values",
        q("accepted_values", values=["web", "app"]),
        {"quality_rule_tightened"},
    ),
    (
        "more accepted values",
        q("accepted_values", values=["web", "app", "store", "phone"]),
        {"quality_rule_loosened"},
    ),
    ("narrower range", q("range", min=2), {"quality_rule_tightened"}),
    ("wider range", q("range", max=1000), {"quality_rule_loosened"}),
    ("open-ended range", seq(lambda d: rule(d, "range").pop("max")), {"quality_rule_loosened"}),
    ("row count", q("row_count", min=0), {"quality_rule_loosened"}),
    ("fresher", q("freshness", max_age="30m"), {"quality_rule_tightened"}),
    ("staler", q("freshness", max_age="2h"), {"quality_rule_loosened"}),
    ("warn only", q("unique", severity="warn"), {"quality_rule_loosened"}),
    ("other regex", q("regex", pattern="^[A-Z]{3}$"), {"quality_rule_changed"}),
    ("other sql", q("custom_sql", sql="select 1 where false"), {"quality_rule_changed"}),
    ("rule renamed", q("unique", name="one_row_per_purchase"), {"quality_rule_documented"}),
    (
        "slo tighter",
        s(slo={"freshness": "5m", "completeness": 0.999, "availability": 0.99}),
        {"slo_tightened"},
    ),
    (
        "slo looser",
        s(slo={"freshness": "1h", "completeness": 0.99, "availability": 0.99}),
        {"slo_loosened"},
    ),
    ("slo dropped", s(slo={"freshness": "15m", "completeness": 0.99}), {"slo_loosened"}),
    ("port removed", drop_port("serving_view"), {"output_port_removed"}),
    ("port described", port("kafka_topic", description="Purchases."), {"output_port_documented"}),
    ("partitions", port("kafka_topic", partitions=12), {"topic_partitions_changed"}),
    ("retention longer", port("kafka_topic", retention="30d"), {"topic_retention_extended"}),
    ("retention forever", port("kafka_topic", retention=None), {"topic_retention_extended"}),
    ("retention shorter", port("kafka_topic", retention="1d"), {"topic_retention_shortened"}),
    ("compaction", port("kafka_topic", compaction=True), {"topic_compaction_changed"}),
    ("value format", port("kafka_topic", format="avro"), {"topic_format_changed"}),
    ("same key spelled out", port("kafka_topic", key=["purchase_id"]), set()),
    ("view key", port("serving_view", key=["buyer_id"]), {"port_key_changed"}),
    (
        "partitioning",
        port("warehouse_table", partitioning={"field": "purchased_at", "granularity": "month"}),
        {"table_partitioning_changed"},
    ),
    (
        "clustering",
        port("warehouse_table", clustering=["channel", "buyer_id"]),
        {"table_clustering_changed"},
    ),
    (
        "searchable added",
        port("search_index", searchable=["note", "channel", "buyer_id"]),
        {"searchable_added"},
    ),
    (
        "input port",
        lambda d: d["ports"]["inputs"].append(
            {"kind": "product", "product": "crm.buyer", "major": 2}
        ),
        {"input_ports_changed"},
    ),
    ("mapping", lambda d: d["mapping"].update(filter="quantity > 0"), {"mapping_changed"}),
    (
        "private",
        lambda d: d["access"].update(visibility="domain_private"),
        {"visibility_restricted"},
    ),
    ("reader removed", lambda d: d["access"].update(readers=["analytics"]), {"reader_removed"}),
    (
        "reader added",
        lambda d: d["access"].update(readers=["analytics", "finance", "ops"]),
        {"reader_added"},
    ),
    ("nothing", lambda d: None, set()),
]
# Cases the base cannot express directly (it already has them) run from a variant.
VARIANT_CASES: list[tuple[str, Mutation, Mutation, set[str]]] = [
    ("port added", drop_port("serving_view"), lambda d: None, {"output_port_added"}),
    (
        "event time added",
        lambda d: d.pop("event_time") and q("freshness", field="updated_at")(d),
        lambda d: None,
        {"event_time_added"},
    ),
    (
        "slo objective added",
        s(slo={"freshness": "15m"}),
        lambda d: None,
        {"slo_added"},
    ),
    (
        "visibility opened",
        lambda d: d["access"].update(visibility="domain_private"),
        lambda d: None,
        {"visibility_opened"},
    ),
]


def contract(doc: dict[str, Any]) -> Contract:
    return Contract.model_validate(doc)


def kinds_of(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    return {c.kind for c in diff_contracts(contract(old), contract(new)).changes}


@pytest.mark.parametrize(
    ("mutation", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_change_is_classified(mutation: Mutation, expected: set[str]) -> None:
    new = copy.deepcopy(BASE)
    mutation(new)
    assert kinds_of(BASE, new) == expected


@pytest.mark.parametrize(
    ("variant", "mutation", "expected"),
    [c[1:] for c in VARIANT_CASES],
    ids=[c[0] for c in VARIANT_CASES],
)
def test_changes_back_to_the_base(
    variant: Mutation, mutation: Mutation, expected: set[str]
) -> None:
    old = copy.deepcopy(BASE)
    variant(old)
    new = copy.deepcopy(BASE)
    mutation(new)
    assert kinds_of(old, new) == expected


def test_every_change_kind_is_exercised_by_the_matrix() -> None:
    seen = set().union(*(c[2] for c in CASES), *(c[3] for c in VARIANT_CASES))
    assert set(KINDS) - seen == set()


@pytest.mark.parametrize(
    ("kind", "breaking"),
    [
        ("field_removed", True),
        ("field_renamed", True),
        ("type_narrowed", True),
        ("made_required", True),
        ("primary_key_changed", True),
        ("transform_changed", True),
        ("classification_lowered", True),
        ("output_port_removed", True),
        ("port_key_changed", True),
        ("field_added_optional", False),
        ("type_widened", False),
        ("made_optional", False),
        ("field_description_changed", False),
        ("output_port_added", False),
        ("quality_rule_added", False),
    ],
)
def test_the_issue_s_classification(kind: str, breaking: bool) -> None:
    assert KINDS[kind].breaking is breaking


def test_a_change_names_its_path_and_values() -> None:
    new = copy.deepcopy(BASE)
    field(new, "address.city")["type"] = "integer"
    (change,) = diff_contracts(contract(BASE), contract(new)).changes
    assert change == Change("type_changed", "address.city", "string → integer", "string", "integer")
    assert change.breaking
    assert change.as_dict()["breaking"] is True


@pytest.mark.parametrize(
    ("old", "new", "verdict"),
    [
        ("integer", "integer", "same"),
        ("integer", "float", "widened"),
        ("integer", "decimal(19,0)", "widened"),
        ("integer", "decimal(18,0)", "narrowed"),
        ("decimal(10,2)", "decimal(11,2)", "widened"),
        ("decimal(10,2)", "decimal(10,3)", "narrowed"),
        ("decimal(10,2)", "float", "narrowed"),
        ("float", "decimal(38,10)", "narrowed"),
        ("float", "integer", "narrowed"),
        ("array<integer>", "array<float>", "widened"),
        ("array<float>", "array<integer>", "narrowed"),
        ("string", "json", "changed"),
        ("date", "timestamp", "changed"),
        ("array<string>", "string", "changed"),
    ],
)
def test_type_compatibility(old: str, new: str, verdict: str) -> None:
    assert compare_types(DataType.parse(old), DataType.parse(new)) == verdict


# -- the gate --------------------------------------------------------------------------------

BREAKING = (Change("field_removed", "note", "string field removed"),)
COMPATIBLE = (Change("field_added_optional", "coupon", "new optional string field"),)
DOCS = (Change("description_changed", "description", "changed"),)


@pytest.mark.parametrize(
    ("old", "new", "changes", "passed", "reason", "suggested"),
    [
        ("1.2.0", "2.0.0", BREAKING, True, "breaking changes come with a major version bump", None),
        (
            "1.2.0",
            "1.3.0",
            BREAKING,
            False,
            "1 breaking change needs a major version bump",
            "2.0.0",
        ),
        ("1.2.0", "1.2.0", BREAKING, False, "needs a major version bump", "2.0.0"),
        ("0.3.1", "0.4.0", BREAKING, True, "major version bump", None),
        ("0.3.1", "0.3.2", BREAKING, False, "a minor (below 1.0.0) or major version bump", "0.4.0"),
        ("1.2.0", "1.3.0", COMPATIBLE, True, "compatible changes with a version increase", None),
        ("1.2.0", "2.0.0", COMPATIBLE, True, "compatible changes with a version increase", None),
        ("1.2.0", "1.2.0", COMPATIBLE, False, "changed but its version did not", "1.3.0"),
        ("1.2.0", "1.2.0", DOCS, False, "changed but its version did not", "1.2.1"),
        ("1.2.0", "1.2.1", DOCS, True, "compatible changes", None),
        ("1.2.0", "1.1.9", COMPATIBLE, False, "went backwards, from 1.2.0 to 1.1.9", "1.3.0"),
        ("2.0.0", "2.0.0-rc.1", (), False, "went backwards", "2.0.1"),
        ("1.2.0", "1.2.0", (), True, "no changes", None),
        ("2.0.0-rc.1", "2.0.0", (), True, "no changes; version 2.0.0-rc.1 → 2.0.0", None),
    ],
)
def test_version_gate(
    old: str,
    new: str,
    changes: tuple[Change, ...],
    passed: bool,
    reason: str,
    suggested: str | None,
) -> None:
    gate = version_gate(old, new, changes)
    assert gate.passed is passed
    assert reason in gate.reason
    if suggested is not None:
        assert gate.suggested_version == suggested


def test_two_breaking_changes_say_so_in_the_plural() -> None:
    gate = version_gate("3.1.4", "3.2.0", BREAKING * 2)
    assert gate.reason == (
        "2 breaking changes need a major version bump, but the version went from 3.1.4 to 3.2.0"
    )


def test_versions_order_as_semver() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]  # fmt: skip
    parsed = [Version.parse(v) for v in ordered]
    assert sorted(parsed) == parsed
    assert [str(v) for v in parsed] == ordered


# -- the command line -------------------------------------------------------------------------


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def breaking_change(doc: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(doc)
    remove_note(new)
    new["version"] = "1.3.0"
    return new


def test_cli_diff_of_two_files_fails_without_a_major_bump(tmp_path: Path) -> None:
    old = write(tmp_path / "old.yaml", BASE)
    new = write(tmp_path / "new.yaml", breaking_change(BASE))
    result = CliRunner().invoke(app, ["contract", "diff", str(old), str(new)])
    assert result.exit_code == 1
    assert "field_removed" in result.stdout
    assert "ports.outputs.search_index.searchable[note]" in result.stdout
    assert "breaking" in result.stdout
    assert (
        "2 changes, 2 breaking. gate FAILED: 2 breaking changes need a major version bump, "
        "but the version went from 1.2.0 to 1.3.0"
    ) in result.stdout
    assert "hint: set version: 2.0.0" in result.stdout
    bumped = write(tmp_path / "new.yaml", {**breaking_change(BASE), "version": "2.0.0"})
    result = CliRunner().invoke(app, ["contract", "diff", str(old), str(bumped)])
    assert result.exit_code == 0
    assert "gate ok" in result.stdout


def test_cli_diff_json(tmp_path: Path) -> None:
    old = write(tmp_path / "old.yaml", BASE)
    new = write(tmp_path / "new.yaml", {**BASE, "version": "1.2.1", "description": "Purchases."})
    result = CliRunner().invoke(app, ["contract", "diff", str(old), str(new), "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["changes"] == [
        {
            "kind": "description_changed",
            "path": "description",
            "breaking": False,
            "detail": "changed",
            "old": "Purchases as they are made.",
            "new": "Purchases.",
        }
    ]
    assert doc["gate"] == {
        "passed": True,
        "reason": "compatible changes with a version increase (1.2.0 → 1.2.1)",
        "suggested_version": None,
    }
    assert (doc["old"], doc["breaking"], doc["compatible"]) == (str(old), 0, 1)


def test_cli_diff_against_a_git_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "domain"
    (repo / "contracts").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    contract_file = write(repo / "contracts" / "purchase.yaml", BASE)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1.2")
    write(contract_file, breaking_change(BASE))
    runner = CliRunner()
    result = runner.invoke(app, ["contract", "diff", "--against", "main", str(contract_file)])
    assert result.exit_code == 1
    assert "field_removed" in result.stdout
    # the same through a git:<rev>:<path> source, relative to the current directory
    monkeypatch.chdir(repo / "contracts")
    result = runner.invoke(
        app, ["contract", "diff", "git:HEAD:purchase.yaml", "purchase.yaml", "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["old"] == "git:HEAD:purchase.yaml"
    assert doc["gate"]["suggested_version"] == "2.0.0"
    # a contract new since the revision has nothing to compare: the gate passes
    fresh = write(repo / "contracts" / "fresh.yaml", BASE)
    result = runner.invoke(app, ["contract", "diff", "--against", "main", str(fresh)])
    assert result.exit_code == 0
    assert "new since main, nothing to compare" in result.stderr
    # ... but it must still be a valid contract
    fresh.write_text("domain: shop\n", encoding="utf-8")
    result = runner.invoke(app, ["contract", "diff", "--against", "main", str(fresh)])
    assert result.exit_code == 1
    assert f"{fresh}:1:1: error: name: missing key 'name'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["git:nope:purchase.yaml", "{new}"],
            "error: git:nope:purchase.yaml: unknown git revision 'nope'",
        ),
        (
            ["git:HEAD:missing.yaml", "{new}"],
            "error: git:HEAD:missing.yaml: no such file at revision 'HEAD'",
        ),
        (["git:HEAD", "{new}"], "error: 'git:HEAD': expected git:<revision>:<path>"),
        (["{new}"], "error: give two contracts, OLD and NEW (or NEW with --against <revision>)"),
        (
            ["{new}", "{new}", "--format", "xml"],
            "error: --format: expected 'text' or 'json', got 'xml'",
        ),
        (["{new}", "{bad}"], "{bad}:2:1: error: invalid YAML"),
    ],
    ids=["unknown-revision", "missing-file", "bad-source", "one-file", "bad-format", "invalid"],
)
def test_cli_diff_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    repo = tmp_path
    git(repo, "init", "-q", "-b", "main")
    new = write(repo / "purchase.yaml", BASE)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "c")
    bad = repo / "bad.yaml"
    bad.write_text("domain: [\n")
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(
        app, ["contract", "diff", *(a.format(new=new, bad=bad) for a in args)]
    )
    assert result.exit_code == 1
    assert message.format(bad=bad) in result.stderr
    assert "Traceback" not in result.output


def test_the_documented_matrix_is_the_catalogue() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "contracts-tools.md").read_text("utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) == 4 and cells[0].strip("`") in KINDS:
            documented[cells[0].strip("`")] = (cells[1], cells[2] == "**breaking**", cells[3])
    assert documented == {k.name: (k.area, k.breaking, k.why) for k in KINDS.values()}
