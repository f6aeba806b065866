"""Imported history: contracts filed at given past moments, through the filing transaction.

``wangqian demo-city`` fills a fresh deployment with a year of filings and cancellations.
Each goes through ``FilingService``'s own filing and cancellation (numbering, unit status,
log entry, statistics, outbox, history), dated when it happened. Only the documents are
placeholders, not signed PDFs (sealing thousands would take an hour): imported filings do
not verify, and an import refuses a deployment that already holds filings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, func, insert, select

from filing import holdings, kinds, registry, schema
from filing.entry import CancellationBasis
from filing.service import FilingService
from filing.status import ContractStatus, UnitEvent
from filing.terms import contract_to_json
from ledger.database import write_transaction
from signing.contract import Contract

ACTOR = "demo-city"


class HistoryExists(Exception):
    """The deployment already holds filings."""


def placeholder(contract: Contract) -> bytes:
    return (
        f"%PDF-1.7\n% demo-city placeholder for {contract.number}, not a signed contract\n"
    ).encode()


class Batch:
    """Filings and cancellations imported in one transaction."""

    def __init__(self, service: FilingService, conn: Connection) -> None:
        self.service = service
        self.conn = conn

    def file(self, contract: Contract, at: dt.datetime) -> str:
        """File ``contract`` as of ``at`` (its unit must be available); its filing number."""
        conn = self.conn
        code = contract.unit.code
        document = placeholder(contract)
        unit = registry.unit(conn, code)
        kind = kinds.of_contract(contract)
        contract_id = str(uuid.uuid4())
        developer = contract.seller.id_number
        conn.execute(
            insert(schema.contracts).values(
                id=contract_id,
                number=contract.number,
                unit_id=unit.id,
                developer_id=developer,
                status=ContractStatus.DRAFT.value,
                kind=kind.kind.value,
                data=contract_to_json(contract),
                eligibility="[]",
                draft_sha256=hashlib.sha256(document).hexdigest(),
                draft_pdf=document,
                current_pdf=document,
                signed_fields=",".join(kind.signature_fields(contract)[:-1]),
                created_at=at,
                expires_at=at,
            )
        )
        holdings.record_buyers(conn, contract_id, contract)
        registry.apply(conn, code, UnitEvent.RESERVE, developer, "draft", reserved_for=contract_id)
        c = {"id": contract_id, "unit_id": unit.id}
        record = self.service._record_filing(conn, c, kind, contract, document, ACTOR, at, ACTOR)
        return record.number

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

    def registry(self, rows: list[dict[str, str]], actor: str) -> int:
        """Import the 楼盘表 and put every unit on sale (开盘) as its developer."""
        with write_transaction(self.engine) as conn:
            count = registry.import_inventory(conn, rows, actor)
            for r in rows:
                registry.apply(conn, r["code"], UnitEvent.RELEASE, r["developer_id"], "开盘")
        return count

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        with write_transaction(self.engine) as conn:
            yield Batch(self.service, conn)
