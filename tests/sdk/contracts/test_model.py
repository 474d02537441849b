"""The contract model: what a valid contract gives, and what each semantic rule rejects."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import meshkit.contracts as contracts
from meshkit.contracts import Contract, DataType, TypeSyntaxError, parse_duration
from meshkit.contracts.types import format_duration

VALID = Path(__file__).parents[2] / "fixtures" / "contracts" / "valid"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((VALID / name).read_text(encoding="utf-8"))
    return data


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(dotted loc, message) of every error of ``data``."""
    with pytest.raises(ValidationError) as info:
        Contract.model_validate(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in info.value.errors()]


def test_public_names_resolve_and_are_sorted() -> None:
    assert contracts.__all__ == sorted(contracts.__all__)
    for name in contracts.__all__:
        assert getattr(contracts, name) is not None
    assert not [n for n in contracts.__all__ if n.startswith("_")]


def test_customer_contract_derives_names_from_one_convention() -> None:
    c = Contract.model_validate(load("customer.yaml"))
    assert (c.id, c.major, c.address) == ("customers.customer", 1, "customers.customer.v1")
    names = {p.kind: p.name_in(c) for p in c.ports.outputs}
    assert names == {
        "kafka_topic": "customers.customer.v1",
        "warehouse_table": "customers.customer_v1",
        "search_index": "customers.customer.v1",
        "serving_view": "customers.customer.v1",
    }
    assert c.ports.inputs[0].name_in(c) == "customers.cdc.public.customers"
    email = c.field("email")
    assert email is not None
    assert email.transform is not None
    assert email.transform.kind == "tokenize"
    city = c.field("address.city")
    assert city is not None
    assert city.type == DataType("string")
    name = c.field("full_name")
    assert name is not None
    assert c.subject_of(name) == "customer_id"
    assert c.mapping is not None
    assert c.mapping.source_of("email") == "email_address"
    assert c.mapping.source_of("tier") == "tier"


def test_order_contract_reads_another_product_by_major() -> None:
    c = Contract.model_validate(load("order.yaml"))
    assert [p.name_in(c) for p in c.ports.inputs] == [
        "orders.cdc.sales.orders",
        "customers.customer.v1",
    ]
    lines = c.field("lines")
    assert lines is not None
    assert str(lines.type) == "array<struct>"
    assert c.field("lines.unit_price") is not None


def test_dump_round_trips_through_yaml_text() -> None:
    c = Contract.model_validate(load("customer.yaml"))
    text = yaml.safe_dump(c.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
    again = Contract.model_validate(yaml.safe_load(text))
    assert again == c
    assert "max_age: 1h" in text
    assert "type: decimal(12,2)" in text


def mutate(name: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(load(name))
    data.update(changes)
    return data


def field_list(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "id", "type": "string", "required": True}, *extra]


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "domain": "d",
        "name": "p",
        "version": "1.0.0",
        "owner": {"team": "t", "contact": "t@example.com"},
        "fields": field_list(),
        "primary_key": ["id"],
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"fields": field_list({"name": "mail", "type": "string", "pii": "email"})},
            ("fields.1.pii", "field 'mail' holds personal data (email) but declares no transform"),
        ),
        (
            {
                "fields": field_list(
                    {
                        "name": "born",
                        "type": "string",
                        "pii": "date_of_birth",
                        "transform": {"kind": "generalize", "to": "month"},
                    }
                )
            },
            (
                "fields.1.transform",
                "transform generalize does not fit field 'born' (string): "
                "generalize to month applies to date and timestamp fields",
            ),
        ),
        (
            {
                "fields": field_list(
                    {"name": "n", "type": "string", "pii": "name", "transform": {"kind": "encrypt"}}
                )
            },
            (
                "fields.1.transform",
                "field 'n' is encrypted per data subject, but no subject is declared",
            ),
        ),
        (
            {"fields": field_list({"name": "id", "type": "integer"})},
            ("fields.1.name", "duplicate field name 'id'"),
        ),
        ({"primary_key": ["idd"]}, ("primary_key.0", "primary key refers to unknown field 'idd'")),
        (
            {"event_time": "id"},
            ("event_time", "event_time field 'id' is a string"),
        ),
        ({"status": "deprecated"}, ("status", "a deprecated product needs a sunset date")),
        (
            {"quality": [{"kind": "not_null", "field": "nope"}]},
            ("quality.0.field", "not_null refers to unknown field 'nope'"),
        ),
        (
            {"ports": {"outputs": [{"kind": "search_index", "searchable": ["title"]}]}},
            ("ports.outputs.0.searchable.0", "searchable refers to unknown field 'title'"),
        ),
        (
            {
                "mapping": {"fields": {"ident": "x"}},
                "ports": {"inputs": [{"kind": "cdc", "database": "db", "table": "t"}]},
            },
            ("mapping.fields.ident", "mapping of unknown field 'ident'"),
        ),
        (
            {
                "mapping": {"filter": "a = = 1"},
                "ports": {"inputs": [{"kind": "cdc", "database": "db", "table": "t"}]},
            },
            ("mapping.filter", "invalid filter: expected a column or a value, got '=' at column 5"),
        ),
        (
            {"fields": field_list({"name": "s", "type": "struct"})},
            ("fields.1.type", "field 's' is a struct but lists no members"),
        ),
    ],
)
def test_semantic_errors_name_the_offending_key(
    changes: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in errors(minimal(**changes))


def test_a_topic_is_keyed_by_the_primary_key_only() -> None:
    fields = field_list({"name": "b", "type": "string"})
    other = minimal(fields=fields, ports={"outputs": [{"kind": "kafka_topic", "key": ["b"]}]})
    ((loc, message),) = errors(other)
    assert loc == "ports.outputs.0.key"
    assert "the topic's key ['b'] is not the primary key ['id']" in message
    assert "tombstones" in message
    # naming the primary key, or no key at all, is a valid contract
    for ports in (
        {"outputs": [{"kind": "kafka_topic", "key": ["id"]}]},
        {"outputs": [{"kind": "kafka_topic"}]},
    ):
        Contract.model_validate(minimal(fields=fields, ports=ports))
    # a serving view's key is its lookup key: any fields
    view = minimal(fields=fields, ports={"outputs": [{"kind": "serving_view", "key": ["b"]}]})
    Contract.model_validate(view)


def test_all_semantic_problems_are_reported_at_once() -> None:
    found = errors(minimal(primary_key=["a", "b"], event_time="c"))
    assert [loc for loc, _ in found] == ["primary_key.0", "primary_key.1", "event_time"]


def test_type_grammar() -> None:
    assert DataType.parse("decimal( 12 , 2 )") == DataType("decimal", precision=12, scale=2)
    nested = DataType.parse("array<array<timestamp>>")
    assert str(nested) == "array<array<timestamp>>"
    assert nested.innermost.kind == "timestamp"
    for bad, message in [
        ("decimal(12", "unexpected end, expected ','"),
        ("decimal(2,3)", "decimal scale must not exceed its precision"),
        ("strin", "unknown type 'strin'"),
        ("array<string", "unexpected end, expected '>'"),
        ("string string", "unexpected 'string'"),
    ]:
        with pytest.raises(TypeSyntaxError, match=message):
            DataType.parse(bad)


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert format_duration(timedelta(days=14)) == "14d"
    assert format_duration(parse_duration("90s")) == "1m30s"
    for bad in ("1 hour", "0s", "h", "-1d"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
