"""Property: whatever YAML (or not-YAML) ``lint`` is fed, it answers with located problems.

Random text, random YAML documents built from the contract's own vocabulary, and
mutations of a valid contract that are sure to break it: lint never raises, exits 1, and
every output line names a file, a line and a column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from meshkit.cli import app

VALID = Path(__file__).parents[2] / "fixtures" / "contracts" / "valid" / "customer.yaml"
TEXT = VALID.read_text(encoding="utf-8")
DATA: dict[str, Any] = yaml.safe_load(TEXT)
VOCABULARY = [
    "domain", "name", "version", "status", "owner", "team", "contact", "fields", "type",
    "required", "pii", "transform", "kind", "key", "quality", "field", "ports", "inputs",
    "outputs", "mapping", "from", "filter", "access", "primary_key", "event_time", "slo",
]  # fmt: skip
runner = CliRunner()
FAST = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def lint_text(tmp_path: Path, text: str | bytes) -> None:
    path = tmp_path / "contract.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["contract", "lint", str(path)], catch_exceptions=False)
    located = re.compile(re.escape(str(path)) + r":[1-9]\d*:[1-9]\d*: error: ")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines, result.output
    for line in lines:
        assert located.match(line), line
    assert "internal error" not in result.stdout


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(VOCABULARY) | st.text(min_size=1, max_size=8), inner,
                        max_size=5),
    ),
    max_leaves=25,
)  # fmt: skip


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in leaf_paths(v, (*prefix, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in leaf_paths(v, (*prefix, i))]
    return [prefix]


# Every scalar of the contract except mapping shorthands (a mapping is valid there too).
LEAVES = [p for p in leaf_paths(DATA) if p[:2] != ("mapping", "fields")]


@FAST
@given(st.text(max_size=300))
def test_random_text(tmp_path: Path, text: str) -> None:
    lint_text(tmp_path, text)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes(tmp_path: Path, raw: bytes) -> None:
    lint_text(tmp_path, raw)


@FAST
@given(documents)
def test_random_yaml_documents(tmp_path: Path, doc: Any) -> None:
    lint_text(tmp_path, yaml.safe_dump(doc))


@FAST
@given(st.sampled_from(LEAVES), documents.filter(lambda d: isinstance(d, dict | list)))
def test_valid_contract_with_a_leaf_replaced_by_a_collection(
    tmp_path: Path, path: tuple[Any, ...], replacement: Any
) -> None:
    data = yaml.safe_load(TEXT)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = replacement
    lint_text(tmp_path, yaml.safe_dump(data, sort_keys=False))


@FAST
@given(st.integers(0, len(TEXT)), st.sampled_from(["\n]]", "\n}}", "\n- [", "\n\t{"]))
def test_valid_contract_truncated_with_junk(tmp_path: Path, cut: int, junk: str) -> None:
    lint_text(tmp_path, TEXT[:cut] + junk)


TOP_KEYS = [ln for ln in TEXT.splitlines(keepends=True) if re.match(r"^[a-z_]+:", ln)]


@FAST
@given(st.sampled_from(TOP_KEYS), st.integers(0, len(TOP_KEYS)))
def test_valid_contract_with_a_top_level_key_repeated(
    tmp_path: Path, line: str, where: int
) -> None:
    lines = TEXT.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln in TOP_KEYS] + [len(lines)]
    extra = line if not line.rstrip().endswith(":") else line.rstrip() + " []\n"
    lines.insert(starts[where], extra)
    lint_text(tmp_path, "".join(lines))
