"""Schemathesis against our own OpenAPI spec: whatever it sends, no answer is a 5xx."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api import auth
from api.app import create_app
from filing import api_keys
from filing.deployment import Deployment
from ledger.database import write_transaction

_data = Path(tempfile.mkdtemp(prefix="wangqian-schemathesis-"))
_deployment = Deployment.open(_data)
_app = create_app(_deployment, run_sequencer=False)
with write_transaction(_deployment.log.engine) as _conn:
    KEYS = {role: api_keys.create_key(_conn, f"org-{role.value}", role) for role in auth.Role}

schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schemathesis.serializer(
    "application/pdf", "application/timestamp-query", "application/ocsp-request"
)
def _binary(ctx: object, value: object) -> bytes:
    """Bodies that are files: whatever was generated, as bytes."""
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture(scope="module", autouse=True)
def _close() -> object:
    yield
    _deployment.close()
    shutil.rmtree(_data, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    # As the authority, so requests get past authentication into the handlers.
    headers = {**(case.headers or {}), "Authorization": f"Bearer {KEYS[auth.Role.AUTHORITY]}"}
    response = case.call(headers=headers)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    )
