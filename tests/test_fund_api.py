"""Fund supervision over real HTTP on SQLite and PostgreSQL: the bank's signed statements,
the rules, who may read, the log entries and the status map, races with real threads."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import itertools
import json
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from api import auth
from api.app import create_app
from api.demo import _Server
from filing import api_keys, fund_schema
from filing.audit import audit_records
from filing.deployment import Deployment
from filing.entry import FilingEntry, status_name
from keys.authority import RevocationReason
from ledger import schema as ledger_schema
from ledger.database import write_transaction
from tests.helpers import BIN, judgment_pdf
from tests.test_filing_api import (
    BUYER,
    CODES,
    DEVELOPER_ID,
    REGISTRATION,
    Api,
    _post,
    _setup_registry,
    api,
    file_contract,
)
from tests.test_status_api import _status
from verifier import fund_statement
from verifier.entry import LoggedEntry
from verifier.fund_statement import FundStatement

__all__ = ["api"]  # the fixture, shared with the filing API tests

ACCOUNT = "4300 0000 0000 8888"  # the escrow account the test contract names
BANK = "示范银行"  # the test bank key's organisation


@dataclasses.dataclass
class Bank:
    """A bank with its own key (never sent) and the certificate the platform issued it."""

    org: str
    key: ec.EllipticCurvePrivateKey
    cert_pem: str
    n: int = 0

    def signed(self, kind: str, number: str, amount: int, **changes: Any) -> dict[str, str]:
        self.n += 1
        fields: dict[str, Any] = {
            "kind": kind,
            "filing": number,
            "account": ACCOUNT,
            "amount_fen": amount,
            "at": dt.datetime.now(dt.UTC).replace(microsecond=0),
            "bank": self.org,
            "reference": f"{self.org}-TXN-{self.n}-{threading.get_ident()}",
        }
        fields.update(changes)
        data = FundStatement(**fields).encode()
        return {
            "statement": base64.b64encode(data).decode(),
            "signature": base64.b64encode(fund_statement.sign(data, self.key)).decode(),
            "certificate": self.cert_pem,
        }


def _bank(client: Any, headers: dict[str, str], org: str) -> Bank:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    r = _post(client, "/v1/banks/certificate", headers, json={"public_key_pem": pem})
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    chain = x509.load_pem_x509_certificates(r.content)  # type: ignore[attr-defined]
    assert fund_statement.bank_of(chain[0]) == org
    return Bank(org, key, chain[0].public_bytes(serialization.Encoding.PEM).decode())


def self_signed_bank(org: str = BANK) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A key and certificate naming the bank and the purpose that the platform's CA never
    issued: what a forger (or a bank going around the platform) can make."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(x509.ObjectIdentifier("2.5.4.13"), fund_statement.FUND_STATEMENTS),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _funds(client: Any, path: str, headers: dict[str, str], body: dict[str, str]) -> Any:
    return _post(client, path, headers, json=body)


def _type(r: Any) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["type"].rsplit("/", 1)[1])


def _add_key(d: Deployment, org: str, role: auth.Role) -> dict[str, str]:
    with write_transaction(d.log.engine) as conn:
        return {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}


def _leaf(d: Deployment, index: int) -> bytes:
    with d.log.engine.connect() as conn:
        return bytes(
            conn.execute(
                select(ledger_schema.leaves.c.data).where(ledger_schema.leaves.c.idx == index)
            ).scalar_one()
        )


def test_deposit_then_release_after_registration(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"

    # Only a bank confirms; the statement must be its own, for this filing and account.
    r = _funds(client, f"{base}/deposits", keys["developer"], bank.signed("deposit", number, 1))
    assert r.status_code == 403
    r = _funds(client, f"{base}/deposits", keys["bank"], bank.signed("deposit", number, 30_000_000))
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["kind"] == "deposit" and first["amount_fen"] == 30_000_000
    assert first["amount_yuan"] == "300000.00" and first["receipt"]
    body = bank.signed("deposit", number, 5_000_000)
    r = _funds(client, f"{base}/deposits", keys["bank"], body)
    assert r.status_code == 201, r.text
    again = _funds(client, f"{base}/deposits", keys["bank"], body)  # a new key, same statement
    assert again.status_code == 409 and _type(again) == "duplicate-statement"

    # The public entry: the filing's index as ref, the statement's hash, nothing else.
    data = _leaf(d, first["log_index"])
    entry = FilingEntry.decode(data)
    filed_at = client.get(f"/v1/filings/{number}", headers=keys["authority"]).json()["log_index"]
    assert entry.event.value == "funds-deposited" and entry.ref == filed_at
    statement = base64.b64decode(
        client.get(f"{base}/{first['log_index']}/statement", headers=keys["court"]).json()[
            "statement"
        ]
    )
    assert entry.doc_sha256 == fund_statement.sha256(statement)
    assert ACCOUNT.encode() not in data and b"30000000" not in data and BANK.encode() not in data
    assert status_name(data) is None and LoggedEntry.read(data).is_fund_event

    refusals = [
        ("releases", bank.signed("release", number, 35_000_000), 409, "not-registered"),
        ("refunds", bank.signed("refund", number, 35_000_000), 409, "not-cancelled"),
        ("releases", bank.signed("deposit", number, 1), 422, "statement-mismatch"),
        ("deposits", bank.signed("deposit", "CS-2026-999999", 1), 422, "statement-mismatch"),
        ("deposits", bank.signed("deposit", number, 1, account="6222 0000"), 422, "wrong-account"),
        ("deposits", bank.signed("deposit", number, 1, bank="另一银行"), 422, "statement-rejected"),
    ]
    tampered = bank.signed("deposit", number, 100)
    tampered["statement"] = base64.b64encode(
        base64.b64decode(tampered["statement"]).replace(b":100,", b":900,")
    ).decode()
    refusals.append(("deposits", tampered, 422, "statement-rejected"))
    future = bank.signed("deposit", number, 1, at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    refusals.append(("deposits", future, 422, "statement-rejected"))
    for path, statement_body, status, slug in refusals:
        r = _funds(client, f"{base}/{path}", keys["bank"], statement_body)
        assert (r.status_code, _type(r)) == (status, slug), (path, r.text)
    # Hostile bodies and paths are refusals, never a 500.
    good = bank.signed("deposit", number, 1)
    for broken in (
        {**good, "statement": "存入"},
        {**good, "signature": "@@@"},
        {**good, "signature": base64.b64encode(b"\x30\x02\x02\x00").decode()},
        {**good, "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
    ):
        r = _funds(client, f"{base}/deposits", keys["bank"], broken)
        assert r.status_code == 422 and _type(r) == "statement-rejected", r.text
    for index, status in [(2**70, 422), (10**9, 404), (-1, 422)]:
        r = client.get(f"{base}/{index}/statement", headers=keys["court"])
        assert r.status_code == status, r.text
    unknown = _funds(
        client,
        "/v1/filings/CS-2026-999999/funds/deposits",
        keys["bank"],
        bank.signed("deposit", "CS-2026-999999", 1),
    )
    assert unknown.status_code == 404 and _type(unknown) == "unknown-filing"

    # Another bank, with a certificate of its own, does not act on this bank's account.
    other_key = _add_key(d, "另一银行", auth.Role.BANK)
    other = _bank(client, other_key, "另一银行")
    r = _funds(client, f"{base}/deposits", other_key, other.signed("deposit", number, 1))
    assert r.status_code == 403 and _type(r) == "wrong-bank"
    # A certificate of one bank presented with another bank's API key.
    r = _funds(client, f"{base}/deposits", other_key, bank.signed("deposit", number, 1))
    assert r.status_code == 403 and _type(r) == "wrong-bank"

    # Who reads the account: its parties, the authority, a court, its bank; nobody else.
    stranger = _add_key(d, "430102199909099999", auth.Role.BUYER)
    for who, status in [
        ("buyer", 200),
        ("developer", 200),
        ("authority", 200),
        ("court", 200),
        ("bank", 200),
        ("other", 403),
        ("tax", 403),
        ("stats", 403),
    ]:
        r = client.get(base, headers=keys[who])
        assert r.status_code == status, (who, r.text)
    assert client.get(base, headers=other_key).status_code == 403
    assert client.get(base, headers=stranger).status_code == 403
    account = client.get(base, headers=keys["buyer"]).json()
    assert account["balance_fen"] == 35_000_000 and account["bank"] == BANK
    assert account["account"] == ACCOUNT and account["settled"] is None
    assert [e["kind"] for e in account["events"]] == ["deposit", "deposit"]

    # The registration is recorded: the whole balance goes to the seller, once.
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    part = _funds(client, f"{base}/releases", keys["bank"], bank.signed("release", number, 1))
    assert part.status_code == 422 and _type(part) == "amount-mismatch"
    over = bank.signed("release", number, 35_000_001)
    r = _funds(client, f"{base}/releases", keys["bank"], over)
    assert r.status_code == 409 and _type(r) == "insufficient-balance"
    body = bank.signed("release", number, 35_000_000)
    path = f"{base}/releases"
    idem = {**keys["bank"], "Idempotency-Key": "release-1"}
    released = client.post(path, headers=idem, json=body)
    assert released.status_code == 201, released.text
    repeat = client.post(path, headers=idem, json=body)  # the same key: the same answer
    assert repeat.status_code == 201 and repeat.json()["log_index"] == released.json()["log_index"]
    for kind, path in [("release", "releases"), ("refund", "refunds"), ("deposit", "deposits")]:
        r = _funds(client, f"{base}/{path}", keys["bank"], bank.signed(kind, number, 35_000_000))
        assert r.status_code == 409 and _type(r) == "already-released", r.text
    account = client.get(base, headers=keys["developer"]).json()
    assert account["balance_fen"] == 0 and account["settled"] == "release"
    audited = audit_records(d.log.engine, d.bank_issuers())
    assert audited.ok, audited.problems
    # Statistics count supervised money by the filings' kind, and nothing is held now.
    [by_kind] = client.get("/v1/stats/funds?by=kind", headers=keys["stats"]).json()
    assert by_kind == {
        "key": "new-presale",
        "accounts": 1,
        "deposited": "350000.00",
        "released": "350000.00",
        "refunded": "0.00",
        "held": "0.00",
    }
    bad = client.get("/v1/stats/funds?by=district", headers=keys["stats"])
    assert bad.status_code == 422 and _type(bad) == "bad-dimension"
    assert client.get("/v1/stats/funds", headers=keys["buyer"]).status_code == 403

    # A revoked bank certificate signs nothing the platform accepts.
    serial = x509.load_pem_x509_certificate(bank.cert_pem.encode()).serial_number
    d.pki.ca.revoke(serial, RevocationReason.KEY_COMPROMISE)
    r = _funds(client, f"{base}/deposits", keys["bank"], bank.signed("deposit", number, 1))
    assert r.status_code == 422 and "revoked" in r.json()["detail"], r.text


def test_refund_after_cancellation_and_the_status_stays_cancelled(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"
    r = _funds(client, f"{base}/deposits", keys["bank"], bank.signed("deposit", number, 1_000))
    assert r.status_code == 201, r.text
    cancel = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["authority"], "content-type": "application/pdf"},
        params={"reason": "判决解除", "judgment": "(2027)湘0104民初9号"},
        content=judgment_pdf("(2027)湘0104民初9号"),
    )
    assert cancel.status_code == 201, cancel.text  # type: ignore[attr-defined]
    cancel_index = cancel.json()["log_index"]  # type: ignore[attr-defined]
    for kind, path, slug in [
        ("deposit", "deposits", "filing-cancelled"),
        ("release", "releases", "filing-cancelled"),
    ]:
        r = _funds(client, f"{base}/{path}", keys["bank"], bank.signed(kind, number, 1_000))
        assert r.status_code == 409 and _type(r) == slug, r.text
    r = _funds(client, f"{base}/refunds", keys["bank"], bank.signed("refund", number, 1_000))
    assert r.status_code == 201, r.text
    refund_index = r.json()["log_index"]
    for kind, path in [("refund", "refunds"), ("release", "releases")]:
        r = _funds(client, f"{base}/{path}", keys["bank"], bank.signed(kind, number, 1_000))
        assert r.status_code == 409 and _type(r) == "already-refunded", r.text
    # The refund came after the cancellation; the status map still proves "cancelled".
    status = _status(client, d, number, refund_index)
    assert status.latest is not None and status.latest.index == cancel_index
    assert LoggedEntry.read(status.latest.entry).event == "cancelled"
    audited = audit_records(d.log.engine, d.bank_issuers())
    assert audited.ok, audited.problems

    # A fund row the log does not back (a second refund written past the code) is caught.
    e = fund_schema.fund_events
    with d.log.engine.begin() as conn:
        row = conn.execute(select(e).where(e.c.log_index == refund_index)).one()._asdict()
        forged = {**row, "log_index": 10**6, "seq": row["seq"] + 1, "settlement": None}
        forged |= {"statement_sha256": "0" * 64, "bank_reference": "forged"}
        conn.execute(e.insert().values(**forged))
    problems = audit_records(d.log.engine, d.bank_issuers()).problems
    assert any("has no fund entry in the log" in p for p in problems), problems
    assert any("continue after the account was settled" in p for p in problems), problems


# -- races over real HTTP ------------------------------------------------------------


@pytest.fixture
def server(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, dict[str, dict[str, str]], Deployment]]:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    d = Deployment.open(tmp_path / "data")
    d.save_config(dataclasses.replace(d.config, rate_per_minute=100_000))
    app = create_app(d)
    keys: dict[str, dict[str, str]] = {}
    with write_transaction(d.log.engine) as conn:
        for name, org, role in [
            ("authority", "长沙市住建局", auth.Role.AUTHORITY),
            ("developer", DEVELOPER_ID, auth.Role.DEVELOPER),
            ("buyer", BUYER[1], auth.Role.BUYER),
            ("bank", BANK, auth.Role.BANK),
        ]:
            keys[name] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    with _Server(app) as base:
        yield base, keys, d
    d.close()


def _race(base: str, headers: dict[str, str], calls: list[tuple[str, dict[str, str]]]) -> list[Any]:
    """Send every call at once from its own thread (one client each); the answers in order."""
    answers: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))
    round_ = next(_rounds)

    def run(i: int) -> None:
        path, body = calls[i]
        with httpx.Client(base_url=base, timeout=120) as c:
            start.wait()
            answers[i] = c.post(
                path, headers={**headers, "Idempotency-Key": f"race-{round_}-{i}"}, json=body
            )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


_rounds = itertools.count()


def _fund_rows(d: Deployment, number: str) -> list[Any]:
    e = fund_schema.fund_events
    with d.log.engine.connect() as conn:
        return list(conn.execute(select(e).where(e.c.filing_number == number)).all())


def test_racing_deposits_releases_and_refunds_never_overdraw_or_move_money_twice(
    server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)  # type: ignore[arg-type]
        _, number = file_contract(client, keys)  # type: ignore[arg-type]
        bank = _bank(client, keys["bank"], BANK)
        path = f"/v1/filings/{number}/funds"

        # 1. Twenty deposits at once: all recorded, each once, the balance their sum.
        deposits = [
            (f"{path}/deposits", bank.signed("deposit", number, 100 + i)) for i in range(20)
        ]
        answers = _race(base, keys["bank"], deposits)
        assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers]
        total = sum(100 + i for i in range(20))
        assert client.get(path, headers=keys["bank"]).json()["balance_fen"] == total

        # 2. Registration; then ten releases of the whole balance and ten refunds race with
        #    ten more deposits: exactly one release, no refund; the release takes exactly
        #    what was deposited before it, and no deposit lands after it.
        r = _post(
            client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION
        )
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]
        calls = [(f"{path}/releases", bank.signed("release", number, total)) for _ in range(10)]
        calls += [(f"{path}/refunds", bank.signed("refund", number, total)) for _ in range(10)]
        calls += [(f"{path}/deposits", bank.signed("deposit", number, 7)) for _ in range(10)]
        answers = _race(base, keys["bank"], calls)
        codes = [a.status_code for a in answers]
        assert 500 not in codes and all(c in (201, 409, 422) for c in codes), codes
        slugs = {a.json()["type"].rsplit("/", 1)[1] for a in answers if a.status_code != 201}
        assert slugs <= {"already-released", "not-cancelled", "amount-mismatch"}, slugs
        releases = [a for a in answers[:10] if a.status_code == 201]
        assert len(releases) <= 1
        assert all(a.status_code == 409 for a in answers[10:20]), [a.text for a in answers]
        rows = sorted(_fund_rows(d, number), key=lambda row: row.seq)
        settled = [row for row in rows if row.settlement is not None]
        assert len(settled) == len(releases) <= 1
        if settled:
            before = sum(row.amount_fen for row in rows if row.seq < settled[0].seq)
            assert settled[0].amount_fen == before == total  # nothing deposited meanwhile
            assert all(row.seq < settled[0].seq for row in rows if row.kind == "deposit")
        account = client.get(path, headers=keys["bank"]).json()
        assert account["balance_fen"] >= 0
        with d.log.engine.connect() as conn:
            entries = [
                bytes(x)
                for (x,) in conn.execute(select(ledger_schema.leaves.c.data)).all()
                if b'"funds-' in bytes(x)
            ]
            assert (
                conn.execute(select(func.count()).select_from(fund_schema.fund_events)).scalar_one()
                == len(entries)
                == len(rows)
            )
    audited = audit_records(d.log.engine, d.bank_issuers())
    assert audited.ok, audited.problems


def test_a_release_racing_its_twins_moves_the_money_once(
    server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    base, keys, _ = server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)  # type: ignore[arg-type]
        _, number = file_contract(client, keys)  # type: ignore[arg-type]
        bank = _bank(client, keys["bank"], BANK)
        path = f"/v1/filings/{number}/funds"
        r = _post(
            client, f"{path}/deposits", keys["bank"], json=bank.signed("deposit", number, 500)
        )
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        r = _post(
            client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION
        )
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]
        answers = _race(
            base,
            keys["bank"],
            [(f"{path}/releases", bank.signed("release", number, 500)) for _ in range(16)],
        )
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [409] * 15, [a.text for a in answers]
        assert {a.json()["type"].rsplit("/", 1)[1] for a in answers if a.status_code == 409} == {
            "already-released"
        }
        assert client.get(path, headers=keys["bank"]).json()["balance_fen"] == 0


def test_the_evidence_package_proves_the_fund_events_offline(api: Api, tmp_path: Path) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"
    for amount in (20_000_000, 15_000_000):
        r = _funds(client, f"{base}/deposits", keys["bank"], bank.signed("deposit", number, amount))
        assert r.status_code == 201, r.text
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    r = _funds(client, f"{base}/releases", keys["bank"], bank.signed("release", number, 35_000_000))
    assert r.status_code == 201, r.text
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"]).content
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")

    def run(package: bytes) -> subprocess.CompletedProcess[str]:
        (tmp_path / "e.zip").write_bytes(package)
        return subprocess.run(
            [str(BIN / "wangqian-verify"), str(tmp_path / "e.zip"), "--trust", str(trust)],
            capture_output=True,
            text=True,
        )

    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        names = z.namelist()
        members = {n: z.read(n) for n in names}
    assert sum(n.startswith("funds/") for n in names) == 6
    done = run(zipped)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("资金监管记录已证明") == 3, done.stdout
    assert "监管资金拨付 350,000.00 元" in done.stdout and "北京时间" in done.stdout

    # A package whose statement was altered (a larger deposit) fails the verification.
    first = sorted(n for n in names if n.endswith(".json"))[0]
    obj = json.loads(members[first])
    statement = base64.b64decode(obj["statement"]).replace(b"20000000", b"90000000")
    obj["statement"] = base64.b64encode(statement).decode()
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as z:
        for n, data in members.items():
            z.writestr(n, json.dumps(obj).encode() if n == first else data)
    failed = run(forged.getvalue())
    assert failed.returncode != 0 and "资金监管记录不成立" in failed.stdout, failed.stdout


def test_a_settlement_booked_before_what_allows_it_is_refused(api: Api) -> None:
    """Found by the refund red team: the bank's statement says when it moved the money,
    and a release booked before the transfer registration, a refund booked before the
    cancellation, or either booked before a deposit it settles, was recorded and proven
    offline. Each is refused now; booked after, the same settlement is recorded."""
    client, keys, _ = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    r = _funds(client, f"{base}/deposits", keys["bank"], bank.signed("deposit", number, 1_000))
    assert r.status_code == 201, r.text
    time.sleep(1.1)
    between = dt.datetime.now(dt.UTC).replace(microsecond=0)  # after the deposit
    time.sleep(1.1)
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    for at in (now - dt.timedelta(days=1), now - dt.timedelta(minutes=2), between):
        early = bank.signed("release", number, 1_000, at=at)
        r = _funds(client, f"{base}/releases", keys["bank"], early)
        assert r.status_code == 422 and _type(r) == "statement-rejected", r.text
    assert "booked before the transfer registration" in r.json()["detail"]
    r = _funds(client, f"{base}/releases", keys["bank"], bank.signed("release", number, 1_000))
    assert r.status_code == 201, r.text


def test_a_refund_booked_before_the_cancellation_is_refused(api: Api) -> None:
    client, keys, _ = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    r = _funds(client, f"{base}/deposits", keys["bank"], bank.signed("deposit", number, 1_000))
    assert r.status_code == 201, r.text
    cancel = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["authority"], "content-type": "application/pdf"},
        params={"reason": "判决解除", "judgment": "(2027)湘0104民初19号"},
        content=judgment_pdf("(2027)湘0104民初19号"),
    )
    assert cancel.status_code == 201, cancel.text  # type: ignore[attr-defined]
    for at in (now - dt.timedelta(minutes=2), now - dt.timedelta(days=1)):
        early = bank.signed("refund", number, 1_000, at=at)
        r = _funds(client, f"{base}/refunds", keys["bank"], early)
        assert r.status_code == 422 and _type(r) == "statement-rejected", r.text
    r = _funds(client, f"{base}/refunds", keys["bank"], bank.signed("refund", number, 1_000))
    assert r.status_code == 201, r.text
