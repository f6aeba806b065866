"""A bank's signed fund statement (资金监管凭证), read and checked the same way everywhere.

The platform accepts a deposit, release or refund only as a statement the bank signed
with its own key; the offline verifier checks the same statement from an evidence
package. Both use this module (the verifier imports nothing of the platform), so what
the platform accepts is what a court's verifier passes. Format (docs/formats.md):

    {"account":"4300 0000 0000 8888","amount_fen":30000000,"at":"2026-12-01T08:00:00Z",
     "bank":"示范银行","filing":"CS-2026-000001","kind":"deposit",
     "reference":"TXN-0001","type":"wangqian-fund-statement","v":1}

canonical JSON (UTF-8, keys sorted, no insignificant whitespace, non-ASCII as is),
signed with ECDSA P-256 / SHA-256 (a DER signature over the statement's bytes) by a
certificate the platform's issuing CA issued to the bank for fund statements: its
subject names the bank as organisation and carries the description ``FUND_STATEMENTS``.
The log entry's ``doc`` is SHA-256 of the statement's bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ledger.receipt import Receipt
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.receipt import ReceiptInvalid, verify_receipt
from verifier.trust import TrustBundle

TYPE = "wangqian-fund-statement"
VERSION = 1
KINDS = ("deposit", "release", "refund", "maintenance-deposit", "maintenance-refund")
# The log entry each kind of statement is recorded as. A maintenance-fund deposit or
# refund (住宅专项维修资金) names the unit's account (分户账: its 不动产单元代码) as
# ``account``.
ENTRY_EVENTS = {
    "deposit": "funds-deposited",
    "release": "funds-released",
    "refund": "funds-refunded",
    "maintenance-deposit": "maintenance-deposited",
    "maintenance-refund": "maintenance-refunded",
}
# The subject description (X.520, 2.5.4.13) of a bank's statement-signing certificate.
FUND_STATEMENTS = "wangqian fund statements"
DESCRIPTION = x509.ObjectIdentifier("2.5.4.13")
MAX_STATEMENT = 4096
MAX_FEN = 10**15
_FILING = re.compile(r"[\x21-\x7e]{1,64}")
_KEYS = {"v", "type", "kind", "filing", "account", "amount_fen", "at", "bank", "reference"}


class StatementRejected(ValueError):
    """Not a well-formed, validly signed fund statement of a bank."""


@dataclass(frozen=True)
class FundStatement:
    kind: str  # deposit | release | refund
    filing: str
    account: str  # the supervision account's number
    amount_fen: int
    at: dt.datetime  # when the bank booked it (UTC)
    bank: str  # the bank's organisation, as its certificate names it
    reference: str  # the bank's own transaction reference

    def encode(self) -> bytes:
        data: dict[str, Any] = {
            "v": VERSION,
            "type": TYPE,
            "kind": self.kind,
            "filing": self.filing,
            "account": self.account,
            "amount_fen": self.amount_fen,
            "at": self.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bank": self.bank,
            "reference": self.reference,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, data: bytes) -> FundStatement:
        if len(data) > MAX_STATEMENT:
            raise StatementRejected(f"a statement is at most {MAX_STATEMENT} bytes")
        try:
            obj = json.loads(data.decode("utf-8"))
            if not isinstance(obj, dict) or set(obj) != _KEYS:
                raise StatementRejected(f"a statement has exactly the keys {sorted(_KEYS)}")
            if obj["v"] != VERSION or obj["type"] != TYPE:
                raise StatementRejected("not a version-1 wangqian fund statement")
            amount = obj["amount_fen"]
            if type(amount) is not int or not 0 < amount <= MAX_FEN:
                raise StatementRejected("amount_fen is a whole number of fen, 1 to 10^15")
            texts = [obj[k] for k in ("kind", "filing", "account", "at", "bank", "reference")]
            if not all(isinstance(t, str) for t in texts):
                raise StatementRejected("kind, filing, account, at, bank, reference are strings")
            statement = cls(
                kind=obj["kind"],
                filing=obj["filing"],
                account=obj["account"],
                amount_fen=amount,
                at=dt.datetime.strptime(obj["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC),
                bank=obj["bank"],
                reference=obj["reference"],
            )
        except StatementRejected:
            raise
        except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
            raise StatementRejected(f"not a fund statement: {exc}") from exc
        if statement.kind not in KINDS:
            raise StatementRejected(f"unknown kind {statement.kind!r}")
        if not _FILING.fullmatch(statement.filing):
            raise StatementRejected("a filing number is 1 to 64 printable ASCII characters")
        for label, value in (
            ("account", statement.account),
            ("bank", statement.bank),
            ("reference", statement.reference),
        ):
            if not 1 <= len(value) <= 100 or not value.isprintable():
                raise StatementRejected(f"{label} is 1 to 100 printable characters")
        if statement.encode() != data:
            raise StatementRejected("the statement is not in canonical form")
        return statement


def sha256(statement: bytes) -> str:
    return hashlib.sha256(statement).hexdigest()


def sign(statement: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """What the bank does with its own key (a test's or a bank's tool)."""
    return key.sign(statement, ec.ECDSA(hashes.SHA256()))


def bank_of(certificate: x509.Certificate) -> str:
    """The bank a statement-signing certificate names; StatementRejected if it is none."""
    marks = certificate.subject.get_attributes_for_oid(DESCRIPTION)
    orgs = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if len(marks) != 1 or marks[0].value != FUND_STATEMENTS or len(orgs) != 1:
        raise StatementRejected("the certificate is not a bank's fund-statement certificate")
    return str(orgs[0].value)


def verify(
    statement: bytes,
    signature: bytes,
    certificate: x509.Certificate,
    issuers: list[x509.Certificate],
    at: dt.datetime,
) -> FundStatement:
    """The statement, if ``certificate`` (issued by one of ``issuers``, valid at ``at``, a
    bank's fund-statement certificate) signed it and it names that bank."""
    parsed = FundStatement.decode(statement)
    bank = bank_of(certificate)
    issued = False
    for issuer in issuers:
        try:
            certificate.verify_directly_issued_by(issuer)
            issued = True
            break
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
    if not issued:
        raise StatementRejected("the certificate was not issued by the platform's CA")
    if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
        raise StatementRejected("the certificate is not valid at the statement's time")
    public = certificate.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise StatementRejected("a bank's certificate holds an ECDSA key")
    try:
        public.verify(signature, statement, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as exc:
        raise StatementRejected(
            "the signature does not verify with the bank's certificate"
        ) from exc
    if parsed.bank != bank:
        raise StatementRejected(
            f"the statement names bank {parsed.bank!r}, the certificate {bank!r}"
        )
    return parsed


# -- evidence: a fund event as an evidence package carries it ------------------------

MAX_EVIDENCE = 16 * 1024


@dataclass(frozen=True)
class FundFinding:
    """One fund event of the filing, as the verifier could (or could not) prove it."""

    index: int  # its log index (from the receipt)
    passed: bool
    detail: str
    kind: str = ""
    amount_fen: int = 0
    bank: str = ""
    at: dt.datetime | None = None  # when the bank booked it


def evidence_member(
    statement: bytes, signature: bytes, certificates: list[x509.Certificate]
) -> bytes:
    """``funds/<index>.json`` of an evidence package: the statement, its signature, and the
    bank's certificate followed by its issuer (base64, base64, PEM)."""
    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates]
    data = {
        "statement": base64.b64encode(statement).decode(),
        "signature": base64.b64encode(signature).decode(),
        "certificates": pems,
    }
    return json.dumps(data, ensure_ascii=False, indent=1).encode()


def check_evidence(
    member: bytes,
    receipt_text: str,
    trust: TrustBundle,
    filing: str,
    filing_index: int,
) -> FundFinding:
    """Prove a fund event offline: its receipt (inclusion in a witnessed checkpoint of a
    trusted log key), its entry (a fund event of ``filing``, whose entry is at
    ``filing_index``, naming the statement's hash), the bank's signature, and the bank's
    certificate up to a root of the trust bundle. Revocation is not checked offline: the
    platform checked it when it recorded the event."""
    try:
        receipt = Receipt.parse(receipt_text)
    except ValueError as exc:
        return FundFinding(-1, False, f"unreadable receipt: {exc}")
    index = receipt.index
    try:
        obj = json.loads(member.decode("utf-8"))
        statement = base64.b64decode(obj["statement"], validate=True)
        signature = base64.b64decode(obj["signature"], validate=True)
        certs = [x509.load_pem_x509_certificate(p.encode()) for p in obj["certificates"]]
        if len(certs) != 2:
            raise ValueError("the bank's certificate and its issuer, no more")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return FundFinding(index, False, f"unreadable fund evidence: {exc}")
    try:
        verify_receipt(receipt, trust)
    except ReceiptInvalid as exc:
        return FundFinding(index, False, f"the receipt does not prove the entry: {exc}")
    try:
        entry = LoggedEntry.read(receipt.extra or b"")
    except EntryUnreadable as exc:
        return FundFinding(index, False, f"the receipt's entry: {exc}")
    if not entry.is_fund_event or entry.filing != filing or entry.ref != filing_index:
        return FundFinding(index, False, f"entry {index} is no fund event of this filing")
    if entry.doc_sha256 != sha256(statement):
        return FundFinding(index, False, f"entry {index} names another statement")
    bank_cert, issuer = certs
    roots = [x509.load_der_x509_certificate(der) for der in trust.roots]
    if not _is_ca(issuer) or not _issued_by_any(issuer, roots):
        return FundFinding(index, False, "the bank's certificate does not chain to a trusted root")
    try:
        parsed = verify(statement, signature, bank_cert, [issuer], _booked_at(statement))
    except StatementRejected as exc:
        return FundFinding(index, False, str(exc))
    if parsed.filing != filing or ENTRY_EVENTS[parsed.kind] != entry.event:
        return FundFinding(index, False, f"the statement is not the {entry.event} it is logged as")
    return FundFinding(
        index,
        True,
        f"{parsed.kind} of {parsed.amount_fen} fen by {parsed.bank}, signed by the bank, "
        f"log entry {index}",
        parsed.kind,
        parsed.amount_fen,
        parsed.bank,
        parsed.at,
    )


def _booked_at(statement: bytes) -> dt.datetime:
    return FundStatement.decode(statement).at


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _issued_by_any(certificate: x509.Certificate, issuers: list[x509.Certificate]) -> bool:
    for issuer in issuers:
        try:
            certificate.verify_directly_issued_by(issuer)
            return True
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
    return False
