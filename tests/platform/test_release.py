"""``meshkit-platform sdk release``: builds both distributions, writes the changelog, tags,
uploads to a real package index, and refuses what must not be released. Every release runs
in a clone of this checkout's HEAD (the checkout itself is never tagged)."""

from __future__ import annotations

import json
import re
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.template.conftest import BIN, release, release_head, run, run_status, stop_index

pytestmark = [pytest.mark.services, pytest.mark.slow]

COPIES = (
    "sdk/pyproject.toml", "platform/pyproject.toml", "sdk/src/meshkit/__init__.py",
    "platform/src/meshkit_platform/__init__.py", "template/cookiecutter.json",
)  # fmt: skip


@dataclass
class First:
    clone: Path
    state: Path
    code: int
    out: str

    def index_files(self, dist: str) -> list[str]:
        record = json.loads((self.state / "index" / "run.json").read_text())
        with urllib.request.urlopen(f"{record['address']}/simple/{dist}/", timeout=10) as resp:
            return re.findall(r">([^<]+)</a>", resp.read().decode())


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[First]:
    base = tmp_path_factory.mktemp("release")
    clone, state, code, out = release_head(base)
    yield First(clone, state, code, out)
    stop_index(state)


def version_of(repo: Path) -> str:
    return str(tomllib.loads((repo / "sdk" / "pyproject.toml").read_text())["project"]["version"])


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).strip()


def test_a_release_builds_changelogs_tags_and_uploads(first: First) -> None:
    assert first.code == 0, first.out
    summary, _ = json.JSONDecoder().raw_decode(first.out[first.out.index("{") :])
    assert summary["version"] == "0.1.0"
    assert sorted(summary["files"]) == [
        "meshkit-0.1.0-py3-none-any.whl", "meshkit-0.1.0.tar.gz",
        "meshkit_platform-0.1.0-py3-none-any.whl", "meshkit_platform-0.1.0.tar.gz",
    ]  # fmt: skip
    assert sorted(first.index_files("meshkit")) == [
        "meshkit-0.1.0-py3-none-any.whl",
        "meshkit-0.1.0.tar.gz",
    ]
    assert len(first.index_files("meshkit-platform")) == 2
    assert git(first.clone, "log", "-1", "--format=%s") == "Release v0.1.0"
    assert git(first.clone, "rev-parse", "v0.1.0^{commit}") == git(first.clone, "rev-parse", "HEAD")
    changelog = (first.clone / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog\n")
    assert "## v0.1.0 (" in changelog
    password = json.loads((first.state / "index" / "credentials.json").read_text())["password"]
    assert password not in first.out


def test_a_version_already_on_the_index_is_refused_in_one_line(first: First) -> None:
    head = git(first.clone, "rev-parse", "HEAD")
    code, out = release(first.clone, first.state)
    assert code == 1, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    assert errors[0].startswith("error: meshkit 0.1.0 already exists on http://127.0.0.1:")
    assert "Traceback" not in out
    assert git(first.clone, "rev-parse", "HEAD") == head


def test_a_new_version_is_written_everywhere_and_logged_since_the_last_tag(first: First) -> None:
    code, out = release(first.clone, first.state, "--version", "0.2.0")
    assert code == 0, out
    for rel in COPIES:
        assert "0.2.0" in (first.clone / rel).read_text(), rel
    assert git(first.clone, "status", "--porcelain", "--untracked-files=no") == ""
    assert git(first.clone, "describe", "--tags", "--exact-match", "HEAD") == "v0.2.0"
    changelog = (first.clone / "CHANGELOG.md").read_text()
    assert changelog.index("## v0.2.0") < changelog.index("## v0.1.0")
    assert "Changes since v0.1.0:\n\n- Version 0.2.0\n" in changelog
    assert any(f.startswith("meshkit-0.2.0") for f in first.index_files("meshkit"))


def test_copies_of_the_version_that_disagree_are_refused(first: First, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(first.clone), str(clone)], tmp_path)
    init = clone / "platform" / "src" / "meshkit_platform" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "9.9.9"', init.read_text()))
    code, out = release(clone, first.state, "--dry-run")
    assert code == 1
    assert "uncommitted changes" in out
    git(clone, "-c", "user.name=t", "-c", "user.email=t@e.com", "commit", "-qam", "drift")
    code, out = release(clone, first.state, "--dry-run")
    assert code == 1
    assert "platform/src/meshkit_platform/__init__.py says '9.9.9'" in out
    assert f"pass --version {version_of(clone)}" in out


def test_dry_run_builds_but_changes_nothing(first: First, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(first.clone), str(clone)], tmp_path)
    ident = ["-c", "user.name=t", "-c", "user.email=t@e.com"]
    current = version_of(clone)
    for rel in COPIES:
        path = clone / rel
        path.write_text(path.read_text().replace(f'"{current}"', '"0.3.0"'))
    git(clone, *ident, "commit", "-qam", "Version 0.3.0")
    head = git(clone, "rev-parse", "HEAD")
    before = (clone / "CHANGELOG.md").read_text()
    code, out = release(clone, first.state, "--dry-run")
    assert code == 0, out
    assert '"dry_run": true' in out
    wheels = sorted(p.name for p in (clone / "dist" / "v0.3.0").glob("*.whl"))
    assert wheels == ["meshkit-0.3.0-py3-none-any.whl", "meshkit_platform-0.3.0-py3-none-any.whl"]
    assert git(clone, "rev-parse", "HEAD") == head
    assert git(clone, "tag", "--list", "v0.3.0") == ""
    assert (clone / "CHANGELOG.md").read_text() == before
    assert not any("0.3.0" in f for f in first.index_files("meshkit"))


def test_an_index_url_without_credentials_is_one_clear_line(first: First) -> None:
    code, out = run_status(
        [str(BIN / "meshkit-platform"), "sdk", "release",
         "--index", "https://packages.example.invalid/simple/", "--dry-run"],
        first.clone, UV_PUBLISH_USERNAME="", UV_PUBLISH_PASSWORD="", UV_PUBLISH_TOKEN="",
    )  # fmt: skip
    assert code == 1
    assert out.strip().splitlines() == [
        "error: no upload credentials: set UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD "
        "(or UV_PUBLISH_TOKEN) in the environment"
    ]
