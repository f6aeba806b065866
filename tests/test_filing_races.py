"""Races over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL: one unit, one winner."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from api import auth
from api.app import create_app
from api.demo import DEVELOPER_ID, _Server, sample_inventory
from filing import api_keys, schema
from filing.deployment import Deployment
from filing.entry import status_name
from ledger.database import write_transaction
from signing.sample import sample_contract
from tests.helpers import allow_many_homes
from tests.pki_helpers import sign_as_parties

BUYER = sample_contract().buyers[0]


@pytest.fixture
def server(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, dict[str, str], Deployment]]:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    allow_many_homes(tmp_path / "data")
    d = Deployment.open(tmp_path / "data")
    # One developer key sends every request of these races: 620 in well under a minute.
    d.save_config(dataclasses.replace(d.config, rate_per_minute=100_000))
    app = create_app(d)
    with write_transaction(d.log.engine) as conn:
        keys = {
            "authority": api_keys.create_key(conn, "住建局", auth.Role.AUTHORITY),
            "developer": api_keys.create_key(conn, DEVELOPER_ID, auth.Role.DEVELOPER),
        }
    with _Server(app) as base:
        _load_registry(base, keys)
        yield base, keys, d
    d.close()


def _load_registry(base: str, keys: dict[str, str]) -> None:
    """The sample 楼盘表 (120 units), a permit, the buyer's household, every unit released."""
    a = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['authority']}"})
    csv = {"content-type": "text/csv"}
    inventory = sample_inventory()  # 120 units
    assert (
        a.post(
            "/v1/registry/import",
            content=inventory.encode(),
            headers={**csv, "Idempotency-Key": "i"},
        ).status_code
        == 201
    )
    a.post(
        "/v1/departments/households",
        headers={**csv, "Idempotency-Key": "h"},
        content=f"id_number,local,spouse,minor_children\n{BUYER.id_number},1,,\n".encode(),
    )
    codes = [line.split(",")[6] for line in inventory.splitlines()[1:]]
    a.post(
        "/v1/registry/permits",
        headers={"Idempotency-Key": "p"},
        json={
            "number": "P-1",
            "authority": "住建局",
            "valid_from": "2026-01-01",
            "units": codes,
        },
    )
    dev = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['developer']}"})
    for code in codes:
        assert (
            dev.post(f"/v1/units/{code}/release", headers={"Idempotency-Key": code}).status_code
            == 200
        )


def _contract(code: str, number: str) -> dict[str, object]:
    s = sample_contract()
    return {
        "unit_code": code,
        "number": number,
        "buyers": [{"name": BUYER.name, "id_number": BUYER.id_number}],
        "price": "1000000",
        "payment_method": "LUMP_SUM",
        "escrow_bank": s.escrow.bank,
        "escrow_account_name": s.escrow.account_name,
        "escrow_account_number": s.escrow.account_number,
        "delivery_date": "2028-06-30",
        "dispute_body": s.dispute_body,
    }


def _at_once(n: int, fn: object) -> list[httpx.Response]:
    barrier = threading.Barrier(n)
    out: list[httpx.Response] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        r = fn(i)  # type: ignore[operator]
        with lock:
            out.append(r)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_fifty_clients_race_for_one_unit(server: tuple[str, dict[str, str], Deployment]) -> None:
    base, keys, d = server
    code = sample_inventory().splitlines()[1].split(",")[6]
    headers = {"Authorization": f"Bearer {keys['developer']}"}

    def draft(i: int) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            return c.post(
                "/v1/contracts",
                json=_contract(code, f"HT-RACE-{i}"),
                headers={"Idempotency-Key": f"d{i}"},
            )

    drafts = _at_once(50, draft)
    assert sorted(r.status_code for r in drafts) == [201] + [409] * 49, [
        r.text[:200] for r in drafts if r.status_code not in (201, 409)
    ]
    cid = next(r.json()["id"] for r in drafts if r.status_code == 201)

    # Signed elsewhere by both parties, then submitted by 50 clients at once.
    with httpx.Client(base_url=base, headers=headers) as c:
        pdf = c.get(f"/v1/contracts/{cid}/document").content
    pki = d.pki
    pdf = sign_as_parties(pki, pdf, sample_contract().seller.name, BUYER.name)

    def submit(i: int) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            return c.post(
                "/v1/filings",
                params={"contract_id": cid},
                content=pdf,
                headers={"Idempotency-Key": f"s{i}", "content-type": "application/pdf"},
            )

    submissions = _at_once(50, submit)
    assert sorted(r.status_code for r in submissions) == [201] + [409] * 49, [
        r.text[:200] for r in submissions if r.status_code not in (201, 409)
    ]
    assert all(
        r.headers["content-type"] == "application/problem+json"
        for r in submissions
        if r.status_code == 409
    )
    with d.log.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.filings)).scalar() == 1
    assert d.log.appended() == 1  # exactly one log entry


def test_many_drafts_on_many_units_never_double_reserve(
    server: tuple[str, dict[str, str], Deployment],
) -> None:
    base, keys, d = server
    codes = [line.split(",")[6] for line in sample_inventory().splitlines()[1:21]]
    headers = {"Authorization": f"Bearer {keys['developer']}"}

    def draft(i: int) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            return c.post(
                "/v1/contracts",
                json=_contract(codes[i % 20], f"HT-M-{i}"),
                headers={"Idempotency-Key": f"m{i}"},
            )

    results = _at_once(40, draft)
    assert sorted(r.status_code for r in results) == [201] * 20 + [409] * 20, sorted(
        {r.text[:160] for r in results if r.status_code != 201}
    )
    with d.log.engine.connect() as conn:
        per_unit = conn.execute(
            select(schema.contracts.c.unit_id, func.count()).group_by(schema.contracts.c.unit_id)
        ).all()
    assert len(per_unit) == 20 and all(n == 1 for _, n in per_unit)


@pytest.mark.slow
def test_two_hundred_filings_on_a_hundred_units_at_once(
    server: tuple[str, dict[str, str], Deployment], db_url: str
) -> None:
    """Two clients per unit draft at once, then both file the winner's contract at once."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the 200-filing race runs on PostgreSQL, the production database")
    base, keys, d = server
    codes = [line.split(",")[6] for line in sample_inventory().splitlines()[21:121]]
    assert len(codes) == 100
    headers = {"Authorization": f"Bearer {keys['developer']}"}

    def draft(i: int) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
            return c.post(
                "/v1/contracts",
                json=_contract(codes[i % 100], f"HT-H-{i}"),
                headers={"Idempotency-Key": f"h{i}"},
            )

    drafts = _at_once(200, draft)
    assert sorted(r.status_code for r in drafts) == [201] * 100 + [409] * 100
    winners = [r.json()["id"] for r in drafts if r.status_code == 201]
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        signed = [
            sign_as_parties(
                d.pki,
                c.get(f"/v1/contracts/{cid}/document").content,
                sample_contract().seller.name,
                BUYER.name,
            )
            for cid in winners
        ]

    def submit(i: int) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as c:
            return c.post(
                "/v1/filings",
                params={"contract_id": winners[i % 100]},
                content=signed[i % 100],
                headers={"Idempotency-Key": f"f{i}", "content-type": "application/pdf"},
            )

    filings = _at_once(200, submit)
    assert sorted(r.status_code for r in filings) == [201] * 100 + [409] * 100, sorted(
        {r.text[:160] for r in filings if r.status_code not in (201, 409)}
    )
    numbers = [r.json()["filing"] for r in filings if r.status_code == 201]
    assert len(set(numbers)) == 100
    with d.log.engine.connect() as conn:
        per_unit = conn.execute(
            select(schema.filings.c.unit_id, func.count()).group_by(schema.filings.c.unit_id)
        ).all()
        filed_units = conn.execute(
            select(func.count()).select_from(schema.units).where(schema.units.c.status == "FILED")
        ).scalar()
    assert len(per_unit) == 100 and all(n == 1 for _, n in per_unit)
    assert filed_units == 100
    # One log entry per filing, none twice. The server anchors its histories every minute,
    # so on a slow run anchor entries may be there too: they are no filing's.
    logged = [status_name(e) for e in d.log.entries(0, d.log.appended())]
    assert sorted(n for n in logged if n is not None) == sorted(numbers)


def test_two_worker_processes_file_on_postgresql_and_sqlite_is_refused(
    pg_url: str, tmp_path: Path
) -> None:
    import os

    from tests.helpers import free_port, stop, wait_http, wangqian

    env = {"WANGQIAN_DATABASE_URL": pg_url}
    os.environ["WANGQIAN_DATABASE_URL"] = pg_url
    try:
        allow_many_homes(tmp_path / "data")
        with Deployment.open(tmp_path / "data") as d:
            from api.app import filing_service

            filing_service(d)
            with write_transaction(d.log.engine) as conn:
                keys = {
                    "authority": api_keys.create_key(conn, "住建局", auth.Role.AUTHORITY),
                    "developer": api_keys.create_key(conn, DEVELOPER_ID, auth.Role.DEVELOPER),
                }
            pki = d.pki
            port = free_port()
            proc = wangqian(
                "serve", "--insecure-dev-passphrase", "--data", str(tmp_path / "data"),
                "--port", str(port), "--workers", "2",
                env=env,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            try:
                wait_http(base + "/log/vkey", proc, timeout=60)
                _load_registry(base, keys)
                codes = [line.split(",")[6] for line in sample_inventory().splitlines()[1:5]]
                headers = {"Authorization": f"Bearer {keys['developer']}"}
                signed = []
                with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
                    for i, code in enumerate(codes):
                        r = c.post(
                            "/v1/contracts",
                            json=_contract(code, f"HT-W-{i}"),
                            headers={"Idempotency-Key": f"w{i}"},
                        )
                        assert r.status_code == 201, r.text
                        cid = r.json()["id"]
                        pdf = c.get(f"/v1/contracts/{cid}/document").content
                        seller = sample_contract().seller.name
                        signed.append((cid, sign_as_parties(pki, pdf, seller, BUYER.name)))

                def submit(i: int) -> httpx.Response:
                    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
                        return c.post(
                            "/v1/filings",
                            params={"contract_id": signed[i][0]},
                            content=signed[i][1],
                            headers={"Idempotency-Key": f"f{i}", "content-type": "application/pdf"},
                        )

                answers = _at_once(4, submit)
                assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
                assert all(r.json()["receipt"] for r in answers)  # one process sequenced for all
                assert d.log.appended() == 4
            finally:
                stop(proc)
    finally:
        del os.environ["WANGQIAN_DATABASE_URL"]
    refused = wangqian(
        "serve", "--insecure-dev-passphrase", "--data", str(tmp_path / "lite"), "--workers", "2"
    )
    out, _ = refused.communicate(timeout=60)
    assert refused.returncode == 2 and "need PostgreSQL" in out
