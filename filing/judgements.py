"""The platform's judgement of an accepted revision, kept with the contract so that the next
party's revision is judged only for what it adds.

A contract is signed revision by revision, each extending the one before it byte for byte.
When the platform accepts a revision it stores what it found (``contracts.judgement``): where
each revision's cross-reference section is, every signature's finding, the document's SHA-256
and the trust it judged under, under an HMAC whose key lives in the data directory, not in the
database. The next
revision's judgement reads it back as the verifier's ``PriorJudgement`` (which then skips
what was judged, unless something known now could change a verdict). A record that does
not match the document, the trust or its MAC -- a database edited by hand, an older format,
a rotated trust bundle -- is no record: the whole document is judged again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from verifier.models import Indication, SignatureFinding
from verifier.signatures import Assessment, PriorJudgement
from verifier.trust import TrustBundle

FORMAT = 2  # 2: the revisions' cross-reference sections, not just their count
MAX_RECORD = 64 * 1024  # a handful of findings; a longer column is not ours


def record(
    key: bytes,
    pdf: bytes,
    sections: tuple[int, ...],
    trust: TrustBundle,
    assessment: Assessment,
) -> str | None:
    """The stored form of ``assessment`` of ``pdf``, whose revisions have their
    cross-reference sections at ``sections`` (None unless it passed)."""
    if not assessment.passed:
        return None
    body = {
        "format": FORMAT,
        "document_sha256": hashlib.sha256(pdf).hexdigest(),
        "trust": _trust_digest(trust),
        "sections": list(sections),
        "signatures": [_finding_json(f) for f in assessment.signatures],
    }
    return json.dumps({**body, "mac": _mac(key, body)}, ensure_ascii=False)


def prior(key: bytes, pdf: bytes, trust: TrustBundle, text: str | None) -> PriorJudgement | None:
    """The judgement ``text`` records of exactly ``pdf`` under ``trust``, if it is one."""
    if not text or len(text) > MAX_RECORD:
        return None
    try:
        stored = json.loads(text)
        body = {k: v for k, v in stored.items() if k != "mac"}
        if not hmac.compare_digest(str(stored.get("mac", "")), _mac(key, body)):
            return None
        if (
            body["format"] != FORMAT
            or body["document_sha256"] != hashlib.sha256(pdf).hexdigest()
            or body["trust"] != _trust_digest(trust)
        ):
            return None
        sections = tuple(int(offset) for offset in body["sections"])
        return PriorJudgement(sections, tuple(_finding(f) for f in body["signatures"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _mac(key: bytes, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _trust_digest(trust: TrustBundle) -> str:
    """What of the trust a signature's judgement depends on: its roots and filing seals."""
    digest = hashlib.sha256()
    for group in (trust.roots, trust.tsa_roots, trust.filing_seals):
        digest.update(len(group).to_bytes(4, "big"))
        for der in group:
            digest.update(len(der).to_bytes(4, "big") + der)
    return digest.hexdigest()


def _finding_json(finding: SignatureFinding) -> dict[str, Any]:
    out = dataclasses.asdict(finding)
    out["indication"] = finding.indication.value
    out["signing_time"] = finding.signing_time.isoformat() if finding.signing_time else None
    return out


def _finding(data: dict[str, Any]) -> SignatureFinding:
    when = data["signing_time"]
    return SignatureFinding(
        **{
            **data,
            "indication": Indication(data["indication"]),
            "signing_time": dt.datetime.fromisoformat(when) if when else None,
        }
    )
