"""Finding a CJK font to embed in contract PDFs and signature stamps.

Debian's fonts-wqy-microhei (or zenhei) ships a TrueType collection; pyHanko's
stamp text needs a single TrueType font, so the collection's first face is
extracted once into a cache directory. Configurable with WANGQIAN_CJK_FONT.
"""

from __future__ import annotations

import os
from pathlib import Path

FONT_ENV = "WANGQIAN_CJK_FONT"
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


class FontMissing(Exception):
    """No usable CJK font was found."""


def find_cjk_font() -> Path:
    configured = os.environ.get(FONT_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontMissing(f"{FONT_ENV}={configured} is not a file")
        return path
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        "no CJK font found for Chinese contract text: install Debian's fonts-wqy-microhei "
        f"(scripts/system-deps.sh does) or set {FONT_ENV} to a TrueType font"
    )


def truetype_font(cache_dir: Path | None = None) -> Path:
    """A single-face TrueType file of the CJK font (extracted from a collection if needed)."""
    source = find_cjk_font()
    if source.suffix.lower() != ".ttc":
        return source
    from fontTools.ttLib import TTCollection

    cache = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wangqian"
    target = cache / (source.stem + "-0-1000upm.ttf")
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        from fontTools.ttLib.scaleUpem import scale_upem

        tmp = target.with_suffix(f".tmp{os.getpid()}")
        face = TTCollection(str(source)).fonts[0]
        # pyHanko's stamp text lays glyphs out in 1000-unit em squares.
        if face["head"].unitsPerEm != 1000:
            scale_upem(face, 1000)
        face.save(str(tmp))
        os.replace(tmp, target)
    return target


# Everything a stamp prints besides the label and the signer's name.
STAMP_CHARACTERS = (
    "签署时间北京（）：:-+./ 0123456789UTCGMTABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


def subset_font(text: str, cache_dir: Path | None = None) -> Path:
    """A TrueType file holding only the glyphs of ``text`` (cached by content).

    pyHanko parses and subsets the font at every stamp; handing it a few dozen
    glyphs instead of twenty thousand turns a second into milliseconds.
    """
    import hashlib

    source = truetype_font(cache_dir)
    chars = "".join(sorted(set(text + STAMP_CHARACTERS)))
    key = hashlib.sha256(f"{source}\n{chars}".encode()).hexdigest()[:20]
    cache = source.parent / "subsets"
    target = cache / f"{key}.ttf"
    if not target.exists():
        from fontTools import subset
        from fontTools.ttLib import TTFont

        cache.mkdir(parents=True, exist_ok=True)
        font = TTFont(str(source), lazy=True)
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=chars)
        subsetter.subset(font)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        font.save(str(tmp))
        os.replace(tmp, target)
    return target
