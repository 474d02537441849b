"""Every kind of change ``meshkit contract diff`` reports, and whether it breaks consumers.

A change is **breaking** when a consumer written against the old contract can fail or
silently misread data published under the new one, or loses something the old
contract promised (a field, a guarantee, access, protection of personal data). Each
kind has one fixed classification; ``docs/contracts-tools.md`` shows this table, and a
test keeps the two in sync.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChangeKind:
    """One kind of change: its name, whether it is breaking, and why."""

    name: str
    breaking: bool
    area: str
    why: str


def _k(name: str, breaking: bool, area: str, why: str) -> ChangeKind:
    return ChangeKind(name, breaking, area, why)


_KINDS: tuple[ChangeKind, ...] = (
    # identity
    _k("product_renamed", True, "identity", "the product id and every port name change"),
    _k("status_retired", True, "identity", "a retired product is no longer served"),
    _k("status_changed", False, "identity", "draft/active/deprecated: announces, removes nothing"),
    _k("sunset_changed", False, "identity", "a deprecation notice; retirement is the break"),
    _k("description_changed", False, "identity", "documentation only"),
    _k("tags_changed", False, "identity", "how the catalog finds the product; data unchanged"),
    _k("owner_changed", False, "identity", "who to contact; the data is unchanged"),
    _k("subject_changed", True, "privacy", "per-subject keys and erasure follow another field"),
    # schema
    _k("field_removed", True, "schema", "readers of the field fail"),
    _k("field_renamed", True, "schema", "readers of the old name fail"),
    _k("field_added_optional", False, "schema", "old readers ignore it; old data reads as null"),
    _k("field_added_required", True, "schema", "old data and old writers lack it"),
    _k("type_widened", False, "schema", "every old value is still a valid value of the new type"),
    _k("type_narrowed", True, "schema", "some old values no longer fit"),
    _k("type_changed", True, "schema", "readers decode another type"),
    _k("made_required", True, "schema", "old data holds nulls the new contract forbids"),
    _k("made_optional", False, "schema", "the schema accepts more; a widening of the field"),
    _k("field_description_changed", False, "schema", "documentation only"),
    _k("fields_reordered", False, "schema", "fields are read by name in every port"),
    # privacy
    _k("classification_raised", False, "privacy", "more protection"),
    _k("classification_lowered", True, "privacy", "lowers protection: needs a review"),
    _k("pii_declared", False, "privacy", "more protection (its transform is reported apart)"),
    _k("pii_category_changed", False, "privacy", "policy tag changes; the value is unchanged"),
    _k("pii_undeclared", True, "privacy", "lowers protection of personal data"),
    _k("transform_added", True, "privacy", "consumers receive transformed values"),
    _k("transform_removed", True, "privacy", "lowers protection; values change"),
    _k("transform_changed", True, "privacy", "values change (new tokens do not join old ones)"),
    _k(
        "field_subject_changed",
        True,
        "privacy",
        "per-subject keys and erasure follow another field",
    ),
    # keys
    _k("primary_key_changed", True, "keys", "record identity, upserts and joins change"),
    _k("event_time_added", False, "keys", "a new guarantee"),
    _k("event_time_changed", True, "keys", "windows and partitions of consumers move"),
    _k("event_time_removed", True, "keys", "consumers lose the event time"),
    # quality and SLOs
    _k("quality_rule_added", False, "quality", "a new guarantee"),
    _k("quality_rule_removed", True, "quality", "consumers lose a guarantee"),
    _k("quality_rule_tightened", False, "quality", "the guarantee gets stronger"),
    _k("quality_rule_loosened", True, "quality", "the guarantee gets weaker"),
    _k("quality_rule_changed", True, "quality", "the new rule may accept what the old refused"),
    _k("quality_rule_documented", False, "quality", "name or description only"),
    _k("slo_added", False, "slo", "a new objective"),
    _k("slo_tightened", False, "slo", "the objective gets stronger"),
    _k("slo_loosened", True, "slo", "the objective gets weaker or is dropped"),
    # ports
    _k("output_port_added", False, "ports", "a new way to read the product"),
    _k("output_port_removed", True, "ports", "its readers lose their source"),
    _k("output_port_documented", False, "ports", "documentation only"),
    _k("port_key_changed", True, "ports", "partitioning, compaction and lookups by key change"),
    _k("topic_partitions_changed", True, "ports", "per-key order breaks; Kafka cannot shrink"),
    _k("topic_retention_extended", False, "ports", "messages stay longer"),
    _k("topic_retention_shortened", True, "ports", "replays from older offsets fail"),
    _k("topic_compaction_changed", True, "ports", "the topic's history changes meaning"),
    _k("topic_format_changed", True, "ports", "consumers cannot decode the new values"),
    _k("table_partitioning_changed", True, "ports", "the table must be rebuilt; filters change"),
    _k("table_clustering_changed", False, "ports", "storage layout only"),
    _k("searchable_added", False, "ports", "more fields searchable"),
    _k("searchable_removed", True, "ports", "full-text queries on the field stop matching"),
    _k("input_ports_changed", False, "ports", "inside the domain; consumers do not see inputs"),
    _k("mapping_changed", False, "ports", "inside the domain; the published schema is diffed"),
    # access
    _k("visibility_restricted", True, "access", "teams of the mesh lose access"),
    _k("visibility_opened", False, "access", "more teams may request access"),
    _k("reader_removed", True, "access", "the group loses read access"),
    _k("reader_added", False, "access", "the group gains read access"),
)

KINDS: dict[str, ChangeKind] = {k.name: k for k in _KINDS}
"""Every change kind by name, in the order the documentation lists them."""
