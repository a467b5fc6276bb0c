"""Which Chinese font the app uses (how they are made and why: mobile/fontbuild.py, docs/fonts.md).

- ``FULL``: every ideograph Noto Sans CJK SC has in U+4E00–U+9FEF and U+3400–U+4DB5 (rare
  characters of children's names: 玥 喆 堃 璟 珺), made at setup. A built APK always has it
  (``python -m mobile.apk`` refuses to stage without it).
- ``SUBSET``: the committed GB2312 cut, used only until ``FULL`` has been made (the web app on a
  machine where the set-up could not install Debian's font): rare characters are boxes then.
- ``WEB_FALLBACK``: Flutter web's fallback slices, which the web page fetches for the text on
  screen before ``FULL`` has arrived (not shipped in the APK, where nothing asks for them).
"""

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets"
FAMILY = "NotoSansSC"
FULL = "fonts/NotoSansSC-CJK.otf"
SUBSET = "fonts/NotoSansSC-Subset.otf"
WEB_FALLBACK = "assets/fonts"  # below ASSETS: the page's fontFallbackBaseUrl is assets/fonts/


def asset(assets: Path | None = None) -> str:
    """The font to load from ``assets`` (``ASSETS``): ``FULL`` once made; ``SUBSET`` while only
    it is there. Where neither is visible to Python (a built app may keep its assets in the
    Flutter bundle) ``FULL``, which the APK staging guarantees."""
    assets = assets or ASSETS
    if (assets / FULL).exists() or not (assets / SUBSET).exists():
        return FULL
    return SUBSET
