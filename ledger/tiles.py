"""C2SP tlog-tiles resource paths: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_INDEX = 1 << 55  # 2**63 leaves / 256


class TilePathError(ValueError):
    """A tile path is not in the tlog-tiles form."""


@dataclass(frozen=True)
class TileRef:
    level: int | None  # None for an entry bundle
    index: int
    width: int  # 256 for a full tile

    @property
    def path(self) -> str:
        kind = "entries" if self.level is None else str(self.level)
        suffix = "" if self.width == TILE_WIDTH else f".p/{self.width}"
        return f"tile/{kind}/{encode_index(self.index)}{suffix}"


def encode_index(n: int) -> str:
    """1234067 -> 'x001/x234/067': 3-digit groups, all but the last prefixed with x."""
    if n < 0:
        raise TilePathError("tile index must not be negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


_GROUP = re.compile(r"x\d{3}")


def parse_tile_path(path: str) -> TileRef:
    """Parse the part after ``tile/``, e.g. ``0/x001/234.p/5`` or ``entries/007``."""
    width = TILE_WIDTH
    if ".p/" in path:
        path, _, w = path.partition(".p/")
        if not w.isdigit() or w.startswith("0") or not 1 <= int(w) < TILE_WIDTH:
            raise TilePathError(f"partial width {w!r} must be 1..255")
        width = int(w)
    kind, *groups = path.split("/")
    if not groups:
        raise TilePathError("tile path needs a level and an index")
    if kind == "entries":
        level = None
    elif kind.isdigit() and (kind == "0" or not kind.startswith("0")) and int(kind) < 64:
        level = int(kind)
    else:
        raise TilePathError(f"tile level {kind!r} must be 0..63 or 'entries'")
    *prefix, last = groups
    if not all(_GROUP.fullmatch(g) for g in prefix) or not re.fullmatch(r"\d{3}", last):
        raise TilePathError("tile index must be 3-digit groups, all but the last with an x")
    index = int("".join(g.lstrip("x") for g in groups))
    if index >= MAX_TILE_INDEX:
        raise TilePathError("tile index beyond any 64-bit tree")
    if prefix and prefix[0] == "x000":
        raise TilePathError("tile index must not have leading zero groups")
    return TileRef(level, index, width)
