"""The log entry of a filing event: canonical, versioned, and free of personal data.

Version 1 is canonical JSON (UTF-8, keys sorted, no insignificant whitespace):

    {"at":"2026-11-27T13:30:00Z","doc":"<sha256 hex of the sealed PDF>",
     "event":"filed","filing":"CS-2026-000001","parties":["<hex>",...],
     "ref":null,"unit":"430104001001GB00001F00010203","v":1}

``parties`` are SHA-256(salt ‖ id_type ‖ ":" ‖ id_number) with a random 16-byte
salt per filing that the platform keeps and gives each party with their
evidence: a party can prove an entry names them; nobody else can tell who it
names, nor link two filings of one person. ``ref`` is the log index of the
filing a cancellation or change refers to. ``doc`` is the sealed contract's hash;
for a change, the sealed change agreement's. A cancellation says on what ``basis``:
``agreement`` (``doc``: the cancellation agreement every party signed, sealed) or
``judgment`` (``doc``: the judgment or decision document the authority or a court
recorded). Entries written before the key existed have none. ``kind`` names the
transaction kind of the filing every event of it belongs to; it is left out for a
new-home sale (新建商品房买卖), so entries written before kinds existed read unchanged.

Fund supervision events (``funds-deposited``, ``funds-released``, ``funds-refunded``)
refer to the filing (``ref``) like a change; their ``doc`` is the SHA-256 of the
bank's signed statement (``verifier/fund_statement.py``), ``parties`` is empty, and
amounts and account numbers stay out of the entry. They are no status of the filing:
``status_name`` leaves them out of the status map, so that a deposit or a refund
never masks a cancellation (docs/formats.md).

Maintenance-fund events (住宅专项维修资金: ``maintenance-deposited``, ``maintenance-used``,
``maintenance-refunded``) are the same shape: ``filing`` and ``ref`` name the new-home
filing whose deposits they concern (a use: the filing whose deposits it spends, the one
that opened the unit's account; a refund: the cancelled filing), ``unit`` the unit;
``doc`` is the SHA-256 of the bank's signed statement (a deposit, a refund) or of the
canonical use record (a use; ``filing.maintenance_service``). No amounts, no parties, no
status.

A registration (``registered``: a new home's 不动产登记, a resale's 转移登记) refers to the
filing it completes (``ref``); its ``doc`` is the SHA-256 of the canonical registration
record (``registration_record``: certificate number, day, filing number, unit; no names),
``parties`` is empty. It is a status event: the filing is in force and completed.

A lease (``kind``: ``lease``) ends early by a cancellation (agreement or judgment) or at
the end of its term: ``expired`` refers to the filing (``ref``), its ``doc`` is the
SHA-256 of the canonical expiry record (``expiry_record``: filing number, unit, the
term's last day), ``parties`` is empty. It is a status event: the filing is no longer in
force.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from filing.unit_code import UnitCode

VERSION = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FILING = re.compile(r"[\x21-\x7e]{1,64}")  # what the status map is keyed by


class EntryEvent(enum.Enum):
    FILED = "filed"
    CANCELLED = "cancelled"
    CHANGED = "changed"
    FUNDS_DEPOSITED = "funds-deposited"  # 资金监管: the bank confirmed a deposit
    FUNDS_RELEASED = "funds-released"  # ... released the balance to the seller
    FUNDS_REFUNDED = "funds-refunded"  # ... refunded the balance to the buyer
    REGISTERED = "registered"  # 不动产登记 / 转移登记 completed the filing: in force, done
    MAINTENANCE_DEPOSITED = "maintenance-deposited"  # 维修资金: the designated bank confirmed
    MAINTENANCE_USED = "maintenance-used"  # ... an approved use of funds debited the unit
    MAINTENANCE_REFUNDED = "maintenance-refunded"  # ... refunded a cancelled purchase's deposits
    EXPIRED = "expired"  # a lease's term ran out: it ends (期满终止)

    @property
    def is_fund_event(self) -> bool:
        return self in FUND_EVENTS


FUND_EVENTS = frozenset(
    {EntryEvent.FUNDS_DEPOSITED, EntryEvent.FUNDS_RELEASED, EntryEvent.FUNDS_REFUNDED}
)
# Maintenance-fund events: like fund events, no status of the filing and no parties.
MAINTENANCE_EVENTS = frozenset(
    {
        EntryEvent.MAINTENANCE_DEPOSITED,
        EntryEvent.MAINTENANCE_USED,
        EntryEvent.MAINTENANCE_REFUNDED,
    }
)


class EntryKind(enum.Enum):
    """The transaction kind a filing event belongs to, as the public log names it."""

    NEW_HOME = "new-home"  # 新建商品房买卖 (presale GF-2014-0171 or 现售 0172); the default
    RESALE = "resale"  # 存量房买卖
    LEASE = "lease"  # 房屋租赁 (租赁备案), by the owners or an entrusted rental enterprise


class CancellationBasis(enum.Enum):
    """Why a filing ends: the parties' agreement, or a judgment or decision."""

    AGREEMENT = "agreement"
    JUDGMENT = "judgment"


class EntryFormatError(ValueError):
    """Bytes that are not a canonical version-1 filing entry."""


def party_hash(salt: bytes, id_type: str, id_number: str) -> str:
    return hashlib.sha256(salt + f"{id_type}:{id_number}".encode()).hexdigest()


@dataclass(frozen=True)
class FilingEntry:
    event: EntryEvent
    filing: str
    doc_sha256: str
    unit: str
    at: dt.datetime
    parties: tuple[str, ...]
    ref: int | None = None
    basis: CancellationBasis | None = None
    kind: EntryKind = EntryKind.NEW_HOME

    def __post_init__(self) -> None:
        UnitCode(self.unit)
        if not _FILING.fullmatch(self.filing):
            raise EntryFormatError("a filing number is 1 to 64 printable ASCII characters")
        if not _HEX64.fullmatch(self.doc_sha256) or not all(
            _HEX64.fullmatch(p) for p in self.parties
        ):
            raise EntryFormatError("document and party hashes are 64 lowercase hex digits")
        if (self.ref is None) != (self.event is EntryEvent.FILED):
            raise EntryFormatError("cancellations and changes refer to a filing; filings do not")
        if self.basis is not None and self.event is not EntryEvent.CANCELLED:
            raise EntryFormatError("only a cancellation has a basis")
        if self.event in FUND_EVENTS | MAINTENANCE_EVENTS and self.parties:
            raise EntryFormatError("a fund event names no parties")
        if self.event is EntryEvent.REGISTERED and self.parties:
            raise EntryFormatError("a registration names no parties")
        if self.event is EntryEvent.EXPIRED and (self.parties or self.kind is not EntryKind.LEASE):
            raise EntryFormatError("only a lease expires, and its expiry names no parties")

    def encode(self) -> bytes:
        data: dict[str, Any] = {
            "v": VERSION,
            "event": self.event.value,
            "filing": self.filing,
            "doc": self.doc_sha256,
            "unit": self.unit,
            "at": self.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "parties": list(self.parties),
            "ref": self.ref,
        }
        if self.basis is not None:
            data["basis"] = self.basis.value
        if self.kind is not EntryKind.NEW_HOME:
            data["kind"] = self.kind.value
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, data: bytes) -> FilingEntry:
        try:
            obj = json.loads(data.decode("utf-8"))
            entry = cls(
                event=EntryEvent(obj["event"]),
                filing=str(obj["filing"]),
                doc_sha256=str(obj["doc"]),
                unit=str(obj["unit"]),
                at=dt.datetime.strptime(obj["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC),
                parties=tuple(str(p) for p in obj["parties"]),
                ref=obj["ref"] if obj["ref"] is None else int(obj["ref"]),
                basis=CancellationBasis(obj["basis"]) if "basis" in obj else None,
                kind=EntryKind(obj["kind"]) if "kind" in obj else EntryKind.NEW_HOME,
            )
            version = obj["v"]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, OverflowError) as exc:
            raise EntryFormatError(f"not a filing entry: {exc}") from exc
        if version != VERSION:
            raise EntryFormatError(f"unsupported entry version {version!r}")
        if entry.encode() != data:
            raise EntryFormatError("entry is not in canonical form")
        return entry


def registration_record(filing: str, unit: str, certificate: str, registered_on: dt.date) -> bytes:
    """The canonical registration record a ``registered`` entry's ``doc`` is the hash of."""
    data = {
        "certificate": certificate,
        "filing": filing,
        "registered_on": registered_on.isoformat(),
        "unit": unit,
        "v": VERSION,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def expiry_record(filing: str, unit: str, ended_on: dt.date) -> bytes:
    """The canonical record an ``expired`` entry's ``doc`` is the hash of (no names)."""
    data = {"ended_on": ended_on.isoformat(), "filing": filing, "unit": unit, "v": VERSION}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def status_name(data: bytes) -> str | None:
    """The filing a log entry is an event of, by which the status map keys it; None for
    entries that are no filing event (access-log digests, other kinds) and for fund
    events, which are no status of the filing (a deposit must not mask a cancellation)."""
    try:
        entry = FilingEntry.decode(data)
    except EntryFormatError:
        return None
    return None if entry.event in FUND_EVENTS | MAINTENANCE_EVENTS else entry.filing
