"""The platform's recent judgements of the revisions it accepted, so that the next party's
revision is judged only for what it adds.

A contract is signed revision by revision, and each revision extends the one before it byte
for byte. The verifier's ``PriorJudgement`` lets the judgement of the next revision skip
what this process already judged of the previous one (its object paths, its modification
checks, the signatures it passed, unless something known now could change their verdict).
Kept in memory, per worker process and bounded: a miss (another worker, a restart, an
evicted entry) only means the whole document is judged again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from verifier.signatures import Assessment, PriorJudgement
from verifier.trust import TrustBundle

CAPACITY = 4096  # revisions waiting for their next party, per worker


@dataclass(frozen=True)
class _Judged:
    trust: TrustBundle
    prior: PriorJudgement


class RecentJudgements:
    """Passing judgements by the SHA-256 of the document they judged, least recent out first."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, _Judged] = OrderedDict()
        self._lock = threading.Lock()

    def remember(
        self, pdf: bytes, revisions: int, trust: TrustBundle, assessment: Assessment
    ) -> None:
        """``assessment`` of ``pdf`` (of ``revisions`` revisions) under ``trust`` passed."""
        if not assessment.passed:
            return
        judged = _Judged(trust, PriorJudgement(revisions, assessment.signatures))
        key = hashlib.sha256(pdf).digest()
        with self._lock:
            self._entries[key] = judged
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def prior(self, pdf: bytes, trust: TrustBundle) -> PriorJudgement | None:
        """The judgement of exactly ``pdf`` under the same ``trust``, if this process has one."""
        key = hashlib.sha256(pdf).digest()
        with self._lock:
            judged = self._entries.get(key)
            if judged is not None:
                self._entries.move_to_end(key)
        return judged.prior if judged is not None and judged.trust == trust else None
