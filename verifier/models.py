"""What a verification finds: indications per check, per signature, and the verdict.

Every message for people is written once, where it is found, in both languages: a
``Check`` carries ``detail`` (English, stable enough for the JSON report and logs) and
``detail_zh`` (Chinese, for the text and HTML reports in ``--lang zh``), a
``SignatureFinding`` its ``message`` and ``message_zh``, a ``Report`` its notes as
``Message`` pairs. ``detail_zh`` is a required keyword, so a new check cannot forget it
(mypy and the constructor both say so)::

    Check("fund-events", Indication.PASSED, f"{n} fund events", detail_zh=f"资金事件 {n} 条")

Data inside a message (hashes, filing numbers, names) goes into both as it is; times go
into the Chinese one as ``verifier.reports.people_time`` (Beijing time), never ISO UTC.
The Chinese text leaves out what only an engineer reads (library exception text); the
English detail and the JSON report keep it. The JSON report has no Chinese fields.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Indication(enum.Enum):
    """ETSI EN 319 102-1 main indications."""

    PASSED = "TOTAL-PASSED"
    FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class Verdict(enum.Enum):
    """The answer in the words a court uses."""

    PASSED = "PASSED"  # 核验通过
    MISMATCH = "MISMATCH"  # 比对不一致: the document is not the filed one
    NOT_FILED = "NOT_FILED"  # 未备案: nothing proves it was filed
    CANCELLED = "CANCELLED"  # 已注销: filed, then cancelled
    FAILED = "FAILED"  # 核验失败: a signature or the log's proof is invalid
    INDETERMINATE = "INDETERMINATE"  # 无法确定: the evidence does not suffice either way

    @property
    def exit_code(self) -> int:
        if self is Verdict.PASSED:
            return 0
        return 2 if self is Verdict.INDETERMINATE else 1


@dataclass(frozen=True)
class Message:
    """One remark for people in both languages (the English one goes into the JSON report)."""

    en: str
    zh: str

    def said(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Check:
    """One check that was run; ``name`` is stable (see docs/verifier.md)."""

    name: str
    indication: Indication
    detail: str  # English
    sub_indication: str | None = None
    detail_zh: str = field(kw_only=True)  # the same in Chinese, for people

    def said(self, lang: str) -> str:
        return self.detail_zh if lang == "zh" else self.detail

    @property
    def passed(self) -> bool:
        return self.indication is Indication.PASSED


@dataclass(frozen=True)
class SignatureFinding:
    field: str
    signer: str  # the certificate's common name
    organization: str | None
    subject_serial: str | None  # for persons: a hash of their ID number, never the number
    subject: str
    issuer: str
    certificate_sha256: str
    signing_time: dt.datetime | None
    time_from_timestamp: bool  # the time is proven by a time-stamp, not just claimed
    indication: Indication
    sub_indication: str | None
    modifications: str  # after it: NONE, ALLOWED_ADDITIONS (the contract policy) or MODIFIED
    message: str  # why not passed: the technical detail, partly Chinese (the platform's 422s)
    is_filing_seal: bool
    # A party certificate's X.520 description, ``sign <contract number> <field>``: the one
    # signature it was issued for (docs/formats.md, "Party certificates").
    purpose: str | None = None
    message_zh: str = ""  # why not passed, in Chinese only ("": the sub-indication says it)


@dataclass(frozen=True)
class LaterEvent:
    index: int
    event: str  # cancelled | changed | registered | expired (a lease's term ran out)
    at: dt.datetime
    basis: str | None = None  # a cancellation's: agreement (every party signed) | judgment
    document_sha256: str = ""  # the sealed agreement, or the judgment document


@dataclass(frozen=True)
class FilingFacts:
    """What the log says about the document, once the receipt verified."""

    filing: str
    event: str
    unit: str
    filed_at: dt.datetime
    doc_sha256: str
    origin: str
    index: int
    tree_size: int
    root_hash: str  # base64, as in the checkpoint
    log_keys: tuple[str, ...]  # key names that signed the checkpoint
    cosigners: tuple[str, ...]
    checked_up_to: int  # the largest tree size this verification saw consistent
    later_events: tuple[LaterEvent, ...] = ()
    # Only log data shows later entries; a later checkpoint alone proves growth, not content.
    later_checked: bool = False
    # When the witnesses saw the newest tree checked (its latest cosignature): what was
    # in the log after that, this verification cannot know.
    checked_at: dt.datetime | None = None
    # What showed the filing's later events, when it counted: "log-data" (every entry after
    # the filing, read) or "status" (the log's status proof of its latest event).
    checked_by: str | None = None
    kind: str = "new-home"  # the filing's transaction kind, as its log entry names it


@dataclass(frozen=True)
class Report:
    verdict: Verdict
    reason: str
    document_sha256: str
    document_size: int
    signatures: tuple[SignatureFinding, ...]
    checks: tuple[Check, ...]
    filing: FilingFacts | None
    verified_at: dt.datetime
    notes: tuple[Message, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (docs/verifier.md): English details and stable codes only."""
        plain = _plain(asdict(self))
        plain["notes"] = [n.en for n in self.notes]
        for c in plain["checks"]:
            del c["detail_zh"]
        for s in plain["signatures"]:
            del s["message_zh"]
        return {"schema": "wangqian-verify-report/v1", **plain}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value
