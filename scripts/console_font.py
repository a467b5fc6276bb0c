"""Regenerate the console's fallback web font: server/console/static/fonts/.

For a browser on a machine with no Chinese system font (console.css lists the usual Windows,
UOS/Kylin and macOS ones first; the browser fetches a web font only for characters those do
not draw). Noto Sans CJK SC Regular (SIL OFL, Debian's fonts-noto-cjk) cut to GB2312 and
every CJK character of this repository, as WOFF2 slices with ``unicode-range``, so a page
fetches only the slices holding its characters: slice 0 is the console's own text (its
templates and the message catalogue), the rest split the remaining characters by code point.

    apt-get install fonts-noto-cjk && pip install -e ".[test]"
    python scripts/console_font.py

Writes the slices and ``fonts.css`` (the @font-face rules); delete the old slices first if
the number of slices changes.
"""

import contextlib
import re
import subprocess
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = ROOT / "server" / "console" / "static" / "fonts"
FAMILY = "SongJiao Console Sans"
SLICE_CHARS = 700  # characters per slice after the first
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2010-\u2027\u00b7]")
EXTRA = "（）【】《》“”‘’、。，：；！？…—·￥％＋－×÷≥≤≠℃⌊⌋→←↑↓"


def texts(*globs: str) -> set[str]:
    """The CJK characters of the repository's tracked files matching ``globs``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *globs], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    found: set[str] = set()
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.is_file():
            found |= set(CJK.findall(path.read_text(errors="ignore")))
    return found


def gb2312() -> set[str]:
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes([hi, lo]).decode("gb2312"))
    return {c for c in chars if ord(c) > 0x7F}


def ranges(chars: set[str]) -> str:
    """CSS unicode-range of ``chars``: runs of consecutive code points merged."""
    points, runs = sorted(ord(c) for c in chars), []
    start = prev = points[0]
    for p in points[1:]:
        if p != prev + 1:
            runs.append((start, prev))
            start = p
        prev = p
    runs.append((start, prev))
    return ", ".join(f"U+{a:X}" if a == b else f"U+{a:X}-{b:X}" for a, b in runs)


def cut(chars: set[str], index: int, name: str) -> set[str]:
    """Write the slice of ``chars`` as ``name``; returns the characters it really draws (a
    character the source lacks must stay out of its unicode-range, or a browser would fetch
    the slice for nothing)."""
    opts = subset.Options()
    opts.font_number = index
    opts.flavor = "woff2"
    opts.layout_features = ["*"]
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # keep the copyright and the OFL notice
    opts.hinting = False  # screens at 12-24 px: hints are most of the size and rarely used
    font = subset.load_font(str(SOURCE), opts)
    subsetter = subset.Subsetter(opts)
    subsetter.populate(text="".join(sorted(chars)))
    subsetter.subset(font)
    subset.save_font(font, str(OUT / name), opts)
    return {chr(code) for code in font.getBestCmap()} & chars


def main() -> None:
    collection = TTCollection(str(SOURCE))
    index = next(i for i, f in enumerate(collection.fonts) if "SC" in f["name"].getDebugName(1))
    ui = texts(
        "server/console/templates/*.html", "server/console/*.py", "shared/messages.py"
    ) | set(EXTRA)
    rest = sorted((gb2312() | texts("*.py", "*.html", "*.md")) - ui, key=ord)
    slices = [ui] + [set(rest[i : i + SLICE_CHARS]) for i in range(0, len(rest), SLICE_CHARS)]
    OUT.mkdir(parents=True, exist_ok=True)
    rules, total = [], 0
    for n, chars in enumerate(slices):
        name = f"console-sans-{n}.woff2"
        drawn = cut(chars, index, name)
        size = (OUT / name).stat().st_size
        total += size
        missing = len(chars) - len(drawn)
        print(f"{name}: {len(drawn)} characters ({missing} not in the source), {size:,} bytes")
        rules.append(
            "@font-face {\n"
            f'  font-family: "{FAMILY}";\n'
            f'  src: url("{name}") format("woff2");\n'
            "  font-weight: 400;\n  font-display: swap;\n"
            f"  unicode-range: {ranges(drawn)};\n}}\n"
        )
    header = (
        f"/* {FAMILY}: Noto Sans CJK SC Regular (SIL Open Font License 1.1, see LICENSE.txt), "
        "cut by scripts/console_font.py. Generated: do not edit. */\n"
    )
    (OUT / "fonts.css").write_text(header + "\n".join(rules))
    print(f"{len(slices)} slices, {total:,} bytes")


if __name__ == "__main__":
    main()
