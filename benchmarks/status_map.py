"""Status map benchmark: what the map costs the sequencer, and what its proofs cost, in one run.

    python benchmarks/status_map.py [--filings 1000000,10000000] [--db sqlite,postgresql]
                                    [--pg URL] [--scan-at 1000000] [--quick] [--no-write]

For each database and size it files that many filings (real-format entries,
``filing/entry.py``, with later changes and cancellations among them) into a fresh
log, brings the status map up to it, then measures against baselines taken in the
same run, alternating the two so the machine's noise falls on both:

- a sequencer step (integrate + map + sign + record the checkpoint) with the map,
  against the same step without it, for batches of new entries;
- catching the map up with a backlog, against integrating the same entries;
- serving a ``.tlog-status`` (``StatusMapStore.status``) against serving a receipt
  (``Log.receipt``: an RFC 9162 inclusion proof and the entry) for the same filing;
- checking one (``StatusFile.parse`` + ``check``) against checking a receipt
  (``Receipt.parse`` + ``verify_inclusion``);
- at ``--scan-at`` filings: what ``POST /v1/verification`` does today to look for later
  cancellations (all entries into ``LogData``, ``check_log_data`` scans them) against a
  status proof (``status`` + open the checkpoint + ``parse`` + ``check``), log side only.

The log is filed through ``Log.append_many`` and integrated as in production. The map
is brought to all but the last entries in bulk: its node rows are computed from the
sorted keys (the compact tree's definition) and inserted with ``bulk_insert`` as one
map version, exactly the rows ``set_leaf`` would leave (checked against ``MemoryMap``
in every run); the last entries, and everything measured, go through the real
``update_to``. On PostgreSQL the tables are analyzed after the bulk load, as autovacuum
would do in a deployment. Writes one "Status map, <database>" section of
docs/benchmarks.md per database run.

``--quick`` is a smoke run (20,000 filings, both databases, nothing written). On two
shared cores ``--filings 1000000,10000000`` took 10 to 17 minutes per database (most of
it filing ten million entries), so run one database at a time.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from benchmarks.ledger import PG_DEFAULT, drop_pg_schema, pg_schema  # noqa: E402
from benchmarks.report import write_section  # noqa: E402
from filing.entry import FilingEntry, status_name  # noqa: E402
from ledger import schema  # noqa: E402
from ledger.database import bulk_insert, write_transaction  # noqa: E402
from ledger.log import Log, StoredCheckpoint  # noqa: E402
from ledger.merkle import leaf_hash, verify_inclusion  # noqa: E402
from ledger.note import Signer  # noqa: E402
from ledger.receipt import Receipt  # noqa: E402
from ledger.sequencer import Sequencer  # noqa: E402
from ledger.status_file import StatusFile, parse_checkpoint  # noqa: E402
from ledger.status_map import (  # noqa: E402
    EMPTY,
    LEAF_SIZE,
    MapLeaf,
    MemoryMap,
    inner_hash,
    key_for,
    prefix,
)
from ledger.status_store import CHUNK, StatusMapStore  # noqa: E402
from verifier.later import LogData, check_log_data  # noqa: E402
from verifier.receipt import SignedCheckpoint, open_checkpoint  # noqa: E402
from verifier.trust import LogKey, TrustBundle  # noqa: E402

ORIGIN = "bench.example/log"
APPEND_BATCH = 50_000
FLUSH_ROWS = 500_000
LATER_EVERY = 20  # about one change or cancellation per 20 filings
STEP_BATCHES = (1, 10, 100, 1000)  # new entries per sequencer step

# The canonical JSON of filing/entry.py, written by template for speed; every run checks
# a sample against FilingEntry.decode(...).encode().
_FILED = (
    '{"at":"%s","doc":"%s","event":"filed","filing":"%s",'
    '"parties":["%s","%s"],"ref":null,"unit":"%s","v":1}'
)
_CHANGED = (
    '{"at":"%s","doc":"%s","event":"changed","filing":"%s",'
    '"parties":["%s","%s"],"ref":%d,"unit":"%s","v":1}'
)
_CANCELLED = (
    '{"at":"%s","basis":"%s","doc":"%s","event":"cancelled","filing":"%s",'
    '"parties":["%s","%s"],"ref":%d,"unit":"%s","v":1}'
)
_START = dt.datetime(2017, 1, 1, tzinfo=dt.UTC).timestamp()


def filing_number(ordinal: int) -> str:
    return f"CS-{2017 + ordinal // 1_000_000}-{ordinal % 1_000_000 + 1:06d}"


def unit_code(ordinal: int) -> str:
    o = ordinal
    return f"430104{o % 1000:03d}{o // 1000 % 1000:03d}GB{o % 99_991:05d}F{o % 10**8:08d}"


class Workload:
    """Filings and their later events, in log order, with each filing's latest event."""

    def __init__(self, capacity: int, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.filed_at = array("q", bytes(8 * capacity))  # log index of each filing
        self.latest = array("q", bytes(8 * capacity))  # log index of its latest event
        self.latest_hash = bytearray(32 * capacity)
        self.cancelled = bytearray(capacity)
        self.filings = 0
        self.index = 0  # the next entry's log index

    def entries(self, count: int) -> list[bytes]:
        """The next ``count`` entries."""
        out = []
        for _ in range(count):
            out.append(self._next())
        return out

    def until(self, filings: int, batch: int) -> Iterator[list[bytes]]:
        """Batches of entries until ``filings`` filings have been filed."""
        while self.filings < filings:
            out = []
            while self.filings < filings and len(out) < batch:
                out.append(self._next())
            yield out

    def _next(self) -> bytes:
        rng = self.rng
        h = rng.randbytes(96).hex()
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_START + self.index * 30))
        o = rng.randrange(self.filings) if self.filings else 0
        if self.filings and rng.randrange(LATER_EVERY) == 0 and not self.cancelled[o]:
            name, unit, ref = filing_number(o), unit_code(o), self.filed_at[o]
            if rng.random() < 0.4:
                basis = "agreement" if rng.random() < 0.9 else "judgment"
                data = _CANCELLED % (at, basis, h[:64], name, h[64:128], h[128:], ref, unit)
                self.cancelled[o] = 1
            else:
                data = _CHANGED % (at, h[:64], name, h[64:128], h[128:], ref, unit)
        else:
            o = self.filings
            self.filings += 1
            self.filed_at[o] = self.index
            data = _FILED % (at, h[:64], filing_number(o), h[64:128], h[128:], unit_code(o))
        raw = data.encode()
        self.latest[o] = self.index
        self.latest_hash[32 * o : 32 * o + 32] = leaf_hash(raw)
        self.index += 1
        return raw

    def leaf(self, ordinal: int) -> MapLeaf:
        h = bytes(self.latest_hash[32 * ordinal : 32 * ordinal + 32])
        return MapLeaf(key_for(filing_number(ordinal)), self.latest[ordinal], h)


# -- the map's node rows in bulk ---------------------------------------------------

Row = tuple[int, bytes, int, bytes, bytes | None]
NODE_COLUMNS = ("depth", "prefix", "version", "hash", "leaf")


def map_rows(leaves: list[MapLeaf], version: int, emit: Callable[[Row], None]) -> bytes:
    """Emit every node of the compact map holding ``leaves`` (distinct keys); its root.

    Straight from the definition (docs/formats.md): a subtree with one leaf is that leaf,
    one with two or more an inner node, an empty one nothing. Per depth the rows come in
    increasing prefix order, which keeps the inserts near the end of each depth's range.
    """
    leaves = sorted(leaves, key=lambda leaf: leaf.key)
    keys = [int.from_bytes(leaf.key, "big") for leaf in leaves]

    def node(lo: int, hi: int, depth: int) -> bytes:
        if hi - lo == 1:
            leaf = leaves[lo]
            h = leaf.hash
            emit((depth, prefix(leaf.key, depth), version, h, leaf.encode()))
            return h
        shift = 255 - depth
        mid = bisect.bisect_left(keys, (keys[lo] >> shift | 1) << shift, lo, hi)
        left = node(lo, mid, depth + 1) if mid > lo else EMPTY
        right = node(mid, hi, depth + 1) if hi > mid else EMPTY
        h = inner_hash(left, right)
        emit((depth, prefix(leaves[lo].key, depth), version, h, None))
        return h

    return node(0, len(leaves), 0) if leaves else EMPTY


def check_map_rows(count: int) -> None:
    """The bulk rows are exactly what set_leaf leaves in a MemoryMap, root included."""
    rng = random.Random(5)
    leaves = {}
    for i in range(count):
        leaf = MapLeaf(key_for(filing_number(rng.randrange(count))), i, rng.randbytes(32))
        leaves[leaf.key] = leaf
    reference = MemoryMap()
    reference.update(leaves.values())
    rows: list[Row] = []
    root = map_rows(list(leaves.values()), 0, rows.append)
    want = {
        (d, p): (n.hash, n.encode() if isinstance(n, MapLeaf) else None)
        for (d, p), n in reference._nodes.items()
    }
    got = {(d, p): (h, lf) for d, p, _, h, lf in rows}
    assert root == reference.root and got == want and len(rows) == len(got), "bulk map rows"


def check_entries(sample: list[bytes]) -> None:
    for data in sample:
        assert FilingEntry.decode(data).encode() == data, "entry template is not canonical"
    assert {FilingEntry.decode(d).event.value for d in sample} == {"filed", "changed", "cancelled"}


# -- measuring ----------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


class TimedStore(StatusMapStore):
    """The store, timing its update_to (the map's share of a sequencer step)."""

    spent: float = 0.0

    def update_to(self, size: int) -> bytes:
        start = time.perf_counter()
        try:
            return super().update_to(size)
        finally:
            self.spent += time.perf_counter() - start


@dataclass
class Result:
    db: str
    filings: int
    entries: int = 0
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, measure: str, ours: str, base: str = "", ratio: str = "") -> None:
        self.rows.append((measure, ours, base, ratio))
        print(
            f"  {measure}: {ours}"
            + (f" | baseline {base}" if base else "")
            + (f" | {ratio}" if ratio else ""),
            flush=True,
        )


@contextmanager
def database(kind: str, pg: str, tmp: Path, n: int) -> Iterator[tuple[str, Callable[[], int]]]:
    """A fresh database URL, and how to measure the map's stored bytes in it."""
    if kind == "sqlite":
        path = tmp / f"map-{n}.db"
        url = f"sqlite:///{path}"

        def sqlite_map_bytes() -> int:
            engine = create_engine(url)
            with engine.connect() as conn:
                total = conn.execute(
                    text(
                        "SELECT sum(pgsize) FROM dbstat "
                        "WHERE name IN ('log_map_nodes', 'log_map_versions')"
                    )
                ).scalar()
            engine.dispose()
            return int(total or 0)

        try:
            yield url, sqlite_map_bytes
        finally:
            for p in tmp.glob(path.name + "*"):
                p.unlink()
        return
    url, name = pg_schema(pg)

    def pg_map_bytes() -> int:
        engine = create_engine(pg)
        with engine.connect() as conn:
            total = conn.execute(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s "
                    "AND c.relkind = 'r' AND c.relname IN ('log_map_nodes', 'log_map_versions')"
                ),
                {"s": name},
            ).scalar()
        engine.dispose()
        return int(total or 0)

    try:
        yield url, pg_map_bytes
    finally:
        drop_pg_schema(pg, name)


def build(log: Log, store: StatusMapStore, wl: Workload, n: int, tail: int, res: Result) -> None:
    """File about ``n - tail`` filings and bring the map to them in bulk; then ``tail``
    entries more, integrated and brought into the map by ``update_to`` (both timed)."""
    t0 = time.perf_counter()
    sample: list[bytes] = []
    for batch in wl.until(n - tail, APPEND_BATCH):
        log.append_many(batch)
        if len(sample) < 2000:
            sample += batch[::97]
    check_entries(sample)
    log.integrate()
    base = wl.index
    t_log = time.perf_counter() - t0

    t0 = time.perf_counter()
    buffer: list[Row] = []
    count = 0

    def flush() -> None:
        nonlocal count
        with write_transaction(log.engine) as conn:
            bulk_insert(conn, "log_map_nodes", NODE_COLUMNS, buffer)
        count += len(buffer)
        buffer.clear()

    def emit(row: Row) -> None:
        buffer.append(row)
        if len(buffer) >= FLUSH_ROWS:
            flush()

    root = map_rows([wl.leaf(o) for o in range(wl.filings)], base, emit)
    flush()
    with write_transaction(log.engine) as conn:
        conn.execute(schema.map_versions.insert().values(size=base, root=root))
    t_map = time.perf_counter() - t0
    if log.engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load in a deployment (the test server runs
        # without it). Without statistics the planner took the log's 4-row range reads at
        # ten million entries for 300,000 rows and JIT-compiled every proof (~150 ms).
        with log.engine.begin() as conn:
            conn.execute(text(f"ANALYZE {', '.join(schema.APPEND_ONLY_TABLES)}"))
    res.notes.append(
        f"{base:,} entries ({wl.filings:,} filings, a change or cancellation for about one "
        f"filing in {LATER_EVERY}) appended in batches of {APPEND_BATCH:,} and integrated in "
        f"{t_log:.0f} s; the map brought to them in bulk, as one version ({count:,} node rows, "
        f"the rows `set_leaf` leaves, checked against `MemoryMap`), in {t_map:.0f} s; "
        "everything after them through `update_to`"
    )

    log.append_many(wl.entries(tail))
    t_int = timed(log.integrate)
    t_upd = timed(lambda: store.update_to(wl.index))
    res.add(
        f"catching up a backlog of {tail:,} entries (map versions of {CHUNK:,})",
        f"{tail / t_upd:,.0f} entries/s",
        f"{tail / t_int:,.0f} entries/s (integrating them into the log tree)",
        f"{t_upd / t_int:.1f}x the time",
    )


# -- what the map adds to checkpointing --------------------------------------------


def checkpointing(
    log: Log, store: TimedStore, wl: Workload, signer: Signer, res: Result, rounds: dict[int, int]
) -> StoredCheckpoint:
    """Sequencer steps with and without the map, alternating, on the same log; the first
    checkpoint issued (a receipt's, for the verification comparison)."""
    plain = Sequencer(log, [signer], ORIGIN)
    mapped = Sequencer(log, [signer], ORIGIN, status_map=store)
    first: StoredCheckpoint | None = None

    def step(seq: Sequencer, count: int) -> tuple[float, float]:
        nonlocal first
        log.append_many(wl.entries(count))
        store.spent = 0.0
        start = time.perf_counter()
        cp = seq.step()
        took = time.perf_counter() - start
        assert cp is not None
        first = first or cp
        if seq is plain:
            store.update_to(cp.size)  # keeps the map current for the next step; untimed
            return took, 0.0
        return took, store.spent

    for b in STEP_BATCHES:
        without, with_map, updates = [], [], []
        step(plain, b)
        step(mapped, b)  # warm-up
        for r in range(rounds[b]):
            for seq in (plain, mapped) if r % 2 == 0 else (mapped, plain):
                took, spent = step(seq, b)
                if seq is plain:
                    without.append(took)
                else:
                    with_map.append(took)
                    updates.append(spent)
        a, m, u = (statistics.median(x) for x in (without, with_map, updates))
        res.add(
            f"sequencer step, {b:,} new {'entry' if b == 1 else 'entries'} (median of {rounds[b]})",
            ms(m),
            f"{ms(a)} (no status map)",
            f"{(m / a - 1) * 100:+.0f} %",
        )
        res.add(
            f"map updates per second while filing, {b:,} per checkpoint",
            f"{b / u:,.0f} entries/s ({ms(u)} per update_to)",
            f"{b / a:,.0f} entries/s (the whole step without the map)",
            "",
        )
    plain.close()
    mapped.close()
    assert first is not None
    return first


# -- proofs: size, serving, checking --------------------------------------------------


def proofs(
    log: Log, store: StatusMapStore, wl: Workload, cp: StoredCheckpoint, res: Result, samples: int
) -> None:
    rng = random.Random(9)
    checkpoint = parse_checkpoint(cp.cosigned_note)
    picked = [rng.randrange(wl.filings) for _ in range(samples)]
    out: dict[str, str] = {}
    serve_s, serve_r = [], []
    texts, receipts, sizes, siblings, empty, log_proof = [], [], [], [], [], []
    for k, o in enumerate(picked):
        name, idx = filing_number(o), wl.latest[o]

        def status(name: str = name) -> None:
            out["s"] = store.status(name, cp).to_text()

        def receipt(idx: int = idx) -> None:
            out["r"] = log.receipt(idx, cp).to_text()

        pair = [(status, serve_s), (receipt, serve_r)]
        for fn, into in pair if k % 2 == 0 else pair[::-1]:
            into.append(timed(fn))
        sf = StatusFile.parse(out["s"])
        assert sf.latest is not None and sf.latest.index == idx
        texts.append(out["s"])
        receipts.append(out["r"])
        siblings.append(len(sf.map_proof.siblings))
        empty.append(sum(h == EMPTY for h in sf.map_proof.siblings))
        sizes.append(len(sf.map_proof.siblings) * 32 + LEAF_SIZE)
        log_proof.append(32 * len(sf.latest.log_proof))
    text_bytes = [len(t.encode()) for t in texts]
    part: dict[str, list[int]] = {what: [] for what in PARTS}
    for t in texts:
        for what, size in parts(t).items():
            part[what].append(size)
    receipt_bytes = [len(t.encode()) for t in receipts]
    note_bytes = len(cp.cosigned_note.encode())
    med = statistics.median
    res.add(
        "map proof alone (siblings x 32 B + 72 B leaf), median / max",
        f"{med(sizes):,.0f} B / {max(sizes):,} B ({med(siblings):.0f} siblings, "
        f"max {max(siblings)}; {med(empty):.0f} empty)",
        f"{med(log_proof):,.0f} B (the entry's RFC 9162 inclusion proof)",
        f"{med(sizes) / med(log_proof):.2f}x",
    )
    res.add(
        ".tlog-status file, median / max",
        f"{med(text_bytes):,.0f} B / {max(text_bytes):,} B (of which, median: "
        + ", ".join(f"{what} {med(part[what]):,.0f} B" for what in PARTS)
        + f", checkpoint note {note_bytes} B)",
        f"{med(receipt_bytes):,.0f} B (.tlog-proof receipt, same entry)",
        f"{med(text_bytes) / med(receipt_bytes):.2f}x",
    )
    res.add(
        "serving it (`status` + `to_text`), median / p95",
        f"{ms(med(serve_s))} / {ms(p95(serve_s))}",
        f"{ms(med(serve_r))} / {ms(p95(serve_r))} (`Log.receipt` + `to_text`)",
        f"{med(serve_s) / med(serve_r):.1f}x",
    )

    check_s, check_r = [], []
    for k, (st, rt) in enumerate(zip(texts, receipts, strict=True)):

        def check_status(st: str = st) -> None:
            assert StatusFile.parse(st).check(checkpoint) is not None

        def check_receipt(rt: str = rt) -> None:
            r = Receipt.parse(rt)
            assert r.extra is not None
            verify_inclusion(
                leaf_hash(r.extra), r.index, checkpoint.size, r.proof, checkpoint.root_hash
            )

        pair = [(check_status, check_s), (check_receipt, check_r)]
        for fn, into in pair if k % 2 == 0 else pair[::-1]:
            into.append(timed(fn))
    res.add(
        "checking it (`StatusFile.parse` + `check`), median / p95",
        f"{ms(med(check_s))} / {ms(p95(check_s))}",
        f"{ms(med(check_r))} / {ms(p95(check_r))} (`Receipt.parse` + `verify_inclusion`)",
        f"{med(check_s) / med(check_r):.1f}x",
    )

    absent_t, absent_b = [], []
    for k in range(min(samples, 100)):
        name = f"CS-1999-{k + 1:06d}"  # never filed
        absent_t.append(timed(lambda name=name: texts.append(store.status(name, cp).to_text())))
        sf = StatusFile.parse(texts[-1])
        assert sf.latest is None and sf.check(checkpoint) is None
        absent_b.append(len(texts[-1].encode()))
    res.add(
        "a filing never filed: .tlog-status size, serving median",
        f"{med(absent_b):,.0f} B, {ms(med(absent_t))}",
    )


PARTS = {"entry line": "entry ", "inclusion proof": "log ", "map proof": "map "}


def parts(status_text: str) -> dict[str, int]:
    """Bytes of a .tlog-status's entry line, inclusion proof and map proof lines."""
    head = status_text.partition("\n\n")[0].split("\n")
    return {
        what: sum(len(line) + 1 for line in head if line.startswith(word))
        for what, word in PARTS.items()
    }


# -- POST /v1/verification: later events, today and with a status proof --------------


def scan(
    log: Log,
    store: StatusMapStore,
    wl: Workload,
    first: StoredCheckpoint,
    cp: StoredCheckpoint,
    trust: TrustBundle,
    res: Result,
    reps: int,
) -> None:
    """The log side of the page's later-events check, for filings with a receipt at ``first``.

    Today (api/pages.py): the page keeps every entry read so far (the first request reads
    them all) and builds ``LogData`` over them per request; ``verify`` runs
    ``check_log_data``, which hashes them all to the checkpoint's root and the receipt's,
    and reads every entry after the filing for a cancellation or change naming it.
    With the map: the filing's ``.tlog-status`` with a consistency proof from the
    receipt's tree, its checkpoint opened (signature checked), parsed and checked.
    """
    got: dict[str, list[bytes]] = {}
    t_read = timed(lambda: got.setdefault("e", log.entries(0, cp.size)))
    entries = tuple(got["e"])
    held = sum(map(sys.getsizeof, entries)) + sys.getsizeof(entries)
    rng = random.Random(13)
    today, mapped = [], []
    out: dict[str, bool] = {}
    for k in range(reps):
        o = rng.randrange(wl.filings)
        while wl.filed_at[o] >= first.size:
            o = rng.randrange(wl.filings)
        receipt = log.receipt(wl.filed_at[o], first)

        def with_log_data(receipt: Receipt = receipt) -> None:
            signed = open_checkpoint(receipt.checkpoint, trust)
            assert isinstance(signed, SignedCheckpoint)
            data = LogData(cp.cosigned_note, entries)
            checks, newer, events = check_log_data(
                signed, receipt.index, {receipt.index}, data, trust
            )
            assert newer is not None, checks
            out["today"] = bool(events)

        def with_status(receipt: Receipt = receipt, name: str = filing_number(o)) -> None:
            old = open_checkpoint(receipt.checkpoint, trust)
            assert isinstance(old, SignedCheckpoint)
            body = store.status(name, cp, old_size=first.size).to_text()
            sf = StatusFile.parse(body)
            signed = open_checkpoint(sf.checkpoint, trust)
            assert isinstance(signed, SignedCheckpoint)
            leaf = sf.check(signed.checkpoint)
            sf.check_consistency(old.checkpoint.size, old.checkpoint.root_hash, signed.checkpoint)
            assert leaf is not None
            out["status"] = leaf.index != receipt.index

        pair = [(with_log_data, today), (with_status, mapped)]
        for fn, into in pair if k % 2 == 0 else pair[::-1]:
            into.append(timed(fn))
        assert out["today"] == out["status"], "the two ways disagree about later events"
    med = statistics.median
    res.add(
        f"`/v1/verification`, later events for a receipt, log side (median of {reps})",
        f"{ms(med(mapped))} (status proof: serve + open checkpoint + parse + check + consistency)",
        f"{med(today):.2f} s (today: `LogData` over {cp.size:,} entries + `check_log_data`)",
        f"{med(today) / med(mapped):,.0f}x faster",
    )
    res.add(
        "today, a process's first request only: reading every entry, kept in memory",
        "",
        f"{t_read:.2f} s, {held / 2**20:,.0f} MiB in the server",
        "",
    )


# -- one database, one size ---------------------------------------------------------


def run(kind: str, pg: str, tmp: Path, n: int, args: argparse.Namespace) -> Result:
    res = Result(kind, n)
    quick = args.quick
    tail = min(2 * CHUNK, max(1, n // 10))
    rounds = {1: 10, 10: 10, 100: 6, 1000: 3} if quick else {1: 40, 10: 40, 100: 20, 1000: 8}
    # Entries filed after the bulk part: the backlog, the steps (and their warm-ups), the last.
    extra = tail + sum((2 * r + 2) * b for b, r in rounds.items()) + 1
    wl = Workload(n + extra)
    print(f"{kind}, {n:,} filings", flush=True)
    with database(kind, pg, tmp, n) as (url, map_bytes):
        log = Log.open(url)
        store = TimedStore(log, status_name)
        build(log, store, wl, n - (extra - tail), tail, res)
        signer = Signer(ORIGIN, Ed25519PrivateKey.generate())
        trust = TrustBundle(ORIGIN, (LogKey(signer.verifier),), (), 0)
        first = checkpointing(log, store, wl, signer, res, rounds)
        log.append_many(wl.entries(1))
        cp = Sequencer(log, [signer], ORIGIN, status_map=store).step()
        assert cp is not None
        res.entries, res.filings = cp.size, wl.filings
        proofs(log, store, wl, cp, res, args.samples)
        if n == args.scan_at:
            scan(log, store, wl, first, cp, trust, res, args.scan_reps)
        stored = map_bytes()
        res.add("map stored (node rows and indexes), per filing", f"{stored / wl.filings:,.0f} B")
        log.close()
    return res


def section(kind: str, results: list[Result], argv: list[str]) -> str:
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/status_map.py "
        f"{' '.join(argv)}` on {platform.machine()}, {os.cpu_count()} cores (shared with "
        f"other work), Python {platform.python_version()}, {title}. Each size is a fresh "
        "log of real-format filing entries (`filing/entry.py`, about 350 bytes) with the "
        "status map kept by `StatusMapStore` (`ledger/status_store.py`); every figure is set "
        "against a baseline measured in the same run, the two alternating.",
        "",
        "- *sequencer step*: `Sequencer.step()` after appending that many entries: integrate, "
        "bring the map up (`update_to`), sign and record the checkpoint; no witnesses. "
        "Baseline: the same step of a sequencer without a status map on the same log. "
        "Target: under 10 % added.",
        "- *map updates per second*: the entries one `update_to` brought into the map, over "
        "its time, inside those steps.",
        "- *catching up*: a backlog brought into the map, against integrating it into the log.",
        "- *proof sizes*: of filings picked at random, as of the latest checkpoint. Target: "
        "status proof under 2 KB; the map proof alone and the whole `.tlog-status` (entry, "
        "its inclusion proof, map proof and the signed checkpoint) are both given.",
        "- *serving* and *checking*: the same filings, in process, warm. Baselines: a "
        "`.tlog-proof` receipt for the same entry and its check. Target: under 5 ms each.",
        "- *`/v1/verification`*: the log side of looking for a later cancellation, measured "
        "directly, not through HTTP (the PDF's signatures cost the same either way). Today "
        "the page does it only up to `MAX_LOG_SCAN` (200,000) entries and skips it above.",
        *(
            [
                "- The tables are analyzed after the bulk load, as autovacuum would in a "
                "deployment (the test server runs with autovacuum off)."
            ]
            if kind == "postgresql"
            else []
        ),
        "",
        "| filings (entries) | measure | status map | baseline, same run | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        size = f"{r.filings:,} ({r.entries:,})"
        for a, b, c, d in r.rows:
            lines.append(f"| {size} | {a} | {b} | {c} | {d} |")
    lines.append("")
    for r in results:
        lines += [f"- {note}" for note in r.notes]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--filings", default="1000000,10000000", help="sizes, comma-separated")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL base URL")
    parser.add_argument("--samples", type=int, default=300, help="filings proved per size")
    parser.add_argument("--scan-at", type=int, default=1_000_000, help="size for /v1/verification")
    parser.add_argument("--scan-reps", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the SQLite files go")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small, not written")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if args.quick:
        args.filings, args.samples, args.scan_at, args.scan_reps = "20000", 50, 20_000, 2
    sizes = [int(s) for s in args.filings.split(",")]
    check_map_rows(3000 if args.quick else 20_000)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for kind in args.db.split(","):
            results = [run(kind, args.pg, Path(tmp), n, args) for n in sizes]
            if not (args.no_write or args.quick):
                argv = [f"--filings {args.filings}", f"--db {kind}"]
                argv += [f"--samples {args.samples}"] if args.samples != 300 else []
                body = section(kind, results, argv)
                name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
                write_section(REPO / "docs" / "benchmarks.md", f"Status map, {name}", body)
                print("wrote docs/benchmarks.md", flush=True)


if __name__ == "__main__":
    main()
