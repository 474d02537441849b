"""A declarative flow writing BigQuery (the emulator) ends as the same flow writing DuckDB.

The warehouse is chosen by the domain's settings (``warehouse_kind``), not by code: the
flow below is built the same way twice, once with the DuckDB settings and once with the
BigQuery ones, over the same CDC topic with poison in it.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from bytewax.testing import run_main

from meshkit.clients import emulator_job_retry, emulator_retry
from meshkit.contracts import Contract
from meshkit.ports.search import document_id
from meshkit.privacy import LocalKeyStore, Masker
from meshkit.settings import load_settings
from meshkit.streaming import StreamingSettings, build_flow
from meshkit.testing import BigQueryEndpoint
from tests.sdk.streaming.flowkit import (
    OVERSIZED_LIMIT,
    customer_stream,
    expected_state,
    setup_input,
    unique_contract,
    warehouse_state,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]


def bigquery_state(endpoint: BigQueryEndpoint, prefix: str, contract: Contract) -> dict[str, Any]:
    client = endpoint.client()
    try:
        table = f"{endpoint.project}.{prefix}{contract.domain}.{contract.name}_v1"
        result = client.query(f"SELECT * FROM `{table}`", job_retry=emulator_job_retry())
        rows = [dict(r.items()) for r in result.result(retry=emulator_retry())]
    finally:
        client.close()
    for r in rows:
        r.pop("_meshkit_pos")
    return {r["customer_id"]: r for r in rows}


def _json(value: Any) -> str:
    if isinstance(value, Decimal):  # NUMERIC comes back with scale 9 from BigQuery
        return format(value.normalize(), "f")
    return str(value)


def canon(state: dict[str, Any]) -> dict[str, Any]:
    """Rows in their JSON form (each driver returns its own Python types for a column)."""
    return {
        str(k): orjson.loads(orjson.dumps(v, default=_json, option=orjson.OPT_SORT_KEYS))
        for k, v in state.items()
    }


def test_flow_writes_bigquery_with_the_final_state_of_duckdb(
    kafka_broker: str,
    bigquery_emulator: BigQueryEndpoint,
    keystore_dir: Path,
    tmp_path: Path,
) -> None:
    contract = unique_contract()
    stream = customer_stream(1500, customers=300, seed=7, poison=10)
    topic = setup_input(kafka_broker, contract, stream)
    flow = StreamingSettings(
        tail=False, batch_size=300, max_value_bytes=OVERSIZED_LIMIT, ports=("warehouse_table",)
    )
    base = {"kafka_brokers": kafka_broker, "privacy_state_dir": keystore_dir}
    duckdb = load_settings(environ={}, duckdb_path=tmp_path / "warehouse.duckdb", **base)
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    bigquery = load_settings(
        environ={"BIGQUERY_EMULATOR_HOST": bigquery_emulator.url.removeprefix("http://")},
        warehouse_kind="bigquery",
        bigquery_project=bigquery_emulator.project,
        bigquery_dataset_prefix=prefix,
        **base,
    )
    assert bigquery.warehouse_kind == "bigquery"

    run_main(build_flow(contract, flow, domain=duckdb))
    run_main(build_flow(contract, flow, domain=bigquery))

    with LocalKeyStore.open(keystore_dir) as store:
        expected = expected_state(contract, Masker.from_contract(contract, store=store), stream,
                                  topic)  # fmt: skip
    assert len(expected) > 100
    want = canon({document_id(k): v for k, v in expected.items()})
    on_duckdb = canon(warehouse_state(tmp_path / "warehouse.duckdb", contract))
    on_bigquery = canon(bigquery_state(bigquery_emulator, prefix, contract))
    assert on_duckdb == want
    assert on_bigquery == on_duckdb
