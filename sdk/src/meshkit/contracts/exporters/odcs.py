"""ODCS v3.1.0 YAML of a contract (see ``meshkit.contracts.odcs``)."""

from __future__ import annotations

import yaml

from meshkit.contracts.exporters.base import Exporter
from meshkit.contracts.model import Contract
from meshkit.contracts.odcs import to_odcs


class _Dumper(yaml.SafeDumper):
    """Multi-line text (SQL) as literal blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_yaml(data: object) -> str:
    """YAML in the order given, multi-line text as literal blocks."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def odcs_yaml(contract: Contract) -> str:
    """The contract as an ODCS v3.1.0 YAML document."""
    return dump_yaml(to_odcs(contract))


class OdcsExporter(Exporter):
    """The contract as an Open Data Contract Standard v3.1.0 document."""

    name = "odcs"
    description = "Open Data Contract Standard v3.1.0 YAML (lossless: import gives it back)"
    extension = ".odcs.yaml"

    def export(self, contract: Contract) -> str:
        return odcs_yaml(contract)
