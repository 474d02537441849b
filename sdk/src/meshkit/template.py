"""Keep a domain repository in step with the template it was generated from.

A domain repository records its template answers in ``.cruft.json`` (written by the
template itself, or by ``cruft create``). ``update`` brings in what changed in the
template since: cruft renders the old and the new template version with the same
answers and applies the difference to the repository as a three-way merge, so the
team's own edits survive. What could not be merged is reported file by file
(conflict markers, or ``.rej`` files when git could not merge at all).

cruft (a well-kept library built on cookiecutter) does the rendering and the merge;
this module adds the checks before, the report after, and meshkit's error messages.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from meshkit.errors import ConfigError

ANSWERS_FILE = ".cruft.json"
_UNMERGED = {"DD", "AU", "UD", "UA", "DU", "AA", "UU"}


@dataclass
class UpdateReport:
    """What ``update`` did: the template commits, files changed, and what needs a hand."""

    old_commit: str | None
    new_commit: str | None
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    log: str = ""

    @property
    def up_to_date(self) -> bool:
        """Nothing to bring in: the repository was on the template's latest commit."""
        return self.old_commit == self.new_commit and not self.changed

    @property
    def clean(self) -> bool:
        """Every change merged without conflicts."""
        return not (self.conflicts or self.rejects)


def answers(project_dir: str | Path) -> dict[str, object]:
    """The repository's ``.cruft.json`` (template, commit, answers, skip list)."""
    path = Path(project_dir) / ANSWERS_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path}: no template answers file; this repository was not generated from the "
            "meshkit template (or the file was deleted). Link it once with "
            "'cruft link <template-url> --directory template'"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    missing = [k for k in ("template", "commit", "context") if k not in data]
    if not isinstance(data, dict) or missing:
        raise ConfigError(f"{path}: not a cruft answers file (missing {', '.join(missing)})")
    if not data.get("commit"):
        raise ConfigError(
            f"{path}: records no template commit (the template was not a git checkout when "
            "the repository was generated); run 'cruft link' to record one"
        )
    return data


def _git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=project_dir, capture_output=True, text=True, check=False
    )


def _status(project_dir: Path) -> list[tuple[str, str]]:
    out = _git(project_dir, "status", "--porcelain", "--untracked-files=all", "--", ".")
    rows = []
    for line in out.stdout.splitlines():
        code, rel = line[:2], line[3:]
        prefix = _git(project_dir, "rev-parse", "--show-prefix").stdout.strip()
        rows.append((code, rel.removeprefix(prefix) if prefix else rel))
    return rows


def update(
    project_dir: str | Path = ".",
    *,
    checkout: str | None = None,
    template: str | None = None,
) -> UpdateReport:
    """Bring the template's changes into the repository; see the module docstring.

    ``checkout`` is a template branch, tag or commit (default: its default branch);
    ``template`` overrides where the template is fetched from (a URL or a path).
    """
    import cruft

    root = Path(project_dir).resolve()
    state = answers(root)
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise ConfigError(
            f"{root}: not a git repository; template updates are merged with git, so commit "
            "the repository first ('git init && git add -A && git commit')"
        )
    dirty = [rel for _, rel in _status(root)]
    if dirty:
        raise ConfigError(
            f"{root}: uncommitted changes ({', '.join(dirty[:5])}"
            f"{', ...' if len(dirty) > 5 else ''}); commit or stash them first, so the "
            "update can be reviewed (and undone) on its own"
        )
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            ok = cruft.update(
                project_dir=root,
                checkout=checkout,
                template_path=Path(template) if template else None,
                skip_apply_ask=True,
                allow_untracked_files=False,
            )
    except Exception as exc:  # git or cookiecutter could not fetch or render the template
        where = template or str(state.get("template", "?"))
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"{root}: cannot fetch the template from {where} "
            f"(checkout {checkout or 'default branch'}): {first}\n"
            "  fix: check the network and the address, or pass --template with a reachable "
            "URL or a local clone"
        ) from exc
    if not ok:
        raise ConfigError(f"{root}: the template update did not run:\n{log.getvalue()}")
    new_state = json.loads((root / ANSWERS_FILE).read_text(encoding="utf-8"))
    report = UpdateReport(
        old_commit=str(state["commit"]),
        new_commit=new_state.get("commit"),
        skipped=[str(rel) for rel in new_state.get("skip") or []],
        log=log.getvalue(),
    )
    for code, rel in _status(root):
        if code in _UNMERGED or _has_markers(root / rel):
            report.conflicts.append(rel)
        elif rel.endswith(".rej"):
            report.rejects.append(rel)
        elif rel != ANSWERS_FILE:
            report.changed.append(rel)
    return report


def _has_markers(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.startswith("<<<<<<< ") for line in text.splitlines())


def is_current(project_dir: str | Path = ".", *, checkout: str | None = None) -> bool:
    """True when the repository is on the template's latest commit."""
    import cruft

    answers(project_dir)
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        return bool(cruft.check(project_dir=Path(project_dir), checkout=checkout))
