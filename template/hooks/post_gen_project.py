# ruff: noqa: F821, T201 - cookiecutter renders this file first (its placeholders look undefined)
"""Remove the parts not chosen and write the answers file (``.cruft.json``).

The answers file lets the repository be updated from newer template versions
(``meshkit template update``, built on cruft). Under cruft (``cruft create`` or an update)
cruft writes it itself; under plain ``cookiecutter`` this hook writes the same file.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CONTEXT = json.loads({{cookiecutter | jsonify | tojson}})
PACKAGE = CONTEXT["__package_name"]
PRODUCT = CONTEXT["product_name"]
BATCH = CONTEXT["__batch"] == "yes"
STREAMING = CONTEXT["__streaming"] == "yes"

BATCH_ONLY_PATHS = [f"src/{PACKAGE}/defs/assets.py", "tests/test_assets.py"]
STREAMING_ONLY_PATHS = [f"src/{PACKAGE}/flow.py", "tests/test_flow.py"]
BOTH_ONLY_PATHS = [f"contracts/{PRODUCT}_daily.yaml"]
# Files the domain team owns once generated: template updates never touch them.
DOMAIN_LOGIC = [
    "contracts",
    "samples",
    f"src/{PACKAGE}/defs",
    f"src/{PACKAGE}/flow.py",
    "tests/test_assets.py",
    "tests/test_contracts.py",
    "tests/test_definitions.py",
    "tests/test_flow.py",
]
VOLATILE = ("_output_dir", "_repo_dir", "_checkout")


def _remove(paths: list[str]) -> None:
    for rel in paths:
        path = Path(rel)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _git(cwd: str, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", cwd, *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _answers() -> dict | None:
    """The cruft state of this bake, or None when cruft is generating (it writes its own)."""
    if "_commit" in CONTEXT:
        return None
    repo_dir = CONTEXT.get("_repo_dir") or ""
    template = CONTEXT.get("_template") or repo_dir
    top = _git(repo_dir, "rev-parse", "--show-toplevel") if repo_dir else None
    commit = _git(top, "rev-parse", "HEAD") if top else None
    if top is None or commit is None:
        print(
            "warning: the template is not in a git checkout, so .cruft.json records no "
            "commit; run 'cruft link <template-url>' before the first template update",
            file=sys.stderr,
        )
    is_url = "://" in template or template.startswith(("git@", "gh:", "gl:", "bb:"))
    directory = None
    if top is not None:
        rel = os.path.relpath(os.path.realpath(repo_dir), os.path.realpath(top))
        directory = None if rel == "." else rel
    context = {k: v for k, v in CONTEXT.items() if k not in VOLATILE}
    context["_template"] = template if is_url else (top or template)
    context["_commit"] = commit
    return {
        "template": context["_template"],
        "commit": commit,
        "checkout": None,
        "context": {"cookiecutter": context},
        "directory": directory,
        "skip": DOMAIN_LOGIC,
    }


def main() -> int:
    if not BATCH:
        _remove(BATCH_ONLY_PATHS)
    if not STREAMING:
        _remove(STREAMING_ONLY_PATHS)
    if not (BATCH and STREAMING):
        _remove(BOTH_ONLY_PATHS)
    answers = _answers()
    if answers is not None:
        text = json.dumps(answers, ensure_ascii=False, indent=2, separators=(",", ": "))
        Path(".cruft.json").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
