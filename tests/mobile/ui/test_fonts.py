"""The fonts the app ships (mobile.fontbuild, docs/fonts.md): every CJK ideograph Noto Sans CJK SC
has in U+4E00–U+9FEF and Extension A is in the app's font, and Flutter web's fallback slices hold
what the engine fetches them for. Run ``python -m mobile.fontbuild`` (set-up does) first."""

from pathlib import Path

import pytest
from fontTools.ttLib import TTCollection, TTFont

from mobile import fontbuild
from mobile.ui import fonts

FULL = fonts.ASSETS / fonts.FULL
NAMES = "李梓玥王喆张堃陈璟刘珺赵昇孙甡周犇"


@pytest.fixture(scope="module")
def cmap() -> dict[int, str]:
    assert FULL.exists(), "run python -m mobile.fontbuild (scripts/test does)"
    return TTFont(FULL).getBestCmap()


def _ideographs() -> set[int]:
    return {c for block in fontbuild.IDEOGRAPHS for c in block}


def test_the_app_font_has_every_ideograph_of_the_two_blocks(cmap: dict[int, str]) -> None:
    missing = sorted(c for c in _ideographs() if c not in cmap)
    assert missing == [], [f"U+{c:04X}" for c in missing[:20]]
    assert ".notdef" not in {cmap[c] for c in _ideographs()}
    assert len(_ideographs()) == 20_976 + 6_582


@pytest.mark.skipif(not fontbuild.SOURCE.exists(), reason="Debian's fonts-noto-cjk not installed")
def test_the_source_sc_face_has_them_all_too() -> None:
    """The requirement is 'every ideograph the SC face covers': here that is both blocks whole."""
    faces = TTCollection(str(fontbuild.SOURCE), lazy=True).fonts
    face = next(f for f in faces if f["name"].getDebugName(4) == fontbuild.SC_FACE)
    assert _ideographs() <= set(face.getBestCmap())


def test_the_web_app_loads_the_full_font_once_it_is_made() -> None:
    assert fonts.asset() == fonts.FULL


def test_a_machine_without_it_falls_back_to_the_gb2312_subset(tmp_path: Path) -> None:
    (tmp_path / fonts.SUBSET).parent.mkdir(parents=True)
    (tmp_path / fonts.SUBSET).write_bytes(b"")
    assert fonts.asset(tmp_path) == fonts.SUBSET


def test_flutters_slices_hold_what_the_engine_fetches_them_for(cmap: dict[int, str]) -> None:
    slices = fontbuild.engine_slices()
    assert len(slices) == 101  # Noto Sans SC as the pinned flet-web's engine knows it
    for piece in slices:
        path = fonts.ASSETS / fonts.WEB_FALLBACK / piece.url
        assert path.exists(), path
        held = set(TTFont(path).getBestCmap())
        assert held >= piece.code_points & set(cmap), piece.name  # (closure may add a few)


def test_the_slices_reach_only_part_of_the_ideographs_so_the_full_font_is_needed() -> None:
    """Why the slices alone cannot do (docs/fonts.md): thousands of ideographs are in none."""
    sliced = set().union(*(piece.code_points for piece in fontbuild.engine_slices()))
    unreachable = _ideographs() - sliced
    assert len(unreachable) > 9_000
    assert {c for c in NAMES if ord(c) not in sliced} == set()  # the roster's are in slices
