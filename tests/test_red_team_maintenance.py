"""Red team, maintenance funds (住宅专项维修资金), issue 14: each party's attack over HTTP on
SQLite and PostgreSQL. A defence that holds keeps its test; a fixed hole keeps the test
that found it."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from filing.audit import audit_records
from filing.maintenance_schema import maintenance_events, maintenance_uses
from tests.helpers import BIN
from tests.test_filing_api import (
    BUYER,
    CODES,
    CONTRACT,
    REGISTRATION,
    Api,
    _post,
    _setup_registry,
    api,
    file_contract,
)
from tests.test_fund_api import BANK, _bank, _type, self_signed_bank
from tests.test_maintenance import DUE, _cancel, _deposit, _refund, mapi
from tests.test_resale_pipeline import TRANSFER, WANG, resale_body, setup_resale, sign
from verifier import fund_statement

__all__ = ["api", "mapi"]  # the fixtures

USES = "/v1/maintenance/uses"


def _rows(d: Any) -> tuple[int, int]:
    """(maintenance events, uses) recorded."""
    with d.log.engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(maintenance_events)).scalar_one()
        uses = conn.execute(select(func.count()).select_from(maintenance_uses)).scalar_one()
    return int(events), int(uses)


def _registered_with_fund(client: Any, keys: dict[str, dict[str, str]]) -> tuple[str, Any]:
    """CODES[0] filed, its fund deposited in full, registered to the buyer (限售 past)."""
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    old = {**REGISTRATION, "registered_on": "2020-01-02"}
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=old)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    return number, bank


def _resell_to_wang(client: Any, keys: dict[str, dict[str, str]], d: Any) -> str:
    setup_resale(client, keys, d)
    body = resale_body(
        "ESF-RED-M", sellers=(BUYER,), buyers=(WANG,), code=CODES[0], brokerage=False
    )
    r = _post(client, "/v1/resale-contracts", keys["buyer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["buyer"], cid, "seller-1", BUYER).status_code == 200
    r = sign(client, keys["wang"], cid, "buyer-1", WANG)
    assert r.status_code == 201, r.text
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    return str(r.json()["filing"])  # type: ignore[attr-defined]


# -- after a resale, the former side sees nothing of the new owner's fund -----------------


def test_the_developer_does_not_follow_the_new_owners_uses_of_funds(mapi: Api) -> None:
    """Broken, fixed (the known leak): a use's log entry and event name the filing that
    opened the account, the developer's sale; its event stream (and webhooks) carried every
    later use of the home's fund, years after it sold it and after the buyer resold it.
    The former owner and the developer read no account; the developer's stream carries no
    use; the authority's does."""
    client, keys, d = mapi
    first, _ = _registered_with_fund(client, keys)
    _resell_to_wang(client, keys, d)
    use = {"number": "WX-RED-1", "approval": "业主大会决议 2031-01"}
    use["debits"] = [{"unit": CODES[0], "amount_fen": 100_000}]  # type: ignore[assignment]
    r = _post(client, USES, keys["authority"], json=use)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    path = f"/v1/units/{CODES[0]}/maintenance"
    for who in ("buyer", "developer", "other"):
        assert client.get(path, headers=keys[who]).status_code == 403, who
    assert client.get(path, headers=keys["wang"]).json()["used_fen"] == 100_000

    def used(who: str) -> list[dict[str, Any]]:
        r = client.get("/v1/events", headers=keys[who], params={"limit": 500})
        assert r.status_code == 200, r.text
        return [e for e in r.json()["events"] if e["event"] == "maintenance-used"]

    assert [e["filing"] for e in used("authority")] == [first]
    assert used("developer") == []
    # The developer still follows its own sale's deposit (it gates the registration).
    events = client.get("/v1/events", headers=keys["developer"], params={"limit": 500}).json()
    assert "maintenance-deposited" in {e["event"] for e in events["events"]}


# -- the registration gate ----------------------------------------------------------------


def test_the_gate_has_no_way_around(mapi: Api) -> None:
    """Held: a filing owing its fund is registered neither through the registration nor by
    recording an ownership as for an existing home; a supervision (资金监管) deposit does not
    count as the maintenance fund."""
    client, keys, _ = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    a = keys["authority"]
    register = f"/v1/units/{CODES[0]}/registration"
    r = _post(client, register, a, json=REGISTRATION)
    assert (r.status_code, _type(r)) == (409, "maintenance-fund-due")
    owners = {
        "certificate": "湘（2026）长沙市不动产权第 0999999 号",
        "owners": [{"name": BUYER[0], "id_type": "居民身份证", "id_number": BUYER[1]}],
        "registered_on": "2026-01-02",
    }
    r = _post(client, f"/v1/units/{CODES[0]}/ownership", a, json=owners)
    assert 400 <= r.status_code < 500, r.text  # type: ignore[attr-defined]
    # A supervision (资金监管) deposit is no maintenance deposit.
    body = bank.signed("deposit", number, DUE)
    _post(client, f"/v1/filings/{number}/funds/deposits", keys["bank"], json=body)
    r = _post(client, register, a, json=REGISTRATION)
    assert (r.status_code, _type(r)) == (409, "maintenance-fund-due")
    account = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=a).json()
    assert account["balance_fen"] == 0
    assert client.get(f"/v1/units/{CODES[0]}", headers=a).json()["unit"]["status"] == "FILED"


# -- statements replayed, altered, foreign ------------------------------------------------


def test_replayed_altered_and_foreign_statements_are_refused(mapi: Api) -> None:
    """Held: the same statement again (a new idempotency key), its bytes altered under the
    old signature, one signed by a key the platform never certified, one of another
    filing: each refused, nothing recorded."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    path = f"/v1/filings/{number}/maintenance/deposits"
    body = bank.signed("maintenance-deposit", number, 1000, account=CODES[0])
    assert _post(client, path, keys["bank"], json=body).status_code == 201  # type: ignore[attr-defined]
    before = _rows(d)
    r = client.post(path, headers={**keys["bank"], "Idempotency-Key": "replay"}, json=body)
    assert (r.status_code, _type(r)) == (409, "duplicate-statement"), r.text
    statement = json.loads(base64.b64decode(body["statement"]))
    statement["amount_fen"] = 900_000
    statement["reference"] = "ALTERED-1"
    altered = {**body, "statement": base64.b64encode(json.dumps(statement).encode()).decode()}
    r = _post(client, path, keys["bank"], json=altered)
    assert (r.status_code, _type(r)) == (422, "statement-rejected"), r.text  # type: ignore[attr-defined]
    # A key the bank made itself, with a certificate the platform never issued.
    key, cert = self_signed_bank()
    forged = bank.signed("maintenance-deposit", number, 2000, account=CODES[0])
    data = base64.b64decode(forged["statement"])
    forged = {
        "statement": forged["statement"],
        "signature": base64.b64encode(fund_statement.sign(data, key)).decode(),
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }
    r = _post(client, path, keys["bank"], json=forged)
    assert (r.status_code, _type(r)) == (422, "statement-rejected"), r.text  # type: ignore[attr-defined]
    # Another filing's statement presented under this one.
    other = bank.signed("maintenance-deposit", "CS-2026-999999", 1, account=CODES[0])
    r = _post(client, path, keys["bank"], json=other)
    assert (r.status_code, _type(r)) == (422, "statement-mismatch"), r.text  # type: ignore[attr-defined]
    # More than 64 bits of fen, signed by the bank: refused as a statement.
    huge = bank.signed("maintenance-deposit", number, 2**64, account=CODES[0])
    r = _post(client, path, keys["bank"], json=huge)
    assert 400 <= r.status_code < 500, r.text  # type: ignore[attr-defined]
    assert _rows(d) == before


# -- uses: other units, no account, overflow ----------------------------------------------


def test_a_use_of_units_without_funds_records_nothing(mapi: Api) -> None:
    """Held: a use naming, beside a funded unit, a unit with no account (another unit of
    the building, never deposited) is refused whole; an unknown unit is a 404; amounts past
    64 bits, zero, negative, repeated units, too many units: 422; nothing written."""
    client, keys, d = mapi
    _registered_with_fund(client, keys)
    before = _rows(d)
    a = keys["authority"]

    def use(debits: list[dict[str, Any]], number: str = "WX-RED-2") -> Any:
        return _post(client, USES, a, json={"number": number, "approval": "决议", "debits": debits})

    r = use([{"unit": CODES[0], "amount_fen": 1}, {"unit": CODES[1], "amount_fen": 1}])
    assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text
    assert CODES[1] in r.json()["detail"]
    r = use([{"unit": "4301040010019B99999F99999999", "amount_fen": 1}])
    assert (r.status_code, _type(r)) == (404, "unknown-unit"), r.text
    for debits in (
        [{"unit": CODES[0], "amount_fen": 2**63}],
        [{"unit": CODES[0], "amount_fen": 2**64 + 1}],
        [{"unit": CODES[0], "amount_fen": 0}],
        [{"unit": CODES[0], "amount_fen": -5}],
        [{"unit": CODES[0], "amount_fen": "1e3"}],
        [{"unit": CODES[0], "amount_fen": 1}] * 2,
        [{"unit": CODES[0], "amount_fen": 1}] * 501,
        [],
    ):
        r = use(debits)
        assert r.status_code == 422, (debits[:2], r.text)
    r = use([{"unit": CODES[0], "amount_fen": DUE + 1}])
    assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text
    assert _rows(d) == before
    # Nobody but the authority records a use.
    for who in ("bank", "developer", "buyer", "stats"):
        body = {"number": "WX-RED-3", "approval": "决议"}
        body["debits"] = [{"unit": CODES[0], "amount_fen": 1}]  # type: ignore[assignment]
        r = _post(client, USES, keys[who], json=body)
        assert r.status_code == 403, who
    assert _rows(d) == before


def test_maintenance_bodies_are_bounded(mapi: Api) -> None:
    """Held: deep JSON, huge bodies and malformed statements on the maintenance routes are
    4xx, never a 500."""
    client, keys, _ = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    huge = json.dumps({"number": "x", "approval": "y" * 5_000_000}).encode()
    for path, who in ((USES, "authority"), (f"/v1/filings/{number}/maintenance/deposits", "bank")):
        for n, content in enumerate((deep, huge, b"{", b'{"statement": 1}', b"\xff\xfe")):
            r = client.post(
                path,
                content=content,
                headers={
                    **keys[who],
                    "Idempotency-Key": f"b{n}",
                    "content-type": "application/json",
                },
            )
            assert 400 <= r.status_code < 500, (path, n, r.status_code)
            if content is huge:
                assert r.status_code == 413
    bad = {"statement": "!!!", "signature": "", "certificate": "not pem"}
    r = _post(client, f"/v1/filings/{number}/maintenance/deposits", keys["bank"], json=bad)
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert client.get("/v1/units/%00/maintenance", headers=keys["authority"]).status_code < 500


# -- the offline verifier on forged fund data ---------------------------------------------


def test_the_verifier_refuses_forged_maintenance_statements(mapi: Api, tmp_path: Path) -> None:
    """Held: in a court's evidence package, a deposit statement whose amount is altered, or
    one the bank signs afresh with another amount under the same log entry, fails offline."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, 400_000).status_code == 201
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"]).content
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")

    def verify(members: dict[str, bytes], name: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as z:
            for member, data in members.items():
                z.writestr(member, data)
        return subprocess.run(
            [str(BIN / "wangqian-verify"), str(path), "--trust", str(trust)],
            capture_output=True,
            text=True,
        )

    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    assert verify(members, "good.zip").returncode == 0
    [fund] = [n for n in members if n.startswith("funds/") and n.endswith(".json")]
    member = json.loads(members[fund])
    statement = json.loads(base64.b64decode(member["statement"]))
    # The amount altered, the signature kept.
    statement["amount_fen"] = 40_000_000
    changed = json.dumps(statement, separators=(",", ":")).encode()
    altered = {**member, "statement": base64.b64encode(changed).decode()}
    run = verify({**members, fund: json.dumps(altered).encode()}, "altered.zip")
    assert run.returncode != 0, run.stdout
    # The bank signs another amount afresh: signed, but not what the log holds.
    resigned = {
        **altered,
        "signature": base64.b64encode(fund_statement.sign(changed, bank.key)).decode(),
    }
    run = verify({**members, fund: json.dumps(resigned).encode()}, "resigned.zip")
    assert run.returncode != 0, run.stdout
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_cancelled_purchases_deposit_is_not_the_next_owners(mapi: Api) -> None:
    """Broken, fixed: a cancelled purchase's maintenance deposits stayed in the unit's
    balance (no refund to the buyer who paid them): the next buyer of the unit paid the
    full amount due again and, as owner, held both. Now the designated bank refunds them
    (its signed statement, a log entry); the next buyer owes the full amount, and what
    the unit then holds is theirs alone."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, 400_000).status_code == 201
    r = _cancel(client, keys["court"], number, "(2027)湘0104民初9号")
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    r = _refund(client, bank, keys["bank"], number, 400_000)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    account = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["authority"]).json()
    assert account["balance_fen"] == 0, account  # the cancelled buyer's money, not the unit's

    _, second = file_contract(client, keys, {**CONTRACT, "number": "HT-RED-M-2"})
    account = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["authority"]).json()
    [_, due] = account["dues"]
    assert (due["filing"], due["due_fen"], due["deposited_fen"]) == (second, DUE, 0)
    assert _deposit(client, bank, keys["bank"], second, DUE).status_code == 201
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    mine = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["buyer"]).json()
    assert (mine["balance_fen"], mine["deposited_fen"], mine["refunded_fen"]) == (
        DUE,
        DUE + 400_000,
        400_000,
    )
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems
