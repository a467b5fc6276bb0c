"""Build the field app's Chinese fonts from Noto Sans CJK SC (SIL OFL 1.1, see
assets/fonts/NotoSansCJK-LICENSE.txt), as Debian's ``fonts-noto-cjk`` ships it.

    python -m mobile.fontbuild [--source NotoSansCJK-Regular.ttc]

``scripts/start`` and ``scripts/test`` run it at setup; it does nothing when its outputs are
already there and were made from the same source (``BUILD_STAMP``). It writes, git-ignored:

- ``assets/fonts/NotoSansSC-CJK.otf`` (about 13 MB): the app's font in the web app and in the
  APK. Every code point the SC face has in the CJK ideograph blocks (U+4E00–U+9FEF and
  Extension A, U+3400–U+4DB5), GB2312, the punctuation blocks and whatever the slices hold.
- ``assets/assets/fonts/notosanssc/v37/*.woff2`` (101 files): Flutter web's own fallback
  slices. Flet's no-CDN page sets ``fontFallbackBaseUrl`` to ``assets/fonts/`` and Flet serves
  the app's assets directory at ``/``, hence the doubled ``assets``. The Flutter client draws
  the first frames before the app's font has arrived and asks for these slices for the
  characters on screen; served here, the first screen is Chinese within a second instead of
  boxes, and no request answers 404. Which code points each slice holds is the engine's own
  table, read from the pinned flet-web bundle (``engine_slices``). They cover 13,632 code
  points only (Google's web cut of Noto Sans SC): 9,294 ideographs of the two blocks have no
  fallback slice at all, which is why the bundled font must hold them (docs/fonts.md).

The source is pinned by SHA-256: Debian 12's ``fonts-noto-cjk 1:20220127+repack1-1``
(Noto Sans CJK 2.004). fontTools and brotli are pinned in pyproject.toml; the same inputs give
the same bytes.
"""

import argparse
import contextlib
import hashlib
import io
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flet_web

from mobile.ui import fonts
from shared.messages import t

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_SHA256 = "b76b0433203017ca80401b2ee0dd69350349871c4b19d504c34dbdd80541690a"
DEBIAN_PACKAGE = "fonts-noto-cjk=1:20220127+repack1-1"
SC_FACE = "Noto Sans CJK SC"
FULL_FONT = fonts.ASSETS / fonts.FULL
FALLBACK_BASE = fonts.ASSETS / fonts.WEB_FALLBACK  # what fontFallbackBaseUrl points at
SLICE_FAMILY = "Noto Sans SC"
BUILD_STAMP = FULL_FONT.with_suffix(".build")

# The requirement: every ideograph the SC face has in these blocks renders.
IDEOGRAPHS = (range(0x4E00, 0x9FF0), range(0x3400, 0x4DB6))
_EXTRA_BLOCKS = (
    range(0x20, 0x7F),  # ASCII
    range(0xA0, 0x100),  # Latin-1 (·, ×, ÷, °)
    range(0x2000, 0x2070),  # general punctuation (—, …, ‰, “”)
    range(0x2100, 0x2200),  # letterlike symbols and number forms (℃, №, Ⅰ)
    range(0x2460, 0x2500),  # enclosed numbers (①)
    range(0x3000, 0x3040),  # CJK symbols and punctuation (、。《》【】)
    range(0xFE30, 0xFE50),  # CJK compatibility forms
    range(0xFF00, 0xFFF0),  # full-width forms (（），：？)
)


def gb2312() -> set[int]:
    """Every character of GB2312 (what the committed fallback subset holds)."""
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
    return chars


def wanted_code_points() -> set[int]:
    """What the full font holds (as far as the SC face has it). It includes everything of
    Flutter's fallback slices, so no character looks different once the font has arrived
    (pinyin such as ā is in a slice)."""
    points = gb2312().union(*(piece.code_points for piece in engine_slices()))
    for block in (*IDEOGRAPHS, *_EXTRA_BLOCKS):
        points.update(block)
    return points


# --- Flutter web's fallback font table ------------------------------------------------------


@dataclass(frozen=True)
class FallbackFont:
    name: str  # "Noto Sans SC 37"
    url: str  # relative to fontFallbackBaseUrl: "notosanssc/v37/<hash>.<n>.woff2"
    code_points: frozenset[int]


def _decode_font_sets(encoded: str) -> list[list[int]]:
    # The engine's own packing (font_fallbacks.dart, _decodeFontSet): per set, font indices
    # as deltas, a..z digits with 0..9 prefix digits.
    sets = []
    for part in encoded.split(","):
        indices, previous, prefix = [], -1, 0
        for ch in part:
            if "a" <= ch <= "z":
                previous += prefix * 26 + (ord(ch) - ord("a")) + 1
                indices.append(previous)
                prefix = 0
            elif ch.isdigit():
                prefix = prefix * 10 + int(ch)
            else:
                raise ValueError(f"unexpected {ch!r} in the engine's font sets")
        sets.append(indices)
    return sets


def _decode_ranges(encoded: str) -> tuple[list[int], list[int]]:
    # _UnicodePropertyLookup.fromPackedData: A..Z value digits, a..z range sizes, 0..9 prefix.
    bounds, values = [], []
    start, prefix, size = 0, 0, 1
    for ch in encoded:
        if "A" <= ch <= "Z":
            start += size
            bounds.append(start)
            values.append(prefix * 26 + ord(ch) - ord("A"))
            prefix, size = 0, 1
        elif "a" <= ch <= "z":
            size = prefix * 26 + (ord(ch) - ord("a")) + 2
            prefix = 0
        elif ch.isdigit():
            prefix = prefix * 10 + int(ch)
        else:
            raise ValueError(f"unexpected {ch!r} in the engine's ranges")
    if start != 0x110000:
        raise ValueError(f"the engine's ranges end at {start:#x}, not at U+110000")
    return bounds, values


def engine_fallback_fonts(bundle: Path | None = None) -> list[FallbackFont]:
    """The Noto fallback fonts the Flutter web engine of the installed flet-web knows, each
    with the code points the engine believes it covers (what it downloads it for)."""
    bundle = bundle or Path(flet_web.__file__).parent / "web" / "main.dart.js"
    js = bundle.read_text(encoding="utf-8")
    listing = js[js.index('"Noto Color Emoji 0"') :]
    listing = listing[: listing.index("]")]
    fonts = re.findall(r'"(Noto [^"]+)","([a-z0-9]+/v\d+/[^"]+\.(?:woff2|ttf))"', listing)
    sets_found = re.findall(r'"([a-z0-9]*(?:,[a-z0-9]*){1000,})"', js)
    ranges_found = re.findall(r'"([0-9A-Za-z]{10000,})"', js)
    if len(sets_found) != 1 or len(ranges_found) != 1 or len(fonts) < 100:
        raise ValueError(f"the fallback font table was not found in {bundle}")
    sets = _decode_font_sets(sets_found[0])
    bounds, values = _decode_ranges(ranges_found[0])
    covered: list[set[int]] = [set() for _ in fonts]
    start = 0
    for end, value in zip(bounds, values, strict=True):
        for index in sets[value]:
            covered[index].update(range(start, end))
        start = end
    return [
        FallbackFont(name, url, frozenset(points))
        for (name, url), points in zip(fonts, covered, strict=True)
    ]


def engine_slices() -> list[FallbackFont]:
    """The engine's slices of Noto Sans SC (the family it picks for zh-CN)."""
    return [f for f in engine_fallback_fonts() if f.name.startswith(SLICE_FAMILY + " ")]


def slice_of(code_point: int, slices: Iterable[FallbackFont]) -> FallbackFont | None:
    return next((s for s in slices if code_point in s.code_points), None)


# --- building -------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _options(flavor: str | None = None) -> Any:
    from fontTools import subset

    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True  # a missing glyph is a visible box, not nothing
    opts.flavor = flavor
    return opts


def build_full_font(source: Path, target: Path = FULL_FONT) -> set[int]:
    """Cut the SC face of ``source`` to ``wanted_code_points``; returns the code points kept."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    names = [f["name"].getDebugName(4) for f in TTCollection(str(source), lazy=True).fonts]
    opts = _options()
    opts.font_number = names.index(SC_FACE)
    font = subset.load_font(str(source), opts)
    kept = wanted_code_points() & set(font.getBestCmap())
    subsetter = subset.Subsetter(opts)
    subsetter.populate(unicodes=kept)
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(target), opts)
    return kept


def build_slices(full_font: Path = FULL_FONT, base: Path = FALLBACK_BASE) -> list[Path]:
    """One woff2 per engine slice of Noto Sans SC, holding the code points the engine expects
    there (as far as the SC face has them), cut from the full font."""
    from fontTools import subset

    data = full_font.read_bytes()
    written = []
    for piece in engine_slices():
        opts = _options("woff2")
        font = subset.load_font(io.BytesIO(data), opts)  # a fresh reader per slice
        subsetter = subset.Subsetter(opts)
        subsetter.populate(unicodes=piece.code_points & set(font.getBestCmap()))
        subsetter.subset(font)
        path = base / piece.url
        path.parent.mkdir(parents=True, exist_ok=True)
        subset.save_font(font, str(path), opts)
        written.append(path)
    return written


def up_to_date(source_digest: str) -> bool:
    if not (FULL_FONT.exists() and BUILD_STAMP.exists()):
        return False
    return BUILD_STAMP.read_text(encoding="utf-8").strip() == _stamp(source_digest)


def _stamp(source_digest: str) -> str:
    # The outputs depend on the source, the engine's table (flet-web) and this module.
    engine = sha256(Path(flet_web.__file__).parent / "web" / "main.dart.js")
    return f"{source_digest} {engine} {sha256(Path(__file__))}"


def build(source: Path = SOURCE, *, force: bool = False) -> bool:
    """Make the fonts unless they are up to date; False (with the reason printed) when the
    pinned source is missing or differs."""
    if not source.exists():
        print(t("fonts.source_missing", source=source, package=DEBIAN_PACKAGE), file=sys.stderr)
        return False
    digest = sha256(source)
    if digest != SOURCE_SHA256:
        message = t("fonts.source_differs", source=source, package=DEBIAN_PACKAGE, digest=digest)
        print(message, file=sys.stderr)
        return False
    if not force and up_to_date(digest):
        return True
    print(t("fonts.building"), flush=True)
    build_full_font(source)
    build_slices()
    BUILD_STAMP.write_text(_stamp(digest) + "\n", encoding="utf-8")
    return True


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobile.fontbuild", description=__doc__)
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    return 0 if build(args.source, force=args.force) else 1


if __name__ == "__main__":
    sys.exit(cli())
