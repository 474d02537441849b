"""The Prometheus metrics of meshkit's long-running processes (one registry per process).

Every metric is named ``meshkit_<area>_<what>`` and lives in ``prometheus_client``'s
default registry, so ``/metrics`` (:mod:`meshkit.observability.server`) also shows the
process's own figures (CPU, memory, open files). Labels carry names only (a product's
address, a port kind, a step, a topic and partition, a slot), never a value of a record.

Flows (:class:`meshkit.streaming.PortSink`, :class:`meshkit.streaming.KafkaBatchSource`)::

    meshkit_flow_received_total{product}              changes the sink received
    meshkit_flow_written_total{product}               changes every port wrote
    meshkit_flow_skipped_total{product}               changes the mapping's filter skipped
    meshkit_flow_dead_letters_total{product,step}     refused records, by step
                                                      (parse, validate, ..., port:<kind>)
    meshkit_port_written_total{product,port}          changes one port wrote
    meshkit_port_write_seconds{product,port}          histogram: one port write
    meshkit_port_flush_seconds{product,port}          histogram: one port flush
    meshkit_flow_consumer_lag{topic,partition}        messages between the log end and
                                                      the next offset the flow reads
    meshkit_lineage_events_total{outcome}             OpenLineage run events to the
                                                      registry: sent, dropped

CDC (:class:`meshkit.cdc.capture.Capture`)::

    meshkit_cdc_events_total{slot,topic}              change events produced to Kafka
    meshkit_cdc_acked_lsn{slot}                       the LSN acknowledged to the server
    meshkit_cdc_slot_retained_wal_bytes{slot}         WAL the slot keeps (from restart_lsn)
    meshkit_cdc_slot_confirmed_lag_bytes{slot}        current WAL position minus the
                                                      slot's confirmed flush LSN

The registry (``meshkit_platform.registry.api``)::

    meshkit_registry_requests_total{method,route,status}
    meshkit_registry_request_seconds{method,route}    histogram
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Port writes and flushes take from under a millisecond (a Kafka queue) to seconds (a
# BigQuery load): buckets from 1 ms to 30 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)  # fmt: skip

FLOW_RECEIVED = Counter("meshkit_flow_received", "Changes the flow's sink received.", ["product"])
FLOW_WRITTEN = Counter("meshkit_flow_written", "Changes written to every output port.", ["product"])
FLOW_SKIPPED = Counter("meshkit_flow_skipped", "Changes the mapping's filter skipped.", ["product"])
FLOW_DEAD_LETTERS = Counter(
    "meshkit_flow_dead_letters",
    "Records refused and dead-lettered, by the step that refused them (port:<kind> for "
    "a port writer).",
    ["product", "step"],
)
LINEAGE_EVENTS = Counter(
    "meshkit_lineage_events",
    "OpenLineage run events for the registry: sent, or dropped (buffer full, registry down "
    "or refusing).",
    ["outcome"],
)
PORT_WRITTEN = Counter(
    "meshkit_port_written", "Changes one output port wrote.", ["product", "port"]
)
PORT_WRITE_SECONDS = Histogram(
    "meshkit_port_write_seconds",
    "Time of one write of a batch to an output port.",
    ["product", "port"],
    buckets=LATENCY_BUCKETS,
)
PORT_FLUSH_SECONDS = Histogram(
    "meshkit_port_flush_seconds",
    "Time of one flush (confirmation) of an output port.",
    ["product", "port"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "meshkit_flow_consumer_lag",
    "Messages between the end of a partition and the next offset the flow reads.",
    ["topic", "partition"],
)

CDC_EVENTS = Counter(
    "meshkit_cdc_events", "Change events the capture produced to Kafka.", ["slot", "topic"]
)
CDC_ACKED_LSN = Gauge(
    "meshkit_cdc_acked_lsn", "The LSN the capture acknowledged to the server.", ["slot"]
)
CDC_RETAINED_WAL = Gauge(
    "meshkit_cdc_slot_retained_wal_bytes",
    "WAL the replication slot keeps on the server (current position minus restart_lsn).",
    ["slot"],
)
CDC_CONFIRMED_LAG = Gauge(
    "meshkit_cdc_slot_confirmed_lag_bytes",
    "Current WAL position minus the slot's confirmed flush LSN.",
    ["slot"],
)

REGISTRY_REQUESTS = Counter(
    "meshkit_registry_requests",
    "Requests the registry answered, by route template and status.",
    ["method", "route", "status"],
)
REGISTRY_SECONDS = Histogram(
    "meshkit_registry_request_seconds",
    "Time to answer one registry request.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
