"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import DemoOutput, run_demo, start_witnesses, stop

PG_BASE = os.environ.get("WANGQIAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        with create_engine(PG_BASE).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


PG_UP = _pg_available()


def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not PG_UP:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_BASE}")
        pytest.skip("PostgreSQL is not running")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.db'}"
    else:
        yield from pg_schema_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One SoftHSM2 token for the whole run (a PKCS#11 module initialises once per process)."""
    import shutil
    import subprocess

    from keys.pkcs11 import TokenConfig

    if not (shutil.which("softhsm2-util") and Path(SOFTHSM_MODULE).exists()):
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is not installed (scripts/system-deps.sh installs it)")
        pytest.skip("SoftHSM2 is not installed")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", "wangqian-test"),
            *("--pin", "1234", "--so-pin", "5678"),
        ],
        check=True,
        capture_output=True,
    )
    yield TokenConfig(SOFTHSM_MODULE, "wangqian-test", pin="1234")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoOutput]:
    """One ``wangqian demo`` run: a filed contract, and a second one filed then cancelled.

    Its two witnesses run on for the session, so that what tests append to its log is
    cosigned as the deployment's policy (2 of 2) requires.
    """
    output = run_demo(tmp_path_factory.mktemp("demo"))
    witnesses = start_witnesses(output.data)
    try:
        yield output
    finally:
        for proc in witnesses:
            stop(proc)
