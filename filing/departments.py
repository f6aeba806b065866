"""Department data for 购房资格, as tables the authority loads (CSV from each department).

* households (police, household registration): id_number, local (1/0, true/false, yes/no),
  spouse (optional), minor_children (optional, ";"-separated ID numbers)
* payments (human resources / tax): id_number, consecutive_months, as_of (ISO date)
* homes (natural resources, homes owned): id_number, district, homes
* identities (police): id_number, name, phone (optional: the mobile number of record, to which
  the platform sends a party's signing invitation) — for the identity check before a buyer's
  certificate

A load replaces the kind's table, all of it or nothing: a file with a wrong header, no rows or
any bad row changes nothing and is answered with every problem found. Each load is recorded
in ``dept_loads`` (who, when, kind, rows, SHA-256 of the file as sent), append-only.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import hashlib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)

from filing.eligibility import Household
from keys.identity import IdentityRejected, VerifiedIdentity

metadata = MetaData()
households = Table(
    "dept_households",
    metadata,
    Column("id_number", Text, primary_key=True),
    Column("local", Boolean, nullable=False),
    Column("spouse", Text),
    Column("minor_children", Text, nullable=False, default=""),
)
payments = Table(
    "dept_payments",
    metadata,
    Column("id_number", Text, primary_key=True),
    Column("consecutive_months", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
)
identities = Table(
    "dept_identities",
    metadata,
    Column("id_number", Text, primary_key=True),
    Column("name", Text, nullable=False),
    # The mobile number of record (实名登记的手机号), 11 digits: where a party's signing
    # invitation goes, so that only the phone's holder, not the drafter, can sign.
    Column("phone", Text),
)
homes = Table(
    "dept_homes",
    metadata,
    Column("id_number", Text, primary_key=True),
    Column("district", Text, primary_key=True),
    Column("homes", Integer, nullable=False),
)
loads = Table(
    "dept_loads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False, index=True),
    Column("loaded_by", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
)

# The record of loads is evidence of what eligibility decisions were based on.
APPEND_ONLY = ("dept_loads",)

MAX_ERRORS = 100  # listed in a rejection; a wholly wrong file would otherwise list every row
MAX_ID = 40  # characters of an ID number, as the API takes them
PHONE = re.compile(r"1[3-9][0-9]{9}")


class ExtractKind(enum.StrEnum):
    HOUSEHOLDS = "households"
    PAYMENTS = "payments"
    HOMES = "homes"
    IDENTITIES = "identities"


@dataclass(frozen=True)
class ExtractError:
    row: int  # 1-based, header excluded; 0 for the file as a whole (encoding, header, empty)
    message: str


class DepartmentDataError(ValueError):
    """A department extract is malformed (nothing of it was loaded); ``errors`` lists why."""

    def __init__(self, kind: str, errors: Sequence[ExtractError]) -> None:
        shown = "; ".join(f"row {e.row}: {e.message}" if e.row else e.message for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{kind} extract rejected, nothing loaded: {shown}{more}")
        self.errors = list(errors)


@dataclass(frozen=True)
class Load:
    """One accepted extract: who loaded it, when, how many rows, the file's SHA-256."""

    id: int
    kind: ExtractKind
    loaded_by: str
    loaded_at: dt.datetime
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        at = self.loaded_at if self.loaded_at.tzinfo else self.loaded_at.replace(tzinfo=dt.UTC)
        return {
            "id": self.id,
            "kind": self.kind.value,
            "loaded_by": self.loaded_by,
            "loaded_at": at.isoformat(),
            "rows": self.rows,
            "sha256": self.sha256,
        }


def _id_number(value: str, column: str = "id_number") -> str:
    if not value:
        raise ValueError(f"{column} is empty")
    if len(value) > MAX_ID:
        raise ValueError(f"{column} is longer than {MAX_ID} characters")
    return value


def _flag(value: str) -> bool:
    word = value.lower()
    if word in ("1", "true", "yes"):
        return True
    if word in ("0", "false", "no"):
        return False
    raise ValueError("local must be 1 or 0 (true/false, yes/no)")


def _count(value: str, column: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{column} is not a whole number") from None
    if n < 0:
        raise ValueError(f"{column} is negative")
    return n


def _date(value: str, column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} is not a date (YYYY-MM-DD)") from None


MAX_TEXT = 100  # characters: a name or a district, as the API's own person fields


def _text(value: str, column: str) -> str:
    # A name reaches SMS texts, pages and documents: bounded, no control characters.
    if not value:
        raise ValueError(f"{column} is empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{column} is over {MAX_TEXT} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError(f"{column} holds a control character")
    return value


def _household(r: dict[str, str]) -> dict[str, Any]:
    children = [c.strip() for c in r.get("minor_children", "").split(";") if c.strip()]
    return {
        "id_number": _id_number(r["id_number"]),
        "local": _flag(r["local"]),
        "spouse": _id_number(r["spouse"], "spouse") if r.get("spouse") else None,
        "minor_children": ";".join(_id_number(c, "minor_children") for c in children),
    }


def _payment(r: dict[str, str]) -> dict[str, Any]:
    return {
        "id_number": _id_number(r["id_number"]),
        "consecutive_months": _count(r["consecutive_months"], "consecutive_months"),
        "as_of": _date(r["as_of"], "as_of"),
    }


def _home(r: dict[str, str]) -> dict[str, Any]:
    return {
        "id_number": _id_number(r["id_number"]),
        "district": _text(r["district"], "district"),
        "homes": _count(r["homes"], "homes"),
    }


def _identity(r: dict[str, str]) -> dict[str, Any]:
    return {
        "id_number": _id_number(r["id_number"]),
        "name": _text(r["name"], "name"),
        "phone": _phone(r.get("phone", "")),
    }


def _phone(value: str) -> str | None:
    """A mainland mobile number (11 digits, 1 then 3-9), or nothing recorded."""
    if not value:
        return None
    if not PHONE.fullmatch(value):
        raise ValueError("phone is not a mobile number (11 digits starting 13-19)")
    return value


@dataclass(frozen=True)
class ExtractFormat:
    """A kind's table, its columns and how one row becomes a record (ValueError: why not)."""

    table: Table
    required: tuple[str, ...]
    optional: tuple[str, ...]
    key: tuple[str, ...]  # unique within an extract (the table's primary key)
    record: Callable[[dict[str, str]], dict[str, Any]]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


FORMATS: dict[ExtractKind, ExtractFormat] = {
    ExtractKind.HOUSEHOLDS: ExtractFormat(
        households, ("id_number", "local"), ("spouse", "minor_children"), ("id_number",), _household
    ),
    ExtractKind.PAYMENTS: ExtractFormat(
        payments, ("id_number", "consecutive_months", "as_of"), (), ("id_number",), _payment
    ),
    ExtractKind.HOMES: ExtractFormat(
        homes, ("id_number", "district", "homes"), (), ("id_number", "district"), _home
    ),
    ExtractKind.IDENTITIES: ExtractFormat(
        identities, ("id_number", "name"), ("phone",), ("id_number",), _identity
    ),
}


def parse_extract(kind: ExtractKind, raw: bytes) -> list[dict[str, Any]]:
    """The extract's records, or DepartmentDataError listing every problem found."""
    fmt = FORMATS[kind]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DepartmentDataError(kind, [ExtractError(0, "the file is not UTF-8")]) from None
    try:
        lines = [line for line in csv.reader(io.StringIO(text)) if line]
    except csv.Error as exc:
        raise DepartmentDataError(kind, [ExtractError(0, f"not CSV: {exc}")]) from None
    if not lines:
        raise DepartmentDataError(kind, [ExtractError(0, "the file is empty")])
    header = [name.strip() for name in lines[0]]
    errors = _header_errors(fmt, header)
    if len(lines) == 1:
        errors.append(ExtractError(0, "no data rows: an extract replaces the table, so an "
                                      "empty one would wipe it"))  # fmt: skip
    if errors:
        raise DepartmentDataError(kind, errors)
    records: list[dict[str, Any]] = []
    first_seen: dict[tuple[Any, ...], int] = {}
    for n, fields in enumerate(lines[1:], start=1):
        if len(errors) >= MAX_ERRORS:
            errors.append(ExtractError(n, "too many problems; the rest of the file is unchecked"))
            break
        if len(fields) != len(header):
            errors.append(ExtractError(n, f"{len(fields)} fields, the header has {len(header)}"))
            continue
        try:
            record = fmt.record({h: v.strip() for h, v in zip(header, fields, strict=True)})
        except ValueError as exc:
            errors.append(ExtractError(n, str(exc)))
            continue
        key = tuple(record[k] for k in fmt.key)
        if key in first_seen:
            errors.append(ExtractError(n, f"same {', '.join(fmt.key)} as row {first_seen[key]}"))
            continue
        first_seen[key] = n
        records.append(record)
    if errors:
        raise DepartmentDataError(kind, errors)
    return records


def _header_errors(fmt: ExtractFormat, header: list[str]) -> list[ExtractError]:
    errors = []
    expected = f"expected {','.join(fmt.required)}" + (
        f" and optionally {','.join(fmt.optional)}" if fmt.optional else ""
    )
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        errors.append(ExtractError(0, f"columns named twice: {', '.join(doubled)}"))
    missing = [c for c in fmt.required if c not in header]
    if missing:
        errors.append(ExtractError(0, f"missing columns: {', '.join(missing)} ({expected})"))
    unknown = [h for h in header if h not in fmt.columns]
    if unknown:
        # Shown as sent: a header-less file puts its first row here, and the sender sees it.
        errors.append(ExtractError(0, f"unknown columns: {', '.join(unknown)} ({expected})"))
    return errors


def load_extract(conn: Connection, kind: ExtractKind, raw: bytes, actor: str) -> Load:
    """Replace ``kind``'s table with the extract in ``raw`` and record the load (all or none)."""
    records = parse_extract(kind, raw)
    table = FORMATS[kind].table
    conn.execute(delete(table))
    conn.execute(insert(table), records)
    at = dt.datetime.now(dt.UTC)
    sha256 = hashlib.sha256(raw).hexdigest()
    load_id = conn.execute(
        insert(loads)
        .values(kind=kind.value, loaded_by=actor, loaded_at=at, rows=len(records), sha256=sha256)
        .returning(loads.c.id)
    ).scalar_one()
    return Load(int(load_id), kind, actor, at, len(records), sha256)


def load_csv(conn: Connection, kind: str, data: str, actor: str = "platform") -> int:
    """``load_extract`` for text in hand (tests, demo data); returns the rows loaded."""
    try:
        extract = ExtractKind(kind)
    except ValueError:
        raise DepartmentDataError(kind, [ExtractError(0, f"unknown extract {kind!r}")]) from None
    return load_extract(conn, extract, data.encode("utf-8"), actor).rows


def recorded_loads(conn: Connection, kind: ExtractKind, limit: int = 100) -> list[Load]:
    """The loads of one kind, newest first."""
    rows = conn.execute(
        select(loads).where(loads.c.kind == kind.value).order_by(loads.c.id.desc()).limit(limit)
    ).all()
    return [
        Load(int(r.id), ExtractKind(r.kind), r.loaded_by, r.loaded_at, int(r.rows), r.sha256)
        for r in rows
    ]


# Records that may name one person (two parents, a spouse, a few stale records): a bound,
# so that a crafted extract cannot make one draft read the whole table.
MAX_NAMING = 16


def _household_of(row: Any) -> Household:
    children = tuple(c for c in row.minor_children.split(";") if c)
    return Household(row.id_number, bool(row.local), row.spouse, children)


class TableHouseholds:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def household(self, id_number: str) -> Household | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(households).where(households.c.id_number == id_number)
            ).first()
        if row is None:
            return None
        return _household_of(row)

    def naming(self, id_number: str) -> tuple[Household, ...]:
        # A spouse is a column; children are a ';'-joined list, matched exactly below.
        h = households.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(households)
                .where(
                    (h.spouse == id_number)
                    | (h.minor_children.contains(id_number, autoescape=True))
                )
                .order_by(h.id_number)
                .limit(MAX_NAMING)
            ).all()
        found = (_household_of(r) for r in rows)
        return tuple(f for f in found if id_number in (f.spouse, *f.minor_children))


class TablePayments:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def consecutive_months(self, id_number: str, until: dt.date) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(select(payments).where(payments.c.id_number == id_number)).first()
        # An extract older than a month says nothing about the months since.
        if row is None or (until - row.as_of).days > 31:
            return 0
        return int(row.consecutive_months)


class TableHomes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def homes_owned(self, id_numbers: Sequence[str], districts: frozenset[str]) -> int:
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(homes.c.homes), 0)).where(
                    homes.c.id_number.in_(list(id_numbers)), homes.c.district.in_(list(districts))
                )
            ).scalar()
        return int(total or 0)


def phones_of_record(conn: Connection, id_numbers: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The mobile numbers of record of these people, with their names of record, by ID
    number (those who have one)."""
    rows = conn.execute(
        select(identities.c.id_number, identities.c.phone, identities.c.name).where(
            identities.c.id_number.in_(list(id_numbers)), identities.c.phone.is_not(None)
        )
    )
    return {row.id_number: (row.phone, row.name) for row in rows}


class TableIdentityCheck:
    """The identity check over the police's identity extract (name and resident ID number)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def verify(self, person_name: str, id_type: str, id_number: str) -> VerifiedIdentity:
        if id_type != "居民身份证":
            raise IdentityRejected(f"this check covers resident ID cards, not {id_type}")
        with self.engine.connect() as conn:
            known = conn.execute(
                select(identities.c.name).where(identities.c.id_number == id_number)
            ).scalar()
        if known is None:
            raise IdentityRejected("no such ID number in the identity records")
        if known != person_name:
            raise IdentityRejected("the name does not match the identity records")
        return VerifiedIdentity(
            person_name, id_type, id_number, "dept_identities", dt.datetime.now(dt.UTC)
        )
