"""Regenerate assets/fonts/NotoSansSC-Subset.otf: Noto Sans CJK SC (SIL OFL, from Debian's
fonts-noto-cjk) cut to ASCII, GB2312 and every CJK character in this repository, so the field app
renders Chinese offline without a multi-megabyte download.

    apt-get install fonts-noto-cjk && pip install fonttools==4.62.1
    python scripts/subset_font.py
"""

import contextlib
import pathlib
import re

from fontTools import subset
from fontTools.ttLib import TTCollection

ttc = TTCollection("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
idx = next(i for i, f in enumerate(ttc.fonts) if "SC" in f["name"].getDebugName(1))
print("SC index", idx, ttc.fonts[idx]["name"].getDebugName(4))
chars = set(chr(c) for c in range(0x20, 0x7F))
for hi in range(0xA1, 0xF8):
    for lo in range(0xA1, 0xFF):
        with contextlib.suppress(UnicodeDecodeError):
            chars.add(bytes([hi, lo]).decode("gb2312"))
chars |= set("（）【】《》“”‘’、。，：；！？…—·￥％＋－×÷≥≤≠℃")
for p in pathlib.Path(".").rglob("*"):
    if p.suffix in {".py", ".html", ".md"} and ".venv" not in p.parts:
        chars |= set(re.findall(r"[\u3000-\u9fff\uff00-\uffef]", p.read_text(errors="ignore")))
print(len(chars), "chars")
opts = subset.Options()
opts.font_number = idx
opts.layout_features = ["*"]
opts.name_IDs = ["*"]
opts.notdef_outline = True
font = subset.load_font("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", opts)
s = subset.Subsetter(opts)
s.populate(text="".join(chars))
s.subset(font)
subset.save_font(font, "assets/fonts/NotoSansSC-Subset.otf", opts)
print(pathlib.Path("assets/fonts/NotoSansSC-Subset.otf").stat().st_size)
