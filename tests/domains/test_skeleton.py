"""Each example domain is what the template generates from its answers file, plus the
domain's own logic: a skeleton file that drifted from the template fails here.

The files a domain owns (the ``skip`` list of its ``.cruft.json``: contracts, samples,
Dagster code, the flow and their tests) are excluded, and files the template does not make
at all (a domain's own modules) are allowed; ``meshkit template update`` never touches
either. To change a skeleton file, change the template and regenerate.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
from pathlib import Path

import pytest

from tests.template.conftest import ROOT, bake

DOMAINS = sorted(p.parent.name for p in (ROOT / "domains").glob("*/.cruft.json"))
IGNORED = {".cruft.json"}
IGNORED_PARTS = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".state", ".venv"}


def _files(root: Path, skip: list[str]) -> set[str]:
    out = set()
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or IGNORED_PARTS & set(rel.parts) or str(rel) in IGNORED:
            continue
        if any(str(rel) == s or str(rel).startswith(f"{s}/") or fnmatch.fnmatch(str(rel), s)
               for s in skip):  # fmt: skip
            continue
        out.add(str(rel))
    return out


def test_the_example_domains_are_there() -> None:
    assert DOMAINS == ["catalog", "customers", "orders", "recommendations"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_skeleton_matches_the_template(domain: str, tmp_path: Path) -> None:
    repo = ROOT / "domains" / domain
    state = json.loads((repo / ".cruft.json").read_text())
    answers = {k: v for k, v in state["context"]["cookiecutter"].items() if not k.startswith("_")}
    # the answers name the SDK as ../../sdk: give the fresh bake the same neighbourhood
    (tmp_path / "sdk").symlink_to(ROOT / "sdk")
    fresh = bake(tmp_path / "domains", **answers)
    skip = state["skip"]
    ours, theirs = _files(repo, skip), _files(fresh, skip)
    # Files only in the domain are its own logic (a service module, more assets): allowed.
    assert theirs - ours == set(), f"files the template makes but domains/{domain} lacks"
    drifted = []
    for rel in sorted(theirs):
        a, b = (repo / rel).read_text(), (fresh / rel).read_text()
        if a != b:
            diff = difflib.unified_diff(
                b.splitlines(), a.splitlines(), "template", rel, lineterm=""
            )
            drifted.append("\n".join(diff))
    assert not drifted, "skeleton files drifted from the template:\n" + "\n".join(drifted)


@pytest.mark.parametrize("domain", DOMAINS)
def test_answers_file_points_at_the_published_template(domain: str) -> None:
    state = json.loads((ROOT / "domains" / domain / ".cruft.json").read_text())
    assert state["template"] == "https://github.com/meshkit/meshkit"
    assert state["directory"] == "template"
    assert state["context"]["cookiecutter"]["meshkit_path"] == "../../sdk"
