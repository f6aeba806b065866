"""The OpenAPI document, completed from one place: errors, required headers, status codes.

FastAPI describes what the routes declare: their parameters, bodies and the bearer
security scheme (``api.auth``'s ``HTTPBearer``). What it cannot see is added here by rule,
so that no decorator lists its errors by hand:

- every error is an RFC 9457 problem (``#/components/schemas/Problem``,
  ``application/problem+json``), FastAPI's own 422 included (``api.problems`` answers it so);
- an operation with a key may answer 401 (no or unknown key), 403 (role) and 429 (rate);
- a path with parameters may answer 404; a body may be refused as too large (413) or as
  unparsable (400);
- a POST that takes an ``Idempotency-Key`` needs it (400 without) and may answer 409 (a
  repeat still running) and 422 (the key reused with another body); its header is required;
- a POST may clash with recorded data (409, ``api.problems``' ``ConstraintBroken``);
- ``EXTRA`` adds what only some operations answer (503, a second success code, ...);
- ``MEDIA`` gives the media types of answers that are not JSON;
- ``api.models.ANSWERS`` gives the typed schema of each JSON answer, and
  ``api.descriptions`` the description of each operation whose route gives none.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from api.descriptions import DESCRIPTIONS
from api.models import ANSWERS
from api.problems import MEDIA_TYPE, PROBLEM_BASE

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `type` is stable, `title` and `detail` are for "
    "people. Some problems add members (`errors`, `checks`, `decisions`, `retry_after`, ...).",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": f"{PROBLEM_BASE}<slug>, listed in docs/api.md",
        },
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}

REASONS = {
    400: "Malformed request: Idempotency-Key missing or too long, or an unparsable body",
    401: "No API key, or an unknown one (`unauthenticated`)",
    403: "Not allowed for the caller's role or organisation",
    404: "Unknown resource (or one the caller may not see)",
    409: "Conflicts with recorded data, or a repeat of a request still running",
    413: "Request body too large (`payload-too-large`)",
    422: "Invalid request or refused by a rule (`invalid-request` and others)",
    429: "Too many requests (`rate-limited`); see Retry-After",
    503: "A service the operation needs is unavailable; retry later",
}

# "METHOD path" -> further status codes the operation may answer (errors, or a second
# success code: the signature routes answer 200 until the last signature, then 201, or
# 503 when the platform's filing seal cannot be applied then).
_SIGNED = {200, 201, 503}
# An invitation's token refused (401 unknown, 403 elsewhere or locked, 410 used or expired);
# rate-limited per client address.
_INVITED = {401, 403, 410, 429}
_INVITATION = "/v1/invitations/{contract_id}/{field}"
EXTRA: dict[str, set[int]] = {
    f"GET {_INVITATION}": _INVITED,
    f"GET {_INVITATION}/pages/{{index}}": _INVITED,
    f"POST {_INVITATION}/identity": _INVITED,
    f"POST {_INVITATION}/start": _INVITED,
    f"POST {_INVITATION}/finish": _INVITED | _SIGNED,
    "POST /v1/contracts/{contract_id}/seal": _SIGNED,
    "POST /v1/contracts/{contract_id}/signatures": _SIGNED,
    "POST /v1/contracts/{contract_id}/remote-signing/{field}/finish": _SIGNED,
    # Bodies that name a unit answer 404 `unknown-unit` when the registry has none such.
    "POST /v1/contracts": {404},
    "POST /v1/resale-contracts": {404},
    "POST /v1/lease-contracts": {404},
    "POST /v1/maintenance/uses": {404},
    "POST /v1/filings": {404, 503},
    "POST /v1/verification": {400, 429},
    "GET /log/checkpoint": {404},
    "GET /log/proof/inclusion": {404},
    "GET /log/proof/consistency": {404},
    "GET /log/later-checkpoint": {404},
    "GET /log/tile/{path}": {400},
    "POST /tsa": {415},
    "POST /ocsp": {415},
    "GET /ocsp/{encoded}": {400},
}

_PDF = ("application/pdf",)
_PEM = ("application/pem-certificate-chain",)
_CSV = ("application/json", "text/csv")
# "METHOD path" -> the media types of its success answer, where not (only) JSON.
MEDIA: dict[str, tuple[str, ...]] = {
    "GET /log/tile/{path}": ("application/octet-stream",),
    "POST /tsa": ("application/timestamp-reply",),
    "POST /ocsp": ("application/ocsp-response",),
    "GET /ocsp/{encoded}": ("application/ocsp-response",),
    "GET /crl/{slug}.crl": ("application/pkix-crl",),
    "GET /pki/{slug}.crt": ("application/pkix-cert",),
    "GET /v1/contracts/{contract_id}/document": _PDF,
    "GET /v1/filings/{number}/document": _PDF,
    "GET /v1/filings/{number}/lease-certificate": _PDF,
    "GET /v1/filings/{number}/changes/{index}/document": _PDF,
    "GET /v1/filings/{number}/receipt": ("text/plain",),
    "POST /v1/contracts/{contract_id}/parties/{field}/certificate": _PEM,
    "POST /v1/banks/certificate": _PEM,
    "GET /v1/stats/filings": _CSV,
    "GET /v1/stats/stock": _CSV,
    "GET /v1/stats/funds": _CSV,
    "GET /v1/tax/filings": _CSV,
    "GET /v1/stats/charts/{chart}.svg": ("image/svg+xml",),
    "GET /v1/court/filings/{number}/evidence": ("application/zip",),
    "GET /v1/invitations/{contract_id}/{field}/pages/{index}": ("image/png",),
}
_TEXT = {"type": "string"}
_BINARY = {"type": "string", "format": "binary"}

_SUCCESS_JSON: dict[str, Any] = {
    "description": "Successful Response",
    "content": {"application/json": {}},
}


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": REASONS.get(status, "Refused"),
        "content": {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status == 429:  # api.ratelimit's answers always carry it
        response["headers"] = {
            "Retry-After": {
                "description": "seconds until the next window",
                "required": True,
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    return response


def _errors(method: str, path: str, op: dict[str, Any]) -> set[int]:
    codes: set[int] = set()
    params = op.get("parameters", [])
    if op.get("security"):
        codes |= {401, 403, 429}
    if "{" in path:
        codes.add(404)
    if params or "requestBody" in op:
        codes.add(422)
    if "requestBody" in op:
        codes.add(400)  # a body that cannot be parsed at all (FastAPI's own answer)
    if method == "post":
        codes |= {409, 413, 422}
    if any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in params):
        codes |= {400, 409, 422}
    return codes


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """Complete ``spec`` in place by the rules above (idempotent)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    refs = _answer_schemas(schemas)
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            for p in op.get("parameters", []):
                if p.get("in") == "header" and p.get("name") == "Idempotency-Key":
                    p["required"] = True
                    p["schema"] = {"type": "string", "minLength": 1, "maxLength": 200}
                    p["description"] = (
                        "Any unique string per request (a UUID); a repeat with the same key "
                        "and body gets the first answer, with another body 422."
                    )
            responses: dict[str, Any] = op.setdefault("responses", {})
            name = f"{method.upper()} {path}"
            if name in MEDIA:
                _set_media(responses, MEDIA[name])
            if name in refs:
                _set_schema(responses, refs[name])
            codes = _errors(method, path, op) | EXTRA.get(name, set())
            for code in sorted(codes):
                if code < 400:
                    ok = next((c for c in responses if c.startswith("2")), None)
                    if str(code) not in responses:
                        template = responses[ok] if ok is not None else _SUCCESS_JSON
                        content = {
                            m: {k: v for k, v in c.items() if k != "example"}
                            for m, c in template.get("content", {}).items()
                        }
                        responses[str(code)] = {
                            "description": "Signed; not yet filed"
                            if code == 200
                            else "The last signature: sealed and filed",
                            "content": content,
                        }
                    continue
                responses[str(code)] = _problem_response(code)
            op["responses"] = dict(sorted(responses.items()))
            if "description" not in op:
                op["description"] = _describe(op, DESCRIPTIONS.get(name, ""))
    return spec


def _answer_schemas(schemas: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The models of ``ANSWERS`` into ``schemas``; "METHOD path" -> its answer's schema."""
    models = sorted({model for model, _ in ANSWERS.values()}, key=lambda m: m.__name__)
    _, top = models_json_schema(
        [(m, "serialization") for m in models], ref_template="#/components/schemas/{model}"
    )
    schemas.update(top.get("$defs", {}))
    refs: dict[str, dict[str, Any]] = {}
    for name, (model, many) in ANSWERS.items():
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        refs[name] = {"type": "array", "items": ref} if many else ref
    return refs


def _set_schema(responses: dict[str, Any], schema: dict[str, Any]) -> None:
    """``schema`` for the JSON answer of every success code."""
    for code, response in responses.items():
        if code.startswith("2"):
            content = response.setdefault("content", {})
            content.setdefault("application/json", {})["schema"] = schema


def _set_media(responses: dict[str, Any], media: tuple[str, ...]) -> None:
    """The success answer in these media types (an example moves to the first)."""
    ok = next((c for c in responses if c.startswith("2")), None)
    if ok is None:
        return
    old: dict[str, Any] = responses[ok].get("content", {})
    example = next((v["example"] for v in old.values() if "example" in v), None)
    content: dict[str, Any] = {}
    for m in media:
        if m in old and m == "application/json":
            content[m] = old[m]
        else:
            content[m] = {"schema": _TEXT if m.startswith("text/") else _BINARY}
    if example is not None:
        content[media[0]]["example"] = example
    responses[ok]["content"] = content


def _describe(op: dict[str, Any], text: str) -> str:
    """``text`` (else the summary) and what the operation needs, where the route gave none."""
    lines = [text or op.get("summary", "")]
    lines.append(
        "Needs an API key (`Authorization: Bearer <key>`)."
        if op.get("security")
        else "Public: no API key."
    )
    if any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", [])):
        lines.append("Safe to retry with the same `Idempotency-Key`.")
    return " ".join(line for line in lines if line)
