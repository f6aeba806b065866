"""Seal images for visible signature stamps: a red round seal with the holder's name."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

RED = (200, 16, 32, 255)
SIZE = 360


def seal_image(holder: str, caption: str, font_path: Path, cache_dir: Path) -> Path:
    """A PNG of a round seal: the holder's name around the rim, a star, the caption below it."""
    key = hashlib.sha256(f"{holder}\n{caption}\n{font_path}".encode()).hexdigest()[:16]
    path = cache_dir / f"seal-{key}.png"
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    c = SIZE / 2
    draw.ellipse((8, 8, SIZE - 8, SIZE - 8), outline=RED, width=12)
    _star(draw, c, c, 52)
    rim = ImageFont.truetype(str(font_path), 40)
    chars = list(holder)
    # Characters spread over the upper 240° of the rim, read clockwise.
    span = min(240.0, 24.0 * len(chars))
    for i, ch in enumerate(chars):
        angle = -90 - span / 2 + span * (i + 0.5) / len(chars)
        x = c + (SIZE / 2 - 58) * math.cos(math.radians(angle))
        y = c + (SIZE / 2 - 58) * math.sin(math.radians(angle))
        glyph = Image.new("RGBA", (56, 56), (255, 255, 255, 0))
        ImageDraw.Draw(glyph).text((28, 28), ch, font=rim, fill=RED, anchor="mm")
        glyph = glyph.rotate(-(angle + 90), resample=Image.Resampling.BICUBIC)
        img.alpha_composite(glyph, (int(x - 28), int(y - 28)))
    small = ImageFont.truetype(str(font_path), 34)
    draw.text((c, c + 92), caption, font=small, fill=RED, anchor="mm")
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    img.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.38
        a = math.radians(-90 + 36 * k)
        points.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    draw.polygon(points, fill=RED)
