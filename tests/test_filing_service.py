"""Signing equals filing, on SQLite and PostgreSQL: the whole path, its refusals, and its races."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from filing import departments, registry, schema
from filing.clock import FixedClock
from filing.deployment import Deployment
from filing.eligibility import CHANGSHA_2017
from filing.entry import EntryEvent, FilingEntry
from filing.service import (
    AgreementKind,
    ContractStateError,
    Departments,
    FilingService,
    NotEligible,
    NotSellable,
    SealUnavailable,
    SignatureRejected,
    UnitTaken,
)
from filing.status import UnitFlag, UnitStatus
from keys.identity import VerifiedIdentity
from keys.pki import Profile, name, new_key
from keys.signers import key_signer
from ledger.database import write_transaction
from signing import pades, remote
from signing.sample import sample_contract
from tests.helpers import judgment_pdf
from tests.pki_helpers import make_pki, sign_as_parties
from verifier.receipt import verify_receipt
from verifier.signatures import assess
from verifier.trust import TrustBundle

DEVELOPER_ID = "91430100MA4L000000"
CODES = [f"430104001001GB00001F0001{n:04d}" for n in (203, 204, 205)]
BUYER_ID = "430102199001011234"


def _inventory() -> list[dict[str, str]]:
    return [
        {"project": "湘江示范花园", "district": "岳麓区", "address": "长沙市岳麓区示范路 1 号",
         "developer": "湘江示范置业有限公司", "developer_id": DEVELOPER_ID, "building": "2 栋",
         "code": code, "floor": "12", "room": f"12{n:02d}", "use": "住宅",
         "forecast_building": "118.56", "forecast_inner": "96.30", "forecast_shared": "22.26"}
        for n, code in enumerate(CODES, start=3)
    ]  # fmt: skip


@pytest.fixture
def service(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FilingService]:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    d = Deployment.open(tmp_path / "data")
    engine = d.log.engine
    with write_transaction(engine) as conn:
        departments.load_csv(
            conn,
            "households",
            f"id_number,local,spouse,minor_children\n{BUYER_ID},1,,\n430104199202022345,0,,\n",
        )
        departments.load_csv(
            conn,
            "payments",
            "id_number,consecutive_months,as_of\n"
            f"430104199202022345,3,{dt.date.today().isoformat()}\n",
        )
        departments.load_csv(conn, "homes", f"id_number,district,homes\n{BUYER_ID},岳麓区,1\n")
    depts = Departments(
        departments.TableHouseholds(engine),
        departments.TablePayments(engine),
        departments.TableHomes(engine),
        # Tests here draft several units for one buyer; purchase limits are tested elsewhere.
        [dataclasses.replace(CHANGSHA_2017, version="test-many-homes", local_max_homes=100)],
    )
    svc = FilingService(d, depts)
    with write_transaction(engine) as conn:
        registry.import_inventory(conn, _inventory(), "authority")
        registry.add_permit(
            conn,
            "长住建预许字（2026）第 0088 号",
            "长沙市住房和城乡建设局",
            dt.date(2026, 1, 1),
            None,
            CODES,
            "authority",
        )
        for code in CODES:
            registry.apply(conn, code, registry.UnitEvent.RELEASE, "developer", "开盘")
    yield svc
    d.close()


def _contract(code: str = CODES[0], number: str = "HT-2026-000001", buyer: int = 0) -> object:
    c = sample_contract(number)
    b = sample_contract(buyers=2).buyers[buyer]
    return dataclasses.replace(c, unit=dataclasses.replace(c.unit, code=code), buyers=(b,))


def _identity(c: object) -> VerifiedIdentity:
    b = c.buyers[0]  # type: ignore[attr-defined]
    return VerifiedIdentity(b.name, b.id_type, b.id_number, "test", dt.datetime.now(dt.UTC))


def _unit_status(svc: FilingService, code: str) -> UnitStatus:
    with svc.engine.connect() as conn:
        return registry.unit(conn, code).status


def _count(svc: FilingService, table: object) -> int:
    with svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


def _sign_through(svc: FilingService, contract: object) -> tuple[str, object]:
    cid, _ = svc.draft(contract, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    assert svc.seal_as_developer(cid, "developer") is None  # the buyer has not signed yet
    key = new_key()
    digest = svc.start_remote_signing(
        cid, "buyer-1", _identity(contract), key.public_key(), BUYER_ID
    )
    record = svc.finish_remote_signing(cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID)
    return cid, record


def _sign_agreement(svc: FilingService, agreement_id: str) -> Any:
    """The developer's seal, then the buyer on the phone, on a proposed agreement."""
    assert svc.seal_as_developer(agreement_id, "developer") is None
    key = new_key()
    c = _contract()
    digest = svc.start_remote_signing(
        agreement_id, "buyer-1", _identity(c), key.public_key(), BUYER_ID
    )
    record = svc.finish_remote_signing(
        agreement_id, "buyer-1", remote.device_sign(key, digest), BUYER_ID
    )
    assert record is not None
    return record


def _awaiting_buyer(svc: FilingService) -> tuple[str, ec.EllipticCurvePrivateKey, bytes]:
    """A draft sealed by the developer whose buyer's phone holds the digest to sign."""
    c = _contract()
    cid, _ = svc.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    svc.seal_as_developer(cid, "developer")
    key = new_key()
    digest = svc.start_remote_signing(cid, "buyer-1", _identity(c), key.public_key(), BUYER_ID)
    return cid, key, digest


def test_the_last_signature_files_the_contract(service: FilingService) -> None:
    c = _contract()
    _, record = _sign_through(service, c)
    assert record is not None and record.number.startswith("CS-")
    assert _unit_status(service, CODES[0]) is UnitStatus.FILED
    filing = service.filing(record.number)
    sealed = filing["sealed_pdf"]
    assert hashlib.sha256(sealed).hexdigest() == record.doc_sha256
    # What any court's verifier sees: the embedded validation data, nothing else.
    judged = assess(sealed, service.d.verifier_trust())
    assert [r.field for r in judged.signatures] == ["seller", "buyer-1", "filing-seal"]
    assert judged.passed, judged.problems()
    # The log entry: canonical, no personal data, the sealed document's hash.
    entry_bytes = service.d.log.entry(record.log_index)
    entry = FilingEntry.decode(entry_bytes)
    assert entry.event is EntryEvent.FILED and entry.doc_sha256 == record.doc_sha256
    assert BUYER_ID.encode() not in entry_bytes and "王小明".encode() not in entry_bytes
    cp = service.d.sequencer().step()
    assert cp is not None
    verify_receipt(
        service.d.log.receipt(record.log_index, cp),
        TrustBundle.from_json(json.dumps(service.d.trust_bundle())),
    )
    # Its history is on record.
    with service.engine.connect() as conn:
        events = [e["event"] for e in registry.history(conn, CODES[0])]
    assert events == ["IMPORT", "PERMIT", "RELEASE", "RESERVE", "FILE"]


def test_the_service_files_at_its_clocks_time(service: FilingService) -> None:
    """One injectable clock: the filing, its log entry and its history carry its time."""
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
    service.clock = FixedClock(at)
    _, record = _sign_through(service, _contract())
    assert record is not None and record.filed_at == at
    filing = service.filing(record.number)
    assert filing["filed_at"].replace(tzinfo=dt.UTC) == at
    assert FilingEntry.decode(service.d.log.entry(record.log_index)).at == at
    assert record.number.startswith(f"CS-{at.year}-")


def test_refusals_write_nothing(service: FilingService) -> None:
    before = (_count(service, schema.contracts), _unit_status(service, CODES[1]))
    with pytest.raises(NotEligible, match="NON_LOCAL_PAYMENT_MONTHS"):
        service.draft(_contract(CODES[1], buyer=1), DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    with write_transaction(service.engine) as conn:
        registry.set_flag(conn, CODES[2], UnitFlag.SEIZED, True, "court", "(2026)湘0104执123号")
    with pytest.raises(NotSellable) as seized:
        service.draft(_contract(CODES[2]), DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    assert [f.code for f in seized.value.failures] == ["UNIT_SEIZED"]
    with pytest.raises(ContractStateError, match="another developer"):
        service.draft(_contract(CODES[1]), "91430100OTHER00000", "developer")  # type: ignore[arg-type]
    assert (_count(service, schema.contracts), _unit_status(service, CODES[1])) == before
    cid, _ = service.draft(_contract(CODES[1]), DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    with pytest.raises(NotSellable) as taken:
        service.draft(_contract(CODES[1], "HT-2026-000002"), DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    assert [f.code for f in taken.value.failures] == ["UNIT_RESERVED"]
    service.withdraw(cid, "developer")
    assert _unit_status(service, CODES[1]) is UnitStatus.AVAILABLE


def test_bad_revisions_are_rejected_and_change_nothing(
    service: FilingService, tmp_path: Path
) -> None:
    c = _contract()
    cid, draft_sha = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    with service.engine.connect() as conn:
        draft = conn.execute(
            select(schema.contracts.c.draft_pdf).where(schema.contracts.c.id == cid)
        ).scalar()
    assert hashlib.sha256(draft).hexdigest() == draft_sha
    stranger = make_pki(tmp_path / "stranger")
    key = new_key()
    cert = stranger.ca.issue(
        Profile.ENTERPRISE_SEAL, name("湘江示范置业有限公司"), key.public_key()
    )
    untrusted = pades.sign(
        draft, "seller", key_signer(key, cert, [stranger.ca.issuing]), pades.Level.B_B
    )
    with pytest.raises(SignatureRejected, match="NO_CERTIFICATE_CHAIN_FOUND"):
        service.accept_revision(cid, untrusted, "developer")
    ours = new_key()
    wrong_name = service.d.pki.ca.issue(
        Profile.ENTERPRISE_SEAL, name("冒名公司"), ours.public_key()
    )
    impostor = pades.sign(
        draft,
        "seller",
        key_signer(ours, wrong_name, [service.d.pki.ca.issuing]),
        pades.Level.B_T,
        timestamper=service.d.pki.timestamper(),
    )
    with pytest.raises(SignatureRejected, match="not 湘江示范置业有限公司"):
        service.accept_revision(cid, impostor, "developer")
    altered = draft.replace(b"/Title", b"/Titlf", 1)
    with pytest.raises(SignatureRejected, match="byte for byte"):
        service.accept_revision(cid, altered + b"\n", "developer")
    with pytest.raises(ContractStateError, match="buyer-1 is not next"):
        service.start_remote_signing(cid, "buyer-1", _identity(c), new_key().public_key(), BUYER_ID)
    with service.engine.connect() as conn:
        row = conn.execute(select(schema.contracts).where(schema.contracts.c.id == cid)).first()
    assert row is not None and row.signed_fields == "" and row.current_pdf == draft


def test_a_failed_seal_leaves_nothing_changed(
    service: FilingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, key, digest = _awaiting_buyer(service)
    log_before = service.d.log.appended()
    real_sign = pades.sign

    def failing_sign(pdf: bytes, field: str, *args: object, **kw: object) -> bytes:
        if field == "filing-seal":
            raise pades.SigningError("the HSM went away")
        return real_sign(pdf, field, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pades, "sign", failing_sign)
    with pytest.raises(SealUnavailable, match="the HSM went away"):
        service.finish_remote_signing(cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID)
    assert service.d.log.appended() == log_before
    assert _unit_status(service, CODES[0]) is UnitStatus.RESERVED
    assert _count(service, schema.filings) == 0
    with service.engine.connect() as conn:
        assert conn.execute(select(schema.contracts.c.signed_fields)).scalar() == "seller"
    monkeypatch.setattr(pades, "sign", real_sign)
    record = service.finish_remote_signing(
        cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID
    )
    assert record is not None  # the same signature files once the seal works again


def test_a_revoked_filing_seal_refuses_to_seal_and_nothing_is_filed(
    service: FilingService,
) -> None:
    """pyHanko no longer validates the seal's own chain before sealing; the snapshot must."""
    from keys.authority import RevocationReason

    cid, key, digest = _awaiting_buyer(service)
    pki = service.d.pki
    pki.ca.revoke(pki.filing_seal_certificate().serial_number, RevocationReason.KEY_COMPROMISE)
    log_before = service.d.log.appended()
    with pytest.raises(SealUnavailable, match="revoked"):
        service.finish_remote_signing(cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID)
    assert service.d.log.appended() == log_before
    assert _unit_status(service, CODES[0]) is UnitStatus.RESERVED
    assert _count(service, schema.filings) == 0
    pki.filing_seal_slug = "filing-seal-2"  # what `wangqian keys rotate filing-seal` configures
    record = service.finish_remote_signing(
        cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID
    )
    assert record is not None


def test_cancellation_is_a_new_entry_and_the_unit_returns(service: FilingService) -> None:
    _, record = _sign_through(service, _contract())
    assert record is not None
    index = service.cancel_by_judgment(
        record.number, "authority", "判决解除", "(2026)湘0104民初1号", judgment_pdf()
    )
    entry = FilingEntry.decode(service.d.log.entry(index))
    assert entry.event is EntryEvent.CANCELLED and entry.ref == record.log_index
    assert _unit_status(service, CODES[0]) is UnitStatus.AVAILABLE
    assert service.filing(record.number)["status"] == "CANCELLED"
    with pytest.raises(ContractStateError):
        service.cancel_by_judgment(record.number, "authority", "again", "(x)", judgment_pdf())
    # The original filing stays provable.
    cp = service.d.sequencer().step()
    assert cp is not None
    verify_receipt(
        service.d.log.receipt(record.log_index, cp),
        TrustBundle.from_json(json.dumps(service.d.trust_bundle())),
    )
    # And the unit can be sold again.
    _, again = _sign_through(service, _contract(number="HT-2026-000009"))
    assert again is not None and again.number != record.number
    # Both filings and the cancellation are in the statistics, in the same transactions.
    from filing import statistics

    with service.engine.connect() as conn:
        [row] = statistics.filings(conn, None, statistics.Dimension.DISTRICT)
    price = _contract().price  # type: ignore[attr-defined]
    assert (row.key, row.filings, row.cancellations) == ("岳麓区", 2, 1)
    assert row.value == 2 * price and row.area_m2 == 2 * Decimal("118.56")


def test_concurrent_submissions_file_exactly_once(service: FilingService) -> None:
    c = _contract()
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    # Sign offline, as a developer's own system would, then submit from many clients at once.
    with service.engine.connect() as conn:
        pdf = conn.execute(select(schema.contracts.c.draft_pdf)).scalar()
    pki = service.d.pki
    pdf = sign_as_parties(pki, pdf, "湘江示范置业有限公司", "王小明")
    results: list[object] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            r: object = service.submit_signed(cid, pdf, "developer")
        except Exception as exc:  # the assertion below names what went wrong
            r = exc
        with lock:
            results.append(r)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    filed = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, ContractStateError | UnitTaken)]
    assert len(filed) == 1 and len(refused) == 7, [repr(r)[:300] for r in results]
    assert _count(service, schema.filings) == 1
    entries = [FilingEntry.decode(service.d.log.entry(i)) for i in range(service.d.log.appended())]
    assert [e.event for e in entries] == [EntryEvent.FILED]


def test_expired_drafts_release_their_units(service: FilingService) -> None:
    with write_transaction(service.engine) as conn:  # no home on record: two drafts allowed
        departments.load_csv(conn, "homes", "id_number,district,homes\n000,岳麓区,0\n")
    c = _contract()
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    other, _ = service.draft(_contract(CODES[1], "HT-2026-000002"), DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    assert service.expire_drafts() == []  # nothing has run out yet
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    assert sorted(service.expire_drafts(later)) == sorted([cid, other])
    assert _unit_status(service, CODES[0]) is UnitStatus.AVAILABLE
    with service.engine.connect() as conn:
        statuses = {r.status for r in conn.execute(select(schema.contracts.c.status))}
        events = [e["event"] for e in registry.history(conn, CODES[0])]
    assert statuses == {"EXPIRED"} and events[-1] == "RELEASE_RESERVATION"
    with pytest.raises(ContractStateError, match="expired"):
        service.seal_as_developer(cid, "developer")
    # The unit can be drafted again at once.
    service.draft(_contract(number="HT-2026-000003"), DEVELOPER_ID, "developer")  # type: ignore[arg-type]


def test_signing_after_the_reservation_ran_out_is_refused(service: FilingService) -> None:
    c = _contract()
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    service.clock = FixedClock(dt.datetime.now(dt.UTC) + dt.timedelta(days=8))
    with pytest.raises(ContractStateError, match="expired"):
        service.start_remote_signing(cid, "buyer-1", _identity(c), new_key().public_key(), BUYER_ID)


def test_a_change_is_sealed_logged_and_verifiable_and_the_filing_stands(
    service: FilingService, tmp_path: Path
) -> None:
    from verifier.later import LogData
    from verifier.models import Verdict
    from verifier.verify import verify

    c = _contract()
    _, record = _sign_through(service, c)
    assert record is not None
    with pytest.raises(ContractStateError, match="states the changes"):
        service.propose_agreement(record.number, AgreementKind.CHANGE, "补充协议", "developer")
    logged = service.d.log.appended()
    aid, agreement_number, _ = service.propose_agreement(
        record.number,
        AgreementKind.CHANGE,
        "补充协议：交付日期顺延",
        "developer",
        "交付日期由 2028-06-30 变更为 2028-12-31。",
    )
    assert agreement_number == f"{record.number}-BG1"
    change = _sign_agreement(service, aid)
    assert change.event is EntryEvent.CHANGED
    entry = FilingEntry.decode(service.d.log.entry(change.log_index))
    assert entry.event is EntryEvent.CHANGED and entry.ref == record.log_index
    assert entry.filing == record.number and change.log_index == logged
    assert entry.parties == FilingEntry.decode(service.d.log.entry(record.log_index)).parties
    [stored] = service.changes(record.number)
    sealed = stored["sealed_pdf"]
    assert hashlib.sha256(sealed).hexdigest() == entry.doc_sha256 == change.doc_sha256
    judged = assess(sealed, service.d.verifier_trust())
    assert [r.field for r in judged.signatures] == ["seller", "buyer-1", "filing-seal"]
    assert judged.passed, judged.problems()
    assert service.filing(record.number)["status"] == "ACTIVE"
    assert _unit_status(service, CODES[0]) is UnitStatus.FILED
    found = service.filings_with_sha256(change.doc_sha256)
    assert [(f["number"], f["kind"]) for f in found] == [(record.number, "changed")]

    # Both documents verify offline; the filing's report shows the later change.
    cp = service.d.sequencer().step()
    assert cp is not None
    trust = TrustBundle.from_json(json.dumps(service.d.trust_bundle()))
    log_data = LogData(cp.cosigned_note, tuple(service.d.log.entries(0, cp.size)))
    report = verify(sealed, trust, service.d.log.receipt(change.log_index, cp), log_data=log_data)
    assert report.verdict is Verdict.PASSED and report.reason.startswith("a change"), report.reason
    original = service.filing(record.number)["sealed_pdf"]
    report = verify(original, trust, service.d.log.receipt(record.log_index, cp), log_data=log_data)
    assert report.verdict is Verdict.PASSED
    assert report.filing is not None and [e.event for e in report.filing.later_events] == [
        "changed"
    ]

    # After a cancellation nothing more can be changed, and the change goes down with it.
    cancel_index = service.cancel_by_judgment(
        record.number, "authority", "判决解除", "(2026)湘0104民初2号", judgment_pdf()
    )
    with pytest.raises(ContractStateError):
        service.propose_agreement(record.number, AgreementKind.CHANGE, "again", "x", "again")
    cp = service.d.sequencer().step()
    assert cp is not None and cp.size > cancel_index
    log_data = LogData(cp.cosigned_note, tuple(service.d.log.entries(0, cp.size)))
    report = verify(sealed, trust, service.d.log.receipt(change.log_index, cp), log_data=log_data)
    assert report.verdict is Verdict.CANCELLED


def test_a_draft_that_loses_the_unit_between_check_and_reservation_is_told_so(
    service: FilingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the 200-filing race this was a 500: the unit was reserved between two reads."""
    first, _ = service.draft(_contract(CODES[0], "HT-R-1"), DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    real_view = registry.unit_view

    def stale_view(conn: object, code: str) -> object:  # what the check read a moment earlier
        return dataclasses.replace(real_view(conn, code), status=UnitStatus.AVAILABLE)  # type: ignore[arg-type]

    monkeypatch.setattr(registry, "unit_view", stale_view)
    with pytest.raises(UnitTaken):
        service.draft(_contract(CODES[0], "HT-R-2"), DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    monkeypatch.undo()
    assert _count(service, schema.contracts) == 1 and first


def test_a_cancellation_racing_another_is_refused_and_writes_nothing(
    service: FilingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filing.status import InvalidTransition

    _, record = _sign_through(service, _contract())
    assert record is not None
    logged = service.d.log.appended()
    real_apply = registry.apply

    def raced(conn: object, code: str, event: object, *args: object, **kw: object) -> object:
        if event is registry.UnitEvent.CANCEL_FILING:  # the other cancellation committed first
            raise InvalidTransition("CANCEL_FILING does not apply to a AVAILABLE unit")
        return real_apply(conn, code, event, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(registry, "apply", raced)
    with pytest.raises(ContractStateError):
        service.cancel_by_judgment(record.number, "authority", "twice", "(x)", judgment_pdf())
    monkeypatch.undo()
    assert service.d.log.appended() == logged  # rolled back: no entry, still ACTIVE
    assert service.filing(record.number)["status"] == "ACTIVE"


def test_a_process_runs_at_most_its_pipelines_at_once(
    service: FilingService, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signature pipelines are CPU-bound under one GIL; more at once only slow each other."""
    import time

    drafts = []  # one contract per thread: the same one would serialise on its row lock
    for i, code in enumerate(CODES):
        cid, _ = service.draft(_contract(code, f"HT-P-{i}"), DEVELOPER_ID, "developer")  # type: ignore[arg-type]
        with service.engine.connect() as conn:
            pdf = conn.execute(
                select(schema.contracts.c.draft_pdf).where(schema.contracts.c.id == cid)
            ).scalar()
        drafts.append((cid, pdf))

    def most_at_once(pipelines: int) -> int:
        svc = FilingService(service.d, service.departments, pipelines=pipelines)
        lock, active, peak = threading.Lock(), [0], [0]

        def slow_check(*args: object) -> None:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.3)
            with lock:
                active[0] -= 1
            raise SignatureRejected("checked")

        monkeypatch.setattr(svc, "_check_revision", slow_check)
        start = threading.Barrier(3)

        def submit(cid: str, pdf: bytes) -> None:
            start.wait()
            with pytest.raises(SignatureRejected):
                svc.accept_revision(cid, pdf, "developer")

        threads = [threading.Thread(target=submit, args=d) for d in drafts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return peak[0]

    assert most_at_once(1) == 1
    if db_url.startswith("postgresql"):  # SQLite's single writer serialises them anyway
        assert most_at_once(3) >= 2  # so the check above could have seen an overlap
    assert _unit_status(service, CODES[0]) is UnitStatus.RESERVED


def test_a_cancellation_wakes_the_sequencer(service: FilingService) -> None:
    """Nobody waits for a cancellation's receipt; the loop is told rather than left to poll."""
    _, record = _sign_through(service, _contract())
    assert record is not None
    sequencer = service.d.sequencer()
    sequencer.wake.clear()
    service.cancel_by_judgment(record.number, "court", "法院判决", "(x)", judgment_pdf())  # type: ignore[attr-defined]
    assert sequencer.wake.is_set()


def test_each_accepted_revision_keeps_the_platforms_judgement_of_it(
    service: FilingService,
) -> None:
    """The next party's revision builds on it (filing/judgements.py); an operator who edits
    it in the database only makes the platform judge the whole document again."""
    from filing import judgements

    cid, key, digest = _awaiting_buyer(service)
    with service.engine.connect() as conn:
        row = conn.execute(
            select(schema.contracts.c.current_pdf, schema.contracts.c.judgement).where(
                schema.contracts.c.id == cid
            )
        ).one()
    trust = service.d.verifier_trust()
    prior = judgements.prior(service.d.judgement_key(), row.current_pdf, trust, row.judgement)
    assert prior is not None and [f.field for f in prior.signatures] == ["seller"]
    edited = json.loads(row.judgement)
    edited["signatures"][0]["signing_time"] = "2001-01-01T00:00:00+00:00"
    with write_transaction(service.engine) as conn:
        conn.execute(
            schema.contracts.update()
            .where(schema.contracts.c.id == cid)
            .values(judgement=json.dumps(edited))
        )
    record = service.finish_remote_signing(
        cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID
    )
    assert record is not None
    sealed = assess(service.filing(record.number)["sealed_pdf"], trust)
    assert sealed.passed
    assert all(f.signing_time and f.signing_time.year > 2001 for f in sealed.signatures)
