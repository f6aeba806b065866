"""Reading a filing's log entry (version 1, docs/formats.md) on the verifier's side.

The platform writes entries with ``filing/entry.py``; the verifier may not import
the platform, so it reads the published format itself. A test holds the two
together.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

_HEX64 = re.compile(r"[0-9a-f]{64}")
_FILING = re.compile(r"[\x21-\x7e]{1,64}")
_EVENTS = (
    "filed",
    "cancelled",
    "changed",
    "registered",  # 不动产登记 / 转移登记 completed the filing: in force, registered
    "expired",  # a lease's term ran out: no longer in force
    "funds-deposited",
    "funds-released",
    "funds-refunded",
    "maintenance-deposited",  # 住宅专项维修资金: the designated bank confirmed a deposit
    "maintenance-used",  # ... an approved use of funds debited the unit
    "maintenance-refunded",  # ... the bank refunded a cancelled purchase's deposits
)
# Fund events (资金监管, 维修资金): no status of the filing (never in the status map).
FUND_EVENTS = (
    "funds-deposited",
    "funds-released",
    "funds-refunded",
    "maintenance-deposited",
    "maintenance-used",
    "maintenance-refunded",
)
_BASES = ("agreement", "judgment")
_KINDS = ("new-home", "resale", "lease")  # absent: new-home


class EntryUnreadable(ValueError):
    """Bytes that are not a version-1 filing entry."""


@dataclass(frozen=True)
class LoggedEntry:
    event: str  # filed | cancelled | changed | registered | funds-* | maintenance-*
    filing: str
    doc_sha256: str
    unit: str
    at: dt.datetime
    parties: tuple[str, ...]
    ref: int | None
    basis: str | None = None  # a cancellation's: agreement | judgment (None in older entries)
    kind: str = "new-home"  # the filing's transaction kind: new-home | resale | lease

    @classmethod
    def read(cls, data: bytes) -> LoggedEntry:
        try:
            obj = json.loads(data.decode("utf-8"))
            if not isinstance(obj, dict) or obj.get("v") != 1:
                raise EntryUnreadable("not a version-1 filing entry")
            entry = cls(
                event=str(obj["event"]),
                filing=str(obj["filing"]),
                doc_sha256=str(obj["doc"]),
                unit=str(obj["unit"]),
                at=dt.datetime.strptime(obj["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC),
                parties=tuple(str(p) for p in obj["parties"]),
                ref=_index(obj["ref"]),
                basis=str(obj["basis"]) if "basis" in obj else None,
                kind=str(obj["kind"]) if "kind" in obj else "new-home",
            )
        except EntryUnreadable:
            raise
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise EntryUnreadable(f"not a filing entry: {exc}") from exc
        if not _FILING.fullmatch(entry.filing):
            # A filing number is what the status map is keyed by and a status file names.
            raise EntryUnreadable("entry names its filing with something other than 1-64 ASCII")
        if entry.event not in _EVENTS or not _HEX64.fullmatch(entry.doc_sha256):
            raise EntryUnreadable("entry has an unknown event or a malformed document hash")
        if entry.basis is not None and (entry.event != "cancelled" or entry.basis not in _BASES):
            raise EntryUnreadable(f"entry has an unknown basis {entry.basis!r}")
        if entry.kind not in _KINDS or obj.get("kind") == "new-home":
            # The default is written by leaving the key out; anything else is not the format.
            raise EntryUnreadable(f"entry has an unknown kind {entry.kind[:30]!r}")
        if (entry.ref is None) != (entry.event == "filed"):
            # As the platform writes them: a status check finds the filing by ``ref``.
            raise EntryUnreadable("a cancellation or change names its filing (ref), a filing none")
        if entry.event in FUND_EVENTS and entry.parties:
            raise EntryUnreadable("a fund event names no parties")
        if entry.event == "registered" and entry.parties:
            raise EntryUnreadable("a registration names no parties")
        return entry

    @property
    def is_fund_event(self) -> bool:
        return self.event in FUND_EVENTS


def _index(value: object) -> int | None:
    """A log index as JSON writes it: an integer, not a float (``1e999`` is infinity)."""
    if value is None:
        return None
    if type(value) is not int or not 0 <= value < 1 << 63:
        raise EntryUnreadable(f"entry's ref {str(value)[:30]!r} is not a log index")
    return value
