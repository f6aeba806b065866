"""``wangqian audit``: tampering with the filing tables is caught, on SQLite and PostgreSQL.

Each attack here is one a person with database access could make, and ``wangqian log
audit`` passes every one of them (none touches the log). One deployment per database
holds an active filing with a change, a cancelled filing and a seized unit; each test
tampers inside a transaction, audits what that transaction sees, and rolls back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from api import auth
from filing import access_log, departments, history, registry, schema
from filing.audit import audit_records, check_records
from filing.deployment import Deployment, DeploymentConfig
from filing.eligibility import CHANGSHA_2017
from filing.service import AgreementKind, Departments, FilingRecord, FilingService
from filing.status import UnitEvent, UnitFlag
from filing.terms import contract_to_json
from ledger import schema as ledger_schema
from ledger.database import write_transaction
from signing.render import render
from signing.sample import sample_contract
from tests.conftest import pg_schema_url
from tests.test_filing_service import BUYER_ID, CODES, _contract, _inventory
from tests.test_filing_service import _sign_agreement as sign_agreement
from tests.test_filing_service import _sign_through as sign_through


@dataclass(frozen=True)
class City:
    deployment: Deployment
    service: FilingService
    active: FilingRecord  # with a change agreement
    cancelled: FilingRecord
    change: FilingRecord
    cancellation: FilingRecord  # the cancellation agreement's record

    @property
    def engine(self) -> Engine:
        return self.service.engine


def _service(d: Deployment) -> FilingService:
    engine = d.log.engine
    with write_transaction(engine) as conn:
        departments.load_csv(
            conn, "households", f"id_number,local,spouse,minor_children\n{BUYER_ID},1,,\n"
        )
        departments.load_csv(conn, "homes", f"id_number,district,homes\n{BUYER_ID},岳麓区,1\n")
    depts = Departments(
        departments.TableHouseholds(engine),
        departments.TablePayments(engine),
        departments.TableHomes(engine),
        # One buyer files two homes here; purchase limits have tests of their own.
        [dataclasses.replace(CHANGSHA_2017, version="test-many-homes", local_max_homes=100)],
    )
    return FilingService(d, depts)


def _build(data: Path, database_url: str) -> Iterator[City]:
    data.mkdir(parents=True)
    (data / "config.json").write_text(DeploymentConfig(database_url=database_url).to_json())
    d = Deployment.open(data)
    try:
        service = _service(d)
        with write_transaction(service.engine) as conn:
            registry.import_inventory(conn, _inventory(), "authority")
            registry.add_permit(
                conn, "长住建预许字（2026）第 0088 号", "长沙市住房和城乡建设局",
                dt.date(2026, 1, 1), None, CODES, "authority",
            )  # fmt: skip
            for code in CODES:
                registry.apply(conn, code, UnitEvent.RELEASE, "developer", "开盘")
        c = _contract(CODES[0], "HT-AUDIT-1")
        _, active = sign_through(service, c)
        assert isinstance(active, FilingRecord)
        proposed, _, _ = service.propose_agreement(
            active.number, AgreementKind.CHANGE, "交付日期顺延", "developer",
            "交付日期变更为 2028-12-31。",
        )  # fmt: skip
        change = sign_agreement(service, proposed)
        _, cancelled = sign_through(service, _contract(CODES[1], "HT-AUDIT-2"))
        assert isinstance(cancelled, FilingRecord)
        proposed, _, _ = service.propose_agreement(
            cancelled.number, AgreementKind.CANCELLATION, "双方协商解除", "developer"
        )
        cancellation = sign_agreement(service, proposed)
        with write_transaction(service.engine) as conn:
            registry.set_flag(conn, CODES[2], UnitFlag.SEIZED, True, "court", "(2026)湘0104执1号")
        history.anchor(service.engine, d.log)
        d.sequencer().step()
        yield City(d, service, active, cancelled, change, cancellation)
    finally:
        d.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[City]:
    data = tmp_path_factory.mktemp("audit") / "data"
    if request.param == "sqlite":
        yield from _build(data, "")
    else:
        for url in pg_schema_url():
            yield from _build(data, url)


@contextmanager
def tampered(city: City) -> Iterator[Connection]:
    """A transaction to tamper in; rolled back afterwards, triggers and all."""
    with city.engine.connect() as conn:
        tx = conn.begin()
        try:
            yield conn
        finally:
            tx.rollback()


def drop_guards(conn: Connection, table: str) -> None:
    """What someone with the rights to drop the append-only triggers does first."""
    if conn.dialect.name == "sqlite":
        for suffix in ("no_update", "no_delete", "no_replace"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
    else:
        for name in ("append_only", "no_truncate"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}")


def problems(conn: Connection, claim: str, city: City) -> list[str]:
    report = check_records(conn, city.deployment.bank_issuers())
    return [p for p in report.problems if p.startswith(f"[{claim}]")]


def _unit_id(conn: Connection, code: str) -> int:
    return int(
        conn.execute(select(schema.units.c.id).where(schema.units.c.code == code)).scalar_one()
    )


# -- the untouched deployment -----------------------------------------------------------


def test_an_untouched_deployment_audits_clean(city: City) -> None:
    report = audit_records(city.engine, city.deployment.bank_issuers())
    assert report.ok, report.problems
    assert (report.filings, report.cancellations, report.changes) == (2, 1, 1)
    # Two contracts and two agreements rendered.
    assert report.contracts_rendered == 4 and report.units == len(CODES)
    assert report.history is not None and report.history.anchors == 2
    assert report.history.unanchored == {"unit_events": 0, "filing_events": 0}


# -- state: every FILED, CANCELLED or CHANGED state is backed by the log ----------------


def test_a_faked_cancellation_is_caught(city: City) -> None:
    number, code = city.active.number, CODES[0]
    with tampered(city) as conn:
        conn.execute(
            update(schema.filings)
            .where(schema.filings.c.number == number)
            .values(status="CANCELLED")
        )
        conn.execute(
            update(schema.units)
            .where(schema.units.c.code == code)
            .values(status="AVAILABLE", reserved_for=None)
        )
        # Histories may be appended to: the forger adds the unit's "cancellation" too.
        conn.execute(
            insert(schema.unit_events).values(
                unit_id=_unit_id(conn, code), at=dt.datetime.now(dt.UTC), actor="authority",
                event="CANCEL_FILING", reason=f"{number} cancelled", from_status="FILED",
                to_status="AVAILABLE", flags=None,
            )
        )  # fmt: skip
        found = problems(conn, "state", city)
    assert f"[state] filing {number} is marked cancelled; the log never cancelled it" in found
    assert any(f"unit {code} is AVAILABLE, but the log holds it" in p for p in found), found


def test_a_faked_filing_of_a_free_unit_is_caught(city: City) -> None:
    code = CODES[1]  # its filing was cancelled: the unit is on the market again
    with tampered(city) as conn:
        conn.execute(update(schema.units).where(schema.units.c.code == code).values(status="FILED"))
        found = problems(conn, "state", city)
    assert f"[state] unit {code} is FILED, but the log has no active filing of it" in found
    assert any(f"unit {code} is FILED; its history last left it AVAILABLE" in p for p in found)


def test_a_quietly_lifted_seizure_is_caught(city: City) -> None:
    with tampered(city) as conn:
        conn.execute(update(schema.units).where(schema.units.c.code == CODES[2]).values(flags=""))
        found = problems(conn, "state", city)
    assert found == [f"[state] unit {CODES[2]} has flags ''; its history last set 'SEIZED'"]


# -- document: every stored sealed PDF hashes to its entry's doc ------------------------


def test_a_sealed_pdf_swapped_with_its_hash_is_caught(city: City) -> None:
    f = schema.filings
    with tampered(city) as conn:
        # Another genuine sealed contract, and its hash, put in place of this one.
        other = conn.execute(
            select(f.c.sealed_pdf).where(f.c.number == city.cancelled.number)
        ).scalar_one()
        conn.execute(
            update(f)
            .where(f.c.number == city.active.number)
            .values(sealed_pdf=other, doc_sha256=hashlib.sha256(other).hexdigest())
        )
        found = problems(conn, "document", city)
    assert len(found) == 1 and found[0].startswith(f"[document] {city.active.number}: the stored")


def test_a_swapped_change_agreement_is_caught_and_a_removed_one_too(city: City) -> None:
    ch = schema.filing_changes
    index = city.change.log_index
    forged = render(sample_contract("HT-FORGED")).pdf
    with tampered(city) as conn:
        drop_guards(conn, "filing_changes")
        conn.execute(
            update(ch)
            .where(ch.c.log_index == index)
            .values(sealed_pdf=forged, doc_sha256=hashlib.sha256(forged).hexdigest())
        )
        found = problems(conn, "document", city)
    assert any(p.startswith(f"[document] change {index} of {city.active.number}") for p in found)
    with tampered(city) as conn:
        drop_guards(conn, "filing_changes")
        conn.execute(ch.delete().where(ch.c.log_index == index))
        found = problems(conn, "entry", city)
    assert f"[entry] log entry {index} changes {city.active.number}: no change row has it" in found


def test_a_swapped_cancellation_document_or_agreement_is_caught(city: City) -> None:
    cd, c = schema.cancellation_documents, schema.contracts
    index = city.cancellation.log_index
    forged = render(sample_contract("HT-FORGED")).pdf
    with tampered(city) as conn:
        drop_guards(conn, "cancellation_documents")
        conn.execute(
            update(cd)
            .where(cd.c.log_index == index)
            .values(document=forged, doc_sha256=hashlib.sha256(forged).hexdigest())
        )
        found = problems(conn, "document", city)
    number = city.cancelled.number
    assert any(p.startswith(f"[document] cancellation {index} of {number}") for p in found)
    with tampered(city) as conn:
        drop_guards(conn, "cancellation_documents")
        conn.execute(cd.delete().where(cd.c.log_index == index))
        found = problems(conn, "entry", city)
    assert f"[entry] log entry {index} cancels {number}: no document row has it" in found
    # The agreement's own contract row: its sealed PDF swapped is no document the log holds.
    with tampered(city) as conn:
        conn.execute(
            update(c).where(c.c.id == city.cancellation.contract_id).values(current_pdf=forged)
        )
        found = problems(conn, "document", city)
    assert any(p.startswith("[document] agreement ") for p in found), found


def test_a_rewritten_agreement_is_caught(city: City) -> None:
    a = schema.filing_agreements
    with tampered(city) as conn:
        drop_guards(conn, "filing_agreements")
        conn.execute(
            update(a)
            .where(a.c.contract_id == city.change.contract_id)
            .values(terms="总价款变更为 1,000,000 元。")
        )
        found = problems(conn, "contract", city)
    assert any("what was agreed does not render to the draft" in p for p in found), found


# -- contract: the contract data is what was signed -------------------------------------


def _data(conn: Connection, number: str) -> tuple[str, dict[str, object]]:
    f, c = schema.filings, schema.contracts
    cid, text = conn.execute(
        select(c.c.id, c.c.data).join(f, f.c.contract_id == c.c.id).where(f.c.number == number)
    ).one()
    return str(cid), json.loads(text)


def test_a_changed_price_is_caught_however_far_the_forger_goes(city: City) -> None:
    c = schema.contracts
    number = city.active.number
    with tampered(city) as conn:
        cid, data = _data(conn, number)
        data["price"] = "1022720.00"  # was 1,422,720
        conn.execute(
            update(c).where(c.c.id == cid).values(data=json.dumps(data, ensure_ascii=False))
        )
        found = problems(conn, "contract", city)
    # The change agreement quotes the contract, so it no longer renders to its draft either.
    assert found == [
        f"[contract] {number}: the contract data does not render to the draft that was signed "
        "(changed since?)",
        f"[contract] agreement {number}-BG1: what was agreed does not render to the draft "
        "that was signed (changed since?)",
    ]
    with tampered(city) as conn:
        # Further: render the new terms and store them as the draft, with its hash.
        from filing.terms import contract_from_json

        cid, data = _data(conn, number)
        original = contract_from_json(json.dumps(data))
        cheaper = dataclasses.replace(original, price=Decimal("1022720.00"))
        pdf = render(cheaper).pdf
        conn.execute(
            update(c)
            .where(c.c.id == cid)
            .values(
                data=contract_to_json(cheaper),
                draft_pdf=pdf,
                draft_sha256=hashlib.sha256(pdf).hexdigest(),
            )
        )
        found = problems(conn, "contract", city)
    assert found == [
        f"[contract] {number}: the sealed PDF does not begin with the stored draft",
        f"[contract] agreement {number}-BG1: what was agreed does not render to the draft "
        "that was signed (changed since?)",
    ]


def test_a_changed_party_is_caught(city: City) -> None:
    c = schema.contracts
    number = city.active.number
    with tampered(city) as conn:
        cid, data = _data(conn, number)
        data["buyers"][0]["id_number"] = "430104199909099999"  # type: ignore[index]
        conn.execute(
            update(c).where(c.c.id == cid).values(data=json.dumps(data, ensure_ascii=False))
        )
        found = problems(conn, "contract", city)
    assert f"[contract] {number}: the contract's parties are not those the log entry names" in found


# -- entry: every filing log entry has its rows -----------------------------------------


def test_a_removed_filing_event_is_caught(city: City) -> None:
    fe = schema.filing_events
    index = city.cancelled.log_index
    with tampered(city) as conn:
        drop_guards(conn, "filing_events")
        conn.execute(fe.delete().where(fe.c.log_index == index))
        entry_problems = problems(conn, "entry", city)
        history_problems = problems(conn, "history", city)
    assert entry_problems == [
        f"[entry] log entry {index} (filed {city.cancelled.number}) has no filing_events row"
    ]
    assert len(history_problems) == 1 and "changed since anchored" in history_problems[0]


# -- history: unit_events and filing_events match their anchors in the log ---------------


@pytest.mark.parametrize("table", ["unit_events", "filing_events"])
def test_a_rewritten_history_row_is_caught(city: City, table: str) -> None:
    t = schema.metadata.tables[table]
    with tampered(city) as conn:
        drop_guards(conn, table)
        first = conn.execute(select(func.min(t.c.id))).scalar_one()
        conn.execute(update(t).where(t.c.id == first).values(actor="someone else"))
        found = problems(conn, "history", city)
    assert len(found) == 1, found
    assert (
        found[0].startswith(f"[history] {table} rows 1..") and "changed since anchored" in found[0]
    )


# -- append-only: REPLACE is a DELETE and an INSERT ---------------------------------------


def _append_only_tables() -> list[Table]:
    tables = [ledger_schema.metadata.tables[n] for n in ledger_schema.APPEND_ONLY_TABLES]
    tables += [schema.metadata.tables[n] for n in schema.APPEND_ONLY]
    return tables


def test_append_only_tables_refuse_replace_upsert_and_truncate(city: City) -> None:
    checked = []
    for table in _append_only_tables():
        with city.engine.connect() as conn:
            row = conn.execute(select(table).limit(1)).first()
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if row is None:
            continue
        values = dict(row._mapping)
        statements = []
        if city.engine.dialect.name == "sqlite":
            statements.append(insert(table).prefix_with("OR REPLACE").values(**values))
        else:
            keys = [c.name for c in table.primary_key.columns]
            statements.append(
                pg_insert(table)
                .values(**values)
                .on_conflict_do_update(
                    index_elements=keys, set_={keys[0]: pg_insert(table).excluded[keys[0]]}
                )
            )
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"), city.engine.begin() as conn:
                conn.execute(statement)
        if city.engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"), city.engine.begin() as conn:
                conn.exec_driver_sql(f"TRUNCATE {table.name} CASCADE")
        with city.engine.connect() as conn:
            after = conn.execute(select(func.count()).select_from(table)).scalar_one()
            assert dict(conn.execute(select(table).limit(1)).one()._mapping) == values
        assert after == count
        checked.append(table.name)
    assert {"log_leaves", "unit_events", "filing_events", "history_anchors"} <= set(checked)


# -- anchors: a row committed late is never skipped -------------------------------------


def _late_commit(
    engine: Engine,
    write: Callable[[Connection, str], None],
    anchor: Callable[[], object],
) -> tuple[bool, object]:
    """A row written in a transaction left open, a later row committed, then ``anchor``.

    Returns whether the anchor was still waiting half a second later, and its result
    once the open transaction committed.
    """
    made: list[object] = []
    anchoring = threading.Thread(target=lambda: made.append(anchor()))
    slow = engine.connect()
    tx = slow.begin()
    try:
        write(slow, "lower id, committed later")
        with engine.begin() as conn:
            write(conn, "higher id, committed first")
        anchoring.start()
        time.sleep(0.5)
        waited = anchoring.is_alive()
        tx.commit()
    finally:  # never leave the transaction open: the schema could not be dropped
        if tx.is_active:
            tx.rollback()
        slow.close()
    anchoring.join(timeout=10)
    assert made, "the anchor did not finish"
    return waited, made[0]


def test_an_anchor_waits_for_a_history_row_still_being_written(pg_url: str, tmp_path: Path) -> None:
    """On PostgreSQL ids are handed out before commit: a lower id may commit later."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(DeploymentConfig(database_url=pg_url).to_json())
    with Deployment.open(data) as d:
        service = _service(d)
        engine = service.engine
        with write_transaction(engine) as conn:
            registry.import_inventory(conn, _inventory(), "authority")
        history.anchor(engine, d.log)

        def event(conn: Connection, reason: str) -> None:
            conn.execute(
                insert(schema.unit_events).values(
                    unit_id=_unit_id(conn, CODES[0]), at=dt.datetime.now(dt.UTC), actor="a",
                    event="NOTE", reason=reason, from_status=None, to_status=None, flags=None,
                )
            )  # fmt: skip

        waited, anchor = _late_commit(
            engine, event, lambda: history.anchor_history(engine, "unit_events")
        )
        assert waited  # for the open transaction, instead of skipping its row
        assert isinstance(anchor, history.HistoryAnchor)
        assert anchor.to_id - anchor.from_id == 1  # both rows
        history.log_pending(engine, d.log)
        report = audit_records(engine, d.bank_issuers())
        assert report.ok, report.problems
        assert report.history is not None and report.history.unanchored["unit_events"] == 0


def test_an_anchor_gives_up_on_a_long_transaction_and_catches_up_later(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "LOCK_TIMEOUT", "300ms")
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(DeploymentConfig(database_url=pg_url).to_json())
    with Deployment.open(data) as d:
        service = _service(d)
        engine = service.engine
        with write_transaction(engine) as conn:
            registry.import_inventory(conn, _inventory(), "authority")
        slow = engine.connect()
        tx = slow.begin()
        try:
            registry.apply(slow, CODES[0], UnitEvent.RELEASE, "developer", "开盘")  # and waits
            started = time.monotonic()
            gave_up = history.anchor(engine, d.log)  # nothing logged: unit_events was busy
            took = time.monotonic() - started
            tx.commit()
        finally:
            if tx.is_active:
                tx.rollback()
            slow.close()
        assert gave_up == [] and took < 5
        logged = history.anchor(engine, d.log)
        assert [(x.anchor.history, x.anchor.from_id) for x in logged] == [("unit_events", 1)]
        report = audit_records(engine, d.bank_issuers())
        assert report.ok, report.problems
        assert report.history is not None and report.history.unanchored["unit_events"] == 0


def test_serve_anchors_the_histories_on_its_own_clock(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from api import app as app_module

    monkeypatch.setattr(app_module, "EXPIRY_INTERVAL", 0.2)
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(DeploymentConfig(database_url=db_url).to_json())
    with Deployment.open(data) as d:
        app = app_module.create_app(d)
        with write_transaction(d.log.engine) as conn:
            registry.import_inventory(conn, _inventory(), "authority")
        with TestClient(app):  # its lifespan runs the housekeeping loop
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                report = audit_records(d.log.engine, d.bank_issuers())
                if report.history is not None and report.history.anchors:
                    break
                time.sleep(0.1)
        assert report.ok, report.problems
        assert report.history is not None and report.history.anchors == 1
        assert report.history.unanchored == {"unit_events": 0, "filing_events": 0}


def test_the_access_log_anchor_waits_for_a_read_still_being_recorded(
    pg_url: str, tmp_path: Path
) -> None:
    """The access log has the same race as the histories: a lower id may commit later."""
    from filing import access_log as access_anchor

    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(DeploymentConfig(database_url=pg_url).to_json())
    with Deployment.open(data) as d:
        engine = _service(d).engine
        who = auth.Caller("银行", auth.Role.BANK)
        waited, anchor = _late_commit(
            engine,
            lambda conn, subject: access_log.record_access(conn, who, "read-filing", subject),
            lambda: access_anchor.anchor(engine, d.log),
        )
        assert waited
        assert isinstance(anchor, access_anchor.Anchor) and (anchor.from_id, anchor.to_id) == (1, 2)
        assert access_anchor.check(engine, d.log) == []
