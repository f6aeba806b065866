"""Imported history: contracts filed at given past moments, through the filing transaction.

``wangqian demo-city`` fills a fresh deployment with a year of filings and cancellations,
new homes and resales (存量房) with their supervised funds and transfer registrations, and
leases (租赁备案) of existing homes, some ended early, renewed (续订) or expired. Each goes
through ``FilingService``'s own filing, registration, cancellation, renewal and expiry
(numbering, unit status, log entry, statistics, outbox, history) and ``FundService``'s own
fund events (the bank's signed statement checked, the account's rules), dated when it
happened. A resale or a lease is composed from the ownership record and passes the resale
checks (``filing.resale``) or the lease checks (``filing.lease``) as a draft would. Only
the contracts are placeholders, not signed PDFs (sealing thousands would take an hour):
imported filings do not verify, imported leases have no sealed 租赁登记备案证明, and an
import refuses a deployment that already holds filings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography import x509
from sqlalchemy import Connection, func, insert, select

from filing import (
    drafting,
    holdings,
    kinds,
    lease_drafting,
    lease_records,
    ownership_records,
    registry,
    schema,
)
from filing.eligibility import rule_set_for
from filing.entry import CancellationBasis
from filing.fund_service import FundEventView, FundService
from filing.funds import FundEventKind
from filing.kinds import AnyContract, PartyRole
from filing.ownership import Ownership
from filing.resale import check_resale
from filing.service import (
    AgreementKind,
    Drafter,
    FilingService,
    NotSellable,
    Registration,
    agreement_number,
)
from filing.statistics import city_day
from filing.status import ContractStatus, UnitEvent
from ledger.database import write_transaction
from signing.contract import Contract
from signing.lease import LeaseContract
from signing.resale import ResaleContract

ACTOR = "demo-city"


class HistoryExists(Exception):
    """The deployment already holds filings."""


def placeholder(contract: AnyContract) -> bytes:
    return (
        f"%PDF-1.7\n% demo-city placeholder for {contract.number}, not a signed contract\n"
    ).encode()


class Batch:
    """Filings and cancellations imported in one transaction."""

    def __init__(self, service: FilingService, conn: Connection) -> None:
        self.service = service
        self.conn = conn

    def compose_resale(self, terms: drafting.ResaleTerms, at: dt.datetime) -> ResaleContract:
        """The resale contract of ``terms`` as drafted at ``at``: the house as the register
        records it (``FilingService.draft_resale``'s composition)."""
        conn = self.conn
        facts = registry.unit_facts(conn, terms.unit_code)
        unit_id = registry.unit(conn, terms.unit_code).id
        record = ownership_records.current(conn, unit_id)
        mortgages = ownership_records.mortgages(conn, unit_id)
        ownership = None if record is None else record.ownership
        return drafting.compose_resale(terms, facts, ownership, mortgages, at)

    def compose_lease(self, terms: lease_drafting.LeaseTerms, at: dt.datetime) -> LeaseContract:
        """The lease of ``terms`` as drafted at ``at`` (``FilingService.draft_lease``'s
        composition: the house and its certificate the register's)."""
        conn = self.conn
        facts = registry.unit_facts(conn, terms.unit_code)
        record = ownership_records.current(conn, registry.unit(conn, terms.unit_code).id)
        return lease_drafting.compose_lease(
            terms, facts, None if record is None else record.ownership, at
        )

    def file(self, contract: Contract | ResaleContract | LeaseContract, at: dt.datetime) -> str:
        """File ``contract`` as of ``at`` (its unit must be available; a resale's, sellable
        by its sellers under the resale checks; a lease's, passing the lease checks as of
        ``at``); its filing number. A lease's certificate is not issued (no seal here)."""
        conn = self.conn
        kind = kinds.of_contract(contract)
        code = kinds.unit_code(contract)
        document = placeholder(contract)
        unit = registry.unit(conn, code)
        contract_id = str(uuid.uuid4())
        if isinstance(contract, LeaseContract):
            failures = self.service.lease_checks_in(conn, contract, at)
            if failures:
                raise NotSellable(failures, kind.kind)
            drafter = Drafter(person=contract.lessors[0].id_number).key  # by an owner
        elif kind.owners_of_record:
            # 房源核验 of a resale, as a draft's: the ownership record, mortgages, 限售.
            sellers = kinds.parties_of(contract, PartyRole.SELLER)
            rules = rule_set_for(self.service.departments.resale_rule_sets, at.date())
            facts = ownership_records.resale_facts(conn, code)
            failures = check_resale(facts, sellers, at.date(), rules)
            if failures:
                raise NotSellable(failures, kind.kind)
            drafter = Drafter(person=sellers[0].id_number).key  # drafted by a seller
        else:
            assert not isinstance(contract, ResaleContract)
            drafter = contract.seller.id_number
        conn.execute(
            insert(schema.contracts).values(
                id=contract_id,
                number=contract.number,
                unit_id=unit.id,
                developer_id=drafter,
                status=ContractStatus.DRAFT.value,
                kind=kind.kind.value,
                data=kinds.dump(contract),
                eligibility="[]",
                draft_sha256=hashlib.sha256(document).hexdigest(),
                draft_pdf=document,
                current_pdf=document,
                signed_fields=",".join(kind.signature_fields(contract)[:-1]),
                created_at=at,
                expires_at=at,
            )
        )
        if isinstance(contract, LeaseContract):  # its space and term, not the unit
            lease_records.hold(conn, contract_id, unit.id, contract)
            holdings.record_parties(conn, contract_id, contract)
        else:
            holdings.record_buyers(conn, contract_id, contract)
            reserve = kind.moves_unit.reserve
            registry.apply(conn, code, reserve, drafter, "draft", reserved_for=contract_id)
        c = {"id": contract_id, "unit_id": unit.id}
        record = self.service._record_filing(conn, c, kind, contract, document, ACTOR, at, ACTOR)
        return record.number

    def register(self, code: str, certificate: str, at: dt.datetime) -> Registration:
        """The registration (不动产登记, or a resale's 转移登记) of the filing holding unit
        ``code``, recorded at ``at``: its buyers become the owners of record."""
        return self.service.register_in(
            self.conn, code, certificate, ACTOR, registered_on=at.date(), at=at
        )

    def fund_event(
        self,
        number: str,
        kind: FundEventKind,
        statement: bytes,
        signature: bytes,
        certificate: x509.Certificate,
        bank: str,
        at: dt.datetime,
    ) -> FundEventView:
        """A bank's signed statement for filing ``number``, recorded at ``at`` (its booking
        time): checked now, judged by the account's rules as they stood then."""
        funds = FundService(self.service.d)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        checked = funds.checked_statement(
            number, kind, statement, signature, certificate, bank, now
        )
        return funds.record_in(self.conn, number, kind, checked, signature, certificate, bank, at)

    def renew(self, number: str, until: dt.date, reason: str, at: dt.datetime) -> int:
        """续订 of lease ``number`` to ``until`` as of ``at``: the renewal agreement (a
        placeholder standing for the parties' signed one) logged against the filing by
        the change's own transaction, which checks the days it adds are free."""
        conn = self.conn
        service = self.service
        f = service._active_filing(conn, number)
        c = service._contract(conn, f.contract_id, lock=False)
        lease = kinds.load(c["kind"], c["data"])
        assert isinstance(lease, LeaseContract)
        a = schema.filing_agreements
        earlier = conn.execute(select(func.count()).where(a.c.filing_number == number)).scalar()
        own = agreement_number(number, AgreementKind.CHANGE, int(earlier or 0) + 1)
        renewed = dataclasses.replace(lease, number=own, end=until)
        document = placeholder(renewed)
        kind = kinds.get(c["kind"])
        agreement_id = str(uuid.uuid4())
        conn.execute(
            insert(schema.contracts).values(
                id=agreement_id,
                number=own,
                unit_id=c["unit_id"],
                developer_id=c["developer_id"],
                status=ContractStatus.FILED.value,
                kind=c["kind"],
                data=kinds.dump(renewed),
                eligibility="[]",
                draft_sha256=hashlib.sha256(document).hexdigest(),
                draft_pdf=document,
                current_pdf=document,
                signed_fields=",".join(kind.signature_fields(renewed)),
                created_at=at,
                expires_at=at,
            )
        )
        conn.execute(
            insert(a).values(
                contract_id=agreement_id,
                filing_number=number,
                kind=AgreementKind.CHANGE.value,
                reason=reason,
                terms="",
                proposed_by=c["developer_id"],
            )
        )
        agreement = conn.execute(select(a).where(a.c.contract_id == agreement_id)).one()
        return service._change_in(conn, agreement, document, ACTOR, at)

    def expire(self, number: str, at: dt.datetime) -> int | None:
        """期满终止 of lease ``number`` as the authority's daily run would, on ``at``'s day."""
        return self.service.expire_in(self.conn, number, city_day(at), ACTOR, at)

    def cancel(self, number: str, reason: str, agreement: str, at: dt.datetime) -> int:
        """Cancel filing ``number`` as of ``at``, by an agreement that stands for itself."""
        return self.service.cancel_in(
            self.conn,
            number,
            ACTOR,
            reason,
            CancellationBasis.AGREEMENT,
            agreement,
            f"demo-city synthetic agreement {agreement}".encode(),
            at,
        )


class HistoryImport:
    def __init__(self, service: FilingService) -> None:
        self.service = service
        self.engine = service.engine

    def refuse_if_filed(self) -> None:
        with self.engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(schema.filings)).scalar():
                raise HistoryExists("the deployment already holds filings")

    def registry(self, rows: list[dict[str, str]], actor: str, release: bool = True) -> int:
        """Import the 楼盘表 and put every unit on sale (开盘) as its developer, unless
        ``release`` is False (existing homes, whose owners come from the register)."""
        with write_transaction(self.engine) as conn:
            count = registry.import_inventory(conn, rows, actor)
            for r in rows if release else ():
                registry.apply(conn, r["code"], UnitEvent.RELEASE, r["developer_id"], "开盘")
        return count

    def owners(self, code: str, ownership: Ownership) -> None:
        """The owners of an existing home, from the register (``import_ownership``)."""
        ownership_records.import_ownership(self.engine, code, ownership, ACTOR)

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        with write_transaction(self.engine) as conn:
            yield Batch(self.service, conn)
