"""``wangqian log audit``: recompute the tree from the entries and check everything stored.

Given the deployment's key rule (``name_of``; ledger imports no filing code, the CLI
passes ``filing.entry.status_name``), the status map too: ``ledger/map_audit.py``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.log import Log
from ledger.map_audit import MapAuditReport, MapCommitment, audit_map
from ledger.merkle import EMPTY_ROOT, leaf_hash
from ledger.note import NoteError, Verifier, open_note
from ledger.status_map import MapProofError, committed_root
from ledger.status_store import NameOf
from ledger.tiles import TILE_WIDTH
from ledger.tree import Frontier, NewNode
from ledger.tree_store import STORED_HEIGHT

CHUNK = 32 * TILE_WIDTH  # keep chunks tile-aligned


@dataclass
class AuditReport:
    entries: int = 0
    tree_size: int = 0
    nodes_checked: int = 0
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)
    status_map: MapAuditReport | None = None  # when audited with a key rule

    @property
    def ok(self) -> bool:
        return not self.problems


def audit(log: Log, log_keys: list[Verifier], name_of: NameOf | None = None) -> AuditReport:
    """Check the log; with ``name_of`` (which filing an entry is an event of), its map too."""
    report = AuditReport()
    tree_size = log.size()
    report.tree_size = tree_size
    checkpoints = sorted(log.checkpoints(), key=lambda c: (c.size, c.id))
    commitments: list[MapCommitment] = []
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
        try:
            commitments.append(MapCommitment(cp.id, parsed.size, committed_root(parsed)))
        except MapProofError as exc:
            report.problems.append(f"checkpoint #{cp.id} (size {cp.size}): {exc}")

    frontier = Frontier(0, [])
    by_size: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    for cp in checkpoints:
        by_size[cp.size].append((cp.id, cp.root))
    for cid, root in by_size.get(0, []):
        _check_root(report, cid, 0, root, EMPTY_ROOT)

    chunk_start, chunk_hashes, produced = 0, [], []
    expected = 0
    for idx, data in log.iter_entries():
        if idx != expected:
            report.problems.append(f"entry index gap: expected {expected}, found {idx}")
            break
        expected += 1
        report.entries += 1
        if idx >= tree_size:
            continue  # appended, not yet integrated
        h = leaf_hash(data)
        chunk_hashes.append(h)
        produced.extend(frontier.extend([h], min_level=STORED_HEIGHT))
        for cid, root in by_size.get(frontier.size, []):
            _check_root(report, cid, frontier.size, root, frontier.root())
        if len(chunk_hashes) == CHUNK:
            _compare_stored(log, chunk_start, chunk_hashes, produced, tree_size, report)
            chunk_start, chunk_hashes, produced = frontier.size, [], []
    _compare_stored(log, chunk_start, chunk_hashes, produced, tree_size, report)
    if frontier.size != tree_size:
        report.problems.append(f"only {frontier.size} of {tree_size} integrated entries exist")
    if name_of is not None:
        report.status_map = audit_map(log, name_of, commitments, tree_size)
        report.problems += report.status_map.problems
    return report


def _check_root(report: AuditReport, cid: int, size: int, stored: bytes, actual: bytes) -> None:
    report.checkpoints_checked += 1
    if stored != actual:
        report.problems.append(
            f"checkpoint #{cid} (size {size}) does not match the tree recomputed from the entries"
        )


def _compare_stored(
    log: Log,
    start: int,
    hashes: list[bytes],
    produced: list[NewNode],
    tree_size: int,
    report: AuditReport,
) -> None:
    """Compare recomputed leaf hashes with stored tiles, and high nodes with stored rows."""
    if not hashes:
        return
    first, end = start // TILE_WIDTH, (start + len(hashes)) // TILE_WIDTH  # start is tile-aligned
    stored_tiles = dict(log.stored_tiles(first, end))
    for t in range(first, end):
        if (t + 1) * TILE_WIDTH > tree_size:
            break
        report.nodes_checked += TILE_WIDTH
        want = b"".join(hashes[(t - first) * TILE_WIDTH : (t - first + 1) * TILE_WIDTH])
        if stored_tiles.get(t) != want:
            report.problems.append(f"stored tile 0/{t} does not match the entries")
    by_level: dict[int, list[NewNode]] = defaultdict(list)
    for n in produced:
        by_level[n[0]].append(n)
    for level, nodes in by_level.items():
        lo, hi = nodes[0][1], nodes[-1][1] + 1
        stored = dict(log.stored_high_nodes(level, lo, hi))
        for _, index, digest in nodes:
            report.nodes_checked += 1
            if stored.get(index) != digest:
                report.problems.append(
                    f"stored node (level {level}, index {index}) does not match the entries"
                )
