"""The storage-backed, append-only Merkle log.

Entries are appended (durably, with gap-free indices) and later integrated into
the tree by whoever holds the integrator lock. Integration stores the hash of
every complete subtree, so roots and proofs for any size read O(log n) nodes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select, tuple_

from ledger import schema, tree
from ledger.database import open_engine, try_advisory_lock, write_transaction
from ledger.merkle import EMPTY_ROOT, leaf_hash
from ledger.receipt import Receipt
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH

MAX_ENTRY_SIZE = 0xFFFF  # entry bundles prefix each entry with a uint16 length

# PostgreSQL advisory lock keys (arbitrary, fixed): one for appenders, one for the integrator.
APPEND_LOCK = 0x77616E67_0001
INTEGRATE_LOCK = 0x77616E67_0002
SCHEMA_LOCK = 0x77616E67_0003


class LogError(Exception):
    """Base class of the log's errors."""


class EntryError(LogError, ValueError):
    """An entry cannot be appended (wrong type, empty or too large)."""


class SizeError(LogError, ValueError):
    """A size or index lies outside what the log has integrated."""


@dataclass(frozen=True)
class StoredCheckpoint:
    id: int
    size: int
    root: bytes
    note: str
    issued_at: int
    cosignatures: tuple[str, ...]

    @property
    def cosigned_note(self) -> str:
        """The signed note with every cosignature line attached."""
        return self.note + "".join(line + "\n" for line in self.cosignatures)


class Log:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str) -> Log:
        """Open (and if needed create) the log stored at a SQLAlchemy URL."""
        engine = open_engine(url)
        with write_transaction(engine, SCHEMA_LOCK) as conn:
            schema.metadata.create_all(conn)
            schema.install_append_only_rules(conn)
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # -- appending ---------------------------------------------------------

    def append_many(self, entries: Sequence[bytes]) -> list[int]:
        """Append entries; their indices are committed when this returns."""
        for e in entries:
            if not isinstance(e, bytes | bytearray):
                raise EntryError(f"an entry must be bytes, not {type(e).__name__}")
            if not 0 < len(e) <= MAX_ENTRY_SIZE:
                raise EntryError(f"an entry must be 1..{MAX_ENTRY_SIZE} bytes, got {len(e)}")
        if not entries:
            return []
        with write_transaction(self._engine, APPEND_LOCK) as conn:
            first = self._next_index(conn)
            conn.execute(
                insert(schema.leaves),
                [{"idx": first + i, "data": bytes(e)} for i, e in enumerate(entries)],
            )
        return list(range(first, first + len(entries)))

    def append(self, entry: bytes) -> int:
        return self.append_many([entry])[0]

    @staticmethod
    def _next_index(conn: Connection) -> int:
        last = conn.execute(select(func.max(schema.leaves.c.idx))).scalar()
        return 0 if last is None else int(last) + 1

    # -- integrating -------------------------------------------------------

    def integrate(self, batch_size: int = 65536) -> int:
        """Fold pending entries into the tree; returns the integrated size.

        Each batch commits on its own, so a crash loses at most the batch in
        flight and the next call resumes from the last committed size. If another
        process holds the integrator lock (PostgreSQL), returns without waiting.
        """
        while True:
            done = self.integrate_batch(batch_size)
            if done is None:
                return self.size()
            old, new = done
            if new - old < batch_size:
                return new

    def integrate_batch(self, batch_size: int = 65536) -> tuple[int, int] | None:
        """Integrate up to ``batch_size`` pending entries in one transaction.

        Returns the (old, new) tree sizes, or None if another process is integrating.
        """
        with write_transaction(self._engine) as conn:
            if not try_advisory_lock(conn, INTEGRATE_LOCK):
                return None
            size = self._tree_size(conn)
            rows = conn.execute(
                select(schema.leaves.c.idx, schema.leaves.c.data)
                .where(schema.leaves.c.idx >= size)
                .order_by(schema.leaves.c.idx)
                .limit(batch_size)
            ).all()
            if not rows:
                return size, size
            edge_ids = tree.Frontier.edge_nodes(size)
            stored = self._nodes(conn, edge_ids)
            frontier = tree.Frontier(size, [stored[n] for n in edge_ids])
            new_nodes: list[dict[str, object]] = []
            for idx, data in rows:
                if idx != frontier.size:
                    break  # never expected: appenders commit in index order
                new_nodes.extend(
                    {"level": n.level, "idx": n.index, "hash": n.hash}
                    for n in frontier.push(leaf_hash(data))
                )
            if new_nodes:
                conn.execute(insert(schema.nodes), new_nodes)
            return size, frontier.size

    # -- reading -----------------------------------------------------------

    def size(self) -> int:
        """The integrated tree size."""
        with self._engine.connect() as conn:
            return self._tree_size(conn)

    def appended(self) -> int:
        """How many entries have been appended (integrated or not)."""
        with self._engine.connect() as conn:
            return self._next_index(conn)

    @staticmethod
    def _tree_size(conn: Connection) -> int:
        last = conn.execute(
            select(func.max(schema.nodes.c.idx)).where(schema.nodes.c.level == 0)
        ).scalar()
        return 0 if last is None else int(last) + 1

    @staticmethod
    def _nodes(conn: Connection, ids: Iterable[tree.NodeId]) -> dict[tree.NodeId, bytes]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        rows = conn.execute(
            select(schema.nodes.c.level, schema.nodes.c.idx, schema.nodes.c.hash).where(
                tuple_(schema.nodes.c.level, schema.nodes.c.idx).in_(wanted)
            )
        ).all()
        found = {(int(level), int(idx)): bytes(h) for level, idx, h in rows}
        missing = set(wanted) - found.keys()
        if missing:
            raise SizeError(f"the tree has no node {sorted(missing)[0]} yet")
        return found

    def _range_hashes(self, ranges: Sequence[tree.Range], size: int) -> list[bytes]:
        with self._engine.connect() as conn:
            if size > self._tree_size(conn):
                raise SizeError(f"size {size} is beyond the integrated tree")
            stored = self._nodes(conn, tree.nodes_for(ranges))
        return tree.hashes_for(ranges, stored)

    def root_hash(self, size: int) -> bytes:
        if size < 0:
            raise SizeError(f"negative size {size}")
        if size == 0:
            return EMPTY_ROOT
        return self._range_hashes([(0, size)], size)[0]

    def leaf_hash(self, index: int) -> bytes:
        if index < 0:
            raise SizeError(f"negative index {index}")
        return self._range_hashes([(index, index + 1)], index + 1)[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if not 0 <= index < size:
            raise SizeError(f"index {index} outside tree of size {size}")
        return self._range_hashes(tree.inclusion_ranges(index, size), size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        if not 0 < old_size <= new_size:
            raise SizeError(f"no consistency proof from size {old_size} to {new_size}")
        return self._range_hashes(tree.consistency_ranges(old_size, new_size), new_size)

    def entry(self, index: int) -> bytes:
        with self._engine.connect() as conn:
            data = conn.execute(
                select(schema.leaves.c.data).where(schema.leaves.c.idx == index)
            ).scalar()
        if data is None:
            raise SizeError(f"no entry at index {index}")
        return bytes(data)

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end)``, integrated or not."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(schema.leaves.c.data)
                .where(schema.leaves.c.idx >= start, schema.leaves.c.idx < end)
                .order_by(schema.leaves.c.idx)
            ).all()
        if len(rows) != max(0, end - start):
            raise SizeError(f"entries [{start}, {end}) are not all appended")
        return [bytes(r[0]) for r in rows]

    def iter_entries(self, chunk: int = 10000) -> Iterator[tuple[int, bytes]]:
        """Every appended entry in index order, read in chunks."""
        start = 0
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(schema.leaves.c.idx, schema.leaves.c.data)
                    .where(schema.leaves.c.idx >= start)
                    .order_by(schema.leaves.c.idx)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            for idx, data in rows:
                yield int(idx), bytes(data)
            start = int(rows[-1][0]) + 1

    def stored_nodes(self, level: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """Stored node hashes at ``level`` with index in ``[start, end)``."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(schema.nodes.c.idx, schema.nodes.c.hash)
                .where(
                    schema.nodes.c.level == level,
                    schema.nodes.c.idx >= start,
                    schema.nodes.c.idx < end,
                )
                .order_by(schema.nodes.c.idx)
            ).all()
        return [(int(i), bytes(h)) for i, h in rows]

    # -- tiles (C2SP tlog-tiles) -----------------------------------------------

    def tile(self, level: int, index: int, width: int) -> bytes:
        """The hashes of tile ``level/index`` of the given width (256 = full)."""
        if not (0 <= level < 64 and index >= 0 and 1 <= width <= TILE_WIDTH):
            raise SizeError(f"no such tile: level {level}, index {index}, width {width}")
        start = index * TILE_WIDTH
        rows = self.stored_nodes(level * TILE_HEIGHT, start, start + width)
        if len(rows) != width:
            raise SizeError(f"tile {level}/{index} does not have {width} hashes yet")
        return b"".join(h for _, h in rows)

    def entry_bundle(self, index: int, width: int) -> bytes:
        """Integrated entries of bundle ``index``, each prefixed by its uint16 length."""
        if not (index >= 0 and 1 <= width <= TILE_WIDTH):
            raise SizeError(f"no such entry bundle: index {index}, width {width}")
        start = index * TILE_WIDTH
        if start + width > self.size():
            raise SizeError(f"entry bundle {index} does not have {width} entries yet")
        return b"".join(len(e).to_bytes(2, "big") + e for e in self.entries(start, start + width))

    def receipt(self, index: int, checkpoint: StoredCheckpoint) -> Receipt:
        """A tlog-proof for entry ``index`` against ``checkpoint``, the entry in ``extra``."""
        if not 0 <= index < checkpoint.size:
            raise SizeError(f"checkpoint of size {checkpoint.size} does not cover index {index}")
        proof = self.inclusion_proof(index, checkpoint.size)
        return Receipt(index, tuple(proof), checkpoint.cosigned_note, self.entry(index))

    # -- checkpoints -------------------------------------------------------

    def record_checkpoint(self, size: int, root: bytes, note: str) -> StoredCheckpoint:
        issued_at = int(time.time())
        with write_transaction(self._engine) as conn:
            result = conn.execute(
                insert(schema.checkpoints).values(
                    size=size, root=root, note=note, issued_at=issued_at
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            cid = int(pk[0])
        return StoredCheckpoint(cid, size, root, note, issued_at, ())

    def add_cosignatures(self, checkpoint_id: int, lines: Sequence[tuple[str, str]]) -> None:
        """Keep witnesses' cosignature lines (witness name, line) for a checkpoint."""
        if not lines:
            return
        with write_transaction(self._engine) as conn:
            conn.execute(
                insert(schema.cosignatures),
                [{"checkpoint_id": checkpoint_id, "witness": w, "line": ln} for w, ln in lines],
            )

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        found = self._checkpoints(latest=True)
        return found[0] if found else None

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every checkpoint ever issued, oldest first."""
        return self._checkpoints(latest=False)

    def checkpoint_at_least(self, size: int) -> StoredCheckpoint | None:
        """The earliest checkpoint covering a tree of at least ``size`` leaves."""
        c = schema.checkpoints
        with self._engine.connect() as conn:
            row = conn.execute(
                select(c.c.id).where(c.c.size >= size).order_by(c.c.id).limit(1)
            ).scalar()
        if row is None:
            return None
        return next(cp for cp in self._checkpoints(latest=False, ids=[int(row)]))

    def _checkpoints(
        self, latest: bool, ids: Sequence[int] | None = None
    ) -> list[StoredCheckpoint]:
        c, s = schema.checkpoints, schema.cosignatures
        query = select(c.c.id, c.c.size, c.c.root, c.c.note, c.c.issued_at)
        if ids is not None:
            query = query.where(c.c.id.in_(ids))
        query = query.order_by(c.c.id.desc() if latest else c.c.id)
        if latest:
            query = query.limit(1)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            found = [int(r[0]) for r in rows]
            lines: dict[int, list[str]] = {}
            if found:
                for cid, line in conn.execute(
                    select(s.c.checkpoint_id, s.c.line)
                    .where(s.c.checkpoint_id.in_(found))
                    .order_by(s.c.id)
                ):
                    lines.setdefault(int(cid), []).append(line)
        return [
            StoredCheckpoint(
                int(r[0]), int(r[1]), bytes(r[2]), r[3], int(r[4]), tuple(lines.get(int(r[0]), []))
            )
            for r in rows
        ]
