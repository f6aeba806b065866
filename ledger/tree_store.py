"""How the tree's hashes are stored, and how any node hash is read back.

Storing every node costs two rows per leaf, which dominates integration time.
Instead, in the spirit of C2SP tlog-tiles:

* leaf hashes live in full level-0 tiles: one row of 256 hashes per 256 leaves;
* subtrees of 16 leaves or more (height >= 4) are stored one row per node:
  about one row per 8 leaves;
* a node of height 1..3 is recomputed from its tile (at most 7 hashes);
* leaves of the rightmost, partial tile are rehashed from their entries.

Every row is written once, when the tile or subtree is complete, so all of it is
append-only. ``log_integrations`` records each integrated size, which makes the
tree size durable even when it ends inside a partial tile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from ledger import schema
from ledger.database import bulk_insert, fetch
from ledger.merkle import leaf_hash, root_hash
from ledger.tiles import TILE_WIDTH
from ledger.tree import NodeId

# Subtrees of 16 leaves or more get a row of their own (about one row per 8 leaves);
# smaller ones are rehashed from at most 16 leaf hashes.
STORED_HEIGHT = 4


class MissingNode(LookupError):
    """A node the tree of the given size should have is not stored (or beyond the tree)."""


def tree_size(conn: Connection) -> int:
    size = fetch(conn, "SELECT max(size) FROM log_integrations")[0][0]
    return 0 if size is None else int(size)


def leaf_hashes(conn: Connection, start: int, end: int) -> list[bytes]:
    """Leaf hashes ``[start, end)``: from full tiles where stored, else from the entries."""
    if end <= start:
        return []
    first_tile, last_tile = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
    tiles = _tiles(conn, range(first_tile, last_tile + 1))
    out: list[bytes] = []
    pos = start
    while pos < end:
        t = pos // TILE_WIDTH
        stop = min(end, (t + 1) * TILE_WIDTH)
        blob = tiles.get(t)
        out.extend(
            _split(blob, pos - t * TILE_WIDTH, stop - pos)
            if blob is not None
            else _hash_entries(conn, pos, stop)
        )
        pos = stop
    return out


def _tiles(conn: Connection, indices: Iterable[int]) -> dict[int, bytes]:
    wanted = list(indices)
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = fetch(conn, f"SELECT idx, hashes FROM log_tiles WHERE idx IN ({marks})", wanted)
    return {int(i): bytes(h) for i, h in rows}


def _split(blob: bytes, offset: int, count: int) -> list[bytes]:
    return [blob[i * 32 : i * 32 + 32] for i in range(offset, offset + count)]


def _hash_entries(conn: Connection, start: int, stop: int) -> list[bytes]:
    rows = fetch(
        conn,
        "SELECT data FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
        (start, stop),
    )
    if len(rows) != stop - start:
        raise MissingNode(f"entries [{start}, {stop}) are not all appended")
    return [leaf_hash(bytes(r[0])) for r in rows]


def resolve(conn: Connection, ids: Iterable[NodeId], size: int) -> tuple[int, dict[NodeId, bytes]]:
    """The tree size and the hashes of the given subtrees of the tree of ``size`` leaves.

    One query whatever the tree's size (a round trip costs more than the rest of
    a proof): the stored subtree rows, the level-0 tiles the small subtrees lie
    in, the entries of a tile ``size`` may cut short, and the integrated size.
    Raises MissingNode if the tree has fewer than ``size`` leaves.
    """
    wanted = set(ids)
    high = [n for n in wanted if n[0] >= STORED_HEIGHT]
    low = [n for n in wanted if n[0] < STORED_HEIGHT]
    parts = ["SELECT 2, 0, max(size), NULL FROM log_integrations"]
    params: list[int] = []
    if high:
        # One "level = L AND idx IN (...)" per level: both databases turn that into
        # index lookups, where a row-value IN makes SQLite scan the table.
        by_level: dict[int, list[int]] = {}
        for level, index in high:
            by_level.setdefault(level, []).append(index)
        where = " OR ".join(
            f"(level = ? AND idx IN ({','.join('?' * len(ix))}))" for ix in by_level.values()
        )
        parts.append(f"SELECT 0, level, idx, hash FROM log_nodes WHERE {where}")
        params += [p for lv, ix in by_level.items() for p in (lv, *ix)]
    tiles = sorted({(i << lv) // TILE_WIDTH for lv, i in low})
    if tiles:
        parts.append(
            f"SELECT 1, 0, idx, hashes FROM log_tiles WHERE idx IN ({','.join('?' * len(tiles))})"
        )
        params += tiles
    # A tile that reaches past ``size`` may not be stored yet: read those entries too.
    spans: dict[int, tuple[int, int]] = {}
    for level, index in low:
        first, end = index << level, (index + 1) << level
        t = first // TILE_WIDTH
        if (t + 1) * TILE_WIDTH > size:
            lo, hi = spans.get(t, (first, end))
            spans[t] = (min(lo, first), max(hi, end))
    for lo, hi in spans.values():
        parts.append("SELECT 3, 0, idx, data FROM log_leaves WHERE idx >= ? AND idx < ?")
        params += [lo, hi]
    rows = fetch(conn, " UNION ALL ".join(parts), params)

    tree_size = 0
    found: dict[NodeId, bytes] = {}
    blobs: dict[int, bytes] = {}
    entries: dict[int, bytes] = {}
    for kind, level, index, value in rows:
        if kind == 0:
            found[(int(level), int(index))] = bytes(value)
        elif kind == 1:
            blobs[int(index)] = bytes(value)
        elif kind == 2:
            tree_size = 0 if index is None else int(index)
        else:
            entries[int(index)] = bytes(value)
    if size > tree_size:
        raise MissingNode(f"size {size} is beyond the integrated tree ({tree_size})")
    missing = set(high) - found.keys()
    if missing:
        raise MissingNode(f"the tree has no node {sorted(missing)[0]} yet")
    for level, index in low:
        first = index << level
        t, off = divmod(first, TILE_WIDTH)
        blob = blobs.get(t)
        if blob is not None:
            hashes = _split(blob, off, 1 << level)
        else:
            try:
                hashes = [leaf_hash(entries[i]) for i in range(first, first + (1 << level))]
            except KeyError as exc:
                raise MissingNode(f"entry {exc.args[0]} is not appended") from exc
        found[(level, index)] = root_hash(hashes)
    return tree_size, found


@dataclass(frozen=True)
class Integration:
    """One batch's worth of new tree data, computed before anything is written."""

    old_size: int
    new_size: int
    full_tiles: list[tuple[int, bytes]]
    high_nodes: list[tuple[int, int, bytes]]

    def save(self, conn: Connection) -> None:
        """Record the batch: completed tiles and high nodes, then the new size."""
        if self.new_size == self.old_size:
            return
        bulk_insert(conn, "log_tiles", ("idx", "hashes"), self.full_tiles)
        bulk_insert(conn, "log_nodes", ("level", "idx", "hash"), self.high_nodes)
        conn.execute(schema.integrations.insert().values(size=self.new_size))


def high_nodes(conn: Connection, level: int, start: int, end: int) -> list[tuple[int, bytes]]:
    """Stored node hashes at a height >= 8, index in ``[start, end)``."""
    rows = conn.execute(
        select(schema.nodes.c.idx, schema.nodes.c.hash)
        .where(schema.nodes.c.level == level, schema.nodes.c.idx >= start, schema.nodes.c.idx < end)
        .order_by(schema.nodes.c.idx)
    ).all()
    return [(int(i), bytes(h)) for i, h in rows]


def full_tiles(conn: Connection, start: int, end: int) -> list[tuple[int, bytes]]:
    """Stored level-0 tiles with index in ``[start, end)``."""
    rows = conn.execute(
        select(schema.tiles.c.idx, schema.tiles.c.hashes)
        .where(schema.tiles.c.idx >= start, schema.tiles.c.idx < end)
        .order_by(schema.tiles.c.idx)
    ).all()
    return [(int(i), bytes(h)) for i, h in rows]
