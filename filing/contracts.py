"""Reading contracts and filings as a caller may see them: typed views, access on record.

Who sees what is ``filing.policy``'s; every read of a document that names people is
recorded in the access log in its own short transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from filing import disclosure, kinds, listing, policy, schema
from filing.access_log import record_access
from filing.clock import SYSTEM, Clock
from filing.entry import CancellationBasis
from filing.policy import Caller, Sight
from filing.service import FilingService, UnknownContract
from filing.status import ContractStatus, FilingStatus, UnitStatus
from signing.resale import ResaleContract


class NotForYourRole(Exception):
    """The caller's role may not see documents that name people."""


class UnknownFiling(LookupError):
    """No such filing (or not one the caller may see)."""


class UnknownChange(LookupError):
    """No such change agreement of this filing."""


@dataclass(frozen=True)
class ContractView:
    id: str
    number: str
    kind: str  # the transaction kind (filing.kinds.Kind's value)
    status: ContractStatus
    developer_id: str
    unit_id: int
    contract: kinds.AnyContract  # a new home's (GF-2014-0171/0172) or a resale's
    created_at: dt.datetime
    expires_at: dt.datetime
    draft_sha256: str
    signed_fields: tuple[str, ...]
    eligibility: tuple[dict[str, Any], ...]  # the decisions as recorded at drafting

    @property
    def required(self) -> tuple[str, ...]:
        """Every signature field in signing order, as the contract's kind declares them."""
        return kinds.get(self.kind).signature_fields(self.contract)


@dataclass(frozen=True)
class FilingSummary:
    number: str
    status: FilingStatus
    filed_at: dt.datetime


@dataclass(frozen=True)
class ContractState:
    """A contract with its unit and its filing, for ``GET /v1/contracts/{id}``."""

    contract: ContractView
    unit_code: str
    unit_status: UnitStatus
    filing: FilingSummary | None
    eligibility: tuple[dict[str, Any], ...]  # as the caller may see them


@dataclass(frozen=True)
class FilingView:
    number: str
    kind: str  # the transaction kind (filing.kinds.Kind's value)
    contract_id: str
    status: FilingStatus
    doc_sha256: str
    log_index: int
    filed_at: dt.datetime


@dataclass(frozen=True)
class CancellationView:
    """What a filing's cancellation rests on (without the document)."""

    basis: CancellationBasis
    reference: str
    doc_sha256: str
    log_index: int
    at: dt.datetime


@dataclass(frozen=True)
class ChangeView:
    log_index: int
    doc_sha256: str
    at: dt.datetime


@dataclass(frozen=True)
class FoundDocument:
    """A filed document found by its SHA-256: a filing's sealed contract or a change."""

    filing: str
    kind: str  # "filed" or "changed"
    status: FilingStatus
    log_index: int
    filed_at: dt.datetime


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for what was stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _view(row: Any) -> ContractView:
    c = row._mapping
    return ContractView(
        id=c["id"],
        number=c["number"],
        kind=c["kind"],
        status=ContractStatus(c["status"]),
        developer_id=c["developer_id"],
        unit_id=int(c["unit_id"]),
        contract=kinds.load(c["kind"], c["data"]),
        created_at=aware(c["created_at"]),
        expires_at=aware(c["expires_at"]),
        draft_sha256=c["draft_sha256"],
        signed_fields=tuple(f for f in c["signed_fields"].split(",") if f),
        eligibility=tuple(json.loads(c["eligibility"])),
    )


class ContractReads:
    def __init__(self, engine: Engine, service: FilingService, clock: Clock = SYSTEM) -> None:
        self.engine = engine
        self.service = service
        self.clock = clock

    def _record(self, caller: Caller, action: str, subject: str) -> None:
        with self.engine.begin() as conn:
            record_access(conn, caller, action, subject, self.clock)

    def contract(self, contract_id: str, caller: Caller) -> ContractView:
        """The contract if the caller may see it; raises ``UnknownContract`` (also for
        another party's), ``NotForYourRole``."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.contracts).where(schema.contracts.c.id == contract_id)
            ).first()
        if row is None:
            raise UnknownContract(contract_id)
        view = _view(row)
        # The people who sign it in person: buyers; a resale's sellers and agent too.
        people = {
            p.id_number
            for declared, p in kinds.get(view.kind).signers(view.contract).values()
            if declared.signs_with is kinds.SigningMethod.PERSONAL
        }
        c = view.contract
        brokerage = (
            c.brokerage.filing_number if isinstance(c, ResaleContract) and c.brokerage else None
        )
        sight = policy.contract_sight(caller, view.developer_id, people, brokerage)
        if sight is Sight.HIDDEN:
            raise UnknownContract(contract_id)
        if sight is Sight.FORBIDDEN:
            raise NotForYourRole("contracts name people")
        return view

    def state(self, contract_id: str, caller: Caller) -> ContractState:
        """The contract, its unit and filing (the read is on record)."""
        view = self.contract(contract_id, caller)
        with self.engine.begin() as conn:
            record_access(conn, caller, "read-contract", contract_id, self.clock)
            unit = conn.execute(
                select(schema.units.c.code, schema.units.c.status).where(
                    schema.units.c.id == view.unit_id
                )
            ).one()
            filed = conn.execute(
                select(
                    schema.filings.c.number, schema.filings.c.status, schema.filings.c.filed_at
                ).where(schema.filings.c.contract_id == contract_id)
            ).first()
        return ContractState(
            view,
            unit.code,
            UnitStatus(unit.status),
            None
            if filed is None
            else FilingSummary(filed.number, FilingStatus(filed.status), aware(filed.filed_at)),
            tuple(
                disclosure.eligibility_decision(
                    d, sees_records=policy.sees_eligibility_records(caller)
                )
                for d in view.eligibility
            ),
        )

    def document(self, contract_id: str, caller: Caller) -> bytes:
        """The contract PDF as signed so far (the read is on record)."""
        self.contract(contract_id, caller)
        c = schema.contracts.c
        with self.engine.begin() as conn:
            record_access(conn, caller, "read-contract-document", contract_id, self.clock)
            pdf = conn.execute(select(c.current_pdf).where(c.id == contract_id)).scalar_one()
        return bytes(pdf)

    # -- filings -----------------------------------------------------------

    def _filing(self, number: str, caller: Caller) -> dict[str, Any]:
        try:
            f = self.service.filing(number)
        except UnknownContract as exc:
            raise UnknownFiling(number) from exc
        if caller.role in policy.PARTY_ROLES:
            self.contract(f["contract_id"], caller)  # unknown unless it is theirs
        return f

    def filing(self, number: str, caller: Caller) -> FilingView:
        """The filing if the caller may see it (a party only its own); raises
        ``UnknownFiling``, ``UnknownContract`` (another party's), ``NotForYourRole``."""
        f = self._filing(number, caller)
        return FilingView(
            f["number"],
            f["kind"],
            f["contract_id"],
            FilingStatus(f["status"]),
            f["doc_sha256"],
            int(f["log_index"]),
            aware(f["filed_at"]),
        )

    def filing_document(self, number: str, caller: Caller) -> bytes:
        """The sealed contract PDF (the read is on record)."""
        if not policy.sees_personal_data(caller):
            raise NotForYourRole("sealed documents name people")
        f = self._filing(number, caller)
        with self.engine.begin() as conn:
            record_access(conn, caller, "read-filed-document", number, self.clock)
        return bytes(f["sealed_pdf"])

    def cancellations(self, number: str) -> list[CancellationView]:
        """The filing's cancellation (at most one), for whoever may see the filing."""
        return [
            CancellationView(
                CancellationBasis(d["basis"]),
                d["reference"],
                d["doc_sha256"],
                int(d["log_index"]),
                aware(d["at"]),
            )
            for d in self.service.cancellation_documents(number)
        ]

    def changes(self, number: str, caller: Caller) -> list[ChangeView]:
        self.filing(number, caller)
        return [
            ChangeView(int(ch["log_index"]), ch["doc_sha256"], aware(ch["at"]))
            for ch in self.service.changes(number)
        ]

    def change_document(self, number: str, index: int, caller: Caller) -> bytes:
        """A sealed change agreement (the read is on record); raises ``UnknownChange``."""
        if not policy.sees_personal_data(caller):
            raise NotForYourRole("sealed documents name people")
        self.filing(number, caller)
        found = [ch for ch in self.service.changes(number) if ch["log_index"] == index]
        if not found:
            raise UnknownChange(f"{index}")
        with self.engine.begin() as conn:
            record_access(conn, caller, "read-change-document", f"{number}/{index}", self.clock)
        return bytes(found[0]["sealed_pdf"])

    # -- lists (no personal data) -------------------------------------------------

    def list_contracts(
        self,
        caller: Caller,
        flt: listing.ContractFilter,
        limit: int = listing.DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> listing.Page[listing.ContractItem]:
        """A page of the contracts the caller may see (``policy.list_scope``); raises
        ``policy.NotListed``, ``listing.BadListQuery``, ``listing.BadCursor``."""
        scope = policy.list_scope(caller)
        with self.engine.connect() as conn:
            return listing.contracts(conn, scope, flt, limit, cursor)

    def list_filings(
        self,
        caller: Caller,
        flt: listing.FilingFilter,
        limit: int = listing.DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> listing.Page[listing.FilingItem]:
        """A page of the filings the caller may see, as ``list_contracts``."""
        scope = policy.list_scope(caller)
        with self.engine.connect() as conn:
            return listing.filings(conn, scope, flt, limit, cursor)

    def with_sha256(self, sha256: str) -> list[FoundDocument]:
        return [
            FoundDocument(
                f["number"],
                f["kind"],
                FilingStatus(f["status"]),
                f["log_index"],
                aware(f["filed_at"]),
            )
            for f in self.service.filings_with_sha256(sha256)
        ]
