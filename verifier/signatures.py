"""The one judgement of a contract's signatures, for the offline verifier and the platform alike.

``assess`` reads the PDF within fixed limits (``verifier/document.py``), applies the
contract modification policy (``verifier/modifications.py``) and the signing order
the draft declares, and validates every signature as ETSI EN 319 102-1 prescribes
(via pyHanko's AdES validation with long-term availability). Trust comes only from
the bundle's roots; revocation data from what the document embeds and, for the
platform before it seals, the data its seal is about to embed (``known``); nothing
is fetched. Each signature is validated at the time its time-stamp proves, so a
later expiry or revocation does not undo a signature that was good when made.

The platform files a contract only if this judgement passes it; the verifier
reports it. There is no second path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from verifier.document import (
    MAX_PDF_SIZE,
    DocumentShape,
    DocumentTooComplex,
    DocumentUnreadable,
    open_pdf,
    read_shape,
    signature_fields,
)
from verifier.models import Check, Indication, SignatureFinding
from verifier.modifications import Modification, first_modification
from verifier.names import field_label
from verifier.trust import TrustBundle

__all__ = [
    "MAX_PDF_SIZE",
    "Assessment",
    "DocumentTooComplex",
    "DocumentUnreadable",
    "KnownValidationData",
    "PriorJudgement",
    "SignedDocument",
    "assess",
    "check_signatures",
    "open_pdf",
]

_INDICATION = {
    AdESStatus.PASSED: Indication.PASSED,
    AdESStatus.FAILED: Indication.FAILED,
    AdESStatus.INDETERMINATE: Indication.INDETERMINATE,
}


@dataclass(frozen=True)
class KnownValidationData:
    """Certificates and revocation data (DER) known besides what the document embeds."""

    certificates: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsp_responses: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Assessment:
    """Every signature's finding, and the document-level checks of the contract policy."""

    signatures: tuple[SignatureFinding, ...]  # signatures by parties and seals, oldest first
    checks: tuple[Check, ...]  # ``modifications``, ``signing-order``, ``signer-purpose``
    declared_fields: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return all(s.indication is Indication.PASSED for s in self.signatures) and all(
            c.passed for c in self.checks
        )

    def problems(self) -> list[str]:
        """Why it does not pass, one line per signature or check."""
        out = [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]
        out += [
            f"{s.field}: {s.sub_indication or s.indication.value} {s.message}".rstrip()
            for s in self.signatures
            if s.indication is not Indication.PASSED
        ]
        return out


@functools.lru_cache(maxsize=8)
def validation_spec(trust: TrustBundle) -> PdfSignatureValidationSpec:
    """Roots from the bundle, revocation data from the document, no fetching at all.

    No diff policy: ``verifier/modifications.py`` compares each revision once for
    the whole document, where pyHanko would compare them again for every signature.
    """

    def policy(roots: tuple[bytes, ...]) -> CertValidationPolicySpec:
        return CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(
                [asn1_x509.Certificate.load(der) for der in roots]
            ),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        )

    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy(trust.roots),
            ts_cert_validation_policy=policy(trust.tsa_roots or trust.roots),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
            ),
        ),
        diff_policy=None,
    )


def validation_spec_with(
    trust: TrustBundle, known: KnownValidationData | None
) -> PdfSignatureValidationSpec:
    """``validation_spec`` with ``known`` data besides what the document embeds."""
    spec = validation_spec(trust)
    if known is None:
        return spec
    ocsps = [
        c
        for der in known.ocsp_responses
        for c in OCSPContainer.load_multi(asn1_ocsp.OCSPResponse.load(der))
    ]
    knowledge = LocalKnowledge(
        known_ocsps=ocsps,
        known_crls=[CRLContainer(asn1_crl.CertificateList.load(der)) for der in known.crls],
        known_certs=[asn1_x509.Certificate.load(der) for der in known.certificates],
    )
    inner = dataclasses.replace(spec.signature_validation_spec, local_knowledge=knowledge)
    return dataclasses.replace(spec, signature_validation_spec=inner)


@dataclass(frozen=True)
class PriorJudgement:
    """This judgement's own earlier verdict on a byte prefix of the document: where each of
    the prefix's revisions has its cross-reference section, and the findings it gave their
    signatures.

    Only the platform has one: it judged the previous party's revision itself and has
    compared the bytes. It holds only if the document's first revisions are exactly those
    (the same sections: a new revision whose /Prev skips a judged one makes another
    history of the same bytes). Those revisions are not walked or compared again, and a
    signature it passed is not validated again as long as nothing known now could change
    the verdict: the same certificate, every certificate the signature carries still in
    force, none of them revoked in the revocation data known now, and no validation data
    (DSS) in the document. Otherwise it is validated in full, as without a prior judgement.
    """

    sections: tuple[int, ...]  # each revision's startxref offset, oldest first
    signatures: tuple[SignatureFinding, ...]

    @property
    def revisions(self) -> int:
        return len(self.sections)


class SignedDocument:
    """One parse of a signed PDF: its shape, its signers' certificates, their judgement."""

    def __init__(self, pdf: bytes, prior: PriorJudgement | None = None) -> None:
        self._reader = open_pdf(pdf)
        self._prior = prior if prior is not None and self._extends(prior) else None
        self.shape = read_shape(self._reader, self._prior.revisions if self._prior else 0)
        fields = {f.name: f.ref for f in signature_fields(self._reader)}
        # pyHanko's own listing (which its validation reuses) fails the whole document for
        # one broken dictionary and silently skips a signature of a kind it does not know:
        # a signature it does not list is judged on its own, as a broken one.
        try:
            listed = {str(s.field_name): s for s in self._reader.embedded_signatures}
            listing_error = ""
        except Exception as exc:
            listed, listing_error = {}, f"{type(exc).__name__}: {exc}"
        # (field, signature or None, why not, the same in Chinese only)
        self._embedded: list[tuple[str, Any, str, str]] = []
        for signed in self.shape.signed:
            if signed.is_timestamp:
                continue
            sig = listed.get(signed.name)
            if sig is not None:
                self._embedded.append((signed.name, sig, "", ""))
                continue
            try:
                EmbeddedPdfSignature(self._reader, fields[signed.name], signed.name).signer_cert  # noqa: B018
                zh = (
                    "文件中另有残缺的签名字典，无法核验"
                    if listing_error
                    else "不是可识别的签名类型"
                )
                why = (
                    f"{zh} ({listing_error})"
                    if listing_error
                    else f"{zh} (a signature of a kind pyHanko does not validate)"
                )
            except Exception as exc:
                zh = "签名字典残缺或无法解析"
                why = f"{zh} ({type(exc).__name__}: {exc})"
            self._embedded.append((signed.name, None, why, zh))

    def _extends(self, prior: PriorJudgement) -> bool:
        """This document's first revisions are the very ones ``prior`` judged."""
        if not 0 < prior.revisions <= self._reader.xrefs.total_revisions:
            return False
        try:
            return self.sections()[: prior.revisions] == prior.sections
        except Exception:  # a structure pyHanko cannot place: judged in full
            return False

    def sections(self) -> tuple[int, ...]:
        """Each revision's cross-reference section (its startxref offset), oldest first."""
        xrefs = self._reader.xrefs
        return tuple(int(xrefs.get_startxref_for_revision(r)) for r in range(xrefs.total_revisions))

    def signer_certificates(self) -> list[bytes]:
        """Each signature's signing certificate (DER), oldest first."""
        return [der for _, der in self.signers()]

    def signers(self) -> list[tuple[str, bytes]]:
        """(field, signing certificate DER) of each readable signature, oldest first."""
        return [(name, bytes(sig.signer_cert.dump())) for name, sig, _, _ in self._embedded if sig]

    def assess(
        self,
        trust: TrustBundle,
        *,
        known: KnownValidationData | None = None,
        complete: bool = True,
        draft_revisions: int | None = None,
    ) -> Assessment:
        """Judge the signatures under ``trust`` (and ``known`` data besides the embedded).

        ``complete``: every field the draft declares must be signed (a filed contract);
        otherwise the signed fields must be the first ones in the declared order (a
        contract still being signed). ``draft_revisions``: the recorded draft's revision
        count, if known; every later revision is then held to the modification policy.
        """
        judged = self._prior.revisions if self._prior else 0
        modification = first_modification(self._reader, self.shape, draft_revisions, judged)
        checks = (_modification_check(modification), _order_check(self.shape, complete))
        if known is not None:
            # Sealing proves the existence of the signers' certificates too (they sit in the
            # revisions the seal's document time-stamp covers).
            known = dataclasses.replace(
                known, certificates=(*known.certificates, *self.signer_certificates())
            )
        spec = validation_spec_with(trust, known)
        settled = _settled(self._prior, self._reader, trust, known)
        findings = asyncio.run(
            _check_all(
                self._embedded,
                spec,
                trust,
                modification,
                sealing=known is not None,
                settled=settled,
            )
        )
        return Assessment(findings, (*checks, purpose_check(findings)), self.shape.declared_fields)


def assess(
    pdf: bytes,
    trust: TrustBundle,
    *,
    known: KnownValidationData | None = None,
    complete: bool = True,
) -> Assessment:
    """Judge ``pdf``'s signatures (DocumentUnreadable / DocumentTooComplex for bad input)."""
    return SignedDocument(pdf).assess(trust, known=known, complete=complete)


def check_signatures(pdf: bytes, trust: TrustBundle) -> tuple[SignatureFinding, ...]:
    """One finding per signature, oldest first (DocumentUnreadable for bad input)."""
    return assess(pdf, trust).signatures


def purpose_check(findings: Sequence[SignatureFinding]) -> Check:
    """Each party certificate signed the field it was issued for, all of one contract: a
    co-buyer's key, or one issued for another contract, signed nothing here."""
    contracts: set[str] = set()
    for f in findings:
        if f.purpose is None:
            continue
        verb, _, rest = f.purpose.partition(" ")
        number, _, field = rest.rpartition(" ")
        if verb != "sign" or not number or field != f.field:
            issued = (
                f"合同 {number} 的“{field_label(field, 'zh')}”签名域"
                if verb == "sign" and number and field
                else f"“{f.purpose}”"
            )
            return Check(
                "signer-purpose",
                Indication.FAILED,
                f"{f.field} was signed with a certificate issued for {f.purpose!r}",
                "SIGNER_PURPOSE",
                detail_zh=f"“{field_label(f.field, 'zh')}”签名域所用的证书是为{issued}签发的",
            )
        contracts.add(number)
    if len(contracts) > 1:
        return Check(
            "signer-purpose",
            Indication.FAILED,
            f"the signers' certificates were issued for different contracts: "
            f"{', '.join(sorted(contracts))}",
            "SIGNER_PURPOSE",
            detail_zh=f"各签署人的证书是为不同的合同签发的：{'、'.join(sorted(contracts))}",
        )
    number = contracts.pop() if contracts else ""
    return Check(
        "signer-purpose",
        Indication.PASSED,
        "every party certificate that names a purpose signed its own field"
        + (f" of {number}" if number else ""),
        detail_zh="注明用途的各方证书都只签署了为其签发的签名域"
        + (f"（合同 {number}）" if number else ""),
    )


def _modification_check(modification: Modification | None) -> Check:
    if modification is None:
        return Check(
            "modifications",
            Indication.PASSED,
            "after each signature only the next declared field, validation data and "
            "document time-stamps were added",
            detail_zh="每次签署之后，只增加了下一个声明的签名域、验证数据和文档时间戳",
        )
    return Check(
        "modifications",
        Indication.FAILED,
        f"{modification.what} (revision {modification.revision}: {modification.detail})",
        "MODIFIED_AFTER_SIGNING",
        detail_zh=f"{modification.what}（第 {modification.revision} 个修订版本）",
    )


def _parties(fields: Sequence[str]) -> str:
    """Signature fields named for their parties, in Chinese: 出卖人、买受人1、备案专用章."""
    return "、".join(field_label(f, "zh") for f in fields) or "无"


def _order_check(shape: DocumentShape, complete: bool) -> Check:
    declared = list(shape.declared_fields)
    signed = [s.name for s in shape.signed if s.name in declared or not s.is_timestamp]
    stamped = [s.name for s in shape.signed if s.is_timestamp and s.name in declared]
    if stamped:
        return Check(
            "signing-order",
            Indication.FAILED,
            f"declared field {stamped[0]!r} holds a document time-stamp, not a signature",
            "SIGNING_ORDER",
            detail_zh=f"声明的签名域“{field_label(stamped[0], 'zh')}”中是文档时间戳，不是签名",
        )
    if signed != declared[: len(signed)]:
        return Check(
            "signing-order",
            Indication.FAILED,
            f"signed {', '.join(signed)}; the draft declares {', '.join(declared)} in this order",
            "SIGNING_ORDER",
            detail_zh=f"签署的是 {_parties(signed)}；草稿声明的顺序为 {_parties(declared)}",
        )
    if complete and len(signed) < len(declared):
        missing = declared[len(signed) :]
        return Check(
            "signing-order",
            Indication.FAILED,
            f"declared fields not signed: {', '.join(missing)}",
            "UNSIGNED_FIELD",
            detail_zh=f"尚未签署的声明签名域：{_parties(missing)}",
        )
    return Check(
        "signing-order",
        Indication.PASSED,
        f"signed in the declared order: {', '.join(signed) or '-'}",
        detail_zh=f"按声明的顺序签署：{_parties(signed)}",
    )


async def _check_all(
    embedded: list[tuple[str, Any, str, str]],
    spec: PdfSignatureValidationSpec,
    trust: TrustBundle,
    modification: Modification | None,
    sealing: bool,
    settled: _Settled | None = None,
) -> tuple[SignatureFinding, ...]:
    out = []
    for name, sig, why, why_zh in embedded:
        if sig is None:
            out.append(_unreadable(name, why, why_zh))
        else:
            passed = settled.passed(sig) if settled is not None else None
            out.append(await _check_one(sig, spec, trust, modification, sealing, passed))
    return tuple(out)


@dataclass(frozen=True)
class _Settled:
    """The signatures of a prior judgement that need no new validation, and the test."""

    revisions: int
    findings: dict[str, SignatureFinding]
    revoked: frozenset[tuple[bytes, int]]  # (issuer name DER, serial) listed now
    ocsp_revoked: frozenset[tuple[str, bytes, int]]  # (hash algorithm, issuer name hash, serial)
    roots: tuple[Any, ...]  # trust anchors, asn1crypto

    def passed(self, sig: Any) -> SignatureFinding | None:
        """The prior finding of ``sig``, if it passed and nothing known now could change it."""
        prior = self.findings.get(str(sig.field_name))
        if (
            prior is None
            or prior.indication is not Indication.PASSED
            or sig.signed_revision >= self.revisions
        ):
            return None
        try:
            if hashlib.sha256(sig.signer_cert.dump()).hexdigest() != prior.certificate_sha256:
                return None
            carried = [*_certificates(sig.signed_data), *self.roots]
            for token in _time_stamp_tokens(sig.signer_info):
                carried += _certificates(token)
        except Exception:  # anything unusual is validated in full
            return None
        now = dt.datetime.now(dt.UTC)
        for cert in carried:
            if not cert.not_valid_before <= now <= cert.not_valid_after:
                return None
            if (cert.issuer.dump(), cert.serial_number) in self.revoked:
                return None
            for algorithm in {a for a, _, _ in self.ocsp_revoked}:
                named = hashlib.new(algorithm, cert.issuer.dump()).digest()
                if (algorithm, named, cert.serial_number) in self.ocsp_revoked:
                    return None
        return prior


def _settled(
    prior: PriorJudgement | None, reader: Any, trust: TrustBundle, known: KnownValidationData | None
) -> _Settled | None:
    """What of ``prior`` may stand, given the revocation data known now (None: nothing)."""
    if prior is None or known is None or "/DSS" in reader.root:
        return None
    revoked: set[tuple[bytes, int]] = set()
    for der in known.crls:
        crl = asn1_crl.CertificateList.load(der)
        issuer = crl.issuer.dump()
        for entry in crl["tbs_cert_list"]["revoked_certificates"]:
            revoked.add((issuer, entry["user_certificate"].native))
    ocsp_revoked: set[tuple[str, bytes, int]] = set()
    for der in known.ocsp_responses:
        response = asn1_ocsp.OCSPResponse.load(der)
        for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
            if single["cert_status"].name != "good":
                cert_id = single["cert_id"]
                ocsp_revoked.add(
                    (
                        cert_id["hash_algorithm"]["algorithm"].native,
                        cert_id["issuer_name_hash"].native,
                        cert_id["serial_number"].native,
                    )
                )
    return _Settled(
        prior.revisions,
        {f.field: f for f in prior.signatures},
        frozenset(revoked),
        frozenset(ocsp_revoked),
        tuple(asn1_x509.Certificate.load(der) for der in (*trust.roots, *trust.tsa_roots)),
    )


def _certificates(signed_data: Any) -> list[Any]:
    return [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]


def _time_stamp_tokens(signer_info: Any) -> list[Any]:
    """The SignedData of each signature time-stamp token in ``signer_info``."""
    attributes = signer_info["unsigned_attrs"]
    if not isinstance(attributes, asn1_cms.CMSAttributes):
        return []
    return [
        token["content"]
        for attribute in attributes
        if attribute["type"].native == "signature_time_stamp_token"
        for token in attribute["values"]
    ]


def _unreadable(name: str, why: str, why_zh: str) -> SignatureFinding:
    """A filled field whose signature cannot even be parsed (universal signature forgery)."""
    return SignatureFinding(
        field=name,
        signer="",
        organization=None,
        subject_serial=None,
        subject="",
        issuer="",
        certificate_sha256="",
        signing_time=None,
        time_from_timestamp=False,
        indication=Indication.FAILED,
        sub_indication="FORMAT_FAILURE",
        modifications="",
        message=why,
        is_filing_seal=False,
        message_zh=why_zh,
    )


def _name_part(cert: Any, key: str) -> str | None:
    value = cert.subject.native.get(key) if cert is not None else None
    return str(value) if value else None


def _description(cert: Any) -> str | None:
    """The subject's X.520 description (2.5.4.13), which asn1crypto has no name for."""
    if cert is None:
        return None
    values = [
        attribute["value"].native
        for rdn in cert.subject.chosen
        for attribute in rdn
        if attribute["type"].dotted == "2.5.4.13"
    ]
    return str(values[0]) if len(values) == 1 else None


async def _check_one(
    sig: Any,
    spec: PdfSignatureValidationSpec,
    trust: TrustBundle,
    mod: Modification | None,
    sealing: bool,
    passed: SignatureFinding | None = None,
) -> SignatureFinding:
    try:
        cert = sig.signer_cert
    except Exception:  # a CMS blob without a usable signer certificate
        cert = None
    der = cert.dump() if cert is not None else b""
    if passed is not None:
        # Validated by this judgement before, and nothing known now says otherwise: what
        # the later revisions may have done to it is still judged below.
        coverage = sig.evaluate_signature_coverage().name
        return _judged(
            sig,
            cert,
            der,
            trust,
            mod,
            coverage,
            Indication.PASSED,
            None,
            "",
            "",
            passed.signing_time,
            passed.time_from_timestamp,
        )
    try:
        if sealing:
            # Before its seal, a document has no document time-stamp yet. The seal embeds
            # the known data and time-stamps it all at once, moments from now: pyHanko's
            # simulation takes that time-stamp as given and runs the very same LTA
            # validation a verifier runs on the sealed document.
            now = dt.datetime.now(dt.UTC)
            result = await ades.simulate_future_ades_lta_validation(sig, spec, now, now)
        else:
            result = await ades.ades_lta_validation(sig, spec)
    except Exception as exc:  # a corrupt CMS blob is a failed signature, not a crash
        return _finding(
            sig,
            cert,
            der,
            trust,
            Indication.FAILED,
            "FORMAT_FAILURE",
            str(exc),
            message_zh="签名数据无法解析",
        )
    indication = _INDICATION[result.ades_subindic.status]
    sub = None if indication is Indication.PASSED else result.ades_subindic.standard_name
    status = result.api_status
    # pyHanko's words are for engineers (the English report, JSON): in Chinese the
    # sub-indication's meaning says it.
    message = result.failure_msg or ""
    coverage = status.coverage.name if status is not None and status.coverage else "UNCLEAR"
    timestamped = status is not None and status.timestamp_validity is not None
    when = getattr(result, "best_signature_time", None)
    if when is None and status is not None:
        when = status.signer_reported_dt
    return _judged(
        sig, cert, der, trust, mod, coverage, indication, sub, message, "", when, timestamped
    )


def _judged(
    sig: Any,
    cert: Any,
    der: bytes,
    trust: TrustBundle,
    mod: Modification | None,
    coverage: str,
    indication: Indication,
    sub: str | None,
    message: str,
    message_zh: str,
    when: Any,
    timestamped: bool,
) -> SignatureFinding:
    """The finding, once the contract policy has judged what came after the signature."""
    if coverage not in ("ENTIRE_REVISION", "ENTIRE_FILE"):
        # Bytes inside the signed revision that the signature does not cover (wrapping).
        indication, sub = Indication.FAILED, "FORMAT_FAILURE"
        message_zh = "签名未覆盖其整个修订版本"
        message = f"{message_zh} (coverage {coverage})"
    elif mod is not None and sig.signed_revision < mod.revision:
        indication, sub = Indication.FAILED, "FORMAT_FAILURE"
        message = message_zh = f"签署后文件被修改：{mod.what}"
    elif sig.docmdp_level is not None:
        # A certification (DocMDP) would forbid the later parties' signatures that the
        # contract needs; other validators would then judge the document differently.
        indication, sub = Indication.FAILED, "FORMAT_FAILURE"
        message_zh = "合同只用批准签名，不用认证签名"
        message = f"{message_zh} (DocMDP certification)"
    if indication is Indication.PASSED:
        message = message_zh = ""
    return _finding(
        sig,
        cert,
        der,
        trust,
        indication,
        sub,
        message,
        when,
        timestamped,
        _later_changes(coverage, sig.signed_revision, mod),
        message_zh,
    )


def _later_changes(coverage: str, revision: int, mod: Modification | None) -> str:
    """What came after the signature: nothing, only what the policy allows, or more."""
    if coverage == "ENTIRE_FILE":
        return "NONE"
    return "MODIFIED" if mod is not None and revision < mod.revision else "ALLOWED_ADDITIONS"


def _finding(
    sig: Any,
    cert: Any,
    der: bytes,
    trust: TrustBundle,
    indication: Indication,
    sub: str | None,
    message: str,
    when: Any = None,
    timestamped: bool = False,
    modifications: str = "",
    message_zh: str = "",
) -> SignatureFinding:
    return SignatureFinding(
        field=str(sig.field_name),
        signer=_name_part(cert, "common_name") or "",
        organization=_name_part(cert, "organization_name"),
        subject_serial=_name_part(cert, "serial_number"),
        subject=cert.subject.human_friendly if cert is not None else "",
        issuer=cert.issuer.human_friendly if cert is not None else "",
        certificate_sha256=hashlib.sha256(der).hexdigest() if der else "",
        signing_time=when,
        time_from_timestamp=timestamped,
        indication=indication,
        sub_indication=sub,
        modifications=modifications,
        message=message,
        is_filing_seal=bool(der) and trust.is_filing_seal(der),
        purpose=_description(cert),
        message_zh=message_zh,
    )
