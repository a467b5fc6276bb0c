"""The dashboard's charts and the district page through real HTTP: their figures are the
compliance API's, the children behind and the schools uncovered come first, another
district answers 404, and long input is refused without being echoed."""

import hashlib
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from server.console.web import STATIC
from tests.conftest import World
from tests.factories import Factory, home_visit, itinerant_visit, upsert
from tests.live import LiveServer
from tests.server.test_console import Console

TERM = {"term": "2025-1"}


@pytest.fixture
def coord(world: World, server: LiveServer) -> Console:
    console = Console(server)
    assert console.login(world.coordinator).status_code == 200
    return console


CHART = re.compile(r'<script type="application/json" id="(chart-[a-z-]+)">(.*?)</script>', re.S)


def charts_of(html: str) -> dict[str, dict[str, Any]]:
    return {name: json.loads(body)["option"] for name, body in CHART.findall(html)}


class Rows(HTMLParser):
    """The rows of the table with ``id``: each row's attributes and its cells' text."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows = table_id, False, []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.rows.append({"attrs": a, "cells": []})
        elif self.inside and tag in ("td", "th") and self.rows:
            self.cell = []
            self.rows[-1]["cells"].append((a.get("class") or "", self.cell))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.cell is not None:
            self.cell.append(data)


def rows_of(html: str, table_id: str) -> list[dict[str, Any]]:
    parser = Rows(table_id)
    parser.feed(html)
    return [
        {
            "attrs": row["attrs"],
            "cells": [(cls, "".join(text).strip()) for cls, text in row["cells"]],
        }
        for row in parser.rows
    ]


def _at(month: int, day: int, hour: int = 1) -> datetime:
    year = 2025 if month >= 9 else 2026
    return datetime(year, month, day, hour, tzinfo=UTC)


def _push(client: Any, record: dict[str, Any]) -> None:
    (result,) = client.push(upsert(record))
    assert result["status"] == "applied", result


def test_dashboard_charts_draw_the_compliance_apis_figures(world: World, coord: Console) -> None:
    for day in (6, 13, 20, 27):  # October: four sessions, one of them short
        _push(
            world.t, home_visit(world.student, start=_at(10, day), minutes=25 if day == 27 else 70)
        )
    _push(world.i, itinerant_visit(world.school, start=_at(11, 4)))
    page = coord.get("/dashboard", params=TERM)
    assert page.status_code == 200
    assert "/console/static/vendor/echarts/echarts.min.js" in page.text
    charts = charts_of(page.text)
    assert set(charts) == {
        "chart-home-delivery",
        "chart-sessions",
        "chart-instructors",
        "chart-flags",
    }
    (report,) = world.c.get("/compliance", params=TERM).json()["districts"]
    hd, svc, it = report["home_delivery"], report["service"], report["itinerant"]

    ratio = charts["chart-home-delivery"]
    assert ratio["xAxis"]["data"] == [report["district_name"]]
    assert [d["value"] for d in ratio["series"][0]["data"]] == [round(hd["ratio"] * 100, 2)]
    assert ratio["series"][0]["markLine"]["data"][0]["yAxis"] == round(hd["cap"] * 100, 2)

    sessions = charts["chart-sessions"]
    months = sorted(svc["required_by_month"])
    assert sessions["xAxis"]["data"] == [f"{int(m[-2:])}月" for m in months]
    delivered, owed, meeting = (s["data"] for s in sessions["series"])
    assert delivered == [svc["sessions_by_month"][m] for m in months]
    assert owed == [svc["students"] * svc["required_by_month"][m] for m in months]
    assert meeting == [svc["students_meeting_by_month"][m] for m in months]
    # What was pushed: three full sessions in October (the short one does not count).
    assert (
        svc["sessions_by_month"]["202510"] == 3 and svc["students_meeting_by_month"]["202510"] == 0
    )

    instructors = charts["chart-instructors"]
    assert [s["data"] for s in instructors["series"]] == [
        [r["schools"] for r in it["instructors"]],
        [r["covered"] for r in it["instructors"]],
    ]
    assert instructors["yAxis"]["data"] == ["测试itinerant"]  # names, not usernames

    flags = charts["chart-flags"]
    kinds = report["visits"]["by_kind"]
    assert [s["name"] for s in flags["series"]] == ["送教上门", "巡回指导"]
    assert [s["data"] for s in flags["series"]] == [
        [kinds["home_teaching"]["flagged"]],
        [kinds["itinerant"]["flagged"]],
    ]
    assert kinds["home_teaching"]["total"] == 4 and kinds["itinerant"]["total"] == 1
    assert report["visits"]["flagged"] == sum(k["flagged"] for k in kinds.values())
    # The table beside the charts: all five visits await review (read by ix_visit_pending).
    assert f'district={world.district}&amp;status=pending">5</a>' in page.text


def test_district_page_puts_children_behind_and_uncovered_schools_first(
    world: World, factory: Factory, coord: Console
) -> None:
    behind_most = factory.student(world.district, world.special_school, name="李落后")
    covered_school = factory.school(world.district, name="已覆盖学校")
    factory.student(world.district, covered_school, placement="regular_class")
    factory.assign(world.itinerant, school=covered_school, district=world.district)
    for day in (6, 13, 20, 27):
        _push(world.t, home_visit(world.student, start=_at(10, day)))
    for day in (4, 18):
        _push(world.i, itinerant_visit(covered_school, start=_at(11, day)))

    page = coord.get(f"/districts/{world.district}", params=TERM)
    assert page.status_code == 200
    children = rows_of(page.text, "children-months")
    header, first, second = children[0], children[1], children[2]
    assert [text for _, text in header["cells"]][1:3] == ["2025年9月", "2025年10月"]
    assert first["attrs"]["data-student"] == behind_most  # five months behind, before four
    assert second["attrs"]["data-student"] == world.student
    october = second["cells"][2]
    assert october == ("num met", "4/4")
    assert first["cells"][2] == ("num behind", "0/4")
    assert first["cells"][-1][1] == "5" and second["cells"][-1][1] == "4"
    assert "13800000000" not in page.text and "某村" not in page.text  # names only

    schools = [r for r in rows_of(page.text, "schools") if "data-school" in r["attrs"]]
    assert [r["attrs"]["data-school"] for r in schools] == [world.school, covered_school]
    assert schools[0]["cells"][1][1] == "0/2 次" and schools[1]["cells"][1][1] == "2/2 次"
    assert schools[0]["cells"][3][1] == "测试itinerant"

    (instructor,) = [
        r for r in rows_of(page.text, "instructors") if "data-instructor" in r["attrs"]
    ]
    assert [text for _, text in instructor["cells"][1:4]] == ["2", "1", "50.0%"]

    placements = {
        r["attrs"]["data-placement"]: [text for _, text in r["cells"][1:]]
        for r in rows_of(page.text, "placements")
        if "data-placement" in r["attrs"]
    }
    # 学前, 义务教育, 高中, 合计: two children at home, two in ordinary classes.
    assert placements["home_delivery"] == ["0", "2", "0", "2"]
    assert placements["regular_class"] == ["0", "2", "0", "2"]

    flags = {
        r["attrs"]["data-flag"]: [text for _, text in r["cells"][1:]]
        for r in rows_of(page.text, "flags")
        if "data-flag" in r["attrs"]
    }
    assert flags["no_photo"] == ["4", "2", "6"]  # 送教上门, 巡回指导, 合计


def test_another_districts_page_is_404_and_long_input_is_not_echoed(
    world: World, factory: Factory, coord: Console
) -> None:
    other = factory.district(name="外区")
    assert coord.get(f"/districts/{other}", params=TERM).status_code == 404
    long = "区" * 5000
    for path, params, status in (
        ("/dashboard", {"term": long}, 400),
        (f"/districts/{world.district}", {"term": long}, 400),
        (f"/districts/{long}", TERM, 404),
    ):
        response = coord.get(path, params=params)
        assert response.status_code == status, path[:40]
        assert long not in response.text and "区" * 50 not in response.text


def test_vendored_echarts_and_the_console_font_are_served_from_here(coord: Console) -> None:
    vendor = STATIC / "vendor" / "echarts"
    note = (vendor / "VERSION.md").read_text()
    assert "echarts@6.1.0" in note
    served = coord.get("/console/static/vendor/echarts/echarts.min.js")
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() in note  # the pinned build, unchanged
    assert b'"6.1.0"' in served.content
    for licence in ("LICENSE", "NOTICE", "LICENSE-d3", "LICENSE-zrender"):
        assert coord.get(f"/console/static/vendor/echarts/{licence}").status_code == 200
    css = coord.get("/console/static/console.css").text
    assert '@import url("fonts/fonts.css")' in css
    for family in ("Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei"):
        assert f'"{family}"' in css
    assert css.index('"Microsoft YaHei"') < css.index('"SongJiao Console Sans"')  # last resort
    faces = coord.get("/console/static/fonts/fonts.css").text
    slices = re.findall(r'url\("([^"]+\.woff2)"\)', faces)
    assert len(slices) == len(list((STATIC / "fonts").glob("*.woff2"))) > 1
    for name in slices:
        font = coord.get(f"/console/static/fonts/{name}")
        assert font.status_code == 200 and font.content[:4] == b"wOF2", name
    assert Path(STATIC / "fonts" / "LICENSE.txt").read_text().startswith("Format:")
