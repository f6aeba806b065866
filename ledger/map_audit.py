"""Audit the status map: replay the entries, compare everything stored or signed about it.

As of each tree size the map was committed or kept at, the entries replayed into a
``MemoryMap`` (with the deployment's key rule) must give

* every checkpoint's status map line (what the log signed, and witnesses cosigned);
* every ``log_map_versions`` root;
* every ``log_map_nodes`` row, exactly: the rows under a version are the nodes the
  entries since the version before changed, with their values then. Served proofs are
  read from these rows, while the roots above are kept apart from them: a forged node
  row (a stale leaf inserted under a newer version, say; the table only refuses updates)
  would leave every root right and make the proofs lie;
* the proofs ``StatusMapStore.proof`` serves for a few keys each version changed, checked
  against the replayed root: the read path as well as the rows.

Cost: the replay is O(n log n) hashing (each event rehashes its key's path, ~log2 of the
filings deep) and reads each node row once; memory is the replayed map, about 2.5 nodes
(800 bytes) per filing (docs/operations.md has measured numbers), plus one version's changes.
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import text

from ledger.log import Log
from ledger.merkle import leaf_hash
from ledger.status_map import MapLeaf, MapProofError, MemoryMap, Node, key_for, set_leaf
from ledger.status_store import NameOf, StatusMapError, StatusMapStore

SPOT_CHECKS = 3  # served proofs checked per map version, among the keys it changed
PROBLEMS_PER_VERSION = 5  # node row problems listed per version; the rest are counted
FETCH_ROWS = 10_000  # node rows fetched at a time from the stream


@dataclass(frozen=True)
class MapCommitment:
    """What one checkpoint (its signature already checked) says about the map."""

    checkpoint_id: int
    size: int
    root: bytes | None  # None: the checkpoint has no status map line


@dataclass
class MapAuditReport:
    filings: int = 0  # keys in the replayed map as of the tree size
    roots_checked: int = 0  # checkpoint lines and stored versions
    nodes_checked: int = 0
    proofs_checked: int = 0
    problems: list[str] = field(default_factory=list)


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


class _Replay(MemoryMap):
    """The replayed map, remembering which nodes (and keys) changed since the last version."""

    def __init__(self) -> None:
        super().__init__()
        self.changed: set[tuple[int, bytes]] = set()
        self.changed_keys: dict[bytes, str] = {}
        # Leaves held, so keys: a leaf's place is never left empty (a leaf moving down
        # leaves an inner node behind), so every leaf put is a key's one leaf.
        self.keys = 0

    def put(self, depth: int, prefix: bytes, node: Node) -> None:
        old = self.node(depth, prefix)
        self.keys += isinstance(node, MapLeaf) - isinstance(old, MapLeaf)
        super().put(depth, prefix, node)
        self.changed.add((depth, prefix))

    def apply(self, name: str, index: int, data: bytes) -> None:
        key = key_for(name)
        set_leaf(self, MapLeaf(key, index, leaf_hash(data)))
        self.changed_keys.pop(key, None)
        self.changed_keys[key] = name  # newest last

    def leaf(self, key: bytes) -> MapLeaf | None:
        """The key's leaf: where its path ends, if that is its own (a walk, no hashing)."""
        end = self.prove(key).terminal
        return end if end is not None and end.key == key else None

    def next_version(self) -> None:
        self.changed.clear()
        self.changed_keys.clear()


_Row = tuple[int, int, bytes, bytes, bytes | None]  # version, depth, prefix, hash, leaf


class _NodeRows:
    """Every stored node row, by version, read once as one stream with one row of lookahead."""

    def __init__(self, log: Log) -> None:
        self._rows = self._stream(log)
        self._next = next(self._rows, None)

    @staticmethod
    def _stream(log: Log) -> Generator[_Row, None, None]:
        with log.engine.connect() as conn:
            sql = "SELECT version, depth, prefix, hash, leaf FROM log_map_nodes ORDER BY version"
            stream = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS)
            result = stream.execute(text(sql))
            for v, d, p, h, lf in result:
                yield int(v), int(d), bytes(p), bytes(h), None if lf is None else bytes(lf)

    def take(self, version: int) -> Iterator[_Row]:
        """The rows of versions up to ``version`` not taken yet, in version order."""
        while self._next is not None and self._next[0] <= version:
            yield self._next
            self._next = next(self._rows, None)

    def close(self) -> None:
        self._rows.close()


def audit_map(
    log: Log, name_of: NameOf, commitments: Sequence[MapCommitment], tree_size: int
) -> MapAuditReport:
    """Replay the first ``tree_size`` entries and check every commitment and the store."""
    report = MapAuditReport()
    store = StatusMapStore(log, name_of)
    stored = dict(store.versions())
    _beyond(log, stored, tree_size, report)
    versions = {s: r for s, r in stored.items() if s <= tree_size}
    by_size: dict[int, list[MapCommitment]] = {}
    for c in sorted(commitments, key=lambda c: (c.size, c.checkpoint_id)):
        by_size.setdefault(c.size, []).append(c)
    _lines_kept(commitments, report)

    replay = _Replay()
    rows = _NodeRows(log)
    strays: set[int] = set()  # versions of rows with no log_map_versions row (yet)
    try:
        checker = _Checker(report, store, replay, rows, by_size, versions, strays)
        checker.reached(0)
        size = 0
        for idx, data in log.iter_entries():
            if idx != size or idx >= tree_size:
                break  # a gap or the end: the log audit reports gaps and missing entries
            name = name_of(data)
            if name is not None:
                replay.apply(name, idx, data)
            size = idx + 1
            checker.reached(size)
        report.filings = replay.keys
        strays.update(v for v, *_ in rows.take(1 << 63))
    finally:
        rows.close()
    _strays(store, strays, report)
    return report


class _Checker:
    """The checks due when the replay has reached a size some commitment or version is at."""

    def __init__(
        self,
        report: MapAuditReport,
        store: StatusMapStore,
        replay: _Replay,
        rows: _NodeRows,
        by_size: dict[int, list[MapCommitment]],
        versions: dict[int, bytes],
        strays: set[int],
    ) -> None:
        self.report = report
        self.store = store
        self.replay = replay
        self.rows = rows
        self.by_size = by_size
        self.versions = versions
        self.strays = strays

    def reached(self, size: int) -> None:
        """The replay holds the first ``size`` entries: check what is committed or kept there."""
        if size not in self.by_size and size not in self.versions:
            return
        root = self.replay.root
        for c in self.by_size.get(size, []):
            if c.root is None:
                continue
            self.report.roots_checked += 1
            if c.root != root:
                self.report.problems.append(
                    f"checkpoint #{c.checkpoint_id} (size {size}) commits to status map root "
                    f"{b64(c.root)}, the entries give {b64(root)}"
                )
            if size not in self.versions and size > 0:
                self.report.problems.append(
                    f"checkpoint #{c.checkpoint_id} (size {size}) commits to a status map the "
                    f"store has no version of: no status proof can be served for it"
                )
        if size in self.versions:
            self._version(size, root)

    def _version(self, size: int, root: bytes) -> None:
        self.report.roots_checked += 1
        if self.versions[size] != root:
            self.report.problems.append(
                f"status map version {size} stores root {b64(self.versions[size])}, "
                f"the entries give {b64(root)}"
            )
        self._rows(size)
        self._proofs(size, root)
        self.replay.next_version()

    def _rows(self, version: int) -> None:
        """The rows under ``version`` must be exactly the nodes the replay changed since."""
        expected = set(self.replay.changed)
        found: list[str] = []
        for v, depth, prefix, hash_, leaf in self.rows.take(version):
            if v != version:
                self.strays.add(v)
                continue
            self.report.nodes_checked += 1
            at = (depth, prefix)
            node = self.replay.node(depth, prefix) if at in expected else None
            expected.discard(at)
            if node is None:
                found.append(f"{_node(depth, prefix, version)}: no entry changed it then")
            elif (hash_, leaf) != _row_of(node):
                found.append(f"{_node(depth, prefix, version)} is not what the entries give")
        for depth, prefix in sorted(expected):
            found.append(f"{_node(depth, prefix, version)} is missing")
        self.report.problems += found[:PROBLEMS_PER_VERSION]
        if len(found) > PROBLEMS_PER_VERSION:
            self.report.problems.append(
                f"... and {len(found) - PROBLEMS_PER_VERSION} more node rows of version {version}"
            )

    def _proofs(self, version: int, root: bytes) -> None:
        """A few served proofs, verified against the replayed root (not the stored one)."""
        changed = list(self.replay.changed_keys.items())
        for key, name in changed[max(0, len(changed) - SPOT_CHECKS) :]:  # the newest
            self.report.proofs_checked += 1
            want = self.replay.leaf(key)
            assert want is not None  # the key changed in this version: the replay holds it
            try:
                got = self.store.proof(key, version).verify(root, key)
            except (MapProofError, StatusMapError) as exc:
                self.report.problems.append(
                    f"the served status proof of {name} as of size {version} fails: {exc}"
                )
                continue
            if got != want:
                shown = "no event" if got is None else f"entry {got.index}"
                self.report.problems.append(
                    f"the served status proof of {name} as of size {version} shows {shown}, "
                    f"the entries give entry {want.index}"
                )


def _node(depth: int, prefix: bytes, version: int) -> str:
    return f"status map node (depth {depth}, prefix {prefix.hex() or '-'}) of version {version}"


def _row_of(node: Node) -> tuple[bytes, bytes | None]:
    """A node as the store keeps it: its hash, and a leaf's encoding."""
    return node.hash, node.encode() if isinstance(node, MapLeaf) else None


def _lines_kept(commitments: Sequence[MapCommitment], report: MapAuditReport) -> None:
    """Once the log committed to a map, every later checkpoint does (status proofs need it)."""
    first: MapCommitment | None = None
    for c in sorted(commitments, key=lambda c: (c.size, c.checkpoint_id)):
        if c.root is not None:
            first = first or c
        elif first is not None:
            report.problems.append(
                f"checkpoint #{c.checkpoint_id} (size {c.size}) has no status map line, though "
                f"checkpoint #{first.checkpoint_id} (size {first.size}) before it had one"
            )


def _beyond(log: Log, stored: dict[int, bytes], tree_size: int, report: MapAuditReport) -> None:
    """A version beyond the tree is a problem, unless the tree grew since the audit began."""
    if any(s > tree_size for s in stored):
        now = log.size()
        for s in sorted(s for s in stored if s > now):
            report.problems.append(f"status map version {s} is beyond the tree size {now}")


def _strays(store: StatusMapStore, strays: set[int], report: MapAuditReport) -> None:
    """Rows under versions the map never had. A version written since the audit read the
    versions has its row now (one transaction writes both); any other is forged."""
    if not strays:
        return
    known = {s for s, _ in store.versions()}
    for v in sorted(strays - known):
        report.problems.append(
            f"status map node rows under version {v}, a tree size the map was never brought to"
        )
