"""The status map's pure core: roots against an independent rebuild, proofs, tampering."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import Checkpoint
from ledger.log import Log
from ledger.merkle import leaf_hash
from ledger.note import Signer
from ledger.sequencer import Sequencer
from ledger.status_file import StatusFile, StatusFileError, parse_checkpoint
from ledger.status_map import (
    EMPTY,
    MapLeaf,
    MapProof,
    MapProofError,
    MemoryMap,
    bit,
    committed_root,
    inner_hash,
    key_for,
    map_line,
)
from ledger.status_store import StatusMapError, StatusMapStore


def _leaf(name: str, index: int) -> MapLeaf:
    return MapLeaf(key_for(name), index, hashlib.sha256(f"entry {index}".encode()).digest())


def rebuild(leaves: dict[bytes, MapLeaf], depth: int = 0) -> bytes:
    """The compact tree's root straight from its definition, sharing no code with set_leaf."""
    items = list(leaves.values())
    if not items:
        return EMPTY
    if len(items) == 1:
        return items[0].hash
    left = {k: v for k, v in leaves.items() if bit(k, depth) == 0}
    right = {k: v for k, v in leaves.items() if bit(k, depth) == 1}
    return inner_hash(rebuild(left, depth + 1), rebuild(right, depth + 1))


def test_empty_map_and_single_leaf() -> None:
    m = MemoryMap()
    assert m.root == EMPTY
    assert m.prove(key_for("x")).verify(EMPTY, key_for("x")) is None
    leaf = _leaf("CS-2026-000001", 0)
    assert m.update([leaf]) == leaf.hash  # one leaf is the whole tree, at any depth
    assert m.prove(leaf.key).verify(m.root, leaf.key) == leaf
    other = key_for("CS-2026-000002")
    proof = m.prove(other)
    assert proof.terminal == leaf and proof.verify(m.root, other) is None


def test_roots_match_an_independent_rebuild_through_inserts_and_updates() -> None:
    rng = random.Random(16)
    m = MemoryMap()
    expected: dict[bytes, MapLeaf] = {}
    for i in range(600):
        name = f"CS-2026-{rng.randrange(300):06d}"  # many keys updated again later
        leaf = _leaf(name, i)
        expected[leaf.key] = leaf
        m.update([leaf])
        if i % 50 == 0 or i == 599:
            assert m.root == rebuild(expected)
    for key, leaf in expected.items():
        assert m.prove(key).verify(m.root, key) == leaf
    for n in range(300, 340):
        key = key_for(f"CS-2026-{n:06d}")
        assert key not in expected
        assert m.prove(key).verify(m.root, key) is None


def test_keys_sharing_a_long_prefix() -> None:
    base = bytes(32)
    near = bytes(31) + b"\x01"  # parts from ``base`` only at the last bit
    m = MemoryMap()
    a, b = MapLeaf(base, 1, bytes(32)), MapLeaf(near, 2, bytes(32))
    m.update([a, b])
    assert m.root == rebuild({a.key: a, b.key: b})
    proof = m.prove(near)
    assert len(proof.siblings) == 256  # the keys part at the last bit: leaves at depth 256
    assert proof.verify(m.root, near) == b


def _populated() -> tuple[MemoryMap, MapLeaf]:
    m = MemoryMap()
    leaves = [_leaf(f"CS-2026-{n:06d}", n) for n in range(200)]
    m.update(leaves)
    return m, leaves[77]


def test_every_tampering_is_caught() -> None:
    m, leaf = _populated()
    proof = m.prove(leaf.key)
    assert proof.verify(m.root, leaf.key) == leaf
    stale = dataclasses.replace(leaf, index=leaf.index + 1)
    cases = {
        "another value": MapProof(proof.siblings, stale),
        "a sibling changed": MapProof((EMPTY[:31] + b"\x01", *proof.siblings[1:]), leaf),
        "a sibling dropped": MapProof(proof.siblings[:-1], leaf),
        "a sibling added": MapProof((*proof.siblings, leaf.hash), leaf),
        "absent claimed": MapProof(proof.siblings, None),
    }
    for what, bad in cases.items():
        with pytest.raises(MapProofError):
            bad.verify(m.root, leaf.key)
            pytest.fail(what)
    # A proof against another root (an older or another checkpoint's map).
    older = MemoryMap()
    older.update([_leaf(f"CS-2026-{n:06d}", n) for n in range(100)])
    with pytest.raises(MapProofError):
        proof.verify(older.root, leaf.key)


def test_a_leaf_off_the_path_cannot_prove_absence() -> None:
    m, leaf = _populated()
    absent = key_for("CS-2099-000001")
    proof = m.prove(absent)
    assert proof.verify(m.root, absent) is None
    # With one leaf in the map, any other key is absent, at depth 0.
    assert MapProof((), leaf).verify(leaf.hash, absent) is None
    # Deeper down, a leaf that does not share the key's path proves nothing.
    off_path = next(k for k in (key_for(f"x{n}") for n in range(64)) if bit(k, 0) != bit(absent, 0))
    forged = MapProof(proof.siblings, MapLeaf(off_path, 1, bytes(32)))
    with pytest.raises(MapProofError, match="not on the key's path"):
        forged.verify(m.root, absent)


def test_checkpoint_line() -> None:
    root = hashlib.sha256(b"r").digest()
    cp = Checkpoint("example.org/log", 3, bytes(32), (map_line(root),))
    assert committed_root(cp) == root
    assert committed_root(Checkpoint("example.org/log", 3, bytes(32))) is None
    twice = Checkpoint("example.org/log", 3, bytes(32), (map_line(root), map_line(EMPTY)))
    with pytest.raises(MapProofError):
        committed_root(twice)
    bad = Checkpoint("example.org/log", 3, bytes(32), (map_line(root) + "=",))
    with pytest.raises(MapProofError):
        committed_root(bad)


# -- kept in the database, committed in checkpoints --------------------------


def _name_of(data: bytes) -> str | None:
    name, _, event = data.decode().partition(" ")
    return name if event in ("filed", "changed", "cancelled") else None


def _replay(entries: list[bytes]) -> bytes:
    m = MemoryMap()
    for i, data in enumerate(entries):
        name = _name_of(data)
        if name is not None:
            m.update([MapLeaf(key_for(name), i, leaf_hash(data))])
    return m.root


def test_stored_map_follows_the_log_and_answers_for_every_checkpoint(db_url: str) -> None:
    log = Log.open(db_url)
    store = StatusMapStore(log, _name_of)
    signer = Signer("test.example/log", Ed25519PrivateKey.generate())
    sequencer = Sequencer(log, [signer], "test.example/log", status_map=store)
    rounds = [
        [f"CS-{n} filed".encode() for n in range(40)] + [b"access-digest x"],
        [b"CS-3 cancelled", b"CS-7 changed", b"CS-40 filed"],
        [b"access-digest y"],  # no filing's event: a version with the same root
        [b"CS-7 cancelled"],
    ]
    entries: list[bytes] = []
    issued = []
    for batch in rounds:
        log.append_many(batch)
        entries += batch
        cp = sequencer.step()
        assert cp is not None
        issued.append(cp)
        parsed = parse_checkpoint(cp.cosigned_note)
        assert committed_root(parsed) == _replay(entries) == store.root_at(cp.size)
    # Every checkpoint's proofs still hold as of that checkpoint, not only the newest.
    first, _, unchanged, last = issued
    assert store.root_at(unchanged.size) == store.root_at(issued[1].size)
    s = store.status("CS-7", first)
    leaf = s.check(parse_checkpoint(first.cosigned_note))
    assert leaf is not None and s.latest is not None and s.latest.entry == b"CS-7 filed"
    s = StatusFile.parse(store.status("CS-7", last, old_size=first.size).to_text())
    leaf = s.check(parse_checkpoint(last.cosigned_note))
    assert s.latest is not None and s.latest.entry == b"CS-7 cancelled"
    first_cp = parse_checkpoint(first.cosigned_note)
    s.check_consistency(first.size, first_cp.root_hash, parse_checkpoint(last.cosigned_note))
    absent = StatusFile.parse(store.status("CS-999", last).to_text())
    assert absent.latest is None and absent.check(parse_checkpoint(last.cosigned_note)) is None
    assert "access-digest" not in "".join(str(k) for k in store.versions())
    sequencer.close()
    log.close()


def test_a_long_log_is_caught_up_in_resumable_chunks(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.status_store as status_store

    monkeypatch.setattr(status_store, "CHUNK", 7)
    log = Log.open(db_url)
    entries = [f"CS-{n % 13} {'filed' if n < 13 else 'changed'}".encode() for n in range(50)]
    log.append_many(entries)
    log.integrate()
    store = StatusMapStore(log, _name_of)
    assert store.update_to(50) == _replay(entries)
    assert [s for s, _ in store.versions()] == [7, 14, 21, 28, 35, 42, 49, 50]
    assert store.root_at(21) == _replay(entries[:21])
    log.close()


def test_status_file_tampering_is_caught(tmp_path: Path) -> None:
    log = Log.open(f"sqlite:///{tmp_path / 'log.db'}")
    store = StatusMapStore(log, _name_of)
    signer = Signer("test.example/log", Ed25519PrivateKey.generate())
    sequencer = Sequencer(log, [signer], "test.example/log", status_map=store)
    log.append_many([f"CS-{n} filed".encode() for n in range(30)])
    before = sequencer.step()
    log.append_many([b"CS-5 cancelled", b"CS-6 filed"])
    after = sequencer.step()
    assert before is not None and after is not None
    cp_before = parse_checkpoint(before.cosigned_note)
    cp_after = parse_checkpoint(after.cosigned_note)
    honest = store.status("CS-5", after)
    assert honest.check(cp_after) is not None
    stale = store.status("CS-5", before)  # the filed entry, before its cancellation
    cases = {
        # A stale map entry presented against the newer checkpoint.
        "stale entry": dataclasses.replace(honest, latest=stale.latest, map_proof=stale.map_proof),
        # The honest proof against another checkpoint.
        "other checkpoint": honest,
        # The cancellation hidden: "absent" with the honest map proof.
        "absent": dataclasses.replace(honest, latest=None),
    }
    for what, bad in cases.items():
        cp = cp_before if what == "other checkpoint" else cp_after
        with pytest.raises(StatusFileError):
            bad.check(cp)
            pytest.fail(what)
    # A map root that omits the cancellation: the proof for it leads elsewhere.
    forged_root = _replay([f"CS-{n} filed".encode() for n in range(30)] + [b"x y", b"CS-6 filed"])
    forged = dataclasses.replace(cp_after, extensions=(map_line(forged_root),))
    with pytest.raises(StatusFileError):
        honest.check(forged)
    with pytest.raises(StatusFileError):
        honest.check_consistency(3, cp_before.root_hash, cp_after)
    text = honest.to_text()
    spaced = text.replace("\nmap ", "\nmap  ", 1)
    for broken in (spaced, text.replace("filing CS-5", "filing CS 5")):
        with pytest.raises(StatusFileError):
            StatusFile.parse(broken)
    sequencer.close()
    log.close()


def test_a_log_older_than_its_map_commits_to_it_from_its_next_checkpoint(db_url: str) -> None:
    log = Log.open(db_url)
    signer = Signer("test.example/log", Ed25519PrivateKey.generate())
    entries = [f"CS-{n} filed".encode() for n in range(20)]
    log.append_many(entries)
    before = Sequencer(log, [signer], "test.example/log")  # as deployed before the map
    old = before.step()
    assert old is not None and committed_root(parse_checkpoint(old.cosigned_note)) is None
    before.close()
    store = StatusMapStore(log, _name_of)
    with pytest.raises(StatusMapError):
        store.status("CS-1", old)  # that checkpoint commits to no map: nothing to prove with
    upgraded = Sequencer(log, [signer], "test.example/log", status_map=store)
    again = upgraded.step()  # nothing new, yet the tree is signed again with its map
    assert again is not None and again.size == old.size
    assert committed_root(parse_checkpoint(again.cosigned_note)) == _replay(entries)
    assert upgraded.step() is None
    log.append_many([b"CS-1 cancelled"])
    entries.append(b"CS-1 cancelled")
    cp = upgraded.step()
    assert cp is not None
    assert committed_root(parse_checkpoint(cp.cosigned_note)) == _replay(entries)
    status = store.status("CS-1", cp, old_size=old.size)
    assert status.latest is not None and status.latest.entry == b"CS-1 cancelled"
    old_root = parse_checkpoint(old.cosigned_note).root_hash
    status.check_consistency(old.size, old_root, parse_checkpoint(cp.cosigned_note))
    upgraded.close()
    log.close()
