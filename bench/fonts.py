"""The field app's first screen in Debian's chromium, with each way of shipping the CJK font.

Run: ``.venv/bin/python bench/fonts.py [--runs 3] [--woff2]`` after ``python -m mobile.fontbuild``.
Figures and the choice they led to: docs/fonts.md.

Each variant is an assets directory made from the built fonts and served by the real app
(``python -m mobile.app``, no CDN): ``subset`` (the GB2312 cut alone, as before), ``subset+slices``
(plus Flutter's fallback slices, served locally), ``full`` (the whole-ideograph font alone),
``full+slices`` (what ships), and with ``--woff2`` ``full.woff2+slices`` (the full font
compressed as WOFF2, about 70 s to make). A fresh browser context (no cache) opens the sign-in
screen, at loopback speed and at 40 Mbit/s with 20 ms latency (Chromium's network emulation).

Measured per load, median of ``--runs``:
- ``title``: seconds until the screen's title 登录送教通 is drawn as it finally is (each frame
  screenshotted, the title's box compared with the settled screen's): Chinese, not boxes.
- ``font``: seconds until the app's own font has arrived (its request finished).
- ``MB``: bytes transferred in all, and of them fonts; ``404``: requests answered 404.
"""

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import free_port, machine
from PIL import Image, ImageChops
from playwright.sync_api import Error as PlaywrightError

from mobile.ui import fonts

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
TITLE = "登录送教通"
NETWORKS = {"loopback": None, "40 Mbit/s": (40e6, 20)}
SETTLE_S = 1.5  # no new response for this long: the load is over
LIMIT_S = 60.0
WRAPPER = (
    "import sys; from pathlib import Path; from mobile.ui import fonts; "
    "fonts.ASSETS = Path(sys.argv[1]); import mobile.app as app; app.ASSETS = fonts.ASSETS; "
    "sys.exit(app.cli(sys.argv[2:]))"
)


@dataclass
class Load:
    title_s: float
    font_s: float
    total_bytes: int
    font_bytes: int
    not_found: int


@dataclass
class Variant:
    name: str
    files: dict[str, Path]  # relative path in the assets directory -> source
    loads: dict[str, list[Load]] = field(default_factory=dict)


def variants(woff2: Path | None) -> list[Variant]:
    subset = {fonts.SUBSET: fonts.ASSETS / fonts.SUBSET}
    full = {fonts.FULL: fonts.ASSETS / fonts.FULL}
    slices = {fonts.WEB_FALLBACK: fonts.ASSETS / fonts.WEB_FALLBACK}
    found = [
        Variant("subset", subset),
        Variant("subset+slices", subset | slices),
        Variant("full", full),
        Variant("full+slices", full | slices),
    ]
    if woff2:
        # Flutter reads the font's bytes, not its name: the WOFF2 under the OTF's name.
        found.append(Variant("full.woff2+slices", {fonts.FULL: woff2} | slices))
    return found


def make_assets(variant: Variant, root: Path) -> Path:
    assets = root / variant.name
    for relative, source in variant.files.items():
        target = assets / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():  # copies: Flet's static files refuse symbolic links
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    shutil.copy(fonts.ASSETS / "icon.png", assets / "icon.png")
    return assets


def start_app(assets: Path, port: int, log: Path) -> subprocess.Popen:
    import requests

    env = {**os.environ, "SONGJIAO_APP_DATA": str(assets.parent / f"data-{port}")}
    cmd = [sys.executable, "-c", WRAPPER, str(assets), "--port", str(port)]
    cmd += ["--server", "http://127.0.0.1:9"]
    process = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the app did not start: {log.read_text()[-2000:]}")


def load_once(browser, url: str, network: tuple[float, int] | None, font_path: str) -> Load:
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if network:
        bits, latency = network
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": latency,
                "downloadThroughput": bits / 8,
                "uploadThroughput": bits / 8,
            },
        )
    t0 = time.monotonic()
    last = [t0]
    sizes: dict[str, int] = {}
    font_done = [0.0]
    not_found = [0]

    def finished(request) -> None:
        last[0] = time.monotonic()
        body = max(request.sizes()["responseBodySize"], 0)
        sizes[request.url] = sizes.get(request.url, 0) + body
        if request.url.endswith(font_path):
            font_done[0] = last[0] - t0

    def response(resp) -> None:
        if resp.status == 404:
            not_found[0] += 1

    page.on("requestfinished", finished)
    page.on("response", response)
    page.goto(url, wait_until="commit")
    frames: list[tuple[float, bytes]] = []
    while time.monotonic() - t0 < LIMIT_S:
        at = time.monotonic() - t0
        # A screenshot was seen to fail while the page decodes a large font: the next frame.
        with contextlib.suppress(PlaywrightError):
            frames.append((at, page.screenshot(timeout=10_000)))
        if font_done[0] and time.monotonic() - last[0] > SETTLE_S:
            break
    page.locator("flt-semantics-placeholder").evaluate("e => e.click()")
    box = page.get_by_text(TITLE).first.bounding_box(timeout=20_000)
    final = Image.open(io.BytesIO(page.screenshot()))
    crop = (
        int(box["x"]),
        int(box["y"]),
        int(box["x"] + box["width"]),
        int(box["y"] + box["height"]),
    )
    want = final.crop(crop).convert("RGB")
    title_s = next(
        (
            at
            for at, png in frames
            if not ImageChops.difference(
                Image.open(io.BytesIO(png)).crop(crop).convert("RGB"), want
            ).getbbox()
        ),
        float("nan"),
    )
    context.close()
    font_bytes = sum(n for u, n in sizes.items() if "/fonts/" in u)
    return Load(title_s, font_done[0], sum(sizes.values()), font_bytes, not_found[0])


def _median(loads: list[Load], name: str) -> float:
    return statistics.median(getattr(load, name) for load in loads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--woff2", action="store_true")
    args = parser.parse_args()
    if not (fonts.ASSETS / fonts.FULL).exists():
        print("run .venv/bin/python -m mobile.fontbuild first", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-fonts-"))
    try:
        woff2 = None
        if args.woff2:
            woff2 = work / "full.woff2"
            from fontTools.ttLib import TTFont

            font = TTFont(fonts.ASSETS / fonts.FULL)
            font.flavor = "woff2"
            font.save(woff2)
        found = variants(woff2)
        print(machine())
        for name, path in [
            ("full OTF", fonts.ASSETS / fonts.FULL),
            ("GB2312 OTF", fonts.ASSETS / fonts.SUBSET),
        ] + ([("full WOFF2", woff2)] if woff2 else []):
            print(f"{name}: {path.stat().st_size / 1e6:.2f} MB")
        slices = list((fonts.ASSETS / fonts.WEB_FALLBACK).rglob("*.woff2"))
        slice_mb = sum(p.stat().st_size for p in slices) / 1e6
        print(f"fallback slices: {len(slices)} files, {slice_mb:.2f} MB")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            for variant in found:
                port = free_port()
                app = start_app(make_assets(variant, work), port, work / "app.log")
                try:
                    for network_name, network in NETWORKS.items():
                        variant.loads[network_name] = [
                            load_once(
                                browser,
                                f"http://127.0.0.1:{port}/",
                                network,
                                fonts.asset(work / variant.name),
                            )
                            for _ in range(args.runs)
                        ]
                finally:
                    app.terminate()
                    app.wait(timeout=20)
            browser.close()
        print()
        print("| variant | network | title s | font s | MB in all | font MB | 404 |")
        print("|---|---|---|---|---|---|---|")
        for variant in found:
            for network_name, loads in variant.loads.items():
                title, font = _median(loads, "title_s"), _median(loads, "font_s")
                total, font_mb = (
                    _median(loads, "total_bytes") / 1e6,
                    _median(loads, "font_bytes") / 1e6,
                )
                print(
                    f"| {variant.name} | {network_name} | {title:.2f} | {font:.2f} "
                    f"| {total:.1f} | {font_mb:.1f} | {_median(loads, 'not_found'):.0f} |"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
