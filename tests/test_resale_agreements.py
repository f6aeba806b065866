"""注销 and 变更 of a resale (存量房买卖) by agreement, over HTTP on SQLite and PostgreSQL:
the agreement names every owner who sold, the buyers and the brokerage; it is signed by
each of them in the resale's order, and its last signature cancels or changes the filing
in one transaction. Nobody does it alone, nobody signs for another, and after 转移登记
the filing stands."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from filing.audit import audit_records
from filing.entry import CancellationBasis, EntryEvent, EntryKind
from tests.helpers import BIN
from tests.test_filing_api import BUYER, Api, _post, api
from tests.test_fund_api import BANK, _bank, server
from tests.test_ownership_api import LI, OLD, ZHANG
from tests.test_resale_contract import _text
from tests.test_resale_pipeline import (
    AGENT,
    SUPERVISION,
    TRANSFER,
    WANG,
    _entry,
    _type,
    file_resale,
    resale_body,
    setup_resale,
    sign,
)

__all__ = ["api", "server"]  # the fixtures

ZHANG_P = (ZHANG["name"], ZHANG["id_number"])
LI_P = (LI["name"], LI["id_number"])
# The resale's signing order, with whose key signs each field.
ORDER = [
    ("seller-1", "zhang", ZHANG_P),
    ("seller-2", "li", LI_P),
    ("buyer-1", "buyer", BUYER),
    ("agent", "agent", AGENT),
]


def _propose(client: Any, headers: dict[str, str], number: str, kind: str, **body: str) -> Any:
    path = f"/v1/filings/{number}/{kind}-agreements"
    return _post(client, path, headers, json={"reason": "协商一致", **body})


def _status(client: Any, keys: dict[str, dict[str, str]], number: str) -> str:
    r = client.get(f"/v1/filings/{number}", headers=keys["authority"])
    return str(r.json()["status"])


def _unit_status(client: Any, keys: dict[str, dict[str, str]]) -> str:
    r = client.get(f"/v1/units/{OLD[0]}", headers=keys["authority"])
    return str(r.json()["unit"]["status"])


def test_a_resale_cancelled_by_agreement_refunds_the_buyer_and_returns_the_home(
    api: Api, tmp_path: Path
) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, index = file_resale(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"
    body = bank.signed("deposit", number, 3_000, account=SUPERVISION)
    assert _post(client, f"{base}/deposits", keys["bank"], json=body).status_code == 201  # type: ignore[attr-defined]
    # No refund while the filing stands.
    # (Booked a little earlier, as a bank that booked it now might in the same second.)
    booked = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=2)
    refund = bank.signed("refund", number, 3_000, account=SUPERVISION, at=booked)
    assert _post(client, f"{base}/refunds", keys["bank"], json=refund).status_code == 409  # type: ignore[attr-defined]

    # A seller cannot cancel alone, nor can the agency, nor a stranger propose.
    alone = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["zhang"], "content-type": "application/pdf"},
        params={"reason": "不卖了", "judgment": "x"},
        content=b"%PDF-1.7 nothing",
    )
    assert alone.status_code == 403 and _type(alone) == "consent-required", alone.text  # type: ignore[attr-defined]
    assert _propose(client, keys["agency"], number, "cancellation").status_code == 403
    assert _propose(client, keys["wang"], number, "cancellation").status_code == 404
    assert _propose(client, keys["developer"], number, "cancellation").status_code == 404

    # The buyer proposes; the agreement names every party and the certificate.
    r = _propose(client, keys["buyer"], number, "cancellation")
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    agreement = r.json()  # type: ignore[attr-defined]
    assert agreement["number"] == f"{number}-JC1"
    assert agreement["required"] == ["seller-1", "seller-2", "buyer-1", "agent", "filing-seal"]
    cid = agreement["id"]
    pdf = client.get(f"/v1/contracts/{cid}/document", headers=keys["li"]).content
    text = _text(pdf, tmp_path)
    for words in ("存量房买卖合同解除协议", ZHANG["name"], LI["name"], BUYER[0], AGENT[0]):
        assert words in text, words
    assert "长沙示范房地产经纪有限公司" in text
    assert "不动产权第0001234号" in text
    # The agency sees the agreement of the sale it made; a stranger does not.
    assert client.get(f"/v1/contracts/{cid}", headers=keys["agency"]).status_code == 200
    assert client.get(f"/v1/contracts/{cid}", headers=keys["wang"]).status_code == 404
    # A second agreement while one is being signed: refused.
    again = _propose(client, keys["zhang"], number, "cancellation")
    assert again.status_code == 409 and _type(again) == "contract-state"

    # Nobody signs for another: the buyer for the seller, a co-owner for the other, the
    # agency's key for its agent.
    r = sign(client, keys["buyer"], cid, "seller-1", BUYER)
    assert r.status_code == 403 and _type(r) == "not-your-field", r.text
    r = sign(client, keys["buyer"], cid, "seller-1", ZHANG_P)
    assert r.status_code == 403 and _type(r) == "not-your-field", r.text
    r = sign(client, keys["zhang"], cid, "seller-1", ZHANG_P)
    assert r.status_code == 200 and r.json() == {"filed": False}, r.text
    r = sign(client, keys["zhang"], cid, "seller-2", LI_P)
    assert r.status_code == 403 and _type(r) == "not-your-field", r.text
    # A co-owner missing: the buyer cannot go before 李四.
    r = sign(client, keys["buyer"], cid, "buyer-1", BUYER)
    assert r.status_code == 409 and _type(r) == "contract-state", r.text
    for field, who, person in ORDER[1:3]:
        r = sign(client, keys[who], cid, field, person)
        assert r.status_code == 200 and r.json() == {"filed": False}, r.text
    r = sign(client, keys["agency"], cid, "agent", AGENT)
    assert r.status_code == 403, r.text
    # Every party but the agent has signed: the filing still stands.
    assert _status(client, keys, number) == "ACTIVE"
    assert _unit_status(client, keys) == "UNDER_CONTRACT"
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["filing"] == number
    entry = _entry(d, done["log_index"])
    assert entry.event is EntryEvent.CANCELLED and entry.kind is EntryKind.RESALE
    assert entry.ref == index and entry.basis is CancellationBasis.AGREEMENT
    assert _status(client, keys, number) == "CANCELLED"
    # The home is its owners' again: not on the market, not lost.
    assert _unit_status(client, keys) == "REGISTERED"
    owners = client.get(f"/v1/units/{OLD[0]}/ownership", headers=keys["authority"]).json()
    assert [o["id_number"] for o in owners["owners"]] == [ZHANG["id_number"], LI["id_number"]]
    # The statement booked while the sale stood refunds nothing (booked before the
    # cancellation); the bank refunds the supervised deposit, once.
    r = _post(client, f"{base}/refunds", keys["bank"], json=refund)
    assert r.status_code == 422 and r.json()["type"].endswith("/statement-rejected"), r.text  # type: ignore[attr-defined]
    refund = bank.signed("refund", number, 3_000, account=SUPERVISION)
    r = _post(client, f"{base}/refunds", keys["bank"], json=refund)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    twice = bank.signed("refund", number, 1, account=SUPERVISION)
    assert _post(client, f"{base}/refunds", keys["bank"], json=twice).status_code in (409, 422)  # type: ignore[attr-defined]
    # Sellable once more, by its owners, and only once at a time.
    r = _post(
        client,
        "/v1/resale-contracts",
        keys["zhang"],
        json=resale_body("ESF-AGAIN", brokerage=False),
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body("ESF-TWICE"))
    assert r.status_code == 409, r.text  # type: ignore[attr-defined]

    # The evidence package reads the cancelled resale offline.
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"]).content
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    (tmp_path / "e.zip").write_bytes(zipped)
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        assert any(n.startswith("funds/") for n in z.namelist())
    run = subprocess.run(
        [str(BIN / "wangqian-verify"), str(tmp_path / "e.zip"), "--trust", str(trust)],
        capture_output=True,
        text=True,
    )
    # A cancelled filing is no valid filing (exit 1), and says why: the agreement.
    assert run.returncode == 1 and "结论: 已注销 CANCELLED" in run.stdout, run.stdout + run.stderr
    assert "交易类型: 存量房买卖" in run.stdout and "经各方签署的解除协议" in run.stdout
    assert "签署顺序: 按声明的顺序签署" in run.stdout  # every other check of it passes
    assert "未通过" not in run.stdout, run.stdout
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_resale_changed_by_agreement_stands_as_filed(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, index = file_resale(client, keys)
    empty = _propose(client, keys["li"], number, "change")
    assert empty.status_code == 422 or _type(empty) == "contract-state", empty.text
    r = _propose(client, keys["li"], number, "change", changes="交付日期改为 2027-04-30。")
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert r.json()["number"] == f"{number}-BG1"  # type: ignore[attr-defined]
    for field, who, person in ORDER[:3]:
        r = sign(client, keys[who], cid, field, person)
        assert r.status_code == 200, r.text
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 201, r.text
    entry = _entry(d, r.json()["log_index"])
    assert entry.event is EntryEvent.CHANGED and entry.kind is EntryKind.RESALE
    assert entry.ref == index and len(entry.parties) == 3
    assert _status(client, keys, number) == "ACTIVE"
    assert _unit_status(client, keys) == "UNDER_CONTRACT"
    changes = client.get(f"/v1/filings/{number}/changes", headers=keys["buyer"])
    assert changes.status_code == 200 and len(changes.json()) == 1, changes.text
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_resale_without_brokerage_is_cancelled_by_its_people_alone(api: Api) -> None:
    """A seller-drafted resale has no agent field: the sellers and buyer sign; the seller
    who proposed cannot finish it before the buyer."""
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(
        client, "/v1/resale-contracts", keys["zhang"], json=resale_body("ESF-S", brokerage=False)
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    for field, who, person in ORDER[:2]:
        assert sign(client, keys[who], cid, field, person).status_code == 200
    r = sign(client, keys["buyer"], cid, "buyer-1", BUYER)
    assert r.status_code == 201, r.text
    number = r.json()["filing"]
    r = _propose(client, keys["zhang"], number, "cancellation")
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    agreement = r.json()  # type: ignore[attr-defined]
    assert agreement["required"] == ["seller-1", "seller-2", "buyer-1", "filing-seal"]
    for field, who, person in ORDER[:2]:
        assert sign(client, keys[who], agreement["id"], field, person).status_code == 200
    assert _status(client, keys, number) == "ACTIVE"  # the sellers alone: nothing yet
    r = sign(client, keys["buyer"], agreement["id"], "buyer-1", BUYER)
    assert r.status_code == 201, r.text
    assert _status(client, keys, number) == "CANCELLED"
    assert _unit_status(client, keys) == "REGISTERED"
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_after_the_transfer_registration_a_resale_cannot_be_undone_by_agreement(
    api: Api,
) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_resale(client, keys)
    # An agreement being signed when the transfer is registered: its last signature fails.
    r = _propose(client, keys["buyer"], number, "cancellation")
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    pending = r.json()["id"]  # type: ignore[attr-defined]
    for field, who, person in ORDER[:3]:
        assert sign(client, keys[who], pending, field, person).status_code == 200
    r = _post(client, f"/v1/units/{OLD[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    r = sign(client, keys["agent"], pending, "agent", AGENT)
    assert r.status_code == 409 and _type(r) == "contract-state", r.text
    # And no new agreement is drafted at all, of either kind.
    for kind, extra in (("cancellation", {}), ("change", {"changes": "改价"})):
        r = _propose(client, keys["buyer"], number, kind, **extra)
        assert r.status_code == 409 and _type(r) == "contract-state", r.text  # type: ignore[attr-defined]
    assert _status(client, keys, number) == "ACTIVE"
    owners = client.get(f"/v1/units/{OLD[0]}/ownership", headers=keys["authority"]).json()
    assert [o["id_number"] for o in owners["owners"]] == [BUYER[1]]
    assert WANG[1] not in json.dumps(owners)
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems
