"""Which stored nodes a root or proof needs: pure arithmetic over tree coordinates.

A node ``(level, index)`` is the root of the complete subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``. Only complete subtrees are ever
stored, so they never change once written. Every hash in an RFC 9162 proof is
the Merkle Tree Hash of a range that either is such a subtree or is the right
edge of the tree; the right edge splits into at most log2(n) stored subtrees of
decreasing size, whose right fold is the range's hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from itertools import repeat

from ledger.merkle import EMPTY_ROOT, node_hash, split_point

NodeId = tuple[int, int]
Range = tuple[int, int]


def range_nodes(start: int, end: int) -> list[NodeId]:
    """The stored subtrees covering ``[start, end)``, left to right, largest first.

    Only valid for ranges that occur in RFC 9162 proofs: ``start`` is a multiple
    of a power of two at least ``end - start``.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative range [{start}, {end})")
    nodes: list[NodeId] = []
    pos = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        if pos % (1 << level):
            raise ValueError(f"range [{start}, {end}) is not a proof range")
        nodes.append((level, pos >> level))
        pos += 1 << level
        remaining -= 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a range from its ``range_nodes`` hashes (right fold)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form PATH(index, D[size]), leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} outside tree of size {size}")
    ranges: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + split_point(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose hashes form PROOF(old_size, D[new_size])."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    ranges: list[Range] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                ranges.append((lo, hi))
            break
        mid = lo + split_point(n)
        if m <= mid - lo:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            m -= mid - lo
            lo = mid
            complete = False
    ranges.reverse()
    return ranges


def nodes_for(ranges: Iterable[Range]) -> set[NodeId]:
    return {node for r in ranges for node in range_nodes(*r)}


def hashes_for(ranges: Sequence[Range], stored: dict[NodeId, bytes]) -> list[bytes]:
    """Each range's hash from a map of stored node hashes (KeyError if one is missing)."""
    return [fold([stored[n] for n in range_nodes(*r)]) for r in ranges]


# A newly completed subtree: (level, index, hash).
NewNode = tuple[int, int, bytes]


class Frontier:
    """The right edge of a tree: its largest complete subtrees, as a stack.

    Pushing leaf hashes in order yields every complete subtree they finish,
    which is exactly what must be stored to keep proofs O(log n).
    """

    def __init__(self, size: int, edge: Sequence[bytes]) -> None:
        nodes = range_nodes(0, size) if size else []
        if len(nodes) != len(edge):
            raise ValueError(f"a tree of size {size} has {len(nodes)} edge nodes, got {len(edge)}")
        self.size = size
        self._stack: list[tuple[int, bytes]] = [
            (level, h) for (level, _), h in zip(nodes, edge, strict=True)
        ]

    @staticmethod
    def edge_nodes(size: int) -> list[NodeId]:
        return range_nodes(0, size) if size else []

    def push(self, leaf: bytes) -> list[NewNode]:
        """Add one leaf hash; returns the subtrees it completes, itself first."""
        return self.extend([leaf])

    def extend(self, leaves: Iterable[bytes], min_level: int = 0) -> list[NewNode]:
        """Add leaf hashes in order; returns the subtrees they complete at ``min_level`` or above.

        This is the integrator's hot loop: it hashes one level at a time with list
        comprehensions (the new nodes at level l start at index ``size >> l``; an
        odd node left over at a level is carried in the frontier).
        """
        seq = list(leaves)
        if not seq:
            return []
        count = len(seq)
        carries = dict(self._stack)
        old_size = self.size
        out: list[NewNode] = []
        sha256 = hashlib.sha256
        level = 0
        while seq:
            if level >= min_level:
                first = old_size >> level
                out.extend(zip(repeat(level), range(first, first + len(seq)), seq))
            carry = carries.pop(level, None)
            if carry is not None:
                seq.insert(0, carry)
            if len(seq) % 2:
                carries[level] = seq.pop()
            seq = [
                sha256(b"\x01" + a + b).digest() for a, b in zip(seq[::2], seq[1::2], strict=True)
            ]
            level += 1
        self.size = old_size + count
        self._stack = sorted(carries.items(), reverse=True)
        return out

    def root(self) -> bytes:
        return fold([h for _, h in self._stack])
