"""The coordinator's dashboard and district page in a real browser, on the demo data: the charts
are drawn and show the compliance API's figures, the district page leads with the children
behind, another district's page is 404, a 5,000-character filter does not stretch the page,
and on a machine with no Chinese font the console's web font draws the text."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from server.demo.roster import PASSWORD
from tests.browser.conftest import ARGS, CHROMIUM
from tests.live import LiveServer, create_database, free_port

TERM = "2025-1"  # the demo in full (tests pin SONGJIAO_DEMO_TODAY to 2026-02-01)
DISTRICT, OTHER = "330127", "330102"
COORDINATOR = f"c_{DISTRICT}"
# fontconfig with Latin fonts only: the browser then has no Chinese system font at all.
LATIN_ONLY = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{cache}</cachedir></fontconfig>
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("console-demo")
    live = LiveServer(
        backend="sqlite",
        database_url=create_database("sqlite", workdir),
        media_dir=workdir / "media",
        port=free_port(),
        log_path=workdir / "server.log",
    )
    loaded = live.cli("demo")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _api_reports(server: LiveServer) -> dict[str, dict[str, Any]]:
    login = requests.post(
        f"{server.api}/auth/login",
        json={"username": COORDINATOR, "password": PASSWORD, "device_name": "浏览器测试"},
        timeout=60,
    )
    login.raise_for_status()
    body = requests.get(
        f"{server.api}/compliance",
        params={"term": TERM},
        headers={"Authorization": f"Bearer {login.json()['token']}"},
        timeout=60,
    ).json()
    return {r["district_code"]: r for r in body["districts"]}


def _sign_in(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", COORDINATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard**")


def _drawn(page: Any) -> dict[str, list[list[Any]]]:
    """Each drawn chart's series data, read back from ECharts itself."""
    page.wait_for_function("document.querySelectorAll('.chart.drawn').length === 4")
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.chart.drawn')].map(el => [
             el.dataset.chart,
             echarts.getInstanceByDom(el).getOption().series.map(s =>
               s.data.map(d => (d !== null && typeof d === 'object') ? d.value : d))]))"""
    )


def _font_requests(page: Any) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    page.on(
        "response",
        lambda r: seen.append((r.url, r.status)) if r.url.endswith(".woff2") else None,
    )
    return seen


def test_dashboard_charts_match_the_api_and_district_page_leads_with_children_behind(
    browser: Any, demo: LiveServer, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Script errors and refused scripts or styles (the console's CSP); a missing favicon and
    # the error pages' own statuses are "Failed to load resource" and no fault of the page.
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    fonts = _font_requests(page)
    try:
        _sign_in(page, demo)
        page.goto(f"{demo.url}/dashboard?term={TERM}")
        drawn = _drawn(page)
        page.screenshot(path=artifacts / "dashboard.png", full_page=True)
        report = _api_reports(demo)[DISTRICT]
        hd, svc, it, kinds = (
            report["home_delivery"],
            report["service"],
            report["itinerant"],
            report["visits"]["by_kind"],
        )
        months = sorted(svc["required_by_month"])
        assert drawn["chart-home-delivery"] == [[round(hd["ratio"] * 100, 2)]]
        assert drawn["chart-sessions"] == [
            [svc["sessions_by_month"][m] for m in months],
            [svc["students"] * svc["required_by_month"][m] for m in months],
            [svc["students_meeting_by_month"][m] for m in months],
        ]
        assert drawn["chart-instructors"] == [
            [r["schools"] for r in it["instructors"]],
            [r["covered"] for r in it["instructors"]],
        ]
        assert drawn["chart-flags"] == [
            [kinds["home_teaching"]["flagged"]],
            [kinds["itinerant"]["flagged"]],
        ]
        assert sum(drawn["chart-sessions"][0]) > 0 and hd["over_cap"]  # the demo's 淳安 is over
        # The charts' text is drawn (SVG) and the table beside them says the same.
        svg_text = page.locator("#chart-home-delivery-box svg").text_content() or ""
        assert "淳安县" in svg_text and "上限" in svg_text
        row = page.locator("table.grid tbody tr").first.inner_text()
        assert f"{hd['count']}/{hd['total']}" in row
        assert f"{it['schools_covered']}/{it['schools_in_scope']}" in row

        response = page.goto(f"{demo.url}/districts/{DISTRICT}?term={TERM}")
        assert response is not None and response.status == 200
        page.screenshot(path=artifacts / "district.png", full_page=True)
        rows = page.locator("#children-months tbody tr")
        behind = {
            rows.nth(i).get_attribute("data-student")
            for i in range(rows.count())
            if "behind" in (rows.nth(i).get_attribute("class") or "")
        }
        assert behind == set(svc["underserved_student_ids"]) and behind
        assert "behind" in (rows.first.get_attribute("class") or "")
        schools = page.locator("#schools tbody tr")
        assert schools.count() == it["schools_in_scope"]
        assert schools.first.get_attribute("data-school") in it["uncovered_school_ids"]

        response = page.goto(f"{demo.url}/districts/{OTHER}?term={TERM}")
        assert response is not None and response.status == 404
        assert page.get_by_text("未找到").first.is_visible()
        page.screenshot(path=artifacts / "other-district-404.png")

        for path in (f"/dashboard?term={'区' * 5000}", f"/districts/{'区' * 5000}"):
            page.goto(demo.url + path)
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], (path[:20], widths)
        page.screenshot(path=artifacts / "long-filter.png")
        assert errors == []
        assert fonts == [], fonts  # this machine has Chinese fonts: the web font is never fetched
    finally:
        context.close()


def test_without_chinese_system_fonts_the_console_font_draws_the_text(
    browser: Any, demo: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    config = tmp_path / "fonts.conf"
    config.write_text(LATIN_ONLY.format(cache=tmp_path / "fc-cache"))
    bare = browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=ARGS, env={**os.environ, "FONTCONFIG_FILE": str(config)}
    )
    try:
        page = bare.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        fonts = _font_requests(page)
        _sign_in(page, demo)
        page.goto(f"{demo.url}/dashboard?term={TERM}")
        _drawn(page)
        page.evaluate("document.fonts.ready")
        page.wait_for_timeout(300)
        page.screenshot(path=artifacts / "dashboard-no-system-cjk-font.png", full_page=True)
        loaded = page.evaluate(
            """() => [...document.fonts].filter(f => f.family.includes('SongJiao Console Sans')
                                                     && f.status === 'loaded').length"""
        )
        assert loaded >= 1
        assert fonts and all(status == 200 for _, status in fonts), fonts
        assert any(url.endswith("console-sans-0.woff2") for url, _ in fonts)
    finally:
        bare.close()
