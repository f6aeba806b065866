"""The red round seal (印章) drawn behind an organisation's signature stamp.

A Chinese reader trusts a company's signature at a glance by its seal: a red ring,
the organisation's name along the upper arc, a star in the middle and the seal's
purpose (合同专用章, 备案专用章) beneath it. The picture is only the appearance; what
binds is the signature under it, so it is drawn from the certificate's organisation
name rather than scanned from a physical seal.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from signing.fonts import find_cjk_font

RED = (200, 22, 29, 255)
SIZE = 480  # pixels; drawn at 1.6 in on the page, so about 300 dpi
_VERSION = "1"  # bump when the drawing changes, so cached files are redrawn


class SealNameInvalid(ValueError):
    """A name that cannot be drawn on a seal (empty or too long to fit the arc)."""


def draw_seal(organisation: str, purpose: str) -> bytes:
    """A PNG (transparent background) of the seal of ``organisation`` for ``purpose``."""
    name = organisation.strip()
    if not name or len(name) > 40 or len(purpose) > 8:
        raise SealNameInvalid("a seal carries a name of 1-40 characters and a purpose of 8 at most")
    font_path = str(find_cjk_font())
    img = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    c = SIZE / 2
    ring = SIZE * 0.03
    draw.ellipse((ring, ring, SIZE - ring, SIZE - ring), outline=RED, width=int(ring * 1.6))
    _star(draw, c, c, SIZE * 0.14)
    _arc_text(img, name, font_path, radius=SIZE * 0.36)
    size = int(SIZE * 0.085)
    font = ImageFont.truetype(font_path, size, index=0)
    draw.text(
        (c, c + SIZE * 0.25),
        purpose,
        font=font,
        fill=RED,
        anchor="mm",
        stroke_width=1,
        stroke_fill=RED,
    )
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def seal_file(organisation: str, purpose: str, cache_dir: Path | None = None) -> Path:
    """The seal as a file (pyHanko's stamp takes a path), drawn once per name and purpose."""
    key = hashlib.sha256(f"{_VERSION}\0{organisation}\0{purpose}".encode()).hexdigest()[:24]
    cache = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wangqian"
    target = cache / "seals" / f"{key}.png"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(draw_seal(organisation, purpose))
        os.replace(tmp, target)
    return target


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=RED)


def _arc_text(img: Image.Image, text: str, font_path: str, radius: float) -> None:
    """The name clockwise along the upper arc, each character upright to the centre."""
    n = len(text)
    span = min(math.radians(250), math.radians(24) * n)  # wide names close up, short spread
    step = span / max(n - 1, 1)
    size = int(min(SIZE * 0.11, radius * step * 0.95)) if n > 1 else int(SIZE * 0.11)
    font = ImageFont.truetype(font_path, max(size, 10), index=0)
    c = SIZE / 2
    for i, ch in enumerate(text):
        angle = -math.pi / 2 - span / 2 + i * step if n > 1 else -math.pi / 2
        tile = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text(
            (size, size), ch, font=font, fill=RED, anchor="mm", stroke_width=2, stroke_fill=RED
        )
        tile = tile.rotate(-math.degrees(angle) - 90, resample=Image.Resampling.BICUBIC)
        x = c + radius * math.cos(angle) - size
        y = c + radius * math.sin(angle) - size
        img.alpha_composite(tile, (int(x), int(y)))
