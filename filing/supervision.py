"""Supervision's use-cases: statistics, the departments' scoped reads, courts' evidence,
webhook subscriptions. Who may call which is ``filing.policy``'s (its role sets); every read
that names people is recorded in the access log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from filing import disclosure, outbox, policy, statistics
from filing.access_log import AccessLog
from filing.deployment import Deployment
from filing.policy import Caller
from filing.statistics import Dimension, Period
from ledger.database import write_transaction


class UnknownSubscription(LookupError):
    """No such webhook subscription of the caller's."""


class Supervision:
    def __init__(self, deployment: Deployment, engine: Engine, access: AccessLog) -> None:
        self.d = deployment
        self.engine = engine
        self.access = access

    # -- statistics (no personal data) ---------------------------------------

    def filings(
        self,
        period: Period | None,
        by: Dimension,
        start: dt.date | None,
        end: dt.date | None,
        district: str | None = None,
        leases: bool = False,
    ) -> list[statistics.StatsRow]:
        with self.engine.connect() as conn:
            return statistics.filings(conn, period, by, start, end, district, leases)

    def today(self) -> dt.date:
        """Today in the city (China Standard Time), by the platform's clock."""
        return statistics.city_day(self.access.clock.now())

    def stock(self, by: Dimension) -> list[statistics.StockRow]:
        with self.engine.connect() as conn:
            return statistics.stock(conn, by)

    def funds(self, by: Dimension) -> list[statistics.FundTotals]:
        with self.engine.connect() as conn:
            return statistics.funds(conn, by)

    # -- scoped reads, on record -----------------------------------------------

    def tax_filings(
        self, caller: Caller, start: dt.date, end: dt.date, after: str
    ) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = disclosure.tax_view(conn, start, end, after)
        self.access.record(caller, "tax-read-filings", f"{start}..{end} after {after!r}")
        return rows

    def loan_filing(self, caller: Caller, number: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            view = disclosure.loan_view(conn, number)
        self.access.record(caller, "loan-read-filing", number)
        return view

    def evidence(self, caller: Caller, number: str) -> bytes | None:
        with self.engine.connect() as conn:
            package = disclosure.evidence_package(self.d, conn, number)
        self.access.record(caller, "court-read-evidence", number)
        return package

    # -- webhooks ----------------------------------------------------------------

    def subscribe(
        self, org: str, url: str, from_event: int | None, developer: str | None = None
    ) -> outbox.Subscription:
        """A webhook; a developer's (``developer`` set) receives its own filings' events only."""
        with write_transaction(self.engine) as conn:
            return outbox.subscribe(conn, org, url, from_event, developer)

    def events(self, caller: Caller, after: int, limit: int) -> outbox.ScopedEvents:
        """A page of events after ``after`` as the caller may see them (``policy.event_scope``:
        a developer its own filings', a department every one)."""
        with self.engine.connect() as conn:
            return outbox.events_of(conn, after, policy.event_scope(caller), limit)

    def subscriptions(self, org: str) -> list[outbox.Subscription]:
        with self.engine.connect() as conn:
            return outbox.subscriptions(conn, org)

    def _own(self, org: str, sub_id: int) -> None:
        if not any(s.id == sub_id for s in self.subscriptions(org)):
            raise UnknownSubscription(f"{sub_id}")

    def dead_letters(self, org: str, sub_id: int) -> list[dict[str, Any]]:
        self._own(org, sub_id)
        with self.engine.connect() as conn:
            return outbox.dead_letters(conn, sub_id)

    def redeliver(self, org: str, sub_id: int, event_id: int) -> bool:
        """Try a dead letter once more; False if there is no such dead letter."""
        self._own(org, sub_id)
        with write_transaction(self.engine) as conn:
            return outbox.redeliver(conn, sub_id, event_id)
