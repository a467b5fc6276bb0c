"""What ships with the app: the font covers every screen's text, the APK staging, the icon,
and ``songjiao app`` serving the app (its font and Flutter's fallback slices) with no CDN."""

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import requests
from fontTools.ttLib import TTFont
from PIL import Image

from mobile import fontbuild
from mobile.apk import stage
from mobile.ui import fonts
from shared.messages import ZH_CN
from tests.live import ROOT, free_port

SCREEN_KEYS = ("ui.", "mobile.", "flag.", "kind.", "review.", "purpose.", "mode.", "role.")


@pytest.mark.parametrize("asset", [fonts.FULL, fonts.SUBSET])
def test_the_bundled_fonts_have_every_character_the_screens_use(asset: str) -> None:
    cmap = TTFont(ROOT / "assets" / asset).getBestCmap()
    texts = [v for k, v in ZH_CN.items() if k.startswith(SCREEN_KEYS)]
    missing = {c for text in texts for c in text if ord(c) not in cmap and not c.isspace()}
    assert missing == set()  # a missing glyph renders as a box on a phone with no CJK font


def test_apk_staging_holds_only_the_phone(tmp_path: Path) -> None:
    target = stage(tmp_path / "apk")
    config = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    deps = config["project"]["dependencies"]
    assert "flet==1.0.5" in deps and "flet-geolocator==1.0.5" in deps
    assert not [d for d in deps if d.startswith(("fastapi", "psycopg", "uvicorn", "sqlmodel"))]
    flet = config["tool"]["flet"]
    assert flet["product"] == "送教通"
    assert set(flet["permissions"]) == {"location", "camera", "photo_library"}
    assert (target / "main.py").exists() and (target / "mobile" / "app.py").exists()
    assert (target / "shared" / "messages.py").exists()
    assert not (target / "server").exists() and not (target / "tests").exists()
    assert (target / "assets" / fonts.FULL).exists()  # every ideograph, on the phone too
    assert not (target / "assets" / fonts.SUBSET).exists()
    assert not (target / "assets" / fonts.WEB_FALLBACK).exists()  # web only
    assert not (target / "mobile" / "fontbuild.py").exists()
    with Image.open(target / "assets" / "icon.png") as icon:
        assert icon.size == (1024, 1024)
    compile((target / "main.py").read_text(encoding="utf-8"), "main.py", "exec")


def test_songjiao_app_serves_the_app_without_a_cdn(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SONGJIAO_APP_DATA": str(tmp_path / "data")}
    log = (tmp_path / "app.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "songjiao",
            "app",
            "--port",
            str(port),
            "--server",
            "http://127.0.0.1:9",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        page = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                page = requests.get(base + "/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200, (tmp_path / "app.log").read_text()
        assert "flet.noCdn=true" in page.text  # CanvasKit and fonts come from this process
        font = requests.get(f"{base}/{fonts.FULL}", timeout=10)
        assert font.status_code == 200 and len(font.content) > 10_000_000
        # What Flutter asks for before that font has arrived (fontFallbackBaseUrl=assets/fonts/).
        piece = fontbuild.engine_slices()[37]
        answer = requests.get(f"{base}/assets/fonts/{piece.url}", timeout=10)
        assert answer.status_code == 200 and answer.content[:4] == b"wOF2"
        assert (tmp_path / "data").is_dir()  # the app's data, where it was told
        # ...but no store shared by every browser: each gets its own under devices/<id>/.
        assert not (tmp_path / "data" / "songjiao.db").exists()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
