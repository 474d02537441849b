"""Run results go to the registry as OpenLineage events only (the registry's side is tested
in tests/platform/registry/test_lineage_emitter.py); a registry that is down fails nothing."""

from __future__ import annotations

import socket
from pathlib import Path

import dagster as dg
import pyarrow as pa
from openlineage.client.serde import Serde

from meshkit.batch import (
    RegistryReporter,
    local_resources,
    product_asset,
    product_checks,
    reporting,
)
from meshkit.contracts import Contract
from meshkit.lineage import Check, LineageJob
from meshkit.lineage import dataset as lineage_dataset
from tests.sdk.batch.conftest import customers_table


def _asset(contract: Contract) -> dg.AssetsDefinition:
    @product_asset(contract)
    def customer() -> pa.Table:
        return customers_table(3)

    return customer


def test_a_registry_that_is_down_fails_nothing_and_the_events_are_counted_as_dropped(
    customer_contract: Contract, warehouse: Path
) -> None:
    with socket.socket() as sock:  # a port nobody listens on: the registry is down
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    dead = RegistryReporter(url=url, timeout_seconds=1)
    resources = {**local_resources(duckdb_path=warehouse), "meshkit_registry": dead}
    asset = _asset(customer_contract)
    assert dg.materialize([asset, product_checks(asset)], resources=resources).success
    emitter = reporting._emitters[(url, None)]
    emitter.close(timeout=10)
    # the materialisation's START and COMPLETE, the checks' COMPLETE: none delivered
    assert (emitter.sent, emitter.dropped) == (0, 3)


def test_without_a_registry_nothing_is_sent() -> None:
    before = dict(reporting._emitters)
    reporter = RegistryReporter()
    reporter.run_events(LineageJob("a/b/v1", namespace="a"), rows=1)
    reporter.check_events(LineageJob("a/b/v1/checks", namespace="a"), [])
    assert not reporter.enabled
    assert reporting._emitters == before


def test_a_checks_event_carries_the_evaluated_checks_as_openlineage_assertions() -> None:
    job = LineageJob(
        "customers/customer/v1/checks",
        namespace="customers",
        inputs=[lineage_dataset("meshkit", "customers.customer.v1")],
    )
    checks = [Check("unique_customer_id", True), Check("regex_email", False, "warn"),
              Check("range_age", None)]  # fmt: skip
    wire = Serde.to_dict(job.event("COMPLETE", checks=checks))
    (dataset,) = wire["inputs"]
    assertions = dataset["inputFacets"]["dataQualityAssertions"]["assertions"]
    # the skipped check has no result, so it is no assertion; it is counted as skipped
    assert [(a["assertion"], a["success"], a["severity"]) for a in assertions] == [
        ("unique_customer_id", True, "error"),
        ("regex_email", False, "warn"),
    ]
    counts = wire["run"]["facets"]["meshkit_checks"]
    assert (counts["passed"], counts["failed"], counts["skipped"]) == (1, 1, 1)
    assert wire["outputs"] == []  # reading the product: no run of the product itself
