"""Schemathesis against our own OpenAPI document, on SQLite and PostgreSQL.

Whatever it sends, as the authority and as a developer: no answer is a 5xx, and every
answer conforms to the document (its status code is listed, its media type and body match
the listed schema, its headers are the declared ones). A generated client can trust it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import auth
from api.app import create_app
from filing import api_keys
from filing.deployment import Deployment
from ledger.database import write_transaction
from tests.conftest import pg_schema_url

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
ROLES = (auth.Role.AUTHORITY, auth.Role.DEVELOPER)


# The document, from an app of its own (it depends on no data); each test's calls go to
# the live app of its database.
_data = Path(tempfile.mkdtemp(prefix="wangqian-schemathesis-doc-"))
_deployment = Deployment.open(_data)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_deployment, False))


@dataclass(frozen=True)
class Live:
    app: object
    keys: dict[auth.Role, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest) -> Iterator[Live]:
    """The real app over a fresh database of each kind, with a key per role."""
    data = Path(tempfile.mkdtemp(prefix="wangqian-schemathesis-"))
    urls = pg_schema_url() if request.param == "postgresql" else None
    url = f"sqlite:///{data / 'log.db'}" if urls is None else next(urls)
    patch = pytest.MonkeyPatch()
    patch.setenv("WANGQIAN_DATABASE_URL", url)
    deployment = Deployment.open(data / "deployment")
    app = create_app(deployment, run_sequencer=False)
    with write_transaction(deployment.log.engine) as conn:
        keys = {role: api_keys.create_key(conn, f"org-{role.value}", role) for role in auth.Role}
    try:
        yield Live(app, keys)
    finally:
        deployment.close()
        patch.undo()
        if urls is not None:
            next(urls, None)  # drops the schema
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _close() -> Iterator[None]:
    yield
    _deployment.close()
    shutil.rmtree(_data, ignore_errors=True)


# Derandomized: the same cases every run, so a failure is not luck; 10 each is ~2 min in all.
@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=10, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_responses_conform(case: schemathesis.Case, live: Live) -> None:
    for role in ROLES:
        headers = {**(case.headers or {}), "Authorization": f"Bearer {live.keys[role]}"}
        case.call_and_validate(headers=headers, checks=CHECKS, app=live.app)


@schemathesis.serializer(
    "application/pdf", "application/timestamp-query", "application/ocsp-request"
)
def _binary(ctx: object, value: object) -> bytes:
    """Bodies that are files: whatever was generated, as bytes."""
    return value if isinstance(value, bytes) else str(value).encode()
