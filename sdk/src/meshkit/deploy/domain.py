"""What a domain repository holds that its deployment needs: read, never imported.

- ``pyproject.toml``: the project's name, version and Python range; ``[tool.dagster]``
  names the Dagster code location (module and name);
- ``contracts/``: the products, and the service databases their CDC input ports read
  (one capture, so one slot, per database);
- the Bytewax flows: every module ``src/<package>/flow.py`` or ``src/<package>/flows/*.py``.
  A flow module names the contract files it builds from (``"order.yaml"``, as the
  template's flow does); the first one it names is the flow's product, whose settings
  (processes, workers, resources) the flow's StatefulSet takes.

Nothing of the domain's code is imported or run: rendering needs no settings, services
or credentials.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from meshkit.contracts import CdcInput, Contract, load_contract
from meshkit.errors import ConfigError
from meshkit.files import MIB, UnreadableFileError, read_limited

CONTRACT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Capture:
    """One CDC capture: a service database and the tables the contracts read from it."""

    database: str
    tables: tuple[str, ...]


@dataclass(frozen=True)
class Flow:
    """One Bytewax flow module and the products (contract names) it writes, first = its own."""

    module: str  # dotted module path, e.g. ``orders.flow``
    products: tuple[str, ...]

    @property
    def product(self) -> str:
        """The product whose settings the flow takes."""
        return self.products[0]


@dataclass(frozen=True)
class Domain:
    """The parts of a domain repository that its deployment is made from."""

    root: Path
    name: str  # the contracts' domain
    project: str  # the Python project's name
    version: str
    package: str
    python: str  # the Python version of the image, e.g. "3.12"
    products: tuple[str, ...]
    captures: tuple[Capture, ...]
    flows: tuple[Flow, ...]
    dagster_module: str | None
    dagster_location: str | None
    has_lock: bool
    locked: frozenset[str] = field(default_factory=frozenset)
    indexes: tuple[str, ...] = ()  # names of the [[tool.uv.index]] entries


def _read_text(path: Path, what: str) -> str:
    try:
        return read_limited(path, limit=MIB).decode("utf-8")
    except UnreadableFileError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.reason}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {what} is not UTF-8 text") from None


def _pyproject(root: Path) -> dict[str, object]:
    path = root / "pyproject.toml"
    if not path.is_file():
        raise ConfigError(
            f"{root}: no pyproject.toml: run 'meshkit deploy render' in a domain repository "
            "(one generated from the meshkit template), or pass --repo"
        )
    try:
        return tomllib.loads(_read_text(path, "the project file"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _allows(requires: str, minor: int) -> bool:
    """Whether ``requires-python`` (``>=3.11,<3.13`` style) allows Python 3.<minor>."""
    have = (3, minor)
    for part in (p.strip() for p in requires.split(",") if p.strip()):
        op = part.rstrip("0123456789.* ").strip()
        try:
            wanted = tuple(int(x) for x in part[len(op) :].strip().split(".")[:2])
        except ValueError:
            continue
        checks = {
            "<": have < wanted,
            "<=": have <= wanted,
            ">": have > wanted,
            ">=": have >= wanted,
            "==": have == wanted,
            "~=": have >= wanted,
            "!=": have != wanted,
        }
        if not checks.get(op, True):
            return False
    return True


def _python_version(requires: str) -> str:
    """The newest of 3.12 and 3.11 that ``requires-python`` allows (Bytewax's range)."""
    for minor in (12, 11):
        if _allows(requires, minor):
            return f"3.{minor}"
    raise ConfigError(
        f"pyproject.toml: requires-python {requires!r} allows neither Python 3.12 nor 3.11, "
        "the versions meshkit's image is built on"
    )


def _contracts(root: Path) -> list[tuple[Path, Contract]]:
    directory = root / "contracts"
    paths = sorted(p for p in directory.glob("*") if p.suffix in CONTRACT_SUFFIXES)
    if not paths:
        raise ConfigError(f"{directory}: no contracts (*.yaml); a domain deploys its products")
    return [(p, load_contract(p)) for p in paths]  # ContractError: file:line:column each


def _named_contracts(module: Path, files: dict[str, str]) -> tuple[str, ...]:
    """The products whose contract files the module names, in the order it names them."""
    try:
        tree = ast.parse(_read_text(module, "the flow module"), filename=str(module))
    except SyntaxError as exc:
        raise ConfigError(f"{module}:{exc.lineno}: not valid Python: {exc.msg}") from None
    positions: dict[str, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            product = files.get(node.value)
            if product is not None:
                where = (node.lineno, node.col_offset)
                positions[product] = min(positions.get(product, where), where)
    return tuple(sorted(positions, key=positions.__getitem__))


def _flows(root: Path, package: str, files: dict[str, str]) -> tuple[Flow, ...]:
    src = root / "src" / package
    modules = [src / "flow.py", *sorted((src / "flows").glob("*.py"))]
    flows = []
    for module in modules:
        if not module.is_file() or module.name == "__init__.py":
            continue
        products = _named_contracts(module, files)
        dotted = ".".join(module.relative_to(root / "src").with_suffix("").parts)
        if not products:
            raise ConfigError(
                f"{module}: a flow module names the contract it builds from (as "
                f"CONTRACT = ... / 'contracts' / '<product>.yaml'); this one names none of "
                f"{', '.join(sorted(files))}"
            )
        flows.append(Flow(dotted, products))
    owners: dict[str, str] = {}
    for flow in flows:
        if flow.product in owners:
            raise ConfigError(
                f"flows {owners[flow.product]} and {flow.module} both build the product "
                f"{flow.product!r} first; each flow's first contract names its own product"
            )
        owners[flow.product] = flow.module
    return tuple(flows)


def _locked(root: Path) -> tuple[bool, frozenset[str]]:
    lock = root / "uv.lock"
    if not lock.is_file():
        return False, frozenset()
    try:
        data = tomllib.loads(read_limited(lock, limit=64 * MIB).decode("utf-8"))
    except (UnreadableFileError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True, frozenset()
    packages = data.get("package", [])
    return True, frozenset(str(p.get("name", "")) for p in packages if isinstance(p, dict))


def read_domain(root: Path) -> Domain:
    """The domain repository at ``root``; ``ConfigError`` / ``ContractError`` when it is not one."""
    pyproject = _pyproject(root)
    project = pyproject.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise ConfigError(f"{root / 'pyproject.toml'}: [project] name is missing")
    tool = pyproject.get("tool", {})
    dagster = tool.get("dagster", {}) if isinstance(tool, dict) else {}
    dagster = dagster if isinstance(dagster, dict) else {}
    module = dagster.get("module_name")
    package = (
        module.split(".")[0]
        if isinstance(module, str)
        else str(project["name"]).replace("-", "_").lower()
    )
    contracts = _contracts(root)
    domains = sorted({c.domain for _, c in contracts})
    if len(domains) != 1:
        raise ConfigError(
            f"{root / 'contracts'}: the contracts belong to several domains "
            f"({', '.join(domains)}); a repository deploys one domain"
        )
    files = {path.name: contract.name for path, contract in contracts}
    tables: dict[str, list[str]] = {}
    for _, contract in contracts:
        for port in contract.ports.inputs:
            if isinstance(port, CdcInput):
                table = f"{port.db_schema}.{port.table}"
                listed = tables.setdefault(port.database, [])
                if table not in listed:
                    listed.append(table)
    has_lock, locked = _locked(root)
    uv = tool.get("uv", {}) if isinstance(tool, dict) else {}
    index_list = uv.get("index", []) if isinstance(uv, dict) else []
    indexes = tuple(
        str(i["name"]) for i in index_list if isinstance(i, dict) and isinstance(i.get("name"), str)
    )
    return Domain(
        root=root,
        name=domains[0],
        project=str(project["name"]),
        version=str(project.get("version", "0.0.0")),
        package=package,
        python=_python_version(str(project.get("requires-python", ""))),
        products=tuple(c.name for _, c in contracts),
        captures=tuple(Capture(db, tuple(t)) for db, t in sorted(tables.items())),
        flows=_flows(root, package, files),
        dagster_module=module if isinstance(module, str) else None,
        dagster_location=str(dagster.get("code_location_name") or domains[0])
        if isinstance(module, str)
        else None,
        has_lock=has_lock,
        locked=locked,
        indexes=indexes,
    )
