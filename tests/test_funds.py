"""The pure rules of fund supervision (filing/funds.py), the statement format, the entries."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from filing import funds
from filing.entry import FUND_EVENTS, EntryEvent, EntryFormatError, FilingEntry, status_name
from filing.funds import (
    AccountState,
    FilingState,
    FundEvent,
    FundEventKind,
)
from keys import banks
from verifier import fund_statement, map_audit
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.fund_statement import FundStatement, StatementRejected

D, R, F = FundEventKind.DEPOSIT, FundEventKind.RELEASE, FundEventKind.REFUND
UNIT = "430104001001GB00001F00010203"
AT = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def test_amounts_are_positive_whole_fen() -> None:
    for bad in (0, -1, funds.MAX_FEN + 1, 1.0, True, "100"):
        with pytest.raises(funds.BadAmount):
            FundEvent(D, bad)  # type: ignore[arg-type]
    assert FundEvent(D, 1).amount_fen == 1
    assert FundEvent(D, funds.MAX_FEN).amount_fen == funds.MAX_FEN


def test_deposits_add_up_and_settlement_takes_the_whole_balance() -> None:
    s = AccountState()
    s = funds.apply(s, FilingState.IN_FORCE, FundEvent(D, 30_000_000))
    s = funds.apply(s, FilingState.REGISTERED, FundEvent(D, 12_345))
    assert (s.deposited_fen, s.deposits, s.balance_fen) == (30_012_345, 2, 30_012_345)
    with pytest.raises(funds.InsufficientBalance):
        funds.apply(s, FilingState.REGISTERED, FundEvent(R, 30_012_346))
    with pytest.raises(funds.AmountMismatch):
        funds.apply(s, FilingState.REGISTERED, FundEvent(R, 1))
    done = funds.apply(s, FilingState.REGISTERED, FundEvent(R, 30_012_345))
    assert done.settled_by is R and done.balance_fen == 0 and done.settled


def test_release_needs_the_registration_and_refund_the_cancellation() -> None:
    s = funds.apply(AccountState(), FilingState.IN_FORCE, FundEvent(D, 100))
    with pytest.raises(funds.NotRegistered):
        funds.check(s, FilingState.IN_FORCE, FundEvent(R, 100))
    with pytest.raises(funds.FilingCancelled):
        funds.check(s, FilingState.CANCELLED, FundEvent(R, 100))
    for state in (FilingState.IN_FORCE, FilingState.REGISTERED):
        with pytest.raises(funds.NotCancelled):
            funds.check(s, state, FundEvent(F, 100))
    with pytest.raises(funds.FilingCancelled):
        funds.check(s, FilingState.CANCELLED, FundEvent(D, 100))
    assert funds.apply(s, FilingState.CANCELLED, FundEvent(F, 100)).settled_by is F


def test_an_empty_account_has_nothing_to_release_or_refund() -> None:
    with pytest.raises(funds.InsufficientBalance):
        funds.check(AccountState(), FilingState.REGISTERED, FundEvent(R, 1))
    with pytest.raises(funds.InsufficientBalance):
        funds.check(AccountState(), FilingState.CANCELLED, FundEvent(F, 1))


def test_a_settled_account_takes_nothing_more_whatever_the_filing() -> None:
    """Nothing released or refunded twice; no release after a refund or the other way round;
    no deposit after settlement: every event, every filing state, every amount."""
    released = AccountState(500, 1, R, 500)
    refunded = AccountState(500, 1, F, 500)
    for (state, error), kind, filing in itertools.product(
        ((released, funds.AlreadyReleased), (refunded, funds.AlreadyRefunded)),
        FundEventKind,
        FilingState,
    ):
        for amount in (1, 500, 501):
            with pytest.raises(error):
                funds.check(state, filing, FundEvent(kind, amount))


def test_exhaustively_no_sequence_goes_negative_or_moves_money_twice() -> None:
    """Every sequence of up to 5 events (kinds x filing states x amounts): whatever the
    rules accept never leaves a negative balance and settles at most once."""
    amounts = (1, 2, 3)
    steps = list(itertools.product(FundEventKind, FilingState, amounts))
    accepted = 0

    def walk(state: AccountState, depth: int, settlements: int) -> None:
        nonlocal accepted
        assert state.balance_fen >= 0 and settlements <= 1
        if depth == 0:
            return
        for kind, filing, amount in steps:
            try:
                after = funds.apply(state, filing, FundEvent(kind, amount))
            except funds.FundRuleError:
                continue
            accepted += 1
            assert after.balance_fen == (0 if kind.settles else state.balance_fen + amount)
            walk(after, depth - 1, settlements + kind.settles)

    walk(AccountState(), 4, 0)
    assert accepted > 1000


def test_replay_rebuilds_and_refuses_impossible_histories() -> None:
    events = [FundEvent(D, 100), FundEvent(D, 50), FundEvent(F, 150)]
    assert funds.replay(events) == AccountState(150, 2, F, 150)
    with pytest.raises(funds.FundRuleError):
        funds.replay([*events, FundEvent(D, 1)])
    with pytest.raises(funds.FundRuleError):
        funds.replay([FundEvent(D, 1), FundEvent(R, 2)])


def test_yuan_is_exact() -> None:
    assert funds.yuan(30_012_345) == "300123.45"
    assert funds.yuan(5) == "0.05"
    assert funds.yuan(funds.MAX_FEN) == "10000000000000.00"
    assert [k.label for k in FundEventKind] == ["监管资金存入", "监管资金拨付", "监管资金退还"]


# -- the log entry ---------------------------------------------------------------


def _entry(event: EntryEvent) -> FilingEntry:
    return FilingEntry(event, "CS-2026-000001", "ab" * 32, UNIT, AT, (), ref=7)


@pytest.mark.parametrize("event", sorted(FUND_EVENTS, key=lambda e: e.value))
def test_fund_entries_round_trip_and_stay_out_of_the_status_map(event: EntryEvent) -> None:
    data = _entry(event).encode()
    assert FilingEntry.decode(data) == _entry(event)
    assert b"fen" not in data and b"account" not in data  # amounts and accounts stay out
    read = LoggedEntry.read(data)
    assert read.event == event.value and read.ref == 7 and read.is_fund_event
    # Both sides key it the same way: not at all (a deposit never masks a cancellation).
    assert status_name(data) is None and map_audit.status_name(data) is None
    cancelled = FilingEntry(EntryEvent.CANCELLED, "CS-2026-000001", "cd" * 32, UNIT, AT, (), 7)
    assert status_name(cancelled.encode()) == "CS-2026-000001"
    assert map_audit.status_name(cancelled.encode()) == "CS-2026-000001"


def test_fund_entries_refer_to_a_filing_and_name_no_parties() -> None:
    with pytest.raises(EntryFormatError):
        FilingEntry(EntryEvent.FUNDS_DEPOSITED, "CS-2026-000001", "ab" * 32, UNIT, AT, ())
    with pytest.raises(EntryFormatError):
        FilingEntry(
            EntryEvent.FUNDS_RELEASED, "CS-2026-000001", "ab" * 32, UNIT, AT, ("cd" * 32,), 7
        )
    forged = (
        _entry(EntryEvent.FUNDS_REFUNDED)
        .encode()
        .replace(b'"parties":[]', b'"parties":["' + b"cd" * 32 + b'"]')
    )
    with pytest.raises(EntryUnreadable):
        LoggedEntry.read(forged)


# -- the statement -----------------------------------------------------------------


def _statement(**changes: object) -> FundStatement:
    fields: dict[str, object] = {
        "kind": "deposit",
        "filing": "CS-2026-000001",
        "account": "4300 0000 0000 8888",
        "amount_fen": 30_000_000,
        "at": AT,
        "bank": "示范银行",
        "reference": "TXN-1",
    }
    fields.update(changes)
    return FundStatement(**fields)  # type: ignore[arg-type]


def test_the_statement_is_canonical_json() -> None:
    data = _statement().encode()
    assert (
        data
        == (
            '{"account":"4300 0000 0000 8888","amount_fen":30000000,"at":"2026-12-01T08:00:00Z",'
            '"bank":"示范银行","filing":"CS-2026-000001","kind":"deposit","reference":"TXN-1",'
            '"type":"wangqian-fund-statement","v":1}'
        ).encode()
    )
    assert FundStatement.decode(data) == _statement()
    for bad in (
        data.replace(b"30000000", b"30000000.0"),
        data.replace(b"30000000", b"-1"),
        data.replace(b'"deposit"', b'"withdrawal"'),
        data.replace(b'"v":1', b'"v":2'),
        data.replace(b",", b", "),
        data[:-1] + b',"extra":1}',
        b"not json",
    ):
        with pytest.raises(StatementRejected):
            FundStatement.decode(bad)


def test_the_bank_marker_is_the_same_in_keys_and_verifier() -> None:
    assert banks.FUND_STATEMENTS == fund_statement.FUND_STATEMENTS


def test_a_statement_verifies_only_with_its_banks_certificate(tmp_path: object) -> None:
    from pathlib import Path

    from keys.authority import CertificateAuthority
    from keys.pki import Endpoints, Profile, name
    from keys.store import FileKeyStore

    base = Path(str(tmp_path))
    ca = CertificateAuthority.open(
        base / "pki", FileKeyStore(base / "keys", b"pass"), Endpoints("http://x")
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = banks.issue_bank_certificate(ca, "示范银行", key.public_key())
    data = _statement().encode()
    now = dt.datetime.now(dt.UTC)
    sig = fund_statement.sign(data, key)
    assert fund_statement.verify(data, sig, cert, [ca.issuing], now) == _statement()
    with pytest.raises(StatementRejected, match="signature"):
        fund_statement.verify(data.replace(b"TXN-1", b"TXN-2"), sig, cert, [ca.issuing], now)
    other = banks.issue_bank_certificate(ca, "另一银行", key.public_key())
    with pytest.raises(StatementRejected, match="names bank"):
        fund_statement.verify(data, sig, other, [ca.issuing], now)
    with pytest.raises(StatementRejected, match="not valid"):
        fund_statement.verify(data, sig, cert, [ca.issuing], now + dt.timedelta(days=3 * 365))
    with pytest.raises(StatementRejected, match="not issued"):
        fund_statement.verify(data, sig, cert, [ca.root], now)
    # A developer's enterprise seal is no bank's certificate, whatever its organisation.
    seal = ca.issue(Profile.ENTERPRISE_SEAL, name("示范银行", "示范银行"), key.public_key())
    with pytest.raises(StatementRejected, match="not a bank"):
        fund_statement.verify(data, sig, seal, [ca.issuing], now)
    assert isinstance(cert, x509.Certificate)
