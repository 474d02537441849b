"""Exporters: a contract rendered as the schema of each port's backend.

One module per target, each a pure function of a ``Contract``:

- ``published``: the fields as they leave the domain (after privacy transforms), which
  every exporter below starts from;
- ``duckdb``: column types and ``CREATE TABLE`` DDL;
- ``bigquery``: the table schema JSON (with policy-tag placeholders on PII columns),
  partitioning and clustering;
- ``elasticsearch``: the index mapping;
- ``kafka``: the topic configuration.

The output-port writers (``meshkit.ports``) build their tables, indices and topics from
these, so the CLI's ``export`` and the writers never disagree.

``meshkit contract export`` reaches them as plug-ins: ``base`` holds the ``Exporter``
interface and the registry (lazy imports, entry-point group ``meshkit.exporters``);
``targets`` wraps the functions above; ``avro``, ``json_schema`` and ``odcs`` add
their formats.
"""
