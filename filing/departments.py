"""Department data for 购房资格, as tables the authority loads (CSV from each department).

* household registration (police): id_number, local (0/1), spouse, minor_children (";"-separated)
* payments (human resources / tax): id_number, consecutive_months, as_of (date)
* homes owned (natural resources): id_number, district, homes
* identities (police): id_number, name — for the identity check before a buyer's certificate
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Integer,
    MetaData,
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
)
homes = Table(
    "dept_homes",
    metadata,
    Column("id_number", Text, primary_key=True),
    Column("district", Text, primary_key=True),
    Column("homes", Integer, nullable=False),
)


class DepartmentDataError(ValueError):
    """A department extract is malformed (nothing of it was loaded)."""


def create(conn: Connection) -> None:
    metadata.create_all(conn)


def load_csv(conn: Connection, kind: str, data: str) -> int:
    """Replace one department's table with a new extract (all rows or none)."""
    rows = list(csv.DictReader(io.StringIO(data)))
    try:
        if kind == "households":
            table, values = (
                households,
                [
                    {
                        "id_number": r["id_number"],
                        "local": r["local"].strip() in ("1", "true", "yes"),
                        "spouse": r.get("spouse") or None,
                        "minor_children": r.get("minor_children") or "",
                    }
                    for r in rows
                ],
            )
        elif kind == "payments":
            table, values = (
                payments,
                [
                    {
                        "id_number": r["id_number"],
                        "consecutive_months": int(r["consecutive_months"]),
                        "as_of": dt.date.fromisoformat(r["as_of"]),
                    }
                    for r in rows
                ],
            )
        elif kind == "identities":
            table, values = (
                identities,
                [{"id_number": r["id_number"], "name": r["name"]} for r in rows],
            )
        elif kind == "homes":
            table, values = (
                homes,
                [
                    {
                        "id_number": r["id_number"],
                        "district": r["district"],
                        "homes": int(r["homes"]),
                    }
                    for r in rows
                ],
            )
        else:
            raise DepartmentDataError(f"unknown department table {kind!r}")
    except (KeyError, ValueError) as exc:
        raise DepartmentDataError(f"{kind} extract is malformed: {exc}") from exc
    conn.execute(delete(table))
    if values:
        conn.execute(insert(table), values)
    return len(values)


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
        children = tuple(c for c in row.minor_children.split(";") if c)
        return Household(row.id_number, bool(row.local), row.spouse, children)


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
