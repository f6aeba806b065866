"""The status map kept in the log's database, brought up to each checkpoint's tree size.

Nodes are versioned and never rewritten (``log_map_nodes`` is append-only like the
log): bringing the map from tree size a to b writes each node the new entries changed
once, under version b, so an update writes O(log n) rows per key it changes. The map
as of any version is every node's newest row not above it, so a status proof for an
older checkpoint reads the same few rows it would have read then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Connection, text

from ledger import schema
from ledger.database import bulk_insert, fetch, write_transaction
from ledger.log import Log, StoredCheckpoint
from ledger.merkle import leaf_hash
from ledger.status_file import LatestEvent, StatusFile, parse_checkpoint
from ledger.status_map import (
    EMPTY,
    Inner,
    MapLeaf,
    MapProof,
    Node,
    committed_root,
    key_for,
    path_ids,
    prove,
    root,
    set_leaf,
)

# Which filing an entry is an event of (its status map key's name), or None for entries
# that are no filing's event. The platform's rule is ``filing.entry.status_name``.
NameOf = Callable[[bytes], str | None]

CHUNK = 10_000  # entries per map version while catching up with a long log
# Depths read at once along a path, beyond log2 of the tree size (which bounds the number
# of keys): a compact map of n keys has its leaves near depth log2(n), a few deeper, and
# a new key splits a leaf a depth or two below. With a fixed 24, about half the paths in
# a map of ten million keys went deeper and took a second query.
WINDOW_MARGIN = 4
MAX_ARMS = 400  # SQLite allows 500 terms in one compound SELECT
PG_READ = 10_000  # nodes per query on PostgreSQL (one statement of two arrays)
# The map's writer keeps its newest nodes above this depth in memory between updates (at
# most 2**17 of them): every update reads the top of the tree again, and those reads were
# most of an update's queries.
TOP = 16

_Known = dict[tuple[int, bytes], "Node | None"]


class StatusMapError(Exception):
    """The map cannot answer for that tree size (not brought there, or moved past it)."""


class _Nodes:
    """The map's nodes as of ``bound`` (None: the newest), read a path at a time.

    Writes stay here until ``rows``; reads are served from them, then from what was
    loaded, then from the database, ``WINDOW`` depths along the focused key at a time.
    """

    def __init__(
        self, conn: Connection, bound: int | None, size: int, known: _Known | None = None
    ) -> None:
        self._conn = conn
        self._bound = bound
        self.window = size.bit_length() + WINDOW_MARGIN  # ``size``: the map's tree size
        self._loaded: _Known = {}
        # Nodes known without reading (the newest as of the version being updated); only
        # read here, the store brings it forward once the update has committed.
        self._known: _Known = known if known is not None else {}
        self.written: dict[tuple[int, bytes], Node] = {}
        self._key = b""

    def focus(self, key: bytes) -> None:
        self._key = key

    def node(self, depth: int, prefix: bytes) -> Node | None:
        at = (depth, prefix)
        if at in self.written:
            return self.written[at]
        if at in self._known:
            return self._known[at]
        if at not in self._loaded and self._key:
            self.load([self._key], depth)
        if at not in self._loaded:  # not on the focused key's path: read it alone
            self._read([at])
        return self._loaded[at]

    def put(self, depth: int, prefix: bytes, node: Node) -> None:
        self.written[(depth, prefix)] = node

    def load(self, keys: Sequence[bytes], start: int = 0) -> None:
        """Read the nodes along ``keys``' paths (and beside them) at depths from ``start``."""
        wanted: list[tuple[int, bytes]] = []
        if self._known:
            start = max(start, TOP)  # the top is known; a node missing there is read alone
        for key in keys:
            stop = min(start + self.window, 257)
            wanted += [
                i
                for i in path_ids(key, start, stop)
                if i not in self._loaded and i not in self._known
            ]
        self._read(list(dict.fromkeys(wanted)))

    def _read(self, ids: list[tuple[int, bytes]]) -> None:
        pg = self._conn.dialect.name == "postgresql"
        per_read = PG_READ if pg else MAX_ARMS
        bound = "" if self._bound is None else " AND version <= ?"
        for i in range(0, len(ids), per_read):
            batch = ids[i : i + per_read]
            params: list[object] = []
            if pg:
                # PostgreSQL plans a compound SELECT arm by arm (a few hundred arms took
                # 130 ms to plan, ten times their execution); one lateral join over two
                # arrays is a single short statement, whatever the number of nodes.
                sql = (
                    "SELECT n.depth, n.prefix, n.hash, n.leaf "
                    "FROM unnest(?::smallint[], ?::bytea[]) AS w(d, p) CROSS JOIN LATERAL "
                    "(SELECT depth, prefix, hash, leaf FROM log_map_nodes "
                    f"WHERE depth = w.d AND prefix = w.p{bound} "
                    "ORDER BY version DESC LIMIT 1) AS n"
                )
                params = [[d for d, _ in batch], [p for _, p in batch]]
                if self._bound is not None:
                    params.append(self._bound)
            else:
                arm = (
                    "SELECT * FROM (SELECT depth, prefix, hash, leaf FROM log_map_nodes "
                    f"WHERE depth = ? AND prefix = ?{bound} ORDER BY version DESC LIMIT 1) "
                    "AS n{}"
                )
                sql = " UNION ALL ".join(arm.format(k) for k in range(len(batch)))
                for depth, prefix in batch:
                    params += (
                        [depth, prefix] if self._bound is None else [depth, prefix, self._bound]
                    )
            found = {
                (int(d), bytes(p)): _node(bytes(h), None if lf is None else bytes(lf))
                for d, p, h, lf in fetch(self._conn, sql, params)
            }
            for at in batch:
                self._loaded[at] = found.get(at)

    def learnt(self) -> _Known:
        """What this update read or wrote above ``TOP``: the newest once it commits."""
        found = {at: n for at, n in self._loaded.items() if at[0] < TOP}
        found.update((at, n) for at, n in self.written.items() if at[0] < TOP)
        return found

    def rows(self, version: int) -> list[tuple[int, bytes, int, bytes, bytes | None]]:
        return [
            (d, p, version, n.hash, n.encode() if isinstance(n, MapLeaf) else None)
            for (d, p), n in self.written.items()
        ]


def _node(hash_: bytes, leaf: bytes | None) -> Node:
    return Inner(hash_) if leaf is None else MapLeaf.decode(leaf)


class StatusMapStore:
    """The status map of one log: brought up to a tree size, then read for proofs."""

    def __init__(self, log: Log, name_of: NameOf) -> None:
        self.log = log
        self._name_of = name_of
        # The top of the map as of version ``_top_version``; trusted only if the map is
        # still at that version when the next update starts (no other writer came between).
        self._top: _Known = {}
        self._top_version = -1

    def version(self) -> int:
        """The tree size the map has been brought to (0 before any entry)."""
        with self.log.engine.connect() as conn:
            return _version(conn)

    def root_at(self, size: int) -> bytes | None:
        """The map root as of tree size ``size``, if the map was brought exactly there."""
        if size == 0:
            return EMPTY
        with self.log.engine.connect() as conn:
            rows = fetch(conn, "SELECT root FROM log_map_versions WHERE size = ?", (size,))
        return bytes(rows[0][0]) if rows else None

    def update_to(self, size: int) -> bytes:
        """Apply the entries up to ``size`` and return the map root as of ``size``.

        Catches up ``CHUNK`` entries per committed version, so a long backlog (a log
        older than its map) is resumable. StatusMapError if the map is already past
        ``size`` without a version there (only one sequencer brings the map forward).
        """
        while True:
            with write_transaction(self.log.engine) as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.log.locks.status_map}
                    )
                current = _version(conn)
                if current >= size:
                    break
                end = min(size, current + CHUNK)
                if self._top_version != current:
                    self._top = {}
                nodes, root_hash = self._apply(conn, current, end, self._top)
            self._top.update(nodes.learnt())  # committed: now the newest
            self._top_version = end
            if end == size:
                return root_hash
        found = self.root_at(size)
        if found is None:
            raise StatusMapError(f"the status map has no version at tree size {size}")
        return found

    def _apply(
        self, conn: Connection, start: int, end: int, known: _Known | None
    ) -> tuple[_Nodes, bytes]:
        rows = fetch(
            conn,
            "SELECT idx, data FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end),
        )
        if len(rows) != end - start:
            raise StatusMapError(f"entries [{start}, {end}) are not all appended")
        latest: dict[bytes, MapLeaf] = {}
        for idx, data in rows:
            name = self._name_of(bytes(data))
            if name is not None:
                key = key_for(name)
                latest[key] = MapLeaf(key, int(idx), leaf_hash(bytes(data)))
        nodes = _Nodes(conn, None, end, known)
        keys = sorted(latest)
        nodes.load(keys)  # every path at once, in queries of MAX_ARMS nodes
        for key in keys:
            nodes.focus(key)
            set_leaf(nodes, latest[key])
        bulk_insert(
            conn, "log_map_nodes", ("depth", "prefix", "version", "hash", "leaf"), nodes.rows(end)
        )
        root_hash = root(nodes)
        conn.execute(schema.map_versions.insert().values(size=end, root=root_hash))
        return nodes, root_hash

    def proof(self, key: bytes, size: int) -> MapProof:
        """The proof for ``key`` in the map as of tree size ``size`` (a map version)."""
        with self.log.engine.connect() as conn:
            if size > 0 and not fetch(
                conn, "SELECT 1 FROM log_map_versions WHERE size = ?", (size,)
            ):
                raise StatusMapError(f"the status map has no version at tree size {size}")
            nodes = _Nodes(conn, size, size)
            nodes.focus(key)
            return prove(nodes, key)

    def status(
        self, name: str, checkpoint: StoredCheckpoint, old_size: int | None = None
    ) -> StatusFile:
        """The ``.tlog-status`` of filing ``name`` as of ``checkpoint`` (one with a map line),
        with a consistency proof from ``old_size`` if given."""
        size = checkpoint.size
        if committed_root(parse_checkpoint(checkpoint.cosigned_note)) is None:
            raise StatusMapError(f"checkpoint {size} commits to no status map")
        key = key_for(name)
        proof = self.proof(key, size)
        latest = None
        if proof.terminal is not None and proof.terminal.key == key:
            i = proof.terminal.index
            log_proof = tuple(self.log.inclusion_proof(i, size))
            latest = LatestEvent(i, self.log.entry(i), log_proof)
        consistency: tuple[bytes, ...] = ()
        if old_size is not None:
            if not 0 < old_size <= size:
                raise StatusMapError(f"no consistency proof from {old_size} to {size}")
            if old_size < size:
                consistency = tuple(self.log.consistency_proof(old_size, size))
        return StatusFile(name, latest, proof, checkpoint.cosigned_note, old_size, consistency)

    def versions(self) -> Iterable[tuple[int, bytes]]:
        """Every (tree size, root) the map was brought to, oldest first."""
        with self.log.engine.connect() as conn:
            rows = fetch(conn, "SELECT size, root FROM log_map_versions ORDER BY size")
        return [(int(s), bytes(r)) for s, r in rows]


def _version(conn: Connection) -> int:
    found = fetch(conn, "SELECT max(size) FROM log_map_versions")[0][0]
    return 0 if found is None else int(found)
