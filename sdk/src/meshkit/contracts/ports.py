"""Input and output ports of a data product, and the one naming convention.

Every output port of a product is named by the product's **address**,
``<domain>.<product>.v<major>`` (e.g. ``customers.customer.v1``): the Kafka topic, the
search index and the serving view carry that name as is; the warehouse table lives in
dataset ``<domain>`` as table ``<product>_v<major>`` (warehouses forbid dots in table
names). A CDC input reads topic ``<domain>.cdc.<schema>.<table>``; a product input
reads the address of the product it names (``orders.order`` major 1 →
``orders.order.v1``). ``port.name_in(contract)`` returns these names.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from meshkit.contracts._base import ContractModel
from meshkit.contracts.quality import FieldPath
from meshkit.contracts.types import Duration

if TYPE_CHECKING:
    from meshkit.contracts.model import Contract

PortName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class CdcInput(ContractModel):
    """A table of a service database, captured by change data capture."""

    kind: Literal["cdc"] = Field(description="`cdc`: change events of a database table.")
    name: PortName | None = Field(
        default=None, description="A local name for the port (default: the table name)."
    )
    database: str = Field(min_length=1, description="The service database (e.g. `crm`).")
    db_schema: str = Field(
        default="public", alias="schema", min_length=1, description="The database schema."
    )
    table: str = Field(min_length=1, description="The table captured.")

    @property
    def port_name(self) -> str:
        """The local name mappings refer to."""
        return self.name or self.table

    def name_in(self, contract: Contract) -> str:
        """The CDC topic: ``<domain>.cdc.<schema>.<table>``."""
        return f"{contract.domain}.cdc.{self.db_schema}.{self.table}"


class ProductInput(ContractModel):
    """Another data product, read from its streaming port or warehouse table."""

    kind: Literal["product"] = Field(description="`product`: another data product.")
    name: PortName | None = Field(
        default=None, description="A local name (default: the product part of its id)."
    )
    product: str = Field(
        pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
        description="The product id, `<domain>.<product>` (e.g. `orders.order`).",
    )
    major: int = Field(
        ge=0, description="The major version read (the port name ends in `.v<major>`)."
    )

    @property
    def port_name(self) -> str:
        return self.name or self.product.split(".")[1]

    @property
    def address(self) -> str:
        """``<domain>.<product>.v<major>`` of the product read."""
        return f"{self.product}.v{self.major}"

    def name_in(self, contract: Contract) -> str:  # noqa: ARG002 - one signature for all ports
        return self.address


InputPort = Annotated[CdcInput | ProductInput, Field(discriminator="kind")]
"""One input port, chosen by its ``kind``."""


class _Output(ContractModel):
    description: str | None = Field(default=None, description="What consumers find here.")

    def name_in(self, contract: Contract) -> str:
        """The port's name: the product's address ``<domain>.<product>.v<major>``."""
        return contract.address


TopicFormat = Literal["json", "avro"]
"""How a product topic's message values are encoded."""


class KafkaTopic(_Output):
    """The streaming port: a Kafka topic named by the product's address."""

    kind: Literal["kafka_topic"] = Field(description="`kafka_topic`: the streaming port.")
    partitions: int = Field(default=3, ge=1, le=10_000, description="Number of partitions.")
    retention: Duration | None = Field(
        default=timedelta(days=7),
        description="How long messages are kept; null keeps them forever.",
    )
    compaction: bool = Field(
        default=False, description="Keep only the latest record per key (needs a key)."
    )
    key: tuple[FieldPath, ...] | None = Field(
        default=None,
        description=(
            "The message key fields: the primary key, the only key a topic supports "
            "(deletes are tombstones keyed by it and consumers read it as the primary "
            "key). Omit it, or name the primary key's fields in order."
        ),
    )
    format: TopicFormat = Field(
        default="json",
        description=(
            "Message values: `json`, or `avro` (schemaless binary of the contract's Avro "
            "schema, named by its fingerprint in the `meshkit-schema` header)."
        ),
    )


class Partitioning(ContractModel):
    """Time partitioning of a warehouse table."""

    field: FieldPath = Field(description="A date or timestamp field.")
    granularity: Literal["hour", "day", "month", "year"] = Field(
        default="day", description="The size of a partition."
    )


class WarehouseTable(_Output):
    """The batch port: a table in DuckDB (local) or BigQuery (production)."""

    kind: Literal["warehouse_table"] = Field(description="`warehouse_table`: the batch port.")
    partitioning: Partitioning | None = Field(default=None, description="Time partitioning.")
    clustering: tuple[FieldPath, ...] = Field(
        default=(), max_length=4, description="Up to four clustering fields, in order."
    )

    def dataset(self, contract: Contract) -> str:
        """The dataset (schema) of the table: the domain."""
        return contract.domain

    def table(self, contract: Contract) -> str:
        """The table name: ``<product>_v<major>``."""
        return f"{contract.name}_v{contract.major}"

    def name_in(self, contract: Contract) -> str:
        """``<domain>.<product>_v<major>`` (dataset.table)."""
        return f"{self.dataset(contract)}.{self.table(contract)}"


class SearchIndex(_Output):
    """A search index for customer-facing lookups."""

    kind: Literal["search_index"] = Field(description="`search_index`: full-text search.")
    searchable: tuple[FieldPath, ...] = Field(
        min_length=1, description="Fields indexed for full-text search."
    )


class ServingView(_Output):
    """An event-sourced view answering reads by key (e.g. a recommendation list per user)."""

    kind: Literal["serving_view"] = Field(description="`serving_view`: reads by key.")
    key: tuple[FieldPath, ...] | None = Field(
        default=None, description="The lookup key fields (default: the primary key)."
    )


OutputPort = Annotated[
    KafkaTopic | WarehouseTable | SearchIndex | ServingView, Field(discriminator="kind")
]
"""One output port, chosen by its ``kind``."""


class Ports(ContractModel):
    """Where the product's data comes from and where it is published."""

    inputs: tuple[InputPort, ...] = Field(default=(), description="Input ports.")
    outputs: tuple[OutputPort, ...] = Field(
        default=(), description="Output ports, at most one of each kind."
    )
