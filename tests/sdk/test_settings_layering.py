"""Nothing in the SDK imports the local stack (``meshkit.local``) but the local stack
itself and what exists for it: domain code and production processes choose their
backends from ``meshkit.settings``, so a production import never starts (or depends on)
an embedded service.

Allowed to import ``meshkit.local``:

- ``meshkit/local/`` itself;
- ``meshkit/testing.py``, the pytest fixtures that start the embedded services;
- ``meshkit/cli/local.py``, the ``meshkit local up|status|down|env`` verbs (the CLI keeps
  one module per command group, so the local stack's verbs live with the other verbs).

The walk sees every import, including those inside functions (lazy imports) and
``from meshkit import local``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk" / "src" / "meshkit"
ALLOWED = {SDK / "testing.py", SDK / "cli" / "local.py"}


def local_imports(path: Path) -> list[str]:
    """``line: module`` of each import of ``meshkit.local`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        hits = [m for m in modules if m == "meshkit.local" or m.startswith("meshkit.local.")]
        if hits:
            found.append(f"{node.lineno}: {hits[0]}")
    return found


def offenders(root: Path, allowed: set[Path]) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        if path in allowed or (root / "local") in path.parents:
            continue
        hits = local_imports(path)
        if hits:
            found[str(path.relative_to(root.parent))] = hits
    return found


def test_nothing_outside_the_local_stack_imports_it() -> None:
    found = offenders(SDK, ALLOWED)
    assert not found, (
        "these SDK modules import meshkit.local (take the backend from meshkit.settings, "
        f"or the stand-in's client from meshkit.clients): {found}"
    )


def test_the_walk_sees_every_form_of_the_import(tmp_path: Path) -> None:
    package = tmp_path / "meshkit"
    (package / "local").mkdir(parents=True)
    (package / "local" / "stack.py").write_text("import meshkit.local.kafka\n")
    (package / "flows.py").write_text(
        "import os\n"
        "from meshkit import local\n"
        "def f():\n"
        "    from meshkit.local.search import local_search_client\n"
        "    import meshkit.local as stack\n"
        "from meshkit.localisation import x\n"
    )
    (package / "ok.py").write_text("from meshkit.clients import search_client\n")
    assert offenders(package, set()) == {
        "meshkit/flows.py": ["2: meshkit.local", "4: meshkit.local.search", "5: meshkit.local"]
    }
