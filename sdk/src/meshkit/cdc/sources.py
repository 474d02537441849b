"""The tables to capture, read from a domain's contracts (their CDC input ports).

A contract's CDC input port names ``database``, ``schema`` and ``table``; its topic is
``<domain>.cdc.<schema>.<table>``, so the capture's ``topic_prefix`` is ``<domain>.cdc``.
When the contract maps its fields from that port, the mapped source columns are what the
port *needs*: a schema change that drops or retypes one of them breaks the port, and
:func:`breaking` says which contract and which columns.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from meshkit.cdc.envelope import topic_problem
from meshkit.cdc.state import SchemaChange
from meshkit.errors import ConfigError


@dataclass(frozen=True)
class CdcSources:
    """What a domain's contracts ask the capture for."""

    domain: str
    tables: tuple[str, ...]
    #: ``schema.table`` -> (contract id, port name, source columns the contract reads)
    needs: dict[str, list[tuple[str, str, frozenset[str]]]] = field(default_factory=dict)

    @property
    def topic_prefix(self) -> str:
        """``<domain>.cdc``."""
        return f"{self.domain}.cdc"


def load_sources(directory: Path, database: str | None = None) -> CdcSources:
    """The CDC input ports of every contract under ``directory`` (one domain)."""
    from meshkit.contracts import CdcInput, load_contract

    paths = sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
    if not paths:
        raise ConfigError(f"{directory}: no contracts (*.yaml) found")
    domains: set[str] = set()
    tables: list[str] = []
    needs: dict[str, list[tuple[str, str, frozenset[str]]]] = defaultdict(list)
    for path in paths:
        contract = load_contract(path)  # ContractError: every problem as file:line:column
        ports = [p for p in contract.ports.inputs if isinstance(p, CdcInput)]
        ports = [p for p in ports if database is None or p.database == database]
        if not ports:
            continue
        domains.add(contract.domain)
        for port in ports:
            table = f"{port.db_schema}.{port.table}"
            why = topic_problem(port.name_in(contract))
            if why is not None:
                raise ConfigError(
                    f"{path}: CDC input port {port.port_name!r}: table {table!r}: its topic "
                    f"{port.name_in(contract)!r} is {why}\n  fix: rename the table (or its "
                    "schema) in the source database, or remove the port"
                )
            if table not in tables:
                tables.append(table)
            mapping = contract.mapping
            reads = mapping is not None and (
                mapping.from_ in (None, port.port_name) or len(contract.ports.inputs) == 1
            )
            if mapping is not None and reads:
                columns = frozenset(mapping.source_of(f.name) for f in contract.fields)
            else:
                columns = frozenset(f.name for f in contract.fields)
            needs[table].append((contract.id, port.port_name, columns))
    if not tables:
        where = f" for database {database!r}" if database else ""
        raise ConfigError(f"{directory}: no contract has a CDC input port{where}")
    if len(domains) > 1:
        raise ConfigError(
            f"{directory}: contracts of several domains ({', '.join(sorted(domains))}); "
            "one capture serves one domain"
        )
    return CdcSources(domain=domains.pop(), tables=tuple(tables), needs=dict(needs))


def breaking(sources: CdcSources, change: SchemaChange) -> list[str]:
    """Messages for each contract whose CDC input port this schema change breaks."""
    messages = []
    for contract_id, port, columns in sources.needs.get(change.table, []):
        dropped = sorted(set(change.dropped) & columns)
        retyped = sorted(set(change.retyped) & columns)
        if dropped or retyped:
            what = "; ".join(
                part
                for part in (
                    f"dropped {', '.join(dropped)}" if dropped else "",
                    f"retyped {', '.join(retyped)}" if retyped else "",
                )
                if part
            )
            messages.append(
                f"schema change in {change.table} breaks contract {contract_id} (CDC input "
                f"port {port!r}): {what}; events still flow to the raw topic — update the "
                "contract's mapping or restore the column(s)"
            )
    return messages
