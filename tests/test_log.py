"""The storage-backed log on SQLite and PostgreSQL: proofs, tiles, checkpoints, append-only."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger import merkle
from ledger.log import EntryError, Log, SizeError
from ledger.tiles import TILE_WIDTH


@pytest.fixture
def log(db_url: str) -> Log:
    log = Log.open(db_url)
    yield log
    log.close()


def _entries(n: int, start: int = 0) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(start, start + n)]


def test_append_returns_gap_free_indices_and_integrate_folds_them(log: Log) -> None:
    assert log.size() == 0
    assert log.root_hash(0) == merkle.EMPTY_ROOT
    assert log.append_many(_entries(5)) == [0, 1, 2, 3, 4]
    assert log.size() == 0  # appended, not yet integrated
    assert log.appended() == 5
    assert log.integrate() == 5
    assert log.append(b"x") == 5
    assert log.integrate() == 6
    assert log.integrate() == 6  # nothing pending


def test_proofs_equal_the_reference_at_every_size(log: Log) -> None:
    entries = _entries(600)
    # Integrate in uneven batches so stored nodes come from many commits.
    for chunk in (entries[:1], entries[1:77], entries[77:300], entries[300:]):
        log.append_many(chunk)
        log.integrate(batch_size=50)
    hashes = [merkle.leaf_hash(e) for e in entries]
    rng = random.Random(1)
    for size in [1, 2, 3, 77, 255, 256, 257, 511, 600]:
        root = merkle.root_hash(hashes[:size])
        assert log.root_hash(size) == root
        for index in {0, size - 1, rng.randrange(size)}:
            assert log.leaf_hash(index) == hashes[index]
            assert log.inclusion_proof(index, size) == merkle.inclusion_proof(hashes, index, size)
        for old in {1, size, rng.randint(1, size)}:
            assert log.consistency_proof(old, size) == merkle.consistency_proof(hashes, old, size)


def test_sizes_beyond_the_tree_are_refused(log: Log) -> None:
    log.append_many(_entries(3))
    log.integrate()
    log.append(b"pending")
    for call in (
        lambda: log.root_hash(4),
        lambda: log.inclusion_proof(3, 4),
        lambda: log.inclusion_proof(3, 3),
        lambda: log.consistency_proof(2, 4),
        lambda: log.consistency_proof(0, 3),
        lambda: log.leaf_hash(3),
        lambda: log.root_hash(-1),
    ):
        with pytest.raises(SizeError):
            call()


@pytest.mark.parametrize("bad", [b"", b"x" * 65536, "text"])
def test_bad_entries_are_refused_and_nothing_is_written(log: Log, bad: object) -> None:
    with pytest.raises(EntryError):
        log.append_many([b"fine", bad])  # type: ignore[list-item]
    assert log.appended() == 0


def test_tiles_and_entry_bundles_follow_tlog_tiles(log: Log) -> None:
    entries = _entries(TILE_WIDTH + 10)
    log.append_many(entries)
    log.integrate()
    hashes = [merkle.leaf_hash(e) for e in entries]
    full = log.tile(0, 0, TILE_WIDTH)
    assert full == b"".join(hashes[:TILE_WIDTH])
    assert log.tile(0, 1, 10) == b"".join(hashes[TILE_WIDTH:])
    # Level 1 holds the root of each full level-0 tile.
    assert log.tile(1, 0, 1) == merkle.root_hash(hashes[:TILE_WIDTH])
    with pytest.raises(SizeError):
        log.tile(0, 1, TILE_WIDTH)  # not full yet
    bundle = log.entry_bundle(1, 10)
    parsed, pos = [], 0
    while pos < len(bundle):
        n = int.from_bytes(bundle[pos : pos + 2], "big")
        parsed.append(bundle[pos + 2 : pos + 2 + n])
        pos += 2 + n
    assert parsed == entries[TILE_WIDTH:]


def test_checkpoints_are_all_kept_with_their_cosignatures(log: Log) -> None:
    a = log.record_checkpoint(0, merkle.EMPTY_ROOT, "note a\n")
    b = log.record_checkpoint(0, merkle.EMPTY_ROOT, "note b\n")
    log.add_cosignatures(b.id, [("w1", "— w1 AAAA"), ("w2", "— w2 BBBB")])
    assert [c.note for c in log.checkpoints()] == ["note a\n", "note b\n"]
    latest = log.latest_checkpoint()
    assert latest is not None and latest.id == b.id
    assert latest.cosigned_note == "note b\n— w1 AAAA\n— w2 BBBB\n"
    assert a.id < b.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE log_leaves SET data = :x WHERE idx = 0",
        "DELETE FROM log_leaves WHERE idx = 0",
        "UPDATE log_tiles SET hashes = :x WHERE idx = 0",
        "DELETE FROM log_tiles",
        "UPDATE log_nodes SET hash = :x WHERE level = 8",
        "DELETE FROM log_nodes",
        "UPDATE log_integrations SET size = 0",
        "DELETE FROM log_integrations",
        "UPDATE log_checkpoints SET note = 'forged'",
        "DELETE FROM log_checkpoints",
    ],
)
def test_database_refuses_update_and_delete(log: Log, statement: str) -> None:
    log.append_many(_entries(2 * TILE_WIDTH))  # so that a tile and a high node exist
    log.integrate()
    log.record_checkpoint(2, log.root_hash(2), "n\n")
    with pytest.raises(DBAPIError, match="append-only"), log.engine.begin() as conn:
        conn.execute(text(statement), {"x": b"\x00" * 32})
    assert log.entries(0, 2) == _entries(2)


def test_an_entry_cannot_be_replaced_either(log: Log) -> None:
    """SQLite's REPLACE deletes the old row without firing DELETE triggers, then inserts."""
    log.append_many(_entries(TILE_WIDTH))  # so that a tile exists
    log.integrate()
    if log.engine.dialect.name == "sqlite":
        attacks = [
            "INSERT OR REPLACE INTO log_leaves (idx, data) VALUES (0, :x)",
            "REPLACE INTO log_leaves (idx, data) VALUES (0, :x)",
            "INSERT OR REPLACE INTO log_tiles (idx, hashes) VALUES (0, :x)",
        ]
    else:  # an upsert is an UPDATE there, and refused as one
        attacks = [
            "INSERT INTO log_leaves (idx, data) VALUES (0, :x) "
            "ON CONFLICT (idx) DO UPDATE SET data = EXCLUDED.data"
        ]
    for attack in attacks:
        with pytest.raises(DBAPIError, match="append-only"), log.engine.begin() as conn:
            conn.execute(text(attack), {"x": b"forged"})
    assert log.entries(0, 2) == _entries(2)


def test_truncate_is_refused_on_postgresql(pg_url: str) -> None:
    log = Log.open(pg_url)
    log.append(b"a")
    with pytest.raises(DBAPIError, match="append-only"), log.engine.begin() as conn:
        conn.execute(text("TRUNCATE log_leaves"))
    assert log.appended() == 1
    log.close()


def test_reopening_keeps_everything(db_url: str) -> None:
    first = Log.open(db_url)
    first.append_many(_entries(10))
    first.integrate()
    root = first.root_hash(10)
    first.close()
    again = Log.open(db_url)
    assert again.size() == 10 and again.root_hash(10) == root
    again.close()


def test_waiting_for_a_checkpoint_is_answered_by_the_step_that_covers_it(log: Log) -> None:
    import threading

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.note import Signer
    from ledger.sequencer import Sequencer

    sequencer = Sequencer(
        log, [Signer("example.org/log", Ed25519PrivateKey.generate())], "example.org/log"
    )
    [index] = log.append_many([b"first"])
    assert sequencer.wait_for(index + 1, timeout=0.2, poll=0.05) is None  # nobody steps
    stop = threading.Event()
    runner = threading.Thread(target=sequencer.run, args=(stop, 30.0))  # woken, not polling
    runner.start()
    try:
        log.append_many([b"second"])
        cp = sequencer.wait_for(index + 2, timeout=20)
        assert cp is not None and cp.size == 2
        again = sequencer.wait_for(1, timeout=0)  # already covered: no wait
        assert again is not None and again.size == 2
    finally:
        stop.set()
        sequencer.wake.set()
        runner.join(timeout=10)
    sequencer.close()


def test_a_waiter_in_another_process_hears_of_the_checkpoint_at_once(pg_url: str) -> None:
    """With `serve --workers 2`, receipts in the non-sequencing process waited out a poll.

    Two sequencers on one PostgreSQL log stand for two processes: A is elected and runs
    with a 30 s interval, B only listens. B's waiter polls every 30 s too, so only the
    notifications (B's "appended" waking A, A's checkpoint waking B) can answer in time.
    """
    import threading
    import time

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.note import Signer
    from ledger.sequencer import Sequencer

    key = Ed25519PrivateKey.generate()
    log_a, log_b = Log.open(pg_url), Log.open(pg_url)
    a = Sequencer(log_a, [Signer("example.org/log", key)], "example.org/log")
    b = Sequencer(log_b, [Signer("example.org/log", key)], "example.org/log")
    stop = threading.Event()
    threads = [
        threading.Thread(target=a.run, args=(stop, 30.0)),
        threading.Thread(target=a.listen, args=(stop,)),
        threading.Thread(target=b.listen, args=(stop,)),
    ]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while not a.leading and time.monotonic() < deadline:
            time.sleep(0.05)
        assert a.leading and not b.leading
        a.step()  # the first checkpoint (size 0) is out of the way
        time.sleep(1.0)  # both listeners are listening
        for n in range(3):
            [index] = log_b.append_many([f"entry {n}".encode()])
            started = time.monotonic()
            cp = b.wait_for(index + 1, timeout=10, poll=30)
            assert cp is not None and cp.size >= index + 1
            assert time.monotonic() - started < 5
    finally:
        stop.set()
        a.wake.set()
        for t in threads:
            t.join(timeout=10)
        for s in (a, b):
            s.close()
        log_a.close()
        log_b.close()


def test_a_stopped_sequencer_leaves_nothing_outside_a_checkpoint(db_url: str) -> None:
    """Found when the idle interval grew to 250 ms: the demo's last cancellation, which nobody
    waits for, could be left uncheckpointed when the server stopped."""
    import threading

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.note import Signer
    from ledger.sequencer import Sequencer

    log = Log.open(db_url)
    sequencer = Sequencer(
        log, [Signer("example.org/log", Ed25519PrivateKey.generate())], "example.org/log"
    )
    stop = threading.Event()
    runner = threading.Thread(target=sequencer.run, args=(stop, 30.0))
    runner.start()
    try:
        deadline = 100
        while not sequencer.leading and deadline:
            stop.wait(0.05)
            deadline -= 1
        log.append_many([b"nobody waits for me"])  # and nothing wakes the loop
    finally:
        stop.set()
        sequencer.wake.set()
        runner.join(timeout=10)
    latest = log.latest_checkpoint()
    assert latest is not None and latest.size == 1
    sequencer.close()
    log.close()


def test_logs_in_two_schemas_of_one_database_each_elect_their_own_sequencer() -> None:
    """Advisory locks and the notification channel were database-wide: of two logs in one
    PostgreSQL database (one per city and period, or two test runs), only one was ever
    sequenced; the other's appends waited for a leader that could not be elected."""
    import threading
    import time

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.note import Signer
    from ledger.sequencer import Sequencer
    from tests.conftest import pg_schema_url

    first, second = pg_schema_url(), pg_schema_url()
    url_a, url_b = next(first), next(second)
    key = Ed25519PrivateKey.generate()
    log_a, log_b = Log.open(url_a), Log.open(url_b)
    assert log_a.locks != log_b.locks
    a = Sequencer(log_a, [Signer("a.example/log", key)], "a.example/log")
    b = Sequencer(log_b, [Signer("b.example/log", key)], "b.example/log")
    stop = threading.Event()
    threads = [threading.Thread(target=s.run, args=(stop, 0.05)) for s in (a, b)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while not (a.leading and b.leading) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert a.leading and b.leading
        for log, sequencer in ((log_a, a), (log_b, b)):
            [index] = log.append_many([b"entry"])
            cp = sequencer.wait_for(index + 1, timeout=10)
            assert cp is not None and cp.size == index + 1
    finally:
        stop.set()
        for s in (a, b):
            s.wake.set()
        for t in threads:
            t.join(timeout=10)
        for s in (a, b):
            s.close()
        log_a.close()
        log_b.close()
        for schema_url in (first, second):
            next(schema_url, None)
