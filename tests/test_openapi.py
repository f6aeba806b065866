"""The OpenAPI document a client generator reads: what it declares, and that it is true.

Static: the bearer scheme on every operation that needs a key (and on no public one),
``Idempotency-Key`` required where the server refuses a request without it, every error
a problem+json, every example valid against its schema. Live (SQLite and PostgreSQL): a
whole filing and the reads after it, each answer checked against the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest

from api.app import create_app
from filing.deployment import Deployment
from tests.test_filing_api import (
    CODES,
    Api,
    _post,
    _setup_registry,
    file_contract,
)
from tests.test_filing_api import api as api

PUBLIC = re.compile(
    r"^/(log|tsa|ocsp|crl|pki|verify|dashboard|progress|sign|v1/verification|v1/invitations)\b"
)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    deployment = Deployment.open(tmp_path_factory.mktemp("openapi"))
    try:
        yield create_app(deployment, run_sequencer=False).openapi()
    finally:
        deployment.close()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def test_bearer_scheme_on_every_operation_that_needs_a_key(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "API key",
            "description": schemes["apiKey"]["description"],
        }
    }
    for method, path, op in _operations(spec):
        secured = op.get("security") == [{"apiKey": []}]
        assert secured != bool(PUBLIC.match(path)), f"{method} {path}"
        # An invitation's routes have no key but a token, refused as 401 too.
        invited = path.startswith("/v1/invitations/")
        assert ("401" in op["responses"]) == (secured or invited), f"{method} {path}"


def test_idempotency_key_required_where_the_server_needs_it(spec: dict[str, Any]) -> None:
    # POSTs that change nothing recorded, or (webhooks) answer a secret only once.
    unkeyed = {"/tsa", "/ocsp", "/v1/verification", "/v1/webhooks"}
    for method, path, op in _operations(spec):
        keys = [p for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"]
        # An invitation's steps are authorised by its one-time token, not by a key whose
        # organisation could own idempotency records; the token's state makes them safe to
        # repeat (a repeated finish finds the invitation used: 410).
        invited = path.startswith("/v1/invitations/")
        if method != "POST" or path in unkeyed or path.endswith("/redeliver") or invited:
            assert keys == [], f"{method} {path}"
            continue
        assert len(keys) == 1 and keys[0]["in"] == "header", f"{method} {path}"
        assert keys[0]["required"] is True, f"{method} {path}"
        assert {"400", "409", "422"} <= set(op["responses"]), f"{method} {path}"


def test_errors_are_problems_and_answers_are_typed(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "Problem" in schemas
    untyped = []
    for method, path, op in _operations(spec):
        assert op.get("description"), f"{method} {path}"
        for code, response in op["responses"].items():
            content = response.get("content", {})
            if code.startswith(("4", "5")):
                assert ("headers" in response) == (code == "429"), f"{method} {path} {code}"
                assert content == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, f"{method} {path} {code}"
            elif "application/json" in content and not content["application/json"].get("schema"):
                untyped.append(f"{method} {path}")
    assert untyped == [], untyped
    assert "201" in spec["paths"]["/v1/filings/{number}/cancellation"]["post"]["responses"]
    finish = "/v1/contracts/{contract_id}/remote-signing/{field}/finish"
    assert {"200", "201"} <= set(spec["paths"][finish]["post"]["responses"])


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for({**schema, "components": spec["components"]})


def test_every_example_matches_its_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for method, path, op in _operations(spec):
        for code, response in op["responses"].items():
            media = response.get("content", {}).get("application/json", {})
            if "example" in media and media.get("schema"):
                errors = [
                    e.message
                    for e in _validator(spec, media["schema"]).iter_errors(media["example"])
                ]
                assert errors == [], f"{method} {path} {code}: {errors}"
                checked += 1
    assert checked >= 40


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, ops in spec["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            return dict(ops[method.lower()])
    raise AssertionError(f"{method} {path} is not in the document")


def conforms(spec: dict[str, Any], response: httpx.Response) -> None:
    """The answer's status, media type and body are the ones the document lists."""
    request = response.request
    op = _operation(spec, request.method, request.url.path)
    name = f"{request.method} {request.url.path} → {response.status_code}"
    assert str(response.status_code) in op["responses"], name
    content = op["responses"][str(response.status_code)].get("content", {})
    media = response.headers.get("content-type", "").split(";")[0].strip()
    assert media in content, f"{name}: {media} not in {list(content)}"
    schema = content[media].get("schema")
    if media.endswith("json") and schema:
        errors = [e.message for e in _validator(spec, schema).iter_errors(response.json())]
        assert errors == [], f"{name}: {errors}"


def test_a_filing_answers_as_documented(api: Api, spec: dict[str, Any]) -> None:
    client, keys, _ = api
    seen: list[httpx.Response] = []

    def record(response: httpx.Response) -> None:
        response.read()
        seen.append(response)

    client.event_hooks = {"request": [], "response": [record]}
    _setup_registry(client, keys)
    cid, number = file_contract(client, keys)
    authority, dev = keys["authority"], keys["developer"]
    for path in (
        f"/v1/contracts/{cid}",
        f"/v1/filings/{number}",
        f"/v1/filings/{number}/changes",
        f"/v1/units/{CODES[0]}",
        "/v1/units",
        f"/v1/units/{CODES[0]}/measurements",
        "/v1/stats/filings",
        "/v1/stats/stock",
        "/v1/stats/funds",
        "/v1/stats/filings?format=csv",
        f"/v1/filings/{number}/funds",
        f"/v1/loans/filings/{number}",
        "/v1/tax/filings",
        "/v1/webhooks",
        f"/v1/filings/{number}/receipt",
        f"/v1/filings/{number}/document",
        "/log/checkpoint",
    ):
        client.get(path, headers=authority)
    client.get("/v1/units")  # 401
    client.get(f"/v1/contracts/{cid}", headers=keys["other"])  # another developer's
    _post(client, f"/v1/units/{CODES[1]}/release", dev)  # 409: released before
    client.post(f"/v1/contracts/{cid}/withdraw", headers=dev)  # 400: no Idempotency-Key
    codes = {r.status_code for r in seen}
    assert {200, 201, 400, 401, 409} <= codes, codes
    for response in seen:
        conforms(spec, response)


def test_a_value_the_database_cannot_store_is_a_problem_not_a_500(api: Api) -> None:
    # Schemathesis found it on PostgreSQL: a NUL character in text was a DataError, a 500.
    client, keys, deployment = api
    _setup_registry(client, keys)
    permit = {
        "number": "长住建预许字\x00",
        "authority": "长沙市住房和城乡建设局",
        "valid_from": "2026-01-01",
        "units": [CODES[0]],
    }
    r = _post(client, "/v1/registry/permits", keys["authority"], json=permit)
    if deployment.log.engine.dialect.name == "postgresql":
        assert r.status_code == 422, r.text  # type: ignore[attr-defined]
        assert r.json()["type"].endswith("/invalid-value")  # type: ignore[attr-defined]
    else:  # SQLite stores it
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]


def test_an_unknown_unit_in_a_body_answers_a_documented_404(api: Api, spec: dict[str, Any]) -> None:
    # Schemathesis met it in CI: POST /v1/maintenance/uses naming no unit of the registry
    # answered 404 `unknown-unit`, a status its operation did not list. Every operation
    # whose body (not path) names a unit says so.
    from tests.test_lease_pipeline import lease_body
    from tests.test_resale_pipeline import resale_body, setup_resale

    client, keys, deployment = api
    setup_resale(client, keys, deployment)
    seen: list[httpx.Response] = []

    def record(response: httpx.Response) -> None:
        response.read()
        seen.append(response)

    client.event_hooks = {"request": [], "response": [record]}
    nowhere = "430104009009GB00009F00090909"
    use = {"number": "WX-1", "approval": "决议 1", "debits": [{"unit": nowhere, "amount_fen": 1}]}
    _post(client, "/v1/maintenance/uses", keys["authority"], json=use)
    _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body(code=nowhere))
    lease = {**lease_body(), "unit_code": nowhere}
    _post(client, "/v1/lease-contracts", keys["zhang"], json=lease)
    assert [r.status_code for r in seen] == [404, 404, 404], [r.text for r in seen]
    for response in seen:
        assert response.json()["type"].endswith("/unknown-unit")
        conforms(spec, response)
