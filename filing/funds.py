"""Fund supervision (交易资金监管): a supervised account's state and its rules, pure.

A filing names one supervision account (for a new home, the presale escrow account its
contract names: ``signing.contract.Escrow``). The bank that keeps the account confirms
each of the buyer's deposits; the balance then leaves the account exactly once, either

* **released** to the seller, only once the authority has recorded the registration
  that ends the sale (new homes: the unit's REGISTER under this filing; resale: the
  transfer registration 转移登记; see ``RegistrationCheck`` in ``filing.fund_service``), or
* **refunded** to the buyer, only once the filing is cancelled.

Deposits may come in parts (down payment, instalments); a release or a refund settles
the whole balance in one event, so that nothing is released or refunded twice and
nothing is released after a refund or refunded after a release: the account is then
settled and takes no more events. Amounts are integer fen (分); a balance never goes
negative. The repository applies these functions under the account's lock and records
each event as a bank-signed statement and a log entry.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

# 10^15 fen = 10 trillion yuan: far above any home's price, far below 2^63.
MAX_FEN = 10**15


class FundEventKind(enum.Enum):
    DEPOSIT = "deposit"  # 存入: the bank confirms the buyer's money arrived
    RELEASE = "release"  # 拨付: the balance goes to the seller
    REFUND = "refund"  # 退还: the balance goes back to the buyer

    @property
    def settles(self) -> bool:
        return self is not FundEventKind.DEPOSIT

    @property
    def label(self) -> str:
        """The kind in Chinese, as pages and reports show it."""
        return {"deposit": "监管资金存入", "release": "监管资金拨付", "refund": "监管资金退还"}[
            self.value
        ]


class FilingState(enum.Enum):
    """What fund events need to know of the filing they belong to."""

    IN_FORCE = "in-force"  # filed, not registered, not cancelled
    REGISTERED = "registered"  # the registration that ends the sale is recorded
    CANCELLED = "cancelled"


class FundRuleError(ValueError):
    """Base class: the event does not apply to the account as it stands."""

    slug = "fund-rule"


class BadAmount(FundRuleError):
    slug = "bad-amount"


class FilingCancelled(FundRuleError):
    slug = "filing-cancelled"


class NotRegistered(FundRuleError):
    slug = "not-registered"


class NotCancelled(FundRuleError):
    slug = "not-cancelled"


class AlreadyReleased(FundRuleError):
    slug = "already-released"


class AlreadyRefunded(FundRuleError):
    slug = "already-refunded"


class InsufficientBalance(FundRuleError):
    slug = "insufficient-balance"


class AmountMismatch(FundRuleError):
    """A release or refund settles the whole balance: its amount must be the balance."""

    slug = "amount-mismatch"


@dataclass(frozen=True)
class FundEvent:
    kind: FundEventKind
    amount_fen: int

    def __post_init__(self) -> None:
        check_amount(self.amount_fen)


@dataclass(frozen=True)
class AccountState:
    """An account as its events left it: what came in, and how it was settled, if it was."""

    deposited_fen: int = 0
    deposits: int = 0
    settled_by: FundEventKind | None = None
    settled_fen: int = 0

    @property
    def balance_fen(self) -> int:
        return self.deposited_fen - self.settled_fen

    @property
    def settled(self) -> bool:
        return self.settled_by is not None


def check_amount(amount_fen: int) -> None:
    """A positive whole number of fen, not a float, not a bool, within ``MAX_FEN``."""
    if type(amount_fen) is not int:
        raise BadAmount(f"amounts are whole fen (an integer), not {type(amount_fen).__name__}")
    if not 0 < amount_fen <= MAX_FEN:
        raise BadAmount(f"an amount is 1 to {MAX_FEN} fen, not {amount_fen}")


def check(state: AccountState, filing: FilingState, event: FundEvent) -> None:
    """Raise the ``FundRuleError`` that forbids ``event`` now; return if it applies."""
    if state.settled_by is FundEventKind.RELEASE:
        raise AlreadyReleased("the balance was released to the seller; the account is settled")
    if state.settled_by is FundEventKind.REFUND:
        raise AlreadyRefunded("the balance was refunded to the buyer; the account is settled")
    if event.kind is FundEventKind.DEPOSIT:
        if filing is FilingState.CANCELLED:
            raise FilingCancelled("the filing is cancelled: no more deposits")
        if state.deposited_fen + event.amount_fen > MAX_FEN:
            raise BadAmount("the deposits would exceed the largest amount the platform keeps")
        return
    if event.kind is FundEventKind.RELEASE:
        if filing is FilingState.CANCELLED:
            raise FilingCancelled("the filing is cancelled: its funds go back to the buyer")
        if filing is not FilingState.REGISTERED:
            raise NotRegistered("funds are released only after the registration is recorded")
    elif filing is not FilingState.CANCELLED:
        raise NotCancelled("funds are refunded only after the filing is cancelled")
    if event.amount_fen > state.balance_fen:
        raise InsufficientBalance(
            f"the balance is {state.balance_fen} fen; {event.amount_fen} fen cannot leave it"
        )
    if event.amount_fen != state.balance_fen:
        raise AmountMismatch(
            f"a {event.kind.value} settles the whole balance of {state.balance_fen} fen"
        )


def apply(state: AccountState, filing: FilingState, event: FundEvent) -> AccountState:
    """The account after ``event``, if the rules allow it (``check``)."""
    check(state, filing, event)
    if event.kind is FundEventKind.DEPOSIT:
        return AccountState(
            state.deposited_fen + event.amount_fen,
            state.deposits + 1,
            state.settled_by,
            state.settled_fen,
        )
    return AccountState(state.deposited_fen, state.deposits, event.kind, event.amount_fen)


def replay(events: Iterable[FundEvent]) -> AccountState:
    """The state recorded events lead to, in order, without judging them (they were judged
    when recorded): a settled account never takes another, so a later one is an error."""
    state = AccountState()
    for e in events:
        if state.settled:
            raise FundRuleError("recorded events continue after the account was settled")
        if e.kind is FundEventKind.DEPOSIT:
            state = AccountState(state.deposited_fen + e.amount_fen, state.deposits + 1)
        else:
            state = AccountState(state.deposited_fen, state.deposits, e.kind, e.amount_fen)
    if state.balance_fen < 0:
        raise FundRuleError("recorded events leave a negative balance")
    return state


def yuan(amount_fen: int) -> str:
    """Fen as yuan for people: ``1234567`` → ``"12345.67"`` (no float on the way)."""
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{cents:02d}"
