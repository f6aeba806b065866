"""Write a copy of the log as static files in the C2SP tlog-tiles layout.

What a mirror serves and what ``wangqian-verify --log-data`` reads: the latest
checkpoint, every hash tile and every entry bundle it covers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ledger.log import Log, StoredCheckpoint
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a reader never sees half a tile


def tile_refs(size: int) -> list[TileRef]:
    """Every tile and entry bundle a tree of ``size`` leaves has."""
    refs = []
    for level in range(64):
        hashes = size >> (level * TILE_HEIGHT)
        if hashes == 0:
            break
        for n in range((hashes + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, hashes - n * TILE_WIDTH)
            refs.append(TileRef(level, n, width))
            if level == 0:
                refs.append(TileRef(None, n, width))
    return refs


def export_log(log: Log, checkpoint: StoredCheckpoint, write: Callable[[str, bytes], None]) -> int:
    """Hand ``checkpoint`` and the tiles under it to ``write(path, data)``; returns the count."""
    refs = tile_refs(checkpoint.size)
    for ref in refs:
        data = (
            log.entry_bundle(ref.index, ref.width)
            if ref.level is None
            else log.tile(ref.level, ref.index, ref.width)
        )
        write(ref.path, data)
    write("checkpoint", checkpoint.cosigned_note.encode())
    return len(refs) + 1


def export_to_directory(log: Log, checkpoint: StoredCheckpoint, directory: Path) -> int:
    return export_log(log, checkpoint, lambda name, data: _write(directory / name, data))
