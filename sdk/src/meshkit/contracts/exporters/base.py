"""The exporter interface and the registry of export formats.

An exporter turns a ``Contract`` into the text of one target format. The registry maps
a format name to the module and class implementing it and imports the module only
when that format is asked for, so an exporter whose library is missing never breaks
the others (or ``meshkit --help``). Other packages add formats through the entry-point
group ``meshkit.exporters`` (``name = "package.module:ExporterClass"``) or by calling
``register_exporter``::

    class CsvHeader(Exporter):
        name = "csv-header"
        description = "The header line of a CSV file"
        extension = ".csv"

        def export(self, contract: Contract) -> str:
            return ",".join(f.name for f in contract.fields) + "\\n"

    register_exporter("csv-header", "my_package.csv_header", "CsvHeader")
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from typing import Any, ClassVar

from meshkit.contracts.model import Contract
from meshkit.errors import ContractError

ENTRY_POINT_GROUP = "meshkit.exporters"


class Exporter(ABC):
    """One export format: ``name`` (what ``--format`` takes), a one-line ``description``,
    the usual file ``extension``, and ``export`` (a contract → the text of the format)."""

    name: ClassVar[str]
    description: ClassVar[str]
    extension: ClassVar[str]

    @abstractmethod
    def export(self, contract: Contract) -> str:
        """The contract in this format (text ending in a newline)."""


def to_json(value: Any) -> str:
    """JSON as exporters write it: indented by two spaces, keys in the order given."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


_BUILTIN: dict[str, tuple[str, str]] = {
    "avro": ("meshkit.contracts.exporters.avro", "AvroExporter"),
    "bigquery": ("meshkit.contracts.exporters.targets", "BigQueryExporter"),
    "duckdb": ("meshkit.contracts.exporters.targets", "DuckDbExporter"),
    "elasticsearch": ("meshkit.contracts.exporters.targets", "ElasticsearchExporter"),
    "jsonschema": ("meshkit.contracts.exporters.json_schema", "JsonSchemaExporter"),
    "kafka": ("meshkit.contracts.exporters.targets", "KafkaExporter"),
    "odcs": ("meshkit.contracts.exporters.odcs", "OdcsExporter"),
}
_registry: dict[str, tuple[str, str]] = dict(_BUILTIN)
_entry_points_loaded = False


def register_exporter(name: str, module: str, class_name: str) -> None:
    """Register (or replace) format ``name``, implemented by ``module.class_name``."""
    _registry[name] = (module, class_name)


def _load_entry_points() -> None:
    global _entry_points_loaded  # noqa: PLW0603 - loaded once per process
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        module, _, attr = ep.value.partition(":")
        _registry.setdefault(ep.name, (module.strip(), attr.strip()))


def exporter_names() -> tuple[str, ...]:
    """Every registered format name, sorted."""
    _load_entry_points()
    return tuple(sorted(_registry))


def get_exporter(name: str) -> Exporter:
    """The exporter of format ``name``; ``ContractError`` naming the valid formats if unknown."""
    _load_entry_points()
    if name not in _registry:
        raise ContractError(
            f"unknown export format {name!r}; valid formats: {', '.join(exporter_names())}"
        )
    module_name, class_name = _registry[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ContractError(
            f"export format {name!r} is not available: {exc} (install what it needs)"
        ) from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exporter)):
        raise ContractError(f"export format {name!r}: {module_name}.{class_name} is no Exporter")
    return cls()


def export(contract: Contract, format_name: str) -> str:
    """``contract`` rendered as ``format_name`` (see ``exporter_names()``)."""
    return get_exporter(format_name).export(contract)
