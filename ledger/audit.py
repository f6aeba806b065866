"""``wangqian log audit``: recompute the tree from the entries and check everything stored."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.log import Log
from ledger.merkle import EMPTY_ROOT, leaf_hash
from ledger.note import NoteError, Verifier, open_note
from ledger.tree import Frontier, NewNode

CHUNK = 8192


@dataclass
class AuditReport:
    entries: int = 0
    tree_size: int = 0
    nodes_checked: int = 0
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit(log: Log, log_keys: list[Verifier]) -> AuditReport:
    report = AuditReport()
    tree_size = log.size()
    report.tree_size = tree_size
    checkpoints = sorted(log.checkpoints(), key=lambda c: (c.size, c.id))
    for cp in checkpoints:
        try:
            text, _ = open_note(cp.note, log_keys)
            parsed = Checkpoint.parse(text)
        except (NoteError, CheckpointError) as exc:
            report.problems.append(f"checkpoint #{cp.id} (size {cp.size}): {exc}")
            continue
        if (parsed.size, parsed.root_hash) != (cp.size, cp.root):
            report.problems.append(f"checkpoint #{cp.id}: signed text disagrees with its row")
        if cp.size > tree_size:
            report.problems.append(f"checkpoint #{cp.id} is beyond the tree size {tree_size}")

    frontier = Frontier(0, [])
    pending_cps = [cp for cp in checkpoints if cp.size == 0]
    for cp in pending_cps:
        _check_root(report, cp.id, cp.size, cp.root, EMPTY_ROOT)
    by_size: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    for cp in checkpoints:
        if cp.size > 0:
            by_size[cp.size].append((cp.id, cp.root))

    produced: list[NewNode] = []
    expected = 0
    for idx, data in log.iter_entries():
        if idx != expected:
            report.problems.append(f"entry index gap: expected {expected}, found {idx}")
            break
        expected += 1
        report.entries += 1
        if idx >= tree_size:
            continue  # appended, not yet integrated
        produced.extend(frontier.push(leaf_hash(data)))
        for cid, root in by_size.get(frontier.size, []):
            _check_root(report, cid, frontier.size, root, frontier.root())
        if len(produced) >= CHUNK:
            _compare_nodes(log, produced, report)
            produced = []
    _compare_nodes(log, produced, report)
    if frontier.size != tree_size:
        report.problems.append(f"only {frontier.size} of {tree_size} integrated entries exist")
    return report


def _check_root(report: AuditReport, cid: int, size: int, stored: bytes, actual: bytes) -> None:
    report.checkpoints_checked += 1
    if stored != actual:
        report.problems.append(
            f"checkpoint #{cid} (size {size}) does not match the tree recomputed from the entries"
        )


def _compare_nodes(log: Log, produced: list[NewNode], report: AuditReport) -> None:
    by_level: dict[int, list[NewNode]] = defaultdict(list)
    for n in produced:
        by_level[n.level].append(n)
    for level, nodes in by_level.items():
        lo, hi = nodes[0].index, nodes[-1].index + 1
        stored = dict(log.stored_nodes(level, lo, hi))
        for n in nodes:
            report.nodes_checked += 1
            if stored.get(n.index) != n.hash:
                report.problems.append(
                    f"stored node (level {level}, index {n.index}) does not match the entries"
                )
