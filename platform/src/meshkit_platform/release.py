"""``meshkit-platform sdk release``: publish the SDK to the company package index.

One release, in this order (nothing is changed before every check has passed):

1. **version**: read from one place, ``[project].version`` of ``sdk/pyproject.toml``. The
   copies that must agree (``platform/pyproject.toml``, both ``__version__`` strings, the
   template's default ``meshkit_version``) are checked; ``--version X.Y.Z`` first writes
   ``X.Y.Z`` into all of them (and refreshes ``uv.lock``).
2. **refusal**: a version the index already holds (any ``meshkit`` or
   ``meshkit-platform`` file of that version), or a tag ``v<version>`` on another commit,
   stops the release with one line and exit 1. The tree must be clean (what is built is
   what is tagged).
3. **build**: ``uv build`` of ``meshkit`` and ``meshkit-platform`` (wheel and sdist) into
   ``dist/v<version>/``.
4. **changelog and tag**: a ``## v<version>`` entry at the top of ``CHANGELOG.md`` (the
   commit subjects since the previous ``v*`` tag), committed as ``Release v<version>``,
   and the tag ``v<version>``: the tag a domain repository's pre-commit hooks pin.
5. **upload**: ``uv publish`` with ``UV_PUBLISH_USERNAME`` / ``UV_PUBLISH_PASSWORD`` (or
   ``UV_PUBLISH_TOKEN``) from the environment; for ``--index local``, the local stack's
   index and the upload password its first ``meshkit local up`` wrote.

``--dry-run`` does steps 1 to 3 and prints what 4 and 5 would do, changing nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from meshkit.errors import ConfigError, MeshkitError, ServiceError

DISTRIBUTIONS = ("meshkit", "meshkit-platform")
VERSION = re.compile(r"^\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?$")
CHANGELOG_HEAD = (
    "# Changelog\n\n"
    "Releases of the meshkit SDK (`meshkit`) and platform (`meshkit-platform`), newest first;\n"
    "`meshkit-platform sdk release` writes each entry.\n"
)


class ReleaseError(MeshkitError):
    """A release that cannot go ahead: the reason and what to do, in one line."""


@dataclass(frozen=True)
class Index:
    """Where a release goes: the simple URL installers use, the upload URL, credentials."""

    simple_url: str
    publish_url: str
    credentials: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Release:
    """What a release produced (or, with ``dry_run``, would produce)."""

    version: str
    tag: str
    files: tuple[Path, ...]
    index: str
    dry_run: bool
    changelog: str


# ----------------------------------------------------------------------------- helpers


def find_uv(repo: Path) -> str:
    """The uv executable: on PATH, from the ``uv`` package, or the repository's ``.tools``."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    bundled = repo / ".tools" / "bin" / "uv"
    if bundled.is_file():
        return str(bundled)
    raise ReleaseError("uv not found: install it ('pip install uv') or put it on PATH")


def _run(cmd: list[str], cwd: Path, what: str, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise ReleaseError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _git(repo: Path, *args: str) -> str:
    return _run(["git", "-C", str(repo), *args], repo, f"git {args[0]}").strip()


def repo_root(start: Path) -> Path:
    """The top of the meshkit checkout containing ``start``."""
    proc = subprocess.run(
        ["git", "-C", str(start), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    root = Path(proc.stdout.strip()) if proc.returncode == 0 else None
    if root is None or not (root / "sdk" / "pyproject.toml").is_file():
        raise ReleaseError(
            f"{start} is not inside a meshkit checkout (no sdk/pyproject.toml at the top of "
            "its git repository); run the release from the meshkit repository or pass --repo"
        )
    return root


# ----------------------------------------------------------------------------- version

# Every copy of the version: (path, pattern whose group 2 is the version).
_COPIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sdk/pyproject.toml", re.compile(r'(?m)^(version = ")([^"]+)(")')),
    ("platform/pyproject.toml", re.compile(r'(?m)^(version = ")([^"]+)(")')),
    ("sdk/src/meshkit/__init__.py", re.compile(r'(?m)^(__version__ = ")([^"]+)(")')),
    (
        "platform/src/meshkit_platform/__init__.py",
        re.compile(r'(?m)^(__version__ = ")([^"]+)(")'),
    ),
    ("template/cookiecutter.json", re.compile(r'("meshkit_version": ")([^"]+)(")')),
)


def sdk_version(repo: Path) -> str:
    """The version, from its one place: ``[project].version`` of ``sdk/pyproject.toml``."""
    path = repo / "sdk" / "pyproject.toml"
    try:
        version = tomllib.loads(path.read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise ReleaseError(f"{path}: no [project] version ({exc})") from None
    return str(version)


def version_copies(repo: Path) -> dict[str, str | None]:
    """Each file that carries the version and the version it says (``None``: not found)."""
    found: dict[str, str | None] = {}
    for rel, pattern in _COPIES:
        match = pattern.search((repo / rel).read_text(encoding="utf-8"))
        found[rel] = match.group(2) if match else None
    return found


def check_versions(repo: Path) -> str:
    """The release version; every copy must say the same."""
    version = sdk_version(repo)
    if not VERSION.match(version):
        raise ReleaseError(
            f"sdk/pyproject.toml: version {version!r} is not a release version "
            "(expected MAJOR.MINOR.PATCH, e.g. 0.2.0, optionally a1/b1/rc1)"
        )
    wrong = [f"{rel} says {v!r}" for rel, v in version_copies(repo).items() if v != version]
    if wrong:
        raise ReleaseError(
            f"version {version} (sdk/pyproject.toml) is not the same everywhere: "
            f"{'; '.join(wrong)}; pass --version {version} to write it everywhere"
        )
    return version


def set_version(repo: Path, version: str, uv: str) -> None:
    """Write ``version`` into every copy and refresh ``uv.lock``."""
    if not VERSION.match(version):
        raise ReleaseError(
            f"--version {version!r}: expected MAJOR.MINOR.PATCH, e.g. 0.2.0 (or 0.2.0rc1)"
        )
    for rel, pattern in _COPIES:
        path = repo / rel
        text = path.read_text(encoding="utf-8")
        new, count = pattern.subn(lambda m: f"{m.group(1)}{version}{m.group(3)}", text, count=1)
        if count != 1:
            raise ReleaseError(f"{rel}: found no version to replace")
        path.write_text(new, encoding="utf-8")
    _run([uv, "lock", "--offline"], repo, "uv lock")


# ----------------------------------------------------------------------------- index


def local_index(state_dir: Path | None = None) -> Index:
    """The local stack's package index (it must be running) and its upload credentials."""
    from meshkit.local import LocalStack, PackageIndex
    from meshkit.local.current import existing_settings

    settings = existing_settings(state_dir)
    service = LocalStack(settings).service("index")
    assert isinstance(service, PackageIndex)
    status = service.status()
    if not status.healthy or status.address is None:
        raise ReleaseError(
            f"the local stack's package index is not running ({status.detail}; state "
            f"directory {settings.root}); start it with: meshkit local up"
        )
    creds = service.credentials()
    return Index(
        simple_url=f"{status.address}/simple/",
        publish_url=f"{status.address}/",
        credentials={"UV_PUBLISH_USERNAME": creds.username, "UV_PUBLISH_PASSWORD": creds.password},
    )


def remote_index(url: str, publish_url: str | None, env: Mapping[str, str]) -> Index:
    """An index by URL, with upload credentials from the environment."""
    if not url.startswith(("http://", "https://")):
        raise ReleaseError(f"--index {url!r}: expected 'local' or an http(s) URL")
    simple = url if url.endswith("/") else url + "/"
    names = ("UV_PUBLISH_TOKEN", "UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD")
    creds = {name: env[name] for name in names if env.get(name)}
    if "UV_PUBLISH_TOKEN" not in creds and not {
        "UV_PUBLISH_USERNAME",
        "UV_PUBLISH_PASSWORD",
    } <= set(creds):
        raise ReleaseError(
            "no upload credentials: set UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD "
            "(or UV_PUBLISH_TOKEN) in the environment"
        )
    default_publish = re.sub(r"simple/?$", "", simple)
    return Index(simple, publish_url or default_publish, creds)


def published_files(index: Index, distribution: str) -> list[str]:
    """File names the index lists for ``distribution`` (PEP 503 simple page; 404 = none)."""
    url = f"{index.simple_url}{distribution}/"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (http(s) only)
            page = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            return []
        raise ServiceError(f"package index {url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServiceError(f"package index {url} does not answer ({reason})") from None
    return re.findall(r">\s*([^<>\s]+)\s*</a>", page)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def refuse_existing(index: Index, version: str) -> None:
    """Stop when the index already holds files of ``version``."""
    for dist in DISTRIBUTIONS:
        prefix = f"{_norm(dist)}-{version}"
        clash = [f for f in published_files(index, dist) if _norm(f).startswith(_norm(prefix))]
        clash = [f for f in clash if f[len(prefix) :][:1] in ("-", ".")]
        if clash:
            raise ReleaseError(
                f"{dist} {version} already exists on {index.simple_url} ({clash[0]}); "
                "a published version is never replaced: release a new one with --version"
            )


# ----------------------------------------------------------------------------- changelog


def changelog_entry(repo: Path, tag: str, today: dt.date) -> str:
    """The ``## <tag>`` section: the commit subjects since the previous ``v*`` tag."""
    tags = [t for t in _git(repo, "tag", "--list", "v*", "--merged", "HEAD").split() if t != tag]
    previous = None
    if tags:
        previous = _git(
            repo, "describe", "--tags", "--abbrev=0", "--match", "v*", "--exclude", tag, "HEAD"
        )
    if previous:
        subjects = _git(repo, "log", "--no-merges", "--format=%s", f"{previous}..HEAD")
        lines = [f"- {s}" for s in subjects.splitlines() if s.strip()] or ["- No changes."]
        since = f"Changes since {previous}:\n\n"
    else:
        lines = ["- First published release."]
        since = ""
    return f"## {tag} ({today.isoformat()})\n\n{since}" + "\n".join(lines) + "\n"


def write_changelog(path: Path, entry: str, tag: str) -> bool:
    """Put ``entry`` at the top of the changelog; ``False`` when it has one for ``tag``."""
    text = path.read_text(encoding="utf-8") if path.exists() else CHANGELOG_HEAD
    if re.search(rf"(?m)^## {re.escape(tag)}\b", text):
        return False
    head, sep, rest = text.partition("\n## ")
    body = f"{head.rstrip()}\n\n{entry}" + (f"\n## {rest}" if sep else "")
    path.write_text(body, encoding="utf-8")
    return True


# ----------------------------------------------------------------------------- release


def release(
    repo: Path,
    index: Index,
    *,
    version: str | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Release:
    """Check, build, write the changelog, tag and upload (see the module docstring)."""
    uv = find_uv(repo)
    dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    if dirty:
        first = dirty.splitlines()[0].strip()
        raise ReleaseError(
            f"{repo} has uncommitted changes (e.g. {first}); commit or stash them first: "
            "a release builds and tags exactly what is committed"
        )
    if version is not None and version != sdk_version(repo):
        if dry_run:
            raise ReleaseError("--version with --dry-run: set the version in a real release")
        set_version(repo, version, uv)
        changed = [rel for rel, _ in _COPIES] + ["uv.lock"]
        _git(repo, "add", "--", *changed)
        _git(repo, "commit", "-q", "-m", f"Version {version}", "--", *changed)
    version = check_versions(repo)
    tag = f"v{version}"
    head = _git(repo, "rev-parse", "HEAD")
    tagged = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if tagged and tagged != head:
        raise ReleaseError(
            f"tag {tag} already exists on commit {tagged[:12]}, not on HEAD {head[:12]}: "
            "that version was released from other code; release a new one with --version"
        )
    refuse_existing(index, version)
    say(f"releasing {version} to {index.simple_url}")

    out = repo / "dist" / tag
    if out.exists():
        shutil.rmtree(out)
    for dist in DISTRIBUTIONS:
        say(f"building {dist} {version}")
        _run([uv, "build", "--package", dist, "--out-dir", str(out), "--quiet"], repo,
             f"uv build --package {dist}")  # fmt: skip
    files = tuple(sorted(p for p in out.iterdir() if p.suffix in (".whl", ".gz")))
    names = sorted(p.name for p in files)
    stems = [d.replace("-", "_") for d in DISTRIBUTIONS]
    wheels = [n for n in names if any(n.startswith(f"{st}-{version}-") for st in stems)]
    sdists = [n for n in names if n in {f"{st}-{version}.tar.gz" for st in stems}]
    if len(wheels) != len(stems) or len(sdists) != len(stems) or len(names) != 2 * len(stems):
        raise ReleaseError(
            f"uv build made {', '.join(names)}, not one wheel and one sdist of each at {version}"
        )

    entry = changelog_entry(repo, tag, today or dt.datetime.now(dt.UTC).date())
    if dry_run:
        say(f"dry run: would add to CHANGELOG.md, commit, tag {tag} and upload {len(files)} files")
        return Release(version, tag, files, index.simple_url, dry_run=True, changelog=entry)

    changelog = repo / "CHANGELOG.md"
    if write_changelog(changelog, entry, tag):
        _git(repo, "add", "--", "CHANGELOG.md")
        _git(repo, "commit", "-q", "-m", f"Release {tag}", "--", "CHANGELOG.md")
    if not tagged:
        _git(repo, "tag", "-a", tag, "-m", f"meshkit {version}")
    say(f"tagged {tag}; uploading {len(files)} files")
    _run([uv, "publish", "--publish-url", index.publish_url, *map(str, files)], repo,
         f"uv publish to {index.publish_url}", env=index.credentials)  # fmt: skip
    return Release(version, tag, files, index.simple_url, dry_run=False, changelog=entry)


# ----------------------------------------------------------------------------- command

sdk_app = typer.Typer(
    name="sdk", help="Release the SDK to the company package index.", no_args_is_help=True
)


@sdk_app.command("release")
def release_command(
    index: Annotated[
        str,
        typer.Option(
            "--index",
            help="'local' (the local stack's index) or the index's simple URL; "
            "upload credentials from UV_PUBLISH_USERNAME/UV_PUBLISH_PASSWORD or UV_PUBLISH_TOKEN",
        ),
    ] = "local",
    publish_url: Annotated[
        str | None,
        typer.Option("--publish-url", help="upload URL, when not the index URL without /simple/"),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="set this version everywhere first (default: as is)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check and build only: no changelog, tag, upload")
    ] = False,
    repo: Annotated[
        Path | None, typer.Option("--repo", help="the meshkit checkout (default: the current one)")
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help="the local stack's state directory, for --index local"),
    ] = None,
) -> None:
    """Build, changelog, tag v<version> and upload meshkit and meshkit-platform."""
    root = repo_root(repo or Path.cwd())
    if index == "local":
        target = local_index(state_dir)
    else:
        target = remote_index(index, publish_url, os.environ)
    if index == "local" and publish_url:
        raise ConfigError("--publish-url goes with an index URL, not with --index local")
    console = Console(stderr=True, highlight=False)
    done = release(
        root, target, version=version, dry_run=dry_run, say=lambda m: console.print(escape(m))
    )
    summary = {
        "version": done.version,
        "tag": done.tag,
        "index": done.index,
        "dry_run": done.dry_run,
        "files": [p.name for p in done.files],
    }
    typer.echo(json.dumps(summary, indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``sdk`` command group to the platform app."""
    app.add_typer(sdk_app, name="sdk")


__all__ = ["Index", "Release", "ReleaseError", "local_index", "register", "release"]
