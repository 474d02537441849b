"""The BigQuery warehouse writer against the local BigQuery emulator.

Schema evolution is broken in the emulator (see docs/local-stack.md), so that one path is
covered by a unit test of the API calls it makes; everything else runs on the emulator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import bigquery

from meshkit.contracts import Contract
from meshkit.local.bigquery import emulator_job_retry, emulator_retry
from meshkit.ports import Change, RecordRefusedError, SchemaChangeError
from meshkit.ports.warehouse_bigquery import BigQueryWarehouseWriter
from meshkit.privacy import Masker
from meshkit.testing import BigQueryEndpoint
from tests.sdk.ports.helpers import (
    BAD_CASES,
    batch_with_bad_record,
    canon_state,
    expected,
    load,
    raw,
    workload,
)


@pytest.fixture
def client(bigquery_emulator: BigQueryEndpoint) -> Iterator[Any]:
    c = bigquery_emulator.client()
    yield c
    c.close()


def make_writer(client: Any, prefix: str, **kwargs: Any) -> BigQueryWarehouseWriter:
    return BigQueryWarehouseWriter(
        client, dataset_prefix=prefix, retry=emulator_retry(), job_retry=emulator_job_retry(),
        **kwargs,
    )  # fmt: skip


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def writer(client: Any, prefix: str, contract: Contract) -> BigQueryWarehouseWriter:
    w = make_writer(client, prefix)
    w.ensure(contract)
    return w


def rows(client: Any, table_id: str) -> dict[Any, dict[str, Any]]:
    result = client.query(f"SELECT * FROM `{table_id}`", job_retry=emulator_job_retry()).result(
        retry=emulator_retry()
    )
    return {r["customer_id"]: dict(r.items()) for r in result}


def test_create_table_with_partitioning_clustering_and_descriptions(
    writer: BigQueryWarehouseWriter, client: Any
) -> None:
    table = client.get_table(writer.table_id, retry=emulator_retry())
    assert table.time_partitioning.type_ == "DAY"
    assert table.time_partitioning.field == "updated_at"
    assert table.clustering_fields == ["tier"]
    fields = {f.name: f for f in table.schema}
    assert fields["customer_id"].mode == "REQUIRED"
    assert fields["customer_id"].description == "CRM id."
    assert fields["tags"].mode == "REPEATED"
    assert fields["address"].field_type in {"RECORD", "STRUCT"}
    assert fields["_meshkit_pos"].mode == "REQUIRED"
    assert "phone" in fields  # masked PII is stored (policy tags need a taxonomy)


def test_merge_upserts_deletes_and_replay(
    writer: BigQueryWarehouseWriter, client: Any, contract: Contract, masker: Masker
) -> None:
    """The micro-batches are staged and applied by one MERGE at the flush."""
    changes = workload(masker, 600, seed=4)
    batches = [changes[i : i + 200] for i in range(0, 600, 200)]
    for b in batches:
        assert writer.write(b).staged == 200
    assert rows(client, writer.table_id) == {}  # staged, not applied yet
    writer.flush()
    want = canon_state(contract, expected(changes))
    assert canon_state(contract, rows(client, writer.table_id)) == want
    assert writer.applied.written + writer.applied.skipped == 600
    written = writer.applied.written
    writer.write(batches[-1])  # replay of the last batch
    writer.flush()
    assert writer.applied.written == written
    assert canon_state(contract, rows(client, writer.table_id)) == want
    assert [t.table_id for t in client.list_tables(writer.table_id.rsplit(".", 1)[0])] == [
        "customer_v1"
    ]  # staging tables dropped


@pytest.mark.parametrize(("field", "value", "named", "message"), BAD_CASES[:3])
def test_bad_record_refused_and_nothing_written(
    writer: BigQueryWarehouseWriter, client: Any, masker: Masker,
    field: str, value: Any, named: str, message: str,
) -> None:  # fmt: skip
    with pytest.raises(RecordRefusedError) as err:
        writer.write(batch_with_bad_record(masker, field, value))
    assert err.value.field == named
    assert message in str(err.value)
    writer.flush()
    assert rows(client, writer.table_id) == {}


def test_append_mode_inserts_each_key_once(
    client: Any, prefix: str, contract: Contract, masker: Masker
) -> None:
    w = make_writer(client, prefix, mode="append")
    w.ensure(contract)
    batch = [
        Change.upsert(masker.mask_record(raw(i)), key=(f"c-{i:06d}",), position=i)
        for i in range(10)
    ]
    w.write(batch)
    w.flush()
    w.write(batch[5:])
    w.flush()
    assert len(rows(client, w.table_id)) == 10


class RecordingClient:
    """Stands in for BigQuery only where the emulator cannot (schema evolution)."""

    project = "p"

    def __init__(self, table: bigquery.Table) -> None:
        self.table = table
        self.calls: list[tuple[str, Any]] = []

    def create_dataset(self, dataset: Any, **kwargs: Any) -> None:
        self.calls.append(("create_dataset", dataset.dataset_id))

    def get_table(self, table_id: str, **kwargs: Any) -> bigquery.Table:
        self.calls.append(("get_table", table_id))
        return self.table

    def update_table(self, table: bigquery.Table, fields: list[str], **kwargs: Any) -> None:
        self.calls.append(
            ("update_table", (list(fields), [(f.name, f.mode) for f in table.schema]))
        )


def live_table(contract: Contract) -> bigquery.Table:
    """The table as BigQuery holds it after the writer created it from ``contract``."""
    from meshkit.contracts.exporters.bigquery import bigquery_schema

    schema = [
        bigquery.SchemaField.from_api_repr(f) for f in bigquery_schema(contract, taxonomy=None)
    ]
    schema.append(bigquery.SchemaField("_meshkit_pos", "INT64", mode="REQUIRED"))
    return bigquery.Table("p.shop.customer_v1", schema=schema)


def test_evolution_appends_fields_and_relaxes_modes_with_one_update_table_call(
    contract: Contract,
) -> None:
    fake = RecordingClient(live_table(contract))
    writer = BigQueryWarehouseWriter(fake)
    evolution = writer.ensure(load("customer_v1_1"))
    assert [c.name for c in evolution.add] == ["nickname"]
    assert [c.name for c in evolution.relax] == ["tier"]
    updates = [c for c in fake.calls if c[0] == "update_table"]
    assert len(updates) == 1
    fields, schema = updates[0][1]
    assert fields == ["schema"]
    assert schema[-1] == ("nickname", "NULLABLE")  # appended last, as BigQuery requires
    assert dict(schema)["tier"] == "NULLABLE"
    assert dict(schema)["customer_id"] == "REQUIRED"
    assert [n for n, _ in schema[:-1]] == [f.name for f in live_table(contract).schema]


def test_evolution_refuses_breaking_changes_without_calling_update(contract: Contract) -> None:
    fake = RecordingClient(live_table(contract))
    with pytest.raises(SchemaChangeError) as err:
        BigQueryWarehouseWriter(fake).ensure(load("customer_breaking"))
    assert "visits: type_changed, integer → string (breaking: readers decode another type); " in (
        str(err.value)
    )
    assert "column INT64 -> STRING" in str(err.value)
    assert not [c for c in fake.calls if c[0] == "update_table"]


def test_matching_table_needs_no_update(contract: Contract) -> None:
    fake = RecordingClient(live_table(contract))
    assert BigQueryWarehouseWriter(fake).ensure(contract).empty
    assert not [c for c in fake.calls if c[0] == "update_table"]


def test_the_stage_limit_applies_without_a_flush(
    client: Any, prefix: str, contract: Contract, masker: Masker
) -> None:
    """``stage_rows`` bounds the memory held: the write reaching it runs the MERGE."""
    w = make_writer(client, prefix, stage_rows=150)
    w.ensure(contract)
    changes = workload(masker, 200, seed=6)
    w.write(changes[:100])
    assert rows(client, w.table_id) == {}
    w.write(changes[100:])  # 200 staged >= 150: applied
    assert canon_state(contract, rows(client, w.table_id)) == canon_state(
        contract, expected(changes)
    )
    w.close()
