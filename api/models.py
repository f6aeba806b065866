"""Typed answers of the JSON routes, for the OpenAPI document (and the clients made from it).

The routes build their answers themselves (most go through ``api.idempotency``, which
stores them); these models say what those answers are. ``ANSWERS`` maps each operation to
its model (a ``list[...]`` for lists); ``api.openapi`` puts them into the document, and
``tests/test_openapi.py`` checks every example of ``api.examples`` against them, and
``tests/test_schemathesis.py`` every live answer.

Times are ISO 8601 strings in UTC (``2026-11-27T15:34:37+00:00``); amounts of money and
areas are decimal strings (``"1422720.00"``), never floats.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Sha256 = str
Timestamp = str
DecimalText = str


class _Open(BaseModel):
    """An answer that may carry further members in later versions."""

    model_config = ConfigDict(extra="allow")


# -- 楼盘表 -----------------------------------------------------------------


class Imported(BaseModel):
    imported: int = Field(description="rows imported")


class PermitRecorded(BaseModel):
    id: int
    number: str


class CompletionRecorded(BaseModel):
    completion: int
    project: int
    building: int
    completed_units: int
    measured: list[str] = Field(description="units whose measured areas changed")


class Measurement(BaseModel):
    completion: int
    at: Timestamp | None
    recorded_by: str | None = None
    acceptance_record: str | None = None
    survey_report: str | None = None
    correction: str | None = None
    old_building: DecimalText | None
    old_inner: DecimalText | None
    old_shared: DecimalText | None
    new_building: DecimalText | None
    new_inner: DecimalText | None
    new_shared: DecimalText | None


class ExtractLoad(BaseModel):
    id: int
    kind: str
    loaded_by: str
    loaded_at: Timestamp
    rows: int
    sha256: Sha256


class ExtractLoaded(BaseModel):
    loaded: int
    load: ExtractLoad


class UnitRow(_Open):
    code: str = Field(description="不动产单元代码 (28 characters)")
    floor: int
    room: str
    use: str
    status: str
    flags: str = Field(description="blocking flags, comma-separated (SEIZED, MORTGAGED, …)")
    forecast_building: DecimalText
    building: str
    project: str
    district: str


class UnitEventRow(_Open):
    at: str
    actor: str
    event: str
    reason: str | None
    from_status: str | None
    to_status: str | None
    flags: str | None


class UnitWithHistory(BaseModel):
    unit: dict[str, Any] = Field(description="the unit's facts in the 楼盘表")
    history: list[UnitEventRow]


class UnitStatusAnswer(BaseModel):
    code: str
    status: str


class OldNew(BaseModel):
    old: str | int | None
    new: str | int | None


class UnitCorrected(BaseModel):
    code: str
    changed: dict[str, OldNew] = Field(description="each field changed: its old and new value")


class UnitFlags(BaseModel):
    code: str
    flags: list[str]


# -- contracts, signatures, filings ----------------------------------------------


class InvitationIssued(BaseModel):
    """A party's one-time signing invitation, sent by SMS to their phone of record."""

    field: str = Field(description="the party's signature field (buyer-1, seller-1, …)")
    expires_at: Timestamp = Field(description="with the draft's reservation")
    sent: bool = Field(
        description="true: sent by SMS to the party's phone of record; false: the party has "
        "no phone of record, so no invitation was issued (ask for it again once the identity "
        "extract has one)"
    )


class Drafted(BaseModel):
    id: str
    number: str
    kind: str = Field(
        description="transaction kind (new-presale, new-completed, resale, lease, lease-entrusted)"
    )
    draft_sha256: Sha256
    invitations: list[InvitationIssued] = Field(
        default=[], description="one per person who signs (buyers; a resale's sellers)"
    )


class InvitationView(BaseModel):
    """What an invitation's holder sees of the contract before signing (no ID numbers)."""

    contract_id: str
    number: str
    kind: str
    unit: str
    field: str
    role: str = Field(description="the party's name on the contract: 买受人, 出卖人")
    name: str
    pages: int = Field(description="pages to show: `/pages/0` … `/pages/{pages-1}`")
    status: str
    signed: list[str]
    next_field: str | None = Field(description="whose turn it is to sign")
    expires_at: Timestamp
    identity_checked: bool
    attempts_left: int = Field(description="failed identity checks left before it locks")


class IdentityChecked(BaseModel):
    identity_checked: bool


class PhoneChallenge(BaseModel):
    signed_attributes: str = Field(
        description="base64 DER CMS signed attributes: sign them with ECDSA P-256 SHA-256 "
        "(WebCrypto hashes them itself)"
    )
    digest_to_sign: str = Field(description="their SHA-256, for a device that signs a digest")
    algorithm: str = "ECDSA-P256-SHA256"


class EntrustmentRecorded(BaseModel):
    unit: str
    reference: str = Field(description="委托登记编号")
    enterprise: str = Field(description="the rental enterprise's 统一社会信用代码")
    valid_from: str
    valid_until: str


class EntrustmentView(BaseModel):
    reference: str = Field(description="委托登记编号")
    enterprise: str = Field(description="the rental enterprise's 统一社会信用代码")
    valid_from: str
    valid_until: str
    ended_on: str | None = Field(description="its last day if it ended or was revoked")


class EntrustmentEnded(EntrustmentView):
    unit: str


class UnitEntrustments(BaseModel):
    unit: str
    entrustments: list[EntrustmentView]


class UnitLease(BaseModel):
    filing: str
    space: str | None = Field(description="the room leased; null: the whole unit")
    start: str
    end: str
    occupants: int
    status: str = Field(description="LEASED, NOT-STARTED or ENDED")
    ended_on: str | None
    end_reason: str | None = Field(description="agreement, judgment or expired")


class UnitLeases(BaseModel):
    unit: str
    leased: bool = Field(description="a lease of some space of it is in force today")
    leases: list[UnitLease]


class LeasesExpired(BaseModel):
    expired: int
    log_indexes: list[int]


class FilingRef(BaseModel):
    number: str
    status: str
    filed_at: Timestamp


class Contract(BaseModel):
    id: str
    number: str
    kind: str
    status: str
    unit: str
    unit_status: str
    created_at: Timestamp
    draft_sha256: Sha256
    required: list[str] = Field(description="signature fields, in signing order")
    signed: list[str]
    expires_at: Timestamp
    filing: FilingRef | None
    eligibility: list[dict[str, Any]]


class Signed(BaseModel):
    """A signature's answer: ``filed`` false (200) until the last one, which files (201)."""

    filed: bool
    event: str | None = Field(default=None, description="filed, changed or cancelled")
    filing: str | None = None
    log_index: int | None = None
    document_sha256: Sha256 | None = None
    receipt: str | None = Field(
        default=None, description="the .tlog-proof receipt; null if not yet in a checkpoint"
    )


class DigestToSign(BaseModel):
    digest_to_sign: str = Field(description="base64 of the 32-byte digest to sign")
    algorithm: str = "ECDSA-P256-SHA256-prehashed"


class Withdrawn(BaseModel):
    id: str
    status: str


class AgreementDrafted(BaseModel):
    id: str
    number: str
    kind: str
    filing: str
    status: str
    required: list[str]
    draft_sha256: Sha256


class CancellationEntry(BaseModel):
    basis: str
    reference: str | None
    document_sha256: Sha256 | None
    log_index: int
    at: Timestamp


class Filing(BaseModel):
    filing: str
    kind: str
    status: str
    document_sha256: Sha256
    log_index: int
    filed_at: Timestamp
    contract_id: str
    cancellation: list[CancellationEntry] = []


class CancelledByJudgment(BaseModel):
    filing: str
    status: str
    basis: str
    log_index: int
    document_sha256: Sha256
    receipt: str | None


class ChangeEntry(BaseModel):
    log_index: int
    document_sha256: Sha256
    at: Timestamp


# -- ownership -----------------------------------------------------------------


class Registered(_Open):
    code: str
    status: str
    certificate: str
    basis: str
    filing: str | None
    co_ownership: str
    owners: int
    registered_on: str = Field(description="a day (YYYY-MM-DD)")
    acquired_on: str


class MortgageAnswer(_Open):
    code: str
    mortgagee: str
    reference: str
    registered_on: str | None
    consent: str | None


# -- funds ---------------------------------------------------------------------


class FundEvent(BaseModel):
    log_index: int
    kind: str = Field(description="deposit, release or refund")
    label: str
    amount_fen: int
    amount_yuan: DecimalText
    bank: str
    bank_reference: str
    booked_at: Timestamp
    recorded_at: Timestamp
    statement_sha256: Sha256


class FundEventRecorded(FundEvent):
    filing: str
    receipt: str | None


class FundAccount(BaseModel):
    filing: str
    filing_log_index: int
    account: str
    bank: str | None
    deposited_fen: int
    balance_fen: int
    balance_yuan: DecimalText
    settled: str | None
    events: list[FundEvent]


class SignedStatement(BaseModel):
    log_index: int
    statement: str = Field(description="base64 of the canonical statement (JSON)")
    signature: str = Field(description="base64 DER ECDSA-SHA256")
    certificate: str = Field(description="the bank's certificate (PEM)")
    receipt: str | None


# -- maintenance funds (住宅专项维修资金) ---------------------------------------------


class MaintenanceDeposited(BaseModel):
    filing: str
    unit: str
    log_index: int
    kind: str = Field(description="deposit")
    amount_fen: int
    amount_yuan: DecimalText
    bank: str
    reference: str = Field(description="the bank's own reference")
    deposited_fen: int = Field(description="deposited under this filing, this one included")
    due_fen: int
    settled: bool = Field(description="the amount due is deposited: registration may proceed")
    receipt: str | None


class MaintenanceRefunded(BaseModel):
    filing: str = Field(description="the cancelled filing whose deposits went back")
    unit: str
    log_index: int
    kind: str = Field(description="refund")
    amount_fen: int
    amount_yuan: DecimalText
    bank: str
    reference: str = Field(description="the bank's own reference")
    deposited_fen: int = Field(description="what was deposited under the filing")
    due_fen: int = Field(description="the filing's amount due")
    receipt: str | None


class MaintenanceDebit(BaseModel):
    unit: str
    amount_fen: int
    amount_yuan: DecimalText
    log_index: int


class MaintenanceUseRecorded(BaseModel):
    number: str
    record_sha256: Sha256
    debits: list[MaintenanceDebit]


class MaintenanceDue(BaseModel):
    filing: str
    due_fen: int
    due_yuan: DecimalText
    deposited_fen: int
    refunded_fen: int = Field(description="refunded to the buyer after a cancellation")
    rule_version: str
    basis: str = Field(description="how the amount was computed, for people")
    bank: str = Field(description="the designated bank")


class MaintenanceEvent(BaseModel):
    log_index: int
    kind: str = Field(description="deposit, use or refund")
    label: str
    filing: str = Field(description="the filing whose log entries the event belongs to")
    amount_fen: int
    amount_yuan: DecimalText
    by: str = Field(description="the bank, or the authority that recorded the use")
    reference: str
    document_sha256: Sha256
    recorded_at: Timestamp


class MaintenanceAccount(BaseModel):
    unit: str
    balance_fen: int
    balance_yuan: DecimalText
    deposited_fen: int
    used_fen: int
    refunded_fen: int = Field(description="refunded to cancelled purchases' buyers")
    held_fen: int = Field(
        description="of the balance, cancelled purchases' deposits held for their refunds "
        "(no use spends them)"
    )
    dues: list[MaintenanceDue]
    events: list[MaintenanceEvent]


class MaintenanceTotals(BaseModel):
    due_fen: int
    filings_with_due: int
    deposits: int
    deposited_fen: int
    uses: int
    debits: int
    used_fen: int
    refunds: int
    refunded_fen: int
    balance_fen: int
    balance_yuan: DecimalText
    units_with_account: int


# -- statistics and departments ----------------------------------------------------


class FilingStatsRow(BaseModel):
    period: str
    key: str | None
    filings: int
    area_m2: DecimalText
    value: DecimalText
    avg_price_m2: DecimalText | None
    cancellations: int
    cancelled_area_m2: DecimalText
    cancelled_value: DecimalText


class StockRow(BaseModel):
    key: str | None
    not_released: int
    available: int
    reserved: int
    unsold_area_m2: DecimalText


class FundTotalsRow(BaseModel):
    key: str | None
    accounts: int
    deposited: DecimalText
    released: DecimalText
    refunded: DecimalText
    held: DecimalText


class TaxFiling(_Open):
    filing: str
    status: str
    filed_at: Timestamp
    unit: str
    price: DecimalText


class LoanFiling(_Open):
    filing: str
    in_force: bool
    status: str
    filed_at: Timestamp
    unit: str


class WebhookCreated(BaseModel):
    id: int
    url: str
    secret: str = Field(description="shown once: the HMAC-SHA256 key of the signatures")
    from_event: int


class Webhook(_Open):
    id: int
    url: str


class DeadLetter(_Open):
    event_id: int
    attempts: int


class Redelivery(BaseModel):
    id: int
    event_id: int
    status: str


# "METHOD path" -> the model of its success answer (``list`` for a list of them).
ANSWERS: dict[str, tuple[type[BaseModel], bool]] = {
    "POST /v1/registry/import": (Imported, False),
    "POST /v1/registry/permits": (PermitRecorded, False),
    "POST /v1/projects/{project}/buildings/{building}/completion": (CompletionRecorded, False),
    "GET /v1/units/{code}/measurements": (Measurement, True),
    "POST /v1/departments/{kind}": (ExtractLoaded, False),
    "GET /v1/departments/{kind}/loads": (ExtractLoad, True),
    "GET /v1/units": (UnitRow, True),
    "GET /v1/units/{code}": (UnitWithHistory, False),
    "POST /v1/units/{code}/release": (UnitStatusAnswer, False),
    "POST /v1/units/{code}/registration": (Registered, False),
    "POST /v1/units/{code}/flags/{flag}": (UnitFlags, False),
    "POST /v1/units/{code}/corrections": (UnitCorrected, False),
    "POST /v1/units/{code}/ownership": (Registered, False),
    "POST /v1/units/{code}/mortgages": (MortgageAnswer, False),
    "POST /v1/units/{code}/mortgages/consent": (MortgageAnswer, False),
    "POST /v1/units/{code}/mortgages/discharge": (MortgageAnswer, False),
    "POST /v1/contracts": (Drafted, False),
    "POST /v1/resale-contracts": (Drafted, False),
    "POST /v1/lease-contracts": (Drafted, False),
    "POST /v1/units/{code}/lease-entrustments": (EntrustmentRecorded, False),
    "POST /v1/units/{code}/lease-entrustment-ends": (EntrustmentEnded, False),
    "GET /v1/units/{code}/lease-entrustments": (UnitEntrustments, False),
    "GET /v1/units/{code}/leases": (UnitLeases, False),
    "POST /v1/leases/expiry": (LeasesExpired, False),
    "POST /v1/filings/{number}/renewal-agreements": (AgreementDrafted, False),
    "GET /v1/contracts/{contract_id}": (Contract, False),
    "POST /v1/contracts/{contract_id}/seal": (Signed, False),
    "POST /v1/contracts/{contract_id}/signatures": (Signed, False),
    "POST /v1/contracts/{contract_id}/remote-signing/{field}/start": (DigestToSign, False),
    "POST /v1/contracts/{contract_id}/remote-signing/{field}/finish": (Signed, False),
    "POST /v1/contracts/{contract_id}/withdraw": (Withdrawn, False),
    "POST /v1/contracts/{contract_id}/invitations/{field}": (InvitationIssued, False),
    "GET /v1/invitations/{contract_id}/{field}": (InvitationView, False),
    "POST /v1/invitations/{contract_id}/{field}/identity": (IdentityChecked, False),
    "POST /v1/invitations/{contract_id}/{field}/start": (PhoneChallenge, False),
    "POST /v1/invitations/{contract_id}/{field}/finish": (Signed, False),
    "POST /v1/filings": (Signed, False),
    "GET /v1/filings/{number}": (Filing, False),
    "POST /v1/filings/{number}/cancellation": (CancelledByJudgment, False),
    "POST /v1/filings/{number}/cancellation-agreements": (AgreementDrafted, False),
    "POST /v1/filings/{number}/change-agreements": (AgreementDrafted, False),
    "GET /v1/filings/{number}/changes": (ChangeEntry, True),
    "POST /v1/filings/{number}/funds/deposits": (FundEventRecorded, False),
    "POST /v1/filings/{number}/funds/releases": (FundEventRecorded, False),
    "POST /v1/filings/{number}/funds/refunds": (FundEventRecorded, False),
    "GET /v1/filings/{number}/funds": (FundAccount, False),
    "GET /v1/filings/{number}/funds/{index}/statement": (SignedStatement, False),
    "GET /v1/stats/filings": (FilingStatsRow, True),
    "GET /v1/stats/stock": (StockRow, True),
    "GET /v1/stats/funds": (FundTotalsRow, True),
    "POST /v1/filings/{number}/maintenance/deposits": (MaintenanceDeposited, False),
    "POST /v1/filings/{number}/maintenance/refunds": (MaintenanceRefunded, False),
    "POST /v1/maintenance/uses": (MaintenanceUseRecorded, False),
    "GET /v1/units/{code}/maintenance": (MaintenanceAccount, False),
    "GET /v1/stats/maintenance": (MaintenanceTotals, False),
    "GET /v1/tax/filings": (TaxFiling, True),
    "GET /v1/loans/filings/{number}": (LoanFiling, False),
    "POST /v1/webhooks": (WebhookCreated, False),
    "GET /v1/webhooks": (Webhook, True),
    "GET /v1/webhooks/{sub_id}/dead-letters": (DeadLetter, True),
    "POST /v1/webhooks/{sub_id}/dead-letters/{event_id}/redeliver": (Redelivery, False),
}
