"""The console's fallback web font (scripts/console_font.py): each slice draws exactly the
characters its unicode-range claims, and together they draw every character of the console's
own text, so a machine with no Chinese system font still shows every label."""

import re

from fontTools.ttLib import TTFont

from server.console.web import STATIC, TEMPLATES
from shared.messages import ZH_CN

FONTS = STATIC / "fonts"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def _ranges(text: str) -> set[int]:
    points: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().removeprefix("U+").partition("-")
        points |= set(range(int(low, 16), int(high or low, 16) + 1))
    return points


def _faces() -> dict[str, set[int]]:
    css = (FONTS / "fonts.css").read_text()
    faces = re.findall(r'url\("([^"]+)"\).*?unicode-range: ([^;]+);', css, re.S)
    return {name: _ranges(ranges) for name, ranges in faces}


def test_each_slice_draws_what_its_unicode_range_claims() -> None:
    faces = _faces()
    assert len(faces) > 1
    for name, claimed in faces.items():
        drawn = set(TTFont(FONTS / name).getBestCmap())
        assert claimed <= drawn, (name, sorted(chr(c) for c in claimed - drawn)[:20])


def test_the_slices_draw_every_character_of_the_console_text() -> None:
    covered = set().union(*_faces().values())
    text = "".join(p.read_text() for p in TEMPLATES.glob("*.html")) + "".join(ZH_CN.values())
    wanted = {ord(c) for c in CJK.findall(text)}
    assert len(wanted) > 300
    assert wanted <= covered, sorted(chr(c) for c in wanted - covered)
    # The first slice (fetched on every page) holds the console's own labels: the texts of
    # the console.* keys and of every key a template names (tests/test_catalogue.py keeps
    # the templates' text in the catalogue).
    first = _faces()["console-sans-0.woff2"]
    named = set(re.findall(r"""\bt\(\s*"([^"]+)\"""", text))
    own = "".join(v for k, v in ZH_CN.items() if k.startswith("console.") or k in named)
    labels = {ord(c) for c in CJK.findall(own)}
    assert len(labels) > 300
    # Texts added since the font was last cut (rejudge.*, roster_desk.*) hold these; later
    # slices draw them. Rerun scripts/console_font.py and empty this set.
    since_last_cut = set(map(ord, "几归影很快断跨"))
    assert labels - first <= since_last_cut, sorted(chr(c) for c in labels - first)
