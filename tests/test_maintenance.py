"""Maintenance funds (住宅专项维修资金) on SQLite and PostgreSQL: the dated rule, the amount due
at filing, the designated bank's signed deposit (logged, verified offline), the
registration's gate, the balance moving with the unit on resale, uses of funds racing over
real HTTP, who reads a unit's account, the totals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api import auth
from api.app import create_app
from api.demo import _Server
from filing import api_keys, maintenance
from filing.audit import audit_records
from filing.deployment import Deployment
from filing.eligibility import RuleSetError
from filing.entry import EntryEvent, FilingEntry, status_name
from filing.maintenance_schema import maintenance_events
from ledger.database import write_transaction
from tests.helpers import BIN, judgment_pdf
from tests.test_filing_api import (
    BUYER,
    CODES,
    CONTRACT,
    DEVELOPER_ID,
    REGISTRATION,
    Api,
    _post,
    _setup_registry,
    file_contract,
)
from tests.test_filing_api import api as api
from tests.test_fund_api import BANK, Bank, _add_key, _bank, _leaf, _race, _type
from tests.test_resale_pipeline import TRANSFER, WANG, resale_body, setup_resale, sign
from verifier.entry import LoggedEntry

RULES = [
    {
        "version": "test-2020.1",
        "effective_from": "2020-01-01",
        "bank": BANK,
        "basis": "per-m2",
        "rates_yuan": {"多层": "50.00", "高层": "80.00"},
        "high_rise_floors": 7,
    }
]
# The test units: 118.56 m² on the 12th floor of their building: 高层, 80 元/m².
DUE = 948_480


def _adopt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    text = json.dumps(RULES, ensure_ascii=False)
    (data / maintenance.RULES_FILE).write_text(text, encoding="utf-8")


@pytest.fixture
def mapi(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Api:
    """The filing API of a deployment that adopted maintenance-fund rules (on ``db_url``,
    which the ``api`` fixture opens)."""
    _adopt(tmp_path)
    result: Api = request.getfixturevalue("api")
    return result


def _deposit(client: Any, bank: Bank, headers: dict[str, str], number: str, amount: int) -> Any:
    body = bank.signed("maintenance-deposit", number, amount, account=CODES[0])
    return _post(client, f"/v1/filings/{number}/maintenance/deposits", headers, json=body)


def _refund(client: Any, bank: Bank, headers: dict[str, str], number: str, amount: int) -> Any:
    """The designated bank's refund of a cancelled filing's deposits (维修资金退还)."""
    body = bank.signed("maintenance-refund", number, amount, account=CODES[0])
    return _post(client, f"/v1/filings/{number}/maintenance/refunds", headers, json=body)


def _cancel(client: Any, headers: dict[str, str], number: str, reference: str) -> Any:
    """注销 by a judgment the court (or the authority) records."""
    return _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**headers, "content-type": "application/pdf"},
        params={"reason": "判决解除购房合同", "judgment": reference},
        content=judgment_pdf(reference),
    )


# -- the rule, pure -----------------------------------------------------------------------


def test_the_amount_due_by_building_type_or_price_share_rounds_to_the_fen(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    [rules] = maintenance.load_rule_sets(path)
    high = maintenance.amount_due(rules, Decimal("118.56"), 12, Decimal("1422720"))
    low = maintenance.amount_due(rules, Decimal("118.56"), 6, Decimal("1422720"))
    assert (high.amount_fen, low.amount_fen) == (DUE, 592_800)
    assert high.basis == "高层 118.56 m² × 80.00 元/m²" and high.bank == BANK
    share = dataclasses.replace(
        rules, basis=maintenance.Basis.PRICE_SHARE, price_share=Decimal("0.02")
    )
    # 2% of 1,000,000.33 元 = 20,000.0066 元: 2,000,001 fen (half up).
    assert maintenance.amount_due(share, Decimal(90), 3, Decimal("1000000.33")).amount_fen == (
        2_000_001
    )
    assert maintenance.due_on([rules], dt.date(2019, 12, 31)) is None
    assert maintenance.due_on([rules], dt.date(2020, 1, 1)) is rules
    for broken in (
        [{**RULES[0], "rates_yuan": {"多层": "50.00"}}],
        [{**RULES[0], "basis": "per-m3"}],
        [{**RULES[0], "rates_yuan": {"多层": "50.005", "高层": "80.00"}}],
        [{**RULES[0], "rates_yuan": {"多层": "0", "高层": "80.00"}}],
        [{**RULES[0], "basis": "price-share", "price_share": "1.5"}],
        [RULES[0], RULES[0]],
    ):
        path.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
        with pytest.raises(RuleSetError):
            maintenance.load_rule_sets(path)
    with pytest.raises(maintenance.Overpaid):
        maintenance.check_deposit(900_000, DUE, 48_481)
    maintenance.check_deposit(900_000, DUE, 48_480)
    with pytest.raises(maintenance.InsufficientBalance):
        maintenance.check_use(100, 101)
    with pytest.raises(maintenance.BadAmount):
        maintenance.check_use(100, 0)


# -- over HTTP ----------------------------------------------------------------------------


def test_deposit_gates_registration_and_is_proven_offline(mapi: Api, tmp_path: Path) -> None:
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    account = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["authority"]).json()
    [due] = account["dues"]
    assert (due["filing"], due["due_fen"], due["rule_version"]) == (number, DUE, "test-2020.1")
    assert account["balance_fen"] == 0 and due["bank"] == BANK

    register = f"/v1/units/{CODES[0]}/registration"
    early = _post(client, register, keys["authority"], json=REGISTRATION)
    assert (early.status_code, _type(early)) == (409, "maintenance-fund-due"), early.text

    r = _deposit(client, bank, keys["bank"], number, 400_000)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["deposited_fen"] == 400_000 and not first["settled"] and first["receipt"]
    still = _post(client, register, keys["authority"], json=REGISTRATION)
    assert (still.status_code, _type(still)) == (409, "maintenance-fund-due")

    path = f"/v1/filings/{number}/maintenance/deposits"
    other_key = _add_key(d, "另一银行", auth.Role.BANK)
    other = _bank(client, other_key, "另一银行")
    refusals = [
        (keys["bank"], bank.signed("maintenance-deposit", number, 548_481, account=CODES[0])),
        (keys["bank"], bank.signed("maintenance-deposit", number, 1, account=CODES[1])),
        (keys["bank"], bank.signed("deposit", number, 1, account=CODES[0])),
        (other_key, other.signed("maintenance-deposit", number, 1, account=CODES[0])),
        (keys["developer"], bank.signed("maintenance-deposit", number, 1, account=CODES[0])),
    ]
    expected = [
        (409, "maintenance-overpaid"),
        (422, "wrong-account"),
        (422, "statement-mismatch"),
        (403, "wrong-bank"),
        (403, "forbidden"),
    ]
    for (headers, body), want in zip(refusals, expected, strict=True):
        r = _post(client, path, headers, json=body)
        assert (r.status_code, _type(r)) == want, r.text
    # A maintenance statement is no supervision deposit, and the other way round.
    body = bank.signed("maintenance-deposit", number, 1, account=CODES[0])
    r = _post(client, f"/v1/filings/{number}/funds/deposits", keys["bank"], json=body)
    assert (r.status_code, _type(r)) == (422, "statement-mismatch")

    r = _deposit(client, bank, keys["bank"], number, DUE - 400_000)
    assert r.status_code == 201 and r.json()["settled"], r.text
    data = _leaf(d, r.json()["log_index"])
    entry = FilingEntry.decode(data)
    assert entry.event is EntryEvent.MAINTENANCE_DEPOSITED and entry.unit == CODES[0]
    assert b"548480" not in data and BANK.encode() not in data and status_name(data) is None
    assert LoggedEntry.read(data).is_fund_event

    r = _post(client, register, keys["authority"], json=REGISTRATION)
    assert r.status_code == 200, r.text
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems

    # The court's evidence package proves both deposits offline.
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"]).content
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    (tmp_path / "e.zip").write_bytes(zipped)
    done = subprocess.run(
        [str(BIN / "wangqian-verify"), str(tmp_path / "e.zip"), "--trust", str(trust)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("维修资金记录已证明") == 2, done.stdout
    assert "住宅专项维修资金存入 5,484.80 元" in done.stdout


def test_filings_without_rules_are_not_blocked(api: Api) -> None:
    """A deployment without a rules file (a migrated one, say) owes nothing: its filings
    register as before, and no deposit is taken."""
    client, keys, _ = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    account = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["stats"]).json()
    assert account["dues"] == [] and account["balance_fen"] == 0
    bank = _bank(client, keys["bank"], BANK)
    r = _deposit(client, bank, keys["bank"], number, 1)
    assert (r.status_code, _type(r)) == (409, "no-maintenance-due")
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION)
    assert r.status_code == 200, r.text


def test_the_balance_moves_with_the_unit_on_resale(mapi: Api) -> None:
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, first = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], first, DUE).status_code == 201
    old = {**REGISTRATION, "registered_on": "2020-01-02"}  # 限售 is past
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=old)
    assert r.status_code == 200, r.text
    path = f"/v1/units/{CODES[0]}/maintenance"
    assert client.get(path, headers=keys["buyer"]).json()["balance_fen"] == DUE  # the owner

    setup_resale(client, keys, d)
    body = resale_body("ESF-WX-1", sellers=(BUYER,), buyers=(WANG,), code=CODES[0], brokerage=False)
    r = _post(client, "/v1/resale-contracts", keys["buyer"], json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert sign(client, keys["buyer"], cid, "seller-1", BUYER).status_code == 200
    assert client.get(path, headers=keys["wang"]).status_code == 403  # not an owner yet
    r = sign(client, keys["wang"], cid, "buyer-1", WANG)
    assert r.status_code == 201, r.text
    second = r.json()["filing"]
    # A resale owes nothing again: its registration waits for no deposit.
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200 and r.json()["filing"] == second, r.text
    now = client.get(path, headers=keys["wang"])
    assert now.status_code == 200 and now.json()["balance_fen"] == DUE, now.text
    assert [x["filing"] for x in now.json()["dues"]] == [first]
    assert client.get(path, headers=keys["buyer"]).status_code == 403  # the seller's no more
    assert client.get(path, headers=keys["developer"]).status_code == 403
    other_bank = _add_key(d, "另一银行", auth.Role.BANK)
    assert client.get(path, headers=other_bank).status_code == 403
    assert client.get(path, headers=keys["bank"]).status_code == 200  # its bank
    # A use after the resale debits the unit, and the log entry names the account's filing.
    use = {"number": "WX-2030-0001", "approval": "业主大会决议 2030-01", "debits": []}
    use["debits"] = [{"unit": CODES[0], "amount_fen": 100_000}]
    r = _post(client, "/v1/maintenance/uses", keys["authority"], json=use)
    assert r.status_code == 201, r.text
    entry = FilingEntry.decode(_leaf(d, r.json()["debits"][0]["log_index"]))
    assert entry.event is EntryEvent.MAINTENANCE_USED and entry.filing == first
    assert client.get(path, headers=keys["wang"]).json()["balance_fen"] == DUE - 100_000
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_uses_refuse_what_the_balance_cannot_cover_and_write_nothing(mapi: Api) -> None:
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    size = d.log.appended()
    cases = [
        (keys["developer"], [(CODES[0], 1)], 403, "forbidden"),
        (keys["authority"], [(CODES[0], DUE + 1)], 409, "insufficient-balance"),
        # CODES[1] has no account: the whole use is refused, CODES[0] included.
        (keys["authority"], [(CODES[0], 1), (CODES[1], 1)], 409, "insufficient-balance"),
        (keys["authority"], [(CODES[0], 1), (CODES[0], 1)], 422, "bad-use"),
        (keys["authority"], [("430104001001GB00001F00019999", 1)], 404, "unknown-unit"),
        (keys["authority"], [(CODES[0], 0)], 422, "validation-error"),
    ]
    for n, (headers, debits, status, slug) in enumerate(cases):
        body = {
            "number": f"WX-R-{n}",
            "approval": "业主大会决议",
            "debits": [{"unit": c, "amount_fen": a} for c, a in debits],
        }
        r = _post(client, "/v1/maintenance/uses", headers, json=body)
        assert r.status_code == status, (n, r.text)
        if slug != "validation-error":
            assert _type(r) == slug, (n, r.text)
    assert d.log.appended() == size  # nothing reached the log
    totals = client.get("/v1/stats/maintenance", headers=keys["stats"]).json()
    assert totals["deposited_fen"] == DUE and totals["used_fen"] == 0 and totals["uses"] == 0
    assert totals["due_fen"] == DUE and totals["filings_with_due"] == 1
    assert client.get("/v1/stats/maintenance", headers=keys["buyer"]).status_code == 403


# -- races over real HTTP -----------------------------------------------------------------


@pytest.fixture
def maint_server(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, dict[str, dict[str, str]], Deployment]]:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    _adopt(tmp_path)
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
            ("stats", "长沙市统计局", auth.Role.DEPARTMENT),
        ]:
            keys[name] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    with _Server(app) as base:
        yield base, keys, d
    d.close()


def test_racing_uses_never_overdraw_and_crossing_units_do_not_deadlock(
    maint_server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    import httpx

    base, keys, d = maint_server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)
        numbers = []
        for code, contract_number in [(CODES[0], "HT-WX-1"), (CODES[1], "HT-WX-2")]:
            _, number = file_contract(
                client,  # type: ignore[arg-type]
                keys,
                {**CONTRACT, "unit_code": code, "number": contract_number},
            )
            numbers.append(number)
        bank = _bank(client, keys["bank"], BANK)
        # Six deposits of a third of the amount due, at once: three fit, three would overpay.
        third = DUE // 3
        calls = [
            (
                f"/v1/filings/{numbers[0]}/maintenance/deposits",
                bank.signed("maintenance-deposit", numbers[0], third, account=CODES[0]),
            )
            for _ in range(6)
        ]
        answers = _race(base, keys["bank"], calls)
        assert sorted(a.status_code for a in answers) == [201] * 3 + [409] * 3
        assert all(_type(a) == "maintenance-overpaid" for a in answers if a.status_code == 409)
        body = bank.signed("maintenance-deposit", numbers[1], DUE, account=CODES[1])
        r = _post(client, f"/v1/filings/{numbers[1]}/maintenance/deposits", keys["bank"], json=body)
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]

        # Eight uses of 300,000 fen from one unit: three fit in 948,480, five do not.
        calls = [
            (
                "/v1/maintenance/uses",
                {
                    "number": f"WX-A-{i}",
                    "approval": "业主大会决议",
                    "debits": [{"unit": CODES[0], "amount_fen": 300_000}],
                },
            )
            for i in range(8)
        ]
        answers = _race(base, keys["authority"], calls)
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] * 3 + [409] * 5, [a.text for a in answers]
        assert all(_type(a) == "insufficient-balance" for a in answers if a.status_code == 409)

        # Uses naming both units in opposite orders, at once: all answered, none overdraws.
        calls = [
            (
                "/v1/maintenance/uses",
                {
                    "number": f"WX-B-{i}",
                    "approval": "业主大会决议",
                    "debits": [
                        {"unit": CODES[i % 2], "amount_fen": 10_000},
                        {"unit": CODES[1 - i % 2], "amount_fen": 200_000},
                    ],
                },
            )
            for i in range(8)
        ]
        answers = _race(base, keys["authority"], calls)
        assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
        for code in CODES:
            account = client.get(f"/v1/units/{code}/maintenance", headers=keys["stats"]).json()
            assert account["balance_fen"] >= 0
            assert account["balance_fen"] == DUE - sum(
                e["amount_fen"] for e in account["events"] if e["kind"] == "use"
            )
        assert (
            client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["stats"]).json()[
                "balance_fen"
            ]
            < 100_000
        )
    with d.log.engine.connect() as conn:
        rows = conn.execute(select(maintenance_events.c.unit_id, maintenance_events.c.seq)).all()
    assert len(rows) == len(set(rows))
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems
