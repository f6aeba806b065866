"""The status map: a sparse Merkle tree from a filing's key to its latest event in the log.

Pure and storage-free: the platform keeps its nodes in the database
(``ledger/status_store.py``), an auditor or the verifier in memory; both run the same
``set_leaf`` and ``prove``. docs/formats.md ("Status map") is the specification.

The tree is binary over the 256 bits of a key (most significant first) and *compact*:
an empty subtree hashes to 32 zero bytes, a subtree holding one leaf is that leaf
(whatever its depth), and only a subtree with two or more leaves is an inner node.
A path therefore has about log2(n) nodes, and a proof has as many hashes.

    key   = SHA-256(filing number, UTF-8)
    leaf  = SHA-256(0x02 || key || uint64 index || entry hash)   (index: the event's log
            index; entry hash: its RFC 9162 leaf hash, SHA-256(0x00 || entry))
    inner = SHA-256(0x03 || left || right)
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ledger.canonical import NotCanonical, canonical_hash
from ledger.checkpoint import Checkpoint
from ledger.merkle import HASH_SIZE

EMPTY = bytes(HASH_SIZE)
KEY_BITS = 256
LEAF_SIZE = 32 + 8 + 32
# The checkpoint extension line that commits to the map as of the checkpoint's tree size.
MAP_LINE = "wangqian.cn/status-map"


class MapProofError(ValueError):
    """A status map proof, leaf or root line that does not verify or is malformed."""


def key_for(name: str) -> bytes:
    """The map key of a filing number."""
    return hashlib.sha256(name.encode("utf-8")).digest()


@dataclass(frozen=True)
class MapLeaf:
    key: bytes
    index: int  # the log index of the latest event
    entry_hash: bytes  # that entry's RFC 9162 leaf hash

    def __post_init__(self) -> None:
        if len(self.key) != HASH_SIZE or len(self.entry_hash) != HASH_SIZE:
            raise MapProofError("a map leaf holds a 32-byte key and a 32-byte entry hash")
        if not 0 <= self.index < 1 << 63:
            raise MapProofError("a map leaf's log index is out of range")

    def encode(self) -> bytes:
        return self.key + self.index.to_bytes(8, "big") + self.entry_hash

    @classmethod
    def decode(cls, data: bytes) -> MapLeaf:
        if len(data) != LEAF_SIZE:
            raise MapProofError(f"a map leaf is {LEAF_SIZE} bytes")
        return cls(data[:32], int.from_bytes(data[32:40], "big"), data[40:])

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(b"\x02" + self.encode()).digest()


@dataclass(frozen=True)
class Inner:
    """A subtree with two or more leaves, by its hash."""

    hash: bytes


Node = MapLeaf | Inner


def inner_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x03" + left + right).digest()


def hash_of(node: Node | None) -> bytes:
    return EMPTY if node is None else node.hash


def bit(key: bytes, depth: int) -> int:
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1


def prefix(key: bytes, depth: int) -> bytes:
    """The first ``depth`` bits of ``key``, packed, the unused bits of the last byte zero."""
    whole, rest = divmod(depth, 8)
    if rest == 0:
        return key[:whole]
    return key[:whole] + bytes([key[whole] & (0xFF << (8 - rest)) & 0xFF])


def sibling_prefix(key: bytes, depth: int) -> bytes:
    """The prefix of the child at ``depth + 1`` that is not on ``key``'s path."""
    p = bytearray(prefix(key, depth + 1))
    p[depth >> 3] ^= 0x80 >> (depth & 7)
    return bytes(p)


def _first_difference(a: bytes, b: bytes) -> int:
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return KEY_BITS - x.bit_length()


class NodeReader(Protocol):
    def node(self, depth: int, prefix: bytes) -> Node | None: ...


class NodeStore(NodeReader, Protocol):
    def put(self, depth: int, prefix: bytes, node: Node) -> None: ...


def root(nodes: NodeReader) -> bytes:
    return hash_of(nodes.node(0, b""))


def set_leaf(nodes: NodeStore, leaf: MapLeaf) -> None:
    """Put ``leaf`` under its key (replacing the key's old leaf) and rehash its path."""
    key = leaf.key
    path: list[int] = []  # depths of the inner nodes to rehash, top down
    depth = 0
    while True:
        here = nodes.node(depth, prefix(key, depth))
        if isinstance(here, Inner):
            path.append(depth)
            depth += 1
            continue
        if here is None or here.key == key:
            nodes.put(depth, prefix(key, depth), leaf)
            break
        # Another key's leaf sits here: both move down to where their keys part.
        split = _first_difference(here.key, key)
        nodes.put(split + 1, prefix(here.key, split + 1), here)
        nodes.put(split + 1, prefix(key, split + 1), leaf)
        path.extend(range(depth, split + 1))
        break
    for d in reversed(path):
        mine = hash_of(nodes.node(d + 1, prefix(key, d + 1)))
        other = hash_of(nodes.node(d + 1, sibling_prefix(key, d)))
        combined = inner_hash(mine, other) if bit(key, d) == 0 else inner_hash(other, mine)
        nodes.put(d, prefix(key, d), Inner(combined))


@dataclass(frozen=True)
class MapProof:
    """The hashes beside a key's path, root first, and what the path ends in.

    ``terminal`` is the key's own leaf (inclusion), another key's leaf that shares the
    path (non-inclusion), or None: an empty subtree (non-inclusion).
    """

    siblings: tuple[bytes, ...]
    terminal: MapLeaf | None

    def verify(self, root_hash: bytes, key: bytes) -> MapLeaf | None:
        """The key's leaf, or None if the map has no such key; MapProofError if it fails."""
        depth = len(self.siblings)
        if depth > KEY_BITS:
            raise MapProofError("status map proof is longer than a key")
        if len(key) != HASH_SIZE or any(len(s) != HASH_SIZE for s in self.siblings):
            raise MapProofError("status map keys and hashes are 32 bytes")
        term = self.terminal
        if term is not None and term.key != key and prefix(term.key, depth) != prefix(key, depth):
            raise MapProofError("the proof ends in a leaf that is not on the key's path")
        if depth and self.siblings[-1] == EMPTY:
            # A leaf or an empty subtree beside an empty one is never an inner node's child.
            raise MapProofError("the proof is not in the map's compact form")
        h = hash_of(term)
        for d in reversed(range(depth)):
            s = self.siblings[d]
            h = inner_hash(h, s) if bit(key, d) == 0 else inner_hash(s, h)
        if h != root_hash:
            raise MapProofError("the status map proof does not lead to the committed map root")
        return term if term is not None and term.key == key else None


def prove(nodes: NodeReader, key: bytes) -> MapProof:
    siblings: list[bytes] = []
    depth = 0
    while True:
        here = nodes.node(depth, prefix(key, depth))
        if not isinstance(here, Inner):
            return MapProof(tuple(siblings), here)
        siblings.append(hash_of(nodes.node(depth + 1, sibling_prefix(key, depth))))
        depth += 1


def path_ids(key: bytes, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """The nodes a walk down ``key``'s path reads at depths [start, stop): path and siblings."""
    for d in range(start, stop):
        yield d, prefix(key, d)
        if d > 0:
            yield d, sibling_prefix(key, d - 1)


class MemoryMap:
    """A status map held in memory: the reference, the auditor's replay, and tests."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, bytes], Node] = {}

    def node(self, depth: int, prefix: bytes) -> Node | None:
        return self._nodes.get((depth, prefix))

    def put(self, depth: int, prefix: bytes, node: Node) -> None:
        self._nodes[(depth, prefix)] = node

    def update(self, leaves: Iterable[MapLeaf]) -> bytes:
        for leaf in leaves:
            set_leaf(self, leaf)
        return root(self)

    @property
    def root(self) -> bytes:
        return root(self)

    def prove(self, key: bytes) -> MapProof:
        return prove(self, key)


# -- the checkpoint's commitment ----------------------------------------------


def map_line(root_hash: bytes) -> str:
    return f"{MAP_LINE} {base64.b64encode(root_hash).decode()}"


def committed_root(checkpoint: Checkpoint) -> bytes | None:
    """The map root a checkpoint commits to, or None if it has no status map line.

    MapProofError if it has more than one, or one that is not a canonical hash.
    """
    found = [e for e in checkpoint.extensions if e.split(" ", 1)[0] == MAP_LINE]
    if not found:
        return None
    if len(found) > 1:
        raise MapProofError("the checkpoint commits to more than one status map root")
    try:
        return canonical_hash(found[0][len(MAP_LINE) + 1 :], "status map root")
    except NotCanonical as exc:
        raise MapProofError(str(exc)) from exc
