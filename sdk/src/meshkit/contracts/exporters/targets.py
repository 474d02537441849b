"""Export plug-ins for the port backends: BigQuery, DuckDB, Elasticsearch and Kafka.

Each wraps the generator the output-port writers use (``bigquery``, ``duckdb``,
``elasticsearch``, ``kafka`` in this package), so an exported schema and a provisioned
resource never disagree.
"""

from __future__ import annotations

from meshkit.contracts.exporters.base import Exporter, to_json
from meshkit.contracts.exporters.bigquery import bigquery_schema
from meshkit.contracts.exporters.duckdb import (
    column_sql,
    duckdb_columns,
    duckdb_table_name,
    quote,
    uncompressed_columns,
)
from meshkit.contracts.exporters.elasticsearch import elasticsearch_mapping
from meshkit.contracts.exporters.kafka import kafka_key_fields, kafka_topic_config
from meshkit.contracts.model import Contract


class BigQueryExporter(Exporter):
    """The table schema JSON ``bq mk --schema`` and the tables API take.

    Personal-data columns carry the policy tag ``{taxonomy}/policyTags/<category>``;
    provisioning substitutes the taxonomy.
    """

    name = "bigquery"
    description = "BigQuery table schema JSON, with policy-tag placeholders on PII columns"
    extension = ".json"

    def export(self, contract: Contract) -> str:
        return to_json(bigquery_schema(contract))


class DuckDbExporter(Exporter):
    """``CREATE SCHEMA`` and ``CREATE TABLE`` of the product's table, with its primary key.

    The primary key is declared when every key field is a top-level column that is
    published not null (a dropped, encrypted or nested key field cannot be one; a
    comment says so instead).
    """

    name = "duckdb"
    description = "DuckDB DDL: CREATE TABLE with PRIMARY KEY, DECIMAL, STRUCT and LIST types"
    extension = ".sql"

    def export(self, contract: Contract) -> str:
        schema, table = duckdb_table_name(contract)
        columns = duckdb_columns(contract)
        not_null = {name for name, _, nn in columns if nn}
        plain = uncompressed_columns(contract)
        lines = [f"  {column_sql(n, t, nn, uncompressed=n in plain)}" for n, t, nn in columns]
        note = ""
        if contract.primary_key:
            key = ", ".join(quote(k) for k in contract.primary_key)
            missing = [k for k in contract.primary_key if k not in not_null]
            if missing:
                note = (
                    f"-- primary key ({', '.join(contract.primary_key)}) not declared: "
                    f"{', '.join(missing)} is not a published NOT NULL column\n"
                )
            else:
                lines.append(f"  PRIMARY KEY ({key})")
        body = ",\n".join(lines)
        return (
            f"-- {contract.id} {contract.version}: the table of its warehouse port\n{note}"
            f"CREATE SCHEMA IF NOT EXISTS {quote(schema)};\n"
            f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table)} (\n{body}\n);\n"
        )


class ElasticsearchExporter(Exporter):
    """The body of ``PUT /<domain>.<product>.v<major>``: the index ``mappings``.

    Searchable text is ``text`` with a ``keyword`` sub-field, other text ``keyword``;
    personal data is indexed only as tokens (tokenized fields, as ``keyword``), every
    other PII field is left out.
    """

    name = "elasticsearch"
    description = "Elasticsearch index body: mappings (keyword/text, dates, numbers, PII rules)"
    extension = ".json"

    def export(self, contract: Contract) -> str:
        return to_json({"mappings": elasticsearch_mapping(contract)})


class KafkaExporter(Exporter):
    """The streaming port's topic: its name (``<domain>.<product>.v<major>``), partitions,
    topic config (``cleanup.policy``, ``retention.ms``) and the message key fields."""

    name = "kafka"
    description = "Kafka topic config: name, partitions, cleanup.policy, retention.ms"
    extension = ".json"

    def export(self, contract: Contract) -> str:
        return to_json({**kafka_topic_config(contract), "key": list(kafka_key_fields(contract))})
