"""demo-city's resales (存量房) and leases (租赁备案) on SQLite and PostgreSQL: resales filed,
funded, transferred or cancelled and refunded, leases filed, ended early, renewed or
expired, through the platform's own transactions; the statistics by kind, of leases and the
supervised money read over HTTP agree with the records, and the log audits clean."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from api import auth
from api.app import create_app
from api.demo import _Server
from api.demo_city import CitySize, _existing_homes, generate
from filing import api_keys, fund_schema, lease_records, lease_schema, ownership_records, schema
from filing.deployment import Deployment
from filing.entry import status_name
from filing.fund_service import FundService
from filing.history_import import HistoryImport
from filing.lease_drafting import LeaseTerms
from filing.ownership import ownership_of
from filing.platform import filing_service
from filing.service import NotSellable
from filing.status import FilingStatus, UnitStatus
from ledger.audit import audit
from ledger.database import write_transaction
from signing.contract import DisputeResolution, Party
from signing.lease import PaymentCycle

SMALL = CitySize(projects_per_district=1, buildings_per_project=1, floors=6)


def test_demo_city_resells_homes_with_supervised_funds(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    data = tmp_path / "data"
    made = generate(data, seed=7, size=SMALL)
    existing = 6 * SMALL.existing_floors * 2
    assert made["units"] == 6 * 6 * 3 + existing
    assert made["resales"] == int(existing * SMALL.resold_share)
    assert made["resales_cancelled"] >= 1 and made["transfers"] >= 1
    # Leases of the homes not resold: whole homes and rooms; ended, renewed and expired.
    assert made["leases"] >= (existing - made["resales"]) // 2
    for fate in ("leases_ended", "leases_renewed", "leases_expired"):
        assert made[fate] >= 1, (fate, made)

    with Deployment.open(data) as d:
        with d.log.engine.connect() as conn:
            f = schema.filings.c
            resales = conn.execute(
                select(f.number, f.status, f.registered_at, f.unit_id).where(f.kind == "resale")
            ).all()
            events = conn.execute(
                select(fund_schema.fund_events.c.filing_number, fund_schema.fund_events.c.kind)
            ).all()
            outbox = conn.execute(select(func.count()).select_from(schema.outbox)).scalar()
        assert len(resales) == made["resales"]
        assert (
            sum(r.status == FilingStatus.CANCELLED.value for r in resales)
            == (made["resales_cancelled"])
        )
        assert sum(r.registered_at is not None for r in resales) == made["transfers"]
        kinds = [e.kind for e in events]
        assert kinds.count("release") >= 1 and kinds.count("refund") >= 1
        # Each step its own log entry and outbox event: filings, cancellations, transfer
        # registrations, fund events, maintenance-fund deposits and debits, and the leases'
        # filings, early ends, renewals and expiries, nothing else.
        steps = (
            made["filings"] + made["cancellations"] + made["resales"]
            + made["resales_cancelled"] + made["transfers"] + made["fund_events"]
            + made["maintenance_deposits"] + made["maintenance_debits"]
            + made["leases"] + made["leases_ended"] + made["leases_renewed"]
            + made["leases_expired"]
        )  # fmt: skip
        assert len(events) == made["fund_events"]
        assert d.log.appended() == steps and outbox == steps
        report = audit(d.log, d.log_verifiers(), status_name)
        assert report.ok, report.problems

        # Every account as the rules left it: released only after the transfer, refunded
        # only after a cancellation, the rest held; the transferred homes have new owners.
        funds = FundService(d)
        balances = {"deposited": 0, "released": 0, "refunded": 0, "held": 0}
        with d.log.engine.connect() as conn:
            for r in resales:
                account = funds.account(r.number)
                state = account.state
                balances["deposited"] += state.deposited_fen
                if state.settled_by is None:
                    balances["held"] += state.balance_fen
                else:
                    settled = {"release": "released", "refund": "refunded"}
                    balances[settled[state.settled_by.value]] += state.settled_fen
                    expected = "release" if r.registered_at is not None else "refund"
                    assert state.settled_by.value == expected
                    assert state.balance_fen == 0
                unit = conn.execute(
                    select(schema.units.c.status).where(schema.units.c.id == r.unit_id)
                ).scalar()
                record = ownership_records.current(conn, r.unit_id)
                assert record is not None
                if r.registered_at is not None:
                    assert unit == UnitStatus.REGISTERED.value
                    assert record.filing_number == r.number  # the buyers own it now
                elif r.status == FilingStatus.CANCELLED.value:
                    assert unit == UnitStatus.REGISTERED.value
                    assert record.filing_number is None  # still the imported owners
                else:
                    assert unit == UnitStatus.UNDER_CONTRACT.value
        assert balances["released"] > 0 and balances["refunded"] > 0

        # Every lease as its steps left it; its home's owners and status untouched by it.
        with d.log.engine.connect() as conn:
            le = lease_schema.leases.c
            leases = conn.execute(
                select(f.status, le.space, le.end_reason, le.starts_on, le.ends_on, f.unit_id)
                .join(lease_schema.leases, le.filing_number == f.number)
                .where(f.kind == "lease")
            ).all()
            renewals = conn.execute(
                select(func.count())
                .select_from(schema.filing_changes)
                .join(schema.filings, f.number == schema.filing_changes.c.filing_number)
                .where(f.kind == "lease")
            ).scalar()
            statuses = {
                conn.execute(
                    select(schema.units.c.status).where(schema.units.c.id == x.unit_id)
                ).scalar()
                for x in leases
            }
        assert len(leases) == made["leases"]
        assert sum(x.end_reason == "agreement" for x in leases) == made["leases_ended"]
        assert sum(x.status == FilingStatus.CANCELLED.value for x in leases) == made["leases_ended"]
        assert sum(x.end_reason == "expired" for x in leases) == made["leases_expired"]
        assert sum(x.status == FilingStatus.ENDED.value for x in leases) == made["leases_expired"]
        assert renewals == made["leases_renewed"]
        assert any(x.space for x in leases) and any(not x.space for x in leases)  # rooms, homes
        assert statuses == {UnitStatus.REGISTERED.value}

        # The statistics and the supervised money, as the dashboard reads them.
        with write_transaction(d.log.engine) as conn:
            key = api_keys.create_key(conn, "长沙市住房和城乡建设局", auth.Role.AUTHORITY)
        with _Server(create_app(d)) as base:
            client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"})
            by_kind = {
                row["key"]: row
                for row in client.get("/v1/stats/filings", params={"by": "kind"}).json()
            }
            [total] = client.get("/v1/stats/funds").json()
            [resale_funds] = client.get("/v1/stats/funds", params={"by": "kind"}).json()
            [leased] = client.get(
                "/v1/stats/filings", params={"by": "all", "leases": "true"}
            ).json()
    assert by_kind["resale"]["filings"] == made["resales"]
    assert by_kind["resale"]["cancellations"] == made["resales_cancelled"]
    assert by_kind["new-presale"]["filings"] == made["filings"]
    assert by_kind["lease"]["filings"] == leased["filings"] == made["leases"]
    assert leased["cancellations"] == made["leases_ended"]  # expiry is no cancellation
    assert resale_funds["key"] == "resale" and resale_funds["accounts"] == len(
        {e.filing_number for e in events}
    )
    for figures in (total, resale_funds):
        fen = {k: int(Decimal(figures[k]) * 100) for k in balances}
        assert fen == balances
        assert fen["deposited"] == fen["released"] + fen["refunded"] + fen["held"]


def test_imported_leases_pass_the_lease_checks_as_of_their_day(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History goes through the live checks: a lease of a room overlapping the whole home's
    is refused, and one after the home's expires on its day is filed."""
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    with Deployment.open(tmp_path / "data") as d:
        history = HistoryImport(filing_service(d))
        [home, *_] = _existing_homes(SMALL)
        history.registry([home], "长沙市住房和城乡建设局", release=False)
        owner = ("王芳", "430102198001010021")
        history.owners(
            home["code"],
            ownership_of("湘（2010）长沙市不动产权第 1 号", [(owner[0], "居民身份证", owner[1])],
                         dt.date(2010, 1, 1)),
        )  # fmt: skip

        def lease(number: str, start: dt.date, days: int, space: str = "") -> LeaseTerms:
            return LeaseTerms(
                unit_code=home["code"],
                number=number,
                lessors=(Party("lessor", owner[0], "居民身份证", owner[1]),),
                enterprise=None,
                lessees=(Party("lessee", "李娜", "居民身份证", "430102199001010022"),),
                space=space,
                room_area=Decimal("20.00") if space else None,
                start=start,
                end=start + dt.timedelta(days=days - 1),
                rent=Decimal("2800"),
                cycle=PaymentCycle.MONTHLY,
                deposit=Decimal("2800"),
                purpose="居住",
                occupants=2,
                dispute=DisputeResolution.COURT,
                dispute_body="长沙市芙蓉区人民法院",
            )

        start = dt.date(2026, 1, 10)
        moment = dt.datetime(2026, 1, 10, 2, tzinfo=dt.UTC)
        with history.batch() as batch:
            number = batch.file(batch.compose_lease(lease("ZL-1", start, 90), moment), moment)
        room = lease("ZL-2", start + dt.timedelta(days=30), 90, space="主卧")
        later = moment + dt.timedelta(days=30)
        with pytest.raises(NotSellable) as refused, history.batch() as batch:
            batch.file(batch.compose_lease(room, later), later)
        assert [f.code for f in refused.value.failures] == ["LEASE_OVERLAPS"]
        expiry = moment + dt.timedelta(days=90)
        with history.batch() as batch:
            assert batch.expire(number, expiry) is not None
            after = lease("ZL-3", start + dt.timedelta(days=91), 90, space="主卧")
            batch.file(batch.compose_lease(after, expiry), expiry)
        with d.log.engine.connect() as conn:
            states = lease_records.leases_of_unit(
                conn, conn.execute(select(schema.units.c.id)).scalar_one()
            )
        assert [(s.space, s.end_reason) for s in states] == [("主卧", None), ("", "expired")]
