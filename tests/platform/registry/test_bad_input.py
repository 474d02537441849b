"""Bad input is answered 4xx with a message naming the problem, never 500."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.platform.registry.conftest import SMALL_LIMIT, Tokens, bearer
from tests.platform.registry.contracts import contract, publish_body


def _post(client: httpx.Client, tokens: Tokens, body: object) -> httpx.Response:
    return client.post("/v1/domains/orders/contracts", json=body, headers=bearer(tokens.admin))


def test_a_malformed_contract_is_422_with_file_line_and_field(
    client: httpx.Client, tokens: Tokens
) -> None:
    bad = contract("orders", "broken").replace("type: string", "type: strnig")
    r = _post(client, tokens, publish_body(bad))
    assert r.status_code == 422, r.text
    problem = next(p for p in r.json()["problems"] if p["field"] == "fields[0].type")
    assert problem["file"] == "contracts/c0.yaml"
    assert (problem["line"], problem["column"]) == (8, 22)
    assert problem["message"] == "unknown type 'strnig'"
    assert problem["hint"] == "did you mean 'string'?"


@pytest.mark.parametrize(
    "text",
    ["", "- a list\n", "domain: [unclosed\n", "a: &x [*x]\n", "\x00\x01", "domain: orders\n"],
    ids=["empty", "list", "unclosed", "alias", "binary", "incomplete"],
)
def test_contracts_that_are_not_contracts_are_422(
    client: httpx.Client, tokens: Tokens, text: str
) -> None:
    r = _post(client, tokens, {"contracts": [{"file": "x.yaml", "text": text}]})
    assert r.status_code == 422, r.text
    assert r.json()["problems"]


def test_a_contract_of_another_domain_is_422(client: httpx.Client, tokens: Tokens) -> None:
    r = _post(client, tokens, publish_body(contract("customers", "c")))
    assert r.status_code == 422
    assert "belongs to domain 'customers'" in r.json()["problems"][0]["message"]


def test_two_contracts_of_one_line_in_one_request_are_422(
    client: httpx.Client, tokens: Tokens
) -> None:
    r = _post(
        client, tokens, publish_body(contract("orders", "d"), contract("orders", "d", "1.1.0"))
    )
    assert r.status_code == 422
    assert "also published by" in r.json()["problems"][0]["message"]


@pytest.mark.parametrize(
    "body",
    [{}, {"contracts": []}, {"contracts": [{"file": "a"}]}, {"contracts": "x"}, [1, 2], None],
    ids=["empty", "no-contracts", "no-text", "not-a-list", "array", "null"],
)
def test_a_request_of_the_wrong_shape_is_422(
    client: httpx.Client, tokens: Tokens, body: object
) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        content=json.dumps(body).encode(),
        headers={**bearer(tokens.admin), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith("invalid request")


def test_invalid_json_is_422(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/domains/orders/contracts",
        content=b'{"contracts": [',
        headers={**bearer(tokens.admin), "Content-Type": "application/json"},
    )
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/domains/orders/contracts", "text/plain"),
        ("/v1/domains/orders/contracts", "application/yaml"),
        ("/v1/contracts", "application/json"),
        ("/v1/contracts", "application/x-www-form-urlencoded"),
    ],
)
def test_a_wrong_content_type_is_415(
    client: httpx.Client, tokens: Tokens, path: str, content_type: str
) -> None:
    r = client.post(
        path,
        content=contract("orders", "ct").encode(),
        headers={**bearer(tokens.admin), "Content-Type": content_type},
    )
    assert r.status_code == 415, r.text
    assert "content type" in r.json()["error"]


def test_an_oversized_body_is_413_declared_or_streamed(
    client: httpx.Client, tokens: Tokens
) -> None:
    big = publish_body(contract("orders", "big", description="x" * (SMALL_LIMIT + 10)))
    r = _post(client, tokens, big)
    assert r.status_code == 413, r.text
    assert str(SMALL_LIMIT) in r.json()["error"]

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(SMALL_LIMIT // 1000 + 2):
            yield b"x" * 1000

    r = client.post(
        "/v1/contracts",
        content=chunks(),
        headers={**bearer(tokens.admin), "Content-Type": "application/yaml"},
    )
    assert r.status_code == 413


def test_non_utf8_yaml_is_422(client: httpx.Client, tokens: Tokens) -> None:
    r = client.post(
        "/v1/contracts",
        content=b"domain: \xff\xfe\n",
        headers={**bearer(tokens.admin), "Content-Type": "application/yaml"},
    )
    assert r.status_code == 422
    assert "UTF-8" in r.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/products/orders.nothing.v1",
        "/v1/products/nothing",
        "/v1/products/a.b.c.d",
        "/v1/lineage/orders.nothing.v1",
        "/v1/domains/nothing",
    ],
)
def test_unknown_things_are_404(client: httpx.Client, tokens: Tokens, path: str) -> None:
    r = client.get(path, headers=bearer(tokens.consumer))
    assert r.status_code == 404
    assert "registered" in r.json()["error"]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1000", "offset=-1", "status=alive", "personal=maybe", "q=" + "x" * 201],
)
def test_bad_search_parameters_are_422(client: httpx.Client, tokens: Tokens, query: str) -> None:
    r = client.get(f"/v1/products?{query}", headers=bearer(tokens.consumer))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("query", ["depth=0", "depth=11", "direction=sideways"])
def test_bad_lineage_parameters_are_422(client: httpx.Client, tokens: Tokens, query: str) -> None:
    client.post(
        "/v1/domains/orders/contracts",
        json=publish_body(contract("orders", "lin")),
        headers=bearer(tokens.admin),
    )
    r = client.get(f"/v1/lineage/orders.lin.v1?{query}", headers=bearer(tokens.consumer))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("q", ["!!!", "'", "a & | b", "(((", "-", '"unterminated', "\\"])
def test_search_syntax_never_fails(client: httpx.Client, tokens: Tokens, q: str) -> None:
    r = client.get("/v1/products", params={"q": q}, headers=bearer(tokens.consumer))
    assert r.status_code == 200, r.text


def test_errors_do_not_echo_the_values_sent(client: httpx.Client, tokens: Tokens) -> None:
    secret = "jane.doe@example.com"
    r = _post(client, tokens, {"contracts": [{"file": "a", "text": 5}], "owners": secret})
    assert r.status_code == 422
    assert secret not in r.text
