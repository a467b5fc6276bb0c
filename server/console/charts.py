"""The dashboard's charts as Apache ECharts options, made from the compliance reports.

Every figure drawn is one of the reports' own (server/services/compliance.py, the API's
service), so the charts can never disagree with the table beside them or with
``GET /api/v1/compliance``. The options are plain JSON (no formatter functions): the page
embeds them in ``<script type="application/json">`` blocks and static/charts.js hands them to
the vendored ECharts (static/vendor/echarts/); the console's policy runs no inline script.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain import VisitKind
from shared.messages import t
from shared.protocol import ComplianceReport

OVER, UNDER = "#b3261e", "#2f6fa8"  # console.css: .over, the header's blue
LIGHT = "#9dbbd8"
CHART_HEIGHT = 300  # px; per-instructor bars grow with the number of instructors
BAR_ROW = 32  # px per instructor (two bars)


def _month_label(month: str) -> str:
    return t("dash.month", month=int(month[-2:]))


def _base(title: str, *, legend: bool = True) -> dict[str, Any]:
    option: dict[str, Any] = {
        "title": {"text": title, "left": 0, "top": 0, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 56, "right": 56, "top": 76, "bottom": 48},
        "animation": False,  # drawn at once: print and screenshots show the final state
    }
    if legend:
        option["legend"] = {"top": 32, "left": 0}
    return option


def _district_axis(names: Sequence[str]) -> dict[str, Any]:
    many = len(names) > 8
    return {
        "type": "category",
        "data": list(names),
        "axisLabel": {"interval": 0, "rotate": 40 if many else 0},
    }


def home_delivery(reports: Sequence[ComplianceReport]) -> dict[str, Any]:
    """Each district's home-delivery ratio (percent, 2 places: the API's 4-place ratio exactly)
    against its cap; over the cap in red."""
    ratios = [
        {
            "value": round(r.home_delivery.ratio * 100, 2),
            "itemStyle": {"color": OVER if r.home_delivery.over_cap else UNDER},
        }
        for r in reports
    ]
    caps = [round(r.home_delivery.cap * 100, 2) for r in reports]
    bar: dict[str, Any] = {
        "name": t("dash.chart.cap.ratio"),
        "type": "bar",
        "data": ratios,
        "barMaxWidth": 48,
        # Figures on the bars while they fit; the tooltip shows them either way.
        "label": {"show": len(reports) <= 8, "position": "top", "formatter": "{c}%"},
    }
    series: list[dict[str, Any]] = [bar]
    if len(set(caps)) == 1:  # one cap for all: a line across
        bar["markLine"] = {
            "symbol": "none",
            "lineStyle": {"color": OVER, "type": "dashed"},
            "label": {"formatter": t("dash.chart.cap.cap") + " {c}%", "position": "insideEndTop"},
            "data": [{"yAxis": caps[0], "name": t("dash.chart.cap.cap")}],
        }
    elif caps:  # districts' own caps: a mark on each bar
        series.append(
            {
                "name": t("dash.chart.cap.cap"),
                "type": "scatter",
                "symbol": "rect",
                "symbolSize": [40, 3],
                "itemStyle": {"color": OVER},
                "data": caps,
            }
        )
    option = _base(t("dash.chart.cap.title"), legend=False)
    option |= {
        "xAxis": _district_axis([r.district_name for r in reports]),
        "yAxis": {"type": "value", "axisLabel": {"formatter": "{value}%"}},
        "series": series,
    }
    return option


def sessions_by_month(reports: Sequence[ComplianceReport]) -> dict[str, Any]:
    """Per month, over the districts shown: sessions delivered, sessions the standard owed
    (children × the month's sessions owed each), and children who got what it owed."""
    months = sorted({m for r in reports for m in r.service.required_by_month})
    delivered, owed, meeting = [], [], []
    for m in months:
        delivered.append(sum(r.service.sessions_by_month.get(m, 0) for r in reports))
        owed.append(
            sum(r.service.students * r.service.required_by_month.get(m, 0) for r in reports)
        )
        meeting.append(sum(r.service.students_meeting_by_month.get(m, 0) for r in reports))
    option = _base(t("dash.chart.sessions.title"))
    option |= {
        "xAxis": {"type": "category", "data": [_month_label(m) for m in months]},
        "yAxis": [{"type": "value"}, {"type": "value", "minInterval": 1}],
        "series": [
            {
                "name": t("dash.chart.sessions.delivered"),
                "type": "bar",
                "data": delivered,
                "itemStyle": {"color": UNDER},
                "barMaxWidth": 40,
            },
            {
                "name": t("dash.chart.sessions.owed"),
                "type": "line",
                "data": owed,
                "itemStyle": {"color": OVER},
                "lineStyle": {"type": "dashed"},
            },
            {
                "name": t("dash.chart.sessions.meeting"),
                "type": "line",
                "yAxisIndex": 1,
                "data": meeting,
                "itemStyle": {"color": "#2d6a30"},
            },
        ],
    }
    return option


def instructors(
    reports: Sequence[ComplianceReport], names: Mapping[str, str], *, with_district: bool
) -> tuple[dict[str, Any], int]:
    """(option, height in px): each itinerant instructor's schools and how many are covered."""
    labels, schools, covered = [], [], []
    for r in reports:
        for row in r.itinerant.instructors:
            label = names.get(row.username, row.username)
            labels.append(
                t("console.common.name_code", name=label, code=r.district_name)
                if with_district
                else label
            )
            schools.append(row.schools)
            covered.append(row.covered)
    option = _base(t("dash.chart.instructors.title"))
    option["grid"] = {"left": 8, "right": 40, "top": 68, "bottom": 24}  # labels kept inside
    option |= {
        # The first instructor on top, as in a table.
        "yAxis": {"type": "category", "data": labels, "inverse": True},
        "xAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "name": t("dash.chart.instructors.schools"),
                "type": "bar",
                "data": schools,
                "itemStyle": {"color": LIGHT},
                "barMaxWidth": 16,
            },
            {
                "name": t("dash.chart.instructors.covered"),
                "type": "bar",
                "data": covered,
                "itemStyle": {"color": UNDER},
                "barMaxWidth": 16,
                "label": {"show": True, "position": "right"},
            },
        ],
    }
    return option, max(CHART_HEIGHT, 90 + BAR_ROW * len(labels))


def flagged_by_kind(reports: Sequence[ComplianceReport]) -> dict[str, Any]:
    """Each district's flagged visits of the term, stacked by visit kind."""
    colours = {VisitKind.HOME_TEACHING: "#8a5a00", VisitKind.ITINERANT: "#e0b04a"}
    option = _base(t("dash.chart.flags.title"))
    option |= {
        "xAxis": _district_axis([r.district_name for r in reports]),
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "name": t(f"kind.{kind}"),
                "type": "bar",
                "stack": "flagged",
                "barMaxWidth": 48,
                "itemStyle": {"color": colours[kind]},
                "data": [r.visits.by_kind[kind].flagged for r in reports],
            }
            for kind in VisitKind
        ],
    }
    return option


def dashboard(
    reports: Sequence[ComplianceReport], instructor_names: Mapping[str, str], *, admin: bool
) -> list[dict[str, Any]]:
    """The dashboard's charts, in page order: ``{"id", "height", "wide", "option"}`` each
    (a wide one takes a row of its own: the per-instructor bars grow with the instructors)."""
    instructor_option, instructor_height = instructors(
        reports, instructor_names, with_district=admin
    )
    return [
        _chart("chart-home-delivery", home_delivery(reports)),
        _chart("chart-sessions", sessions_by_month(reports)),
        _chart("chart-flags", flagged_by_kind(reports)),
        _chart(
            "chart-instructors",
            instructor_option,
            height=instructor_height,
            wide=instructor_height > CHART_HEIGHT,
        ),
    ]


def _chart(
    chart_id: str, option: dict[str, Any], *, height: int = CHART_HEIGHT, wide: bool = False
) -> dict[str, Any]:
    return {"id": chart_id, "height": height, "wide": wide, "option": option}
