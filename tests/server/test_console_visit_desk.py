"""The coordinator's visit desk through real HTTP: the log's filters and pages, bad filters, each
flag explained with its numbers, the change history, bulk review with conflicts, CSRF, and the
decisions reaching the teacher's phone through its pull."""

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlmodel import col, select

from server.models import AuditLog, Visit, VisitVersion
from shared.messages import t
from shared.terms import SHANGHAI
from shared.travel import distance_m
from tests.conftest import World
from tests.factories import Factory, home_visit, upsert
from tests.live import Client, LiveServer
from tests.server.test_console import Console, forms_of

_VISIT_LINK = re.compile(r'href="/visits/([0-9a-f-]{36})"')
_PICK = re.compile(r'name="pick" value="([0-9a-f-]{36}):(\d+)"')


@pytest.fixture
def coord(world: World, server: LiveServer) -> Console:
    console = Console(server)
    assert console.login(world.coordinator).status_code == 200
    return console


def _listed(coord: Console, **params: str) -> list[str]:
    response = coord.get("/visits", params=params)
    assert response.status_code == 200, response.text[:500]
    return list(dict.fromkeys(_VISIT_LINK.findall(response.text)))


def _post(
    coord: Console, path: str, data: dict[str, Any], *, csrf: bool = True
) -> requests.Response:
    """A form post whose fields may repeat (a list value: ticked boxes)."""
    body = {**data, "csrf_token": coord.token} if csrf else data
    return coord.http.post(coord.server.url + path, data=body, timeout=60)


def _push(client: Client, *records: dict[str, Any]) -> None:
    results = client.push(*(upsert(r) for r in records))
    assert [r["status"] for r in results] == ["applied"] * len(records), results


def _visit(factory: Factory, visit_id: str) -> Visit:
    with factory.session() as s:
        visit = s.get(Visit, visit_id)
        assert visit is not None
        return visit


def _day(days_ago: int, hour: int = 9) -> datetime:
    """A local morning ``days_ago`` days back, as aware UTC."""
    local = datetime.now(SHANGHAI).replace(hour=hour, minute=0, second=0, microsecond=0)
    return (local - timedelta(days=days_ago)).astimezone(UTC)


def _text(page: str) -> str:
    """The page's visible text, tags removed and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _pull_visits(client: Client, cursor: str | None = None) -> tuple[dict[str, dict], str]:
    records: dict[str, dict] = {}
    for _ in range(100):
        body = client.get("/sync/pull", params={"cursor": cursor} if cursor else {}).json()
        for change in body["changes"]:
            if change["entity"] == "visit":
                records[change["id"]] = change["record"]
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert cursor is not None
    return records, cursor


# -- the log ------------------------------------------------------------------------------------


def test_log_filters_by_dates_child_school_teacher_kind_flag_status_and_text(
    world: World, factory: Factory, coord: Console
) -> None:
    other_child = factory.student(world.district, world.special_school, name="李小宝")
    factory.assign(world.teacher, student=other_child, district=world.district)
    early = home_visit(world.student, start=_day(6), content="认识形状：圆形")
    late = home_visit(other_child, start=_day(2), minutes=20, content="练习握笔")
    school = dict(_school_visit(world), started_at=_day(3).isoformat())
    school["ended_at"] = (_day(3) + timedelta(minutes=90)).isoformat()
    _push(world.t, early, late)
    _push(world.i, school)
    ours = {early["id"], late["id"], school["id"]}
    window = {"from": _day(7).astimezone(SHANGHAI).date().isoformat()}

    def listed(**params: str) -> set[str]:
        return set(_listed(coord, **window, **params)) & ours

    assert listed() == ours
    assert listed(to=_day(4).astimezone(SHANGHAI).date().isoformat()) == {early["id"]}
    assert listed(student="李小宝") == {late["id"]}
    assert listed(student=world.student) == {early["id"]}
    assert listed(school=world.school) == {school["id"]}
    # A school filter finds the home visits of the children registered at that school too.
    assert listed(school=world.special_school) == {early["id"], late["id"]}
    assert listed(teacher=world.itinerant) == {school["id"]}
    assert listed(kind="home_teaching") == {early["id"], late["id"]}
    assert listed(flag="short_duration") == {late["id"]}
    assert late["id"] in listed(flag="any") and early["id"] in listed(flag="no_photo")
    assert listed(q="握笔") == {late["id"]}
    assert listed(q="李小宝") == {late["id"]}
    assert listed(q=early["id"]) == {early["id"]}
    assert listed(q="100%_") == set()  # LIKE wildcards are text, not patterns
    assert listed(status="approved") == set()


def _school_visit(world: World) -> dict[str, Any]:
    from tests.factories import itinerant_visit

    return itinerant_visit(world.school)


def test_log_pages_with_numbers_and_a_total(world: World, coord: Console) -> None:
    start = _day(20)
    records = [
        home_visit(world.student, start=start + timedelta(hours=2 * n), minutes=70)
        for n in range(53)
    ]
    _push(world.t, *records)
    params = {"teacher": world.teacher, "from": start.astimezone(SHANGHAI).date().isoformat()}
    first = coord.get("/visits", params=params)
    assert "共 53 条" in first.text and "第 1/2 页" in first.text
    assert len(set(_VISIT_LINK.findall(first.text))) == 50
    assert re.search(r'<strong aria-current="page">1</strong>', first.text)
    second_link = re.search(r'href="/visits\?([^"]*page=2[^"]*)"', first.text)
    assert second_link is not None
    second = coord.get("/visits?" + html.unescape(second_link.group(1)))
    assert "第 2/2 页" in second.text
    page_two = set(_VISIT_LINK.findall(second.text))
    assert len(page_two) == 3 and not page_two & set(_VISIT_LINK.findall(first.text))
    # A page past the end shows the last one; a silly page number is page 1.
    assert "第 2/2 页" in coord.get("/visits", params={**params, "page": "999"}).text
    assert "第 1/2 页" in coord.get("/visits", params={**params, "page": "-3"}).text


@pytest.mark.parametrize(
    "name", ["teacher", "student", "school", "q", "from", "to", "kind", "flag", "status", "term"]
)
def test_a_5000_character_filter_is_refused_in_chinese_and_never_shown(
    name: str, coord: Console
) -> None:
    long = "长" * 5000
    response = coord.get("/visits", params={name: long})
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert "筛选条件过长" in response.text
    assert long[:200] not in response.text  # neither an option nor a value in the filter bar
    assert len(response.text) < 60_000


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "walking"}, "“类型”筛选条件无效"),
        ({"flag": "drunk"}, "“证据标记”筛选条件无效"),
        ({"status": "maybe"}, "“审核状态”筛选条件无效"),
        ({"from": "2025-13-01"}, "“开始日期”应为 YYYY-MM-DD"),
        ({"to": "1999-12-31"}, "“结束日期”应为 YYYY-MM-DD"),
        ({"from": "2025-11-02", "to": "2025-11-01"}, "开始日期不能晚于结束日期"),
        ({"teacher": "nobody-like-this"}, "没有这位教师"),
        ({"term": "2025-9"}, "学期编号应为"),
    ],
)
def test_bad_filters_answer_400_with_a_clear_message(
    params: dict[str, str], message: str, coord: Console
) -> None:
    response = coord.get("/visits", params=params)
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    assert "没有符合条件" not in response.text  # no rows under a refused filter


def test_a_teacher_of_another_district_is_no_filter(
    world: World, factory: Factory, coord: Console
) -> None:
    elsewhere = factory.district("别的区")
    stranger = factory.user("teacher", elsewhere)
    response = coord.get("/visits", params={"teacher": stranger})
    assert response.status_code == 400 and "没有这位教师" in response.text
    assert stranger not in response.text


# -- the visit page -----------------------------------------------------------------------------


def test_each_flag_is_explained_with_its_numbers(
    world: World, factory: Factory, coord: Console
) -> None:
    start = _day(1)
    # Registered home: 30.30, 120.10 (factories). Check-in some 37 km north, poor accuracy.
    far = home_visit(world.student, start=start, minutes=25, lat=30.63, lon=120.12, accuracy=150)
    beside = home_visit(world.student, start=start + timedelta(minutes=10), minutes=70)
    _push(world.t, far, beside)
    visit = _visit(factory, far["id"])
    assert {"outside_geofence", "low_accuracy", "short_duration", "no_photo", "overlapping"} <= set(
        visit.flags
    )
    page = coord.get(f"/visits/{far['id']}")
    assert page.status_code == 200
    text = _text(page.text)
    metres = distance_m((30.63, 120.12), (30.30, 120.10))
    assert f"签到点距登记住址 {metres:,} 米，超出 500 米" in text
    assert "定位精度 150 米，超出 100 米" in text
    assert "时长 25 分钟，少于 60 分钟" in text
    assert "没有上传照片" in text
    # The overlap names the other visit, with a link to it.
    assert "与同一教师的以下记录时间重叠" in text
    assert f'href="/visits/{beside["id"]}"' in page.text
    # The check-in's distance from the registered home, never the home's position itself.
    assert f"{metres:,} 米" in text and "120.10000" not in text


def test_history_shows_each_version_and_what_changed(
    world: World, factory: Factory, coord: Console
) -> None:
    record = home_visit(world.student, start=_day(2), minutes=40)
    _push(world.t, record)
    later = (_day(2) + timedelta(minutes=75)).isoformat()
    edited = dict(record, content="认识颜色：绿", ended_at=later)
    (result,) = world.t.push(upsert(edited, base_version=1))
    assert result["status"] == "applied" and result["version"] == 2
    with factory.session() as s:
        rows = s.exec(
            select(VisitVersion)
            .where(VisitVersion.visit_id == record["id"])
            .order_by(col(VisitVersion.id))
        ).all()
        assert [(r.version, r.action, r.actor) for r in rows] == [
            (1, "upsert", world.teacher),
            (2, "upsert", world.teacher),
        ]
        assert rows[0].snapshot["record"]["content"] == "认识颜色：红、黄、蓝"
        assert rows[0].device_id is not None  # the pushing phone's token
    page = coord.get(f"/visits/{record['id']}")
    section = _text(page.text.split("修改记录", 1)[1])
    assert "第 2 版" in section and "第 1 版" in section and "首次上传" in section
    assert "教学内容" in section and "认识颜色：红、黄、蓝" in section and "认识颜色：绿" in section
    assert "结束时间" in section and "证据标记" in section  # no longer short
    assert "测试手机" in section  # from which device
    # A review is a history entry of its own, for the version it was made on.
    version, seq = _review_tokens(page.text)
    answer = coord.post(
        f"/visits/{record['id']}/review",
        {
            "decision": "rejected",
            "code": "content_incomplete",
            "reason": "缺少学生反应",
            "version": version,
            "seq": seq,
        },
        allow_redirects=False,
    )
    assert answer.status_code == 303
    assert _visit(factory, record["id"]).review_reason == "【内容不完整】缺少学生反应"
    section = _text(coord.get(f"/visits/{record['id']}").text.split("修改记录", 1)[1])
    assert "审核" in section and "已退回" in section and "【内容不完整】缺少学生反应" in section


def _review_tokens(page: str) -> tuple[str, str]:
    version = re.search(r'name="version" value="(\d+)"', page)
    seq = re.search(r'name="seq" value="(\d+)"', page)
    assert version and seq
    return version.group(1), seq.group(1)


def test_a_single_review_made_on_a_stale_page_is_a_conflict(
    world: World, factory: Factory, server: LiveServer, coord: Console
) -> None:
    record = home_visit(world.student, start=_day(3), minutes=20)
    _push(world.t, record)
    page = coord.get(f"/visits/{record['id']}")
    version, seq = _review_tokens(page.text)
    other = Console(server)
    assert other.login(factory.user("coordinator", world.district)).status_code == 200
    other.get(f"/visits/{record['id']}")
    first = other.post(
        f"/visits/{record['id']}/review",
        {"decision": "approved", "code": "verified"},
        allow_redirects=False,
    )
    assert first.status_code == 303
    late = coord.post(
        f"/visits/{record['id']}/review",
        {"decision": "rejected", "reason": "时长不足", "version": version, "seq": seq},
    )
    assert late.status_code == 409
    assert "该记录在您打开页面后已由" in late.text and "已通过" in late.text
    assert _visit(factory, record["id"]).review_status == "approved"


def test_photo_views_are_audited(world: World, factory: Factory, coord: Console) -> None:
    from tests.server.test_console import _jpeg, _upload

    sha = _upload(world.t, _jpeg(7))
    record = home_visit(world.student, start=_day(1), photos=[sha])
    _push(world.t, record)
    coord.get(f"/visits/{record['id']}")
    before = datetime.now(UTC) - timedelta(seconds=5)
    for _ in range(2):
        assert coord.get(f"/visits/{record['id']}/photos/{sha}").status_code == 200
    with factory.session() as s:
        rows = s.exec(
            select(AuditLog).where(
                AuditLog.actor == world.coordinator,
                AuditLog.entity == "photo",
                AuditLog.entity_id == sha,
            )
        ).all()
    assert len(rows) == 2 and all(
        r.at >= before and r.detail == f"visit={record['id']}" for r in rows
    )


# -- bulk review --------------------------------------------------------------------------------


def _ticks(page: str, ids: set[str]) -> list[str]:
    return [f"{vid}:{seq}" for vid, seq in _PICK.findall(page) if vid in ids]


def test_bulk_review_lands_the_others_and_names_each_conflict(
    world: World, factory: Factory, server: LiveServer, coord: Console
) -> None:
    records = [
        home_visit(world.student, start=_day(4, hour=8 + 2 * n), minutes=20) for n in range(4)
    ]
    _push(world.t, *records)
    ids = {r["id"] for r in records}
    _, cursor = _pull_visits(world.t)
    log = coord.get("/visits", params={"teacher": world.teacher, "flag": "short_duration"})
    ticks = _ticks(log.text, ids)
    assert len(ticks) == 4
    assert any(f["action"] == "/visits/review" for f in forms_of(log.text))
    # Meanwhile: another coordinator rejects one, and the teacher edits another.
    other = Console(server)
    assert other.login(factory.user("coordinator", world.district)).status_code == 200
    other.get(f"/visits/{records[0]['id']}")
    rejected = other.post(
        f"/visits/{records[0]['id']}/review",
        {"decision": "rejected", "code": "too_short"},
        allow_redirects=False,
    )
    assert rejected.status_code == 303
    (edit,) = world.t.push(upsert(dict(records[1], content="补充内容"), base_version=1))
    assert edit["status"] == "applied"

    answer = _post(
        coord,
        "/visits/review",
        {"pick": ticks, "decision": "approved", "code": "verified", "note": "电话核实"},
    )
    assert answer.status_code == 200
    text = _text(answer.text)
    assert "已通过 2 条；2 条未处理" in text
    assert "审核为“已退回”" in text  # who reviewed meanwhile, and how
    assert "有了变化" in text  # the edited one moved too
    assert text.count("查看并重新审核") == 2
    states = {r["id"]: _visit(factory, r["id"]) for r in records}
    assert states[records[0]["id"]].review_status == "rejected"
    assert states[records[1]["id"]].review_status == "pending"
    for r in records[2:]:
        assert states[r["id"]].review_status == "approved"
        assert states[r["id"]].review_reason == "【核实无误】电话核实"
    # The phone learns the decisions through its pull.
    pulled, _ = _pull_visits(world.t, cursor)
    assert {vid for vid, rec in pulled.items() if rec["review_status"] == "approved"} == {
        r["id"] for r in records[2:]
    }
    assert pulled[records[0]["id"]]["review_status"] == "rejected"
    # Posting the same form again reviews nothing more: every ticked visit has moved.
    again = _post(
        coord, "/visits/review", {"pick": ticks, "decision": "approved", "code": "verified"}
    )
    assert again.status_code == 409 and "已通过 0 条；4 条未处理" in _text(again.text)


def test_bulk_review_refuses_a_bad_form_and_changes_nothing(
    world: World, factory: Factory, coord: Console
) -> None:
    record = home_visit(world.student, start=_day(5), minutes=20)
    _push(world.t, record)
    log = coord.get("/visits", params={"teacher": world.teacher})
    ticks = _ticks(log.text, {record["id"]})
    cases = [
        ({"decision": "approved"}, "请先勾选要审核的记录"),
        ({"pick": ticks, "decision": "rejected"}, "退回时必须填写理由"),
        ({"pick": ticks, "decision": "approved", "code": "too_short"}, "理由类别与审核结果不符"),
        ({"pick": ticks, "decision": "rejected", "code": "other"}, "选择“其他”时必须填写说明"),
        ({"pick": ticks, "decision": "maybe"}, "审核结果只能是通过或退回"),
        ({"pick": ["x" * 5000], "decision": "approved"}, "所选记录的编号不正确"),
        ({"pick": ticks * 201, "decision": "approved"}, "一次最多审核 200 条记录"),
    ]
    for data, message in cases:
        answer = _post(coord, "/visits/review", data)
        assert answer.status_code == 400, (data, answer.status_code)
        assert message in html.unescape(answer.text)
    assert _visit(factory, record["id"]).review_status == "pending"


def test_forged_review_posts_without_the_csrf_token_are_refused(
    world: World, factory: Factory, coord: Console
) -> None:
    record = home_visit(world.student, start=_day(6), minutes=20)
    _push(world.t, record)
    log = coord.get("/visits", params={"teacher": world.teacher})
    ticks = _ticks(log.text, {record["id"]})
    data = {"pick": ticks, "decision": "approved", "code": "verified"}
    forged = _post(coord, "/visits/review", data, csrf=False)
    assert forged.status_code == 403 and t("csrf_failed") in forged.text
    wrong = _post(coord, "/visits/review", {**data, "csrf_token": "forged"}, csrf=False)
    assert wrong.status_code == 403
    single = coord.post(f"/visits/{record['id']}/review", {"decision": "approved"}, csrf=False)
    assert single.status_code == 403
    assert _visit(factory, record["id"]).review_status == "pending"


def test_the_city_admin_may_not_bulk_review(
    world: World, factory: Factory, server: LiveServer
) -> None:
    record = home_visit(world.student, start=_day(7), minutes=20)
    _push(world.t, record)
    admin = Console(server)
    assert admin.login(factory.user("admin", None)).status_code == 200
    log = admin.get("/visits", params={"district": world.district})
    assert 'name="pick"' not in log.text
    with factory.session() as s:
        seq = s.get(Visit, record["id"]).seq  # type: ignore[union-attr]
    pick = f"{record['id']}:{seq}"
    answer = admin.post("/visits/review", {"pick": pick, "decision": "approved"})
    assert answer.status_code == 403 and "只读" in answer.text
    assert _visit(factory, record["id"]).review_status == "pending"
