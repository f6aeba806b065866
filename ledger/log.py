"""The storage-backed, append-only Merkle log.

Entries are appended (durably, with gap-free indices) and later integrated into
the tree by whoever holds the integrator lock. Integration stores full tiles and
large subtrees (``ledger.tree_store``), so roots and proofs for any size read
O(log n) stored hashes and never recompute from more than one tile of entries.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text

from ledger import schema, tree, tree_store
from ledger.database import (
    bulk_insert,
    fetch,
    open_engine,
    open_read_engine,
    try_advisory_lock,
    write_transaction,
)
from ledger.merkle import EMPTY_ROOT
from ledger.receipt import Receipt
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH

MAX_ENTRY_SIZE = 0xFFFF  # entry bundles prefix each entry with a uint16 length

# Creating or upgrading the tables takes a database-wide advisory lock (arbitrary, fixed).
SCHEMA_LOCK = 0x77616E67_0003


@dataclass(frozen=True)
class LogLocks:
    """The PostgreSQL advisory locks and notification channel of one log.

    Derived from the log's database and schema: several logs in one database (one per
    city and period, or test runs side by side) neither serialise each other's appends
    nor elect one sequencer among them all, which would leave the others unsequenced.
    """

    append: int
    integrate: int
    sequencer: int
    status_map: int
    channel: str

    @classmethod
    def for_scope(cls, scope: str) -> LogLocks:
        digest = hashlib.sha256(scope.encode()).digest()
        base = int.from_bytes(digest[:6], "big") << 8  # positive, well inside a bigint
        return cls(base | 1, base | 2, base | 4, base | 8, f"wangqian_log_{digest[:8].hex()}")


class LogError(Exception):
    """Base class of the log's errors."""


class EntryError(LogError, ValueError):
    """An entry cannot be appended (wrong type, empty or too large)."""


class SizeError(LogError, ValueError):
    """A size or index lies outside what the log has integrated."""


class LogSchemaError(LogError):
    """The database holds an older schema of the log's tables."""


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
        self._reads = open_read_engine(engine)
        scope = "sqlite"
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                scope = str(
                    conn.execute(
                        text("SELECT current_database() || '.' || current_schema()")
                    ).scalar()
                )
        self.locks = LogLocks.for_scope(scope)

    @classmethod
    def open(cls, url: str) -> Log:
        """Open the log stored at a SQLAlchemy URL, creating its tables in a database that
        has none of them: a log of its own (the ledger's tests and benchmarks).

        A deployment's database is made and upgraded by its migrations (filing/migrations),
        which open the log with ``Log(engine)``. Here, a database with only some of the
        log's tables is refused: it is an older schema, and completing it table by table
        would be the silent upgrade that migrations exist to prevent.
        """
        engine = open_engine(url)
        try:
            with write_transaction(engine, SCHEMA_LOCK) as conn:
                names = set(schema.metadata.tables)
                present = names & set(inspect(conn).get_table_names())
                if not present:
                    schema.metadata.create_all(conn)
                    schema.install_append_only_rules(conn)
                elif present != names:
                    missing = ", ".join(sorted(names - present))
                    raise LogSchemaError(
                        f"the database has an older log schema (no {missing}): upgrade it "
                        "with its migrations (wangqian admin migrate)"
                    )
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        if self._reads is not self._engine:
            self._reads.dispose()
        self._engine.dispose()

    # -- appending ---------------------------------------------------------

    def append_many(self, entries: Sequence[bytes]) -> list[int]:
        """Append entries; their indices are committed when this returns."""
        self._check_entries(entries)
        if not entries:
            return []
        with write_transaction(self._engine) as conn:
            return self.append_in(conn, entries)

    def append_in(self, conn: Connection, entries: Sequence[bytes]) -> list[int]:
        """Append within the caller's write transaction: the entries commit (or not) with it.

        This is how a filing queues its log entry in the same transaction as the filing.
        """
        self._check_entries(entries)
        if not entries:
            return []
        self.hold_append_order(conn)
        first = self._next_index(conn)
        rows = list(zip(range(first, first + len(entries)), entries, strict=True))
        bulk_insert(conn, "log_leaves", ("idx", "data"), rows)
        return list(range(first, first + len(entries)))

    def hold_append_order(self, conn: Connection) -> None:
        """Take the append lock in the caller's transaction without appending: for writes
        whose ids must commit in the same order as the log's appends (the outbox)."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.locks.append})

    @staticmethod
    def _check_entries(entries: Sequence[bytes]) -> None:
        if not entries:
            return
        # map() keeps these checks at C speed: appends come in batches of many thousands.
        kinds = set(map(type, entries))
        if not kinds <= {bytes}:
            bad = next(k for k in kinds if k is not bytes)
            raise EntryError(f"an entry must be bytes, not {bad.__name__}")
        sizes = list(map(len, entries))
        if min(sizes) < 1 or max(sizes) > MAX_ENTRY_SIZE:
            raise EntryError(f"an entry must be 1..{MAX_ENTRY_SIZE} bytes")

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
        """Integrate up to ``batch_size`` pending entries.

        Returns the (old, new) tree sizes, or None if another process is integrating.
        On PostgreSQL the integrator lock spans the whole batch. On SQLite, where a
        writer excludes every other writer, the hashing runs under a read snapshot
        and only the insert takes the write lock, so appenders are not held up;
        the insert is dropped if someone else integrated in between.
        """
        if self._engine.dialect.name == "postgresql":
            with write_transaction(self._engine) as conn:
                if not try_advisory_lock(conn, self.locks.integrate):
                    return None
                batch = self._next_batch(conn, batch_size)
                batch.save(conn)
                return batch.old_size, batch.new_size
        with self._engine.connect() as conn, conn.begin():
            batch = self._next_batch(conn, batch_size)
        if batch.new_size == batch.old_size:
            return batch.old_size, batch.old_size
        with write_transaction(self._engine) as conn:
            if tree_store.tree_size(conn) != batch.old_size:
                return None
            batch.save(conn)
        return batch.old_size, batch.new_size

    @staticmethod
    def _next_batch(conn: Connection, batch_size: int) -> tree_store.Integration:
        size = tree_store.tree_size(conn)
        rows = fetch(
            conn,
            "SELECT data, idx FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
            (size, size + batch_size),
        )
        if not rows:
            return tree_store.Integration(size, size, [], [])
        if rows[-1][1] != size + len(rows) - 1:
            # Appenders commit in index order, so this never happens; refuse to
            # build a tree over a hole all the same.
            raise LogError(f"pending entries after index {size} have a gap")
        sha256 = hashlib.sha256
        new_hashes = [sha256(b"\x00" + r[0]).digest() for r in rows]
        edge_ids = tree.Frontier.edge_nodes(size)
        _, edge = tree_store.resolve(conn, edge_ids, size)
        frontier = tree.Frontier(size, [edge[n] for n in edge_ids])
        high = frontier.extend(new_hashes, min_level=tree_store.STORED_HEIGHT)
        # Complete level-0 tiles: the partial tile's stored leaves plus the new ones.
        tile_start = size - size % TILE_WIDTH
        hashes = tree_store.leaf_hashes(conn, tile_start, size) if size > tile_start else []
        hashes += new_hashes
        full = [
            (tile_start // TILE_WIDTH + k, b"".join(hashes[k * TILE_WIDTH : (k + 1) * TILE_WIDTH]))
            for k in range(len(hashes) // TILE_WIDTH)
        ]
        return tree_store.Integration(size, frontier.size, full, high)

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
        return tree_store.tree_size(conn)

    def _range_hashes(self, ranges: Sequence[tree.Range], size: int) -> list[bytes]:
        with self._reads.connect() as conn:
            try:
                _, stored = tree_store.resolve(conn, tree.nodes_for(ranges), size)
            except tree_store.MissingNode as exc:
                raise SizeError(str(exc)) from exc
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

    def stored_high_nodes(self, level: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """Stored hashes of subtrees at ``level`` (>= 8) with index in ``[start, end)``."""
        with self._engine.connect() as conn:
            return tree_store.high_nodes(conn, level, start, end)

    def stored_tiles(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """Stored full level-0 tiles with index in ``[start, end)``."""
        with self._engine.connect() as conn:
            return tree_store.full_tiles(conn, start, end)

    # -- tiles (C2SP tlog-tiles) -----------------------------------------------

    def tile(self, level: int, index: int, width: int) -> bytes:
        """The hashes of tile ``level/index`` of the given width (256 = full)."""
        if not (0 <= level < 64 and index >= 0 and 1 <= width <= TILE_WIDTH):
            raise SizeError(f"no such tile: level {level}, index {index}, width {width}")
        start = index * TILE_WIDTH
        with self._engine.connect() as conn:
            # A tile of width w at level L spans (start + w) << (8 L) leaves.
            if (start + width) << (level * TILE_HEIGHT) > tree_store.tree_size(conn):
                raise SizeError(f"tile {level}/{index} does not have {width} hashes yet")
            if level == 0:
                return b"".join(tree_store.leaf_hashes(conn, start, start + width))
            rows = tree_store.high_nodes(conn, level * TILE_HEIGHT, start, start + width)
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

    def record_checkpoint(
        self,
        size: int,
        root: bytes,
        note: str,
        cosignatures: Sequence[tuple[str, str]] = (),
        notify: str | None = None,
    ) -> StoredCheckpoint:
        """Keep a checkpoint with its cosignatures (witness, line): readers see both or neither.

        On PostgreSQL, ``notify`` names a channel told of it when the transaction commits.
        """
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
            if cosignatures:
                conn.execute(
                    insert(schema.cosignatures),
                    [{"checkpoint_id": cid, "witness": w, "line": ln} for w, ln in cosignatures],
                )
            if notify is not None and conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": notify, "p": str(size)})
        return StoredCheckpoint(
            cid, size, root, note, issued_at, tuple(ln for _, ln in cosignatures)
        )

    def add_cosignatures(self, checkpoint_id: int, lines: Sequence[tuple[str, str]]) -> None:
        """Keep witnesses' cosignature lines (witness name, line) for a checkpoint."""
        if not lines:
            return
        with write_transaction(self._engine) as conn:
            conn.execute(
                insert(schema.cosignatures),
                [{"checkpoint_id": checkpoint_id, "witness": w, "line": ln} for w, ln in lines],
            )

    def latest_checkpoint(self, cosigned_by: int = 0) -> StoredCheckpoint | None:
        """The newest checkpoint (with at least ``cosigned_by`` witness cosignatures)."""
        found = self._checkpoints(latest=True, cosigned_by=cosigned_by)
        return found[0] if found else None

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every checkpoint ever issued, oldest first."""
        return self._checkpoints(latest=False)

    def _checkpoints(
        self, latest: bool, ids: Sequence[int] | None = None, cosigned_by: int = 0
    ) -> list[StoredCheckpoint]:
        c, s = schema.checkpoints, schema.cosignatures
        query = select(c.c.id, c.c.size, c.c.root, c.c.note, c.c.issued_at)
        if ids is not None:
            query = query.where(c.c.id.in_(ids))
        if cosigned_by > 0:
            count = (
                select(func.count())
                .select_from(s)
                .where(s.c.checkpoint_id == c.c.id)
                .scalar_subquery()
            )
            query = query.where(count >= cosigned_by)
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
