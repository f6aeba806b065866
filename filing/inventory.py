"""The 楼盘表's use-cases: imports, permits, department extracts, units, their events and flags.

Each use-case is one transaction; the rules live in ``filing.registry`` (and
``filing.departments``), who sees what in ``filing.policy``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from filing import checks, departments, disclosure, kinds, policy, registry, schema
from filing.access_log import record_access
from filing.clock import SYSTEM, Clock
from filing.policy import Caller
from filing.statistics import city_day
from filing.status import UnitEvent, UnitFlag, UnitStatus
from ledger.database import write_transaction


class PermitExists(registry.RegistryError):
    """A permit with this number is already recorded."""


class NotYourUnit(registry.RegistryError):
    """A developer acts only on its own units."""


class NotReleasable(registry.RegistryError):
    """The unit may not go on sale: a presale without a presale permit in force."""

    def __init__(self, kind: kinds.Kind, reasons: list[checks.Reason]) -> None:
        super().__init__(", ".join(r.value for r in reasons))
        self.kind = kind
        self.reasons = reasons


@dataclass(frozen=True)
class UnitHistory:
    """A unit and its history as the caller may see it."""

    unit: dict[str, Any]
    history: list[dict[str, Any]]
    names_people: bool  # the caller sees buyers by name (and the read is in the access log)


class Inventory:
    def __init__(
        self, engine: Engine, pseudonym: Callable[[str], str], clock: Clock = SYSTEM
    ) -> None:
        self.engine = engine
        self.pseudonym = pseudonym
        self.clock = clock

    def import_rows(self, raw: bytes, media_type: str, actor: str) -> int:
        """Import a 楼盘表 upload (all rows or none); raises ``registry.ImportRejected``."""
        rows = registry.parse_inventory(raw, media_type)
        with write_transaction(self.engine) as conn:
            return registry.import_inventory(conn, rows, actor)

    def add_permit(
        self,
        number: str,
        authority: str,
        valid_from: dt.date,
        valid_until: dt.date | None,
        units: list[str],
        actor: str,
    ) -> int:
        """Record a presale permit; raises ``PermitExists``, ``registry.UnknownUnit``."""
        p = schema.permits
        try:
            with write_transaction(self.engine) as conn:
                if conn.execute(select(p.c.id).where(p.c.number == number)).first():
                    raise PermitExists(number)
                return registry.add_permit(
                    conn, number, authority, valid_from, valid_until, units, actor
                )
        except IntegrityError as exc:  # recorded meanwhile by a concurrent request
            raise PermitExists(number) from exc

    def load_extract(
        self, kind: departments.ExtractKind, raw: bytes, actor: str
    ) -> departments.Load:
        """Replace a department extract (all rows or none); raises ``DepartmentDataError``."""
        with write_transaction(self.engine) as conn:
            return departments.load_extract(conn, kind, raw, actor)

    def loads(self, kind: departments.ExtractKind, limit: int) -> list[departments.Load]:
        with self.engine.connect() as conn:
            return departments.recorded_loads(conn, kind, limit)

    def units(self, status: UnitStatus | None, limit: int, offset: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return registry.list_units(conn, status, limit, offset)

    def unit_details(self, code: str) -> dict[str, Any]:
        """The 楼盘表's facts about a unit; raises ``registry.UnknownUnit``."""
        with self.engine.connect() as conn:
            return registry.unit_details(conn, code)

    def unit_history(self, code: str, caller: Caller) -> UnitHistory:
        """A unit and its history, buyers named only to those ``policy`` lets see them
        (such a read is recorded); raises ``registry.UnknownUnit``."""
        with self.engine.connect() as conn:
            details = registry.unit_details(conn, code)
            people = policy.unit_people(caller, registry.unit(conn, code).developer_id)
            history = disclosure.unit_history(conn, code, people, self.pseudonym)
        if people.anyone:
            with self.engine.begin() as conn:
                record_access(conn, caller, "read-unit-history", code, self.clock)
        return UnitHistory(details, history, people.anyone)

    def apply(
        self, code: str, caller: Caller, event: UnitEvent, reason: str, own: bool
    ) -> UnitStatus:
        """Apply ``event`` to a unit (a developer only to its own when ``own``), on record;
        raises ``registry.UnknownUnit``, ``NotYourUnit``, ``InvalidTransition``."""
        with write_transaction(self.engine) as conn:
            unit = registry.unit(conn, code)
            if own and not policy.acts_on_unit(caller, unit.developer_id):
                raise NotYourUnit(code)
            return registry.apply(conn, code, event, caller.org, reason)

    def release(self, code: str, caller: Caller) -> UnitStatus:
        """开盘: put a developer's unit on sale. A unit its 楼盘表 facts make a presale
        (filing/kinds.py) needs a presale permit covering it, in force today; a completed,
        measured unit (现售) needs none. Raises ``NotReleasable`` with the reasons."""
        with write_transaction(self.engine) as conn:
            unit = registry.unit(conn, code)
            if not policy.acts_on_unit(caller, unit.developer_id):
                raise NotYourUnit(code)
            view = registry.unit_view(conn, code)
            sale = kinds.for_unit(view)
            if sale.kind is kinds.Kind.NEW_PRESALE:
                today = city_day(self.clock.now())
                reasons = checks.presale_permit(view, today, None)
                if reasons:
                    raise NotReleasable(sale.kind, reasons)
            return registry.apply(conn, code, UnitEvent.RELEASE, caller.org, "released for sale")

    def correct(
        self, code: str, changes: dict[str, str], reason: str, actor: str
    ) -> registry.UnitCorrection:
        """Correct a unit's 楼盘表 data before any contract states it (registry.correct_unit)."""
        with write_transaction(self.engine) as conn:
            return registry.correct_unit(conn, code, changes, reason, actor)

    def set_flag(
        self, code: str, flag: UnitFlag, on: bool, actor: str, reason: str
    ) -> frozenset[UnitFlag]:
        with write_transaction(self.engine) as conn:
            return frozenset(registry.set_flag(conn, code, flag, on, actor, reason))
