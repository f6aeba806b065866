"""``wangqian-verify --audit-map LOGDIR``: does a copy of the log commit to the right status map?

Replays the entries of log data (tlog-tiles layout, as ``wangqian log export`` writes it)
into a status map with the verifier's own key rule, and compares the root with the status
map line of the log data's checkpoint. The verdict:

* PASSED (exit 0): the checkpoint, signed by a log key of the trust bundle, commits to the
  map its entries give;
* FAILED (exit 1): it commits to another root, or to a malformed line. The log's signature
  alone proves this (as it proves a split view), so witnesses are not required for it;
* INDETERMINATE (exit 2): no log key of the bundle signed it, its entries do not hash to
  it, or it has no status map line: such a checkpoint proves nothing about a map, and a
  status proof cannot use it either.

Memory: the entries, as ``LogData`` reads them, and the replayed map (about 800 bytes per
filing); time O(n log n) hashing.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from ledger.status_map import MapLeaf, MapProofError, MemoryMap, committed_root, key_for
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.later import LogData, open_log_data
from verifier.models import Check, Verdict
from verifier.receipt import SignedCheckpoint
from verifier.reports import explain, people_time, verdict_words
from verifier.trust import TrustBundle


def status_name(data: bytes) -> str | None:
    """The verifier's key rule: the filing an entry is an event of, None for other entries
    and for fund events (no status of a filing).

    It must key every entry as the platform's ``filing.entry.status_name`` does
    (``tests/test_map_audit.py`` holds the two together).
    """
    try:
        entry = LoggedEntry.read(data)
    except EntryUnreadable:
        return None
    return None if entry.is_fund_event else entry.filing


@dataclass(frozen=True)
class Replayed:
    root: bytes
    events: int  # entries that are a filing's event
    filings: int  # distinct filings among them


def replay(entries: tuple[bytes, ...], leaves: tuple[bytes, ...]) -> Replayed:
    """The status map of ``entries`` (with their RFC 9162 leaf hashes ``leaves``)."""
    m = MemoryMap()
    names: set[str] = set()
    events = 0
    for index, (data, hash_) in enumerate(zip(entries, leaves, strict=True)):
        name = status_name(data)
        if name is None:
            continue
        events += 1
        names.add(name)
        m.update([MapLeaf(key_for(name), index, hash_)])
    return Replayed(m.root, events, len(names))


@dataclass(frozen=True)
class SignedBy:
    """The log data's checkpoint, once a log key of the bundle signed it."""

    origin: str
    tree_size: int
    log_keys: tuple[str, ...]
    cosigners: tuple[str, ...]  # one name per witness key that cosigned it
    witness_threshold: int  # the bundle's; shown, not required (see above)
    cosigned_at: dt.datetime | None

    @classmethod
    def of(cls, signed: SignedCheckpoint, trust: TrustBundle) -> SignedBy:
        return cls(
            signed.checkpoint.origin,
            signed.checkpoint.size,
            tuple(s.verifier.name for s in signed.log_signatures),
            tuple(s.verifier.name for s in signed.witnesses),
            trust.witness_threshold,
            signed.cosigned_at,
        )


@dataclass(frozen=True)
class MapAudit:
    verdict: Verdict  # PASSED, FAILED or INDETERMINATE only
    detail: str  # why, in English
    detail_zh: str
    audited_at: dt.datetime
    checkpoint: SignedBy | None = None
    committed: bytes | None = None
    replayed: Replayed | None = None

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code


def audit_log_data(data: LogData, trust: TrustBundle, now: dt.datetime | None = None) -> MapAudit:
    """Audit the status map line of ``data``'s checkpoint against its entries."""
    moment = now or dt.datetime.now(dt.UTC)
    signed = open_log_data(data, trust)
    if isinstance(signed, Check):
        zh = explain(signed.sub_indication, signed.detail_zh, "zh")
        return MapAudit(
            Verdict.INDETERMINATE,
            f"the log data's checkpoint cannot be trusted: {signed.detail}",
            f"日志数据的检查点不可信：{zh}",
            moment,
        )
    facts = SignedBy.of(signed, trust)
    try:
        committed = committed_root(signed.checkpoint)
    except MapProofError as exc:
        return MapAudit(
            Verdict.FAILED,
            f"the log signed a malformed status map line: {exc}",
            f"日志签署了格式错误的状态表承诺行（{exc}）",
            moment,
            facts,
        )
    if committed is None:
        return MapAudit(
            Verdict.INDETERMINATE,
            "the checkpoint commits to no status map: there is nothing to audit",
            "检查点未承诺状态表，无可核验",
            moment,
            facts,
        )
    found = replay(data.entries, data.leaves)
    if found.root != committed:
        return MapAudit(
            Verdict.FAILED,
            "the status map root the log signed is not the one its entries give: "
            "a status proof against this checkpoint may show a filing's latest event wrongly",
            "日志签署的状态表根与其条目重算的不一致：依此检查点的状态证明可能错示备案的最新记录",
            moment,
            facts,
            committed=committed,
            replayed=found,
        )
    return MapAudit(
        Verdict.PASSED,
        "the status map root the log signed is the one its entries give",
        "日志签署的状态表根与其条目重算的一致",
        moment,
        facts,
        committed=committed,
        replayed=found,
    )


_LABELS = {
    "title": ("状态表核验", "Status map audit"),
    "reason": ("理由", "Reason"),
    "log": ("日志", "Log"),
    "size": ("树大小", "tree size"),
    "keys": ("签署密钥", "signed by"),
    "witnesses": ("见证人", "Witnesses"),
    "policy": ("策略要求", "the policy needs"),
    "none": ("无", "none"),
    "entries": ("条目", "Entries"),
    "committed": ("检查点承诺的状态表根", "Root the checkpoint commits to"),
    "replayed": ("由条目重算的状态表根", "Root the entries give"),
    "cosigned_at": ("见证时间", "Witnessed at"),
    "audited_at": ("核验时间", "Audited at"),
}


def _t(key: str, lang: str) -> str:
    zh, en = _LABELS[key]
    return zh if lang == "zh" else en


def _b64(h: bytes | None) -> str:
    return "—" if h is None else base64.b64encode(h).decode()


def _paren(words: str, lang: str) -> str:
    return f"（{words}）" if lang == "zh" else f"({words})"


def to_text(audit: MapAudit, lang: str = "zh") -> str:
    """A short report; times in Beijing time."""
    sep = "：" if lang == "zh" else ": "
    reason = audit.detail_zh if lang == "zh" else audit.detail
    lines = [
        f"{_t('title', lang)}{sep}{verdict_words(audit.verdict, lang)}",
        f"{_t('reason', lang)}{sep}{reason}",
    ]
    c = audit.checkpoint
    if c is not None:
        witnesses = ", ".join(c.cosigners) or _t("none", lang)
        policy = f"{_t('policy', lang)} {c.witness_threshold}"
        lines += [
            f"{_t('log', lang)}{sep}{c.origin}  {_t('size', lang)} {c.tree_size}  "
            f"{_t('keys', lang)} {', '.join(c.log_keys)}",
            f"{_t('witnesses', lang)}{sep}{witnesses} {_paren(policy, lang)}",
            f"{_t('cosigned_at', lang)}{sep}{people_time(c.cosigned_at, lang)}",
        ]
    r = audit.replayed
    if c is not None and r is not None:
        if lang == "zh":
            counts = f"{c.tree_size} 条，其中备案事件 {r.events} 条，涉及 {r.filings} 件备案"
        else:
            counts = f"{c.tree_size}, of which {r.events} filing events of {r.filings} filings"
        lines += [
            f"{_t('entries', lang)}{sep}{counts}",
            f"{_t('committed', lang)}{sep}{_b64(audit.committed)}",
            f"{_t('replayed', lang)}{sep}{_b64(r.root)}",
        ]
    lines.append(f"{_t('audited_at', lang)}{sep}{people_time(audit.audited_at, lang)}")
    return "\n".join(lines) + "\n"
