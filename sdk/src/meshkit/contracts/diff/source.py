"""Where the old side of a diff comes from: a file, or a file at a git revision.

- ``path/to/contract.yaml``: the file;
- ``git:<rev>:<path>``: the file at a revision (``git:main:contracts/customer.yaml``,
  ``git:HEAD~1:contracts/customer.yaml``), the path relative to the current directory;
- ``revision_of(rev, path)``: the same file as ``path`` at ``rev`` (``--against``).

Text from git is read with ``git show``, so it works in any clone (CI, pre-commit).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from meshkit.contracts.loader import parse_contract, read_contract
from meshkit.contracts.model import Contract
from meshkit.contracts.problem import Problem
from meshkit.errors import ContractError

GIT_PREFIX = "git:"


@dataclass(frozen=True)
class GitFile:
    """A file at a git revision: ``rev`` and ``path`` (relative to ``cwd``)."""

    rev: str
    path: str
    cwd: Path

    @property
    def label(self) -> str:
        return f"{GIT_PREFIX}{self.rev}:{self.path}"


def parse_source(text: str) -> Path | GitFile:
    """A file path, or a ``GitFile`` for ``git:<rev>:<path>``."""
    if not text.startswith(GIT_PREFIX):
        return Path(text)
    rev, sep, path = text[len(GIT_PREFIX) :].partition(":")
    if not sep or not rev or not path:
        raise ContractError(
            f"{text!r}: expected git:<revision>:<path>, e.g. git:main:contract.yaml"
        )
    return GitFile(rev, path, Path.cwd())


def revision_of(rev: str, path: Path) -> GitFile:
    """``path`` as it was at ``rev``, read in ``path``'s own repository."""
    return GitFile(rev, path.name, path.resolve().parent)


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise ContractError("git is not installed, so a git revision cannot be read") from None


def git_text(source: GitFile) -> str | None:
    """The file's text at the revision; None when it does not exist there."""
    if source.rev.startswith("-"):
        raise ContractError(f"{source.label}: a git revision cannot start with '-'")
    if _git(source.cwd, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise ContractError(f"{source.label}: {source.cwd} is not inside a git repository")
    if _git(source.cwd, "rev-parse", "--verify", "--quiet", f"{source.rev}^{{commit}}").returncode:
        raise ContractError(f"{source.label}: unknown git revision {source.rev!r}")
    shown = _git(source.cwd, "show", f"{source.rev}:./{source.path}")
    if shown.returncode != 0:
        return None
    try:
        return shown.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise ContractError(f"{source.label}: the file is not UTF-8 text") from None


def load_source(source: Path | GitFile) -> tuple[Contract | None, list[Problem]]:
    """The contract at ``source`` and the problems reading it; ``ContractError`` when a git
    file does not exist at its revision."""
    if isinstance(source, Path):
        return read_contract(source)
    text = git_text(source)
    if text is None:
        raise ContractError(f"{source.label}: no such file at revision {source.rev!r}")
    return parse_contract(text, source.label)
