"""The coordinator console through real HTTP: sign-in, CSRF, scope, review, exports, devices."""

import csv
import hashlib
import io
import re
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from openpyxl import load_workbook
from PIL import Image
from sqlmodel import col, select

from server.console.web import _pct
from server.models import AuditLog, Visit
from shared.compliance import itinerant_coverage
from shared.messages import t
from shared.terms import local_date, local_month, term_of
from tests.conftest import World
from tests.factories import PASSWORD, Factory, home_visit, itinerant_visit, upsert
from tests.live import Client, LiveServer

SHANGHAI_TZ = timezone(timedelta(hours=8))

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Forms(HTMLParser):
    """Every <form> on a page with the names and types of its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": a.get("method"), "fields": {}})
        elif tag in ("input", "textarea", "select") and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("type", tag)


def forms_of(html: str) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


class Console:
    """A browser: a cookie jar, and the CSRF token of the last page it read."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.token = ""

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 60)
        response = self.http.get(self.server.url + path, **kw)
        if found := CSRF.search(
            response.text if "html" in response.headers.get("content-type", "") else ""
        ):
            self.token = found.group(1)
        return response

    def post(
        self, path: str, data: dict[str, str], *, csrf: bool = True, **kw: Any
    ) -> requests.Response:
        kw.setdefault("timeout", 60)
        body = {**data, "csrf_token": self.token} if csrf else data
        return self.http.post(self.server.url + path, data=body, **kw)

    def login(self, username: str, password: str = PASSWORD) -> requests.Response:
        self.get("/login")
        return self.post("/login", {"username": username, "password": password})

    def signed_in(self) -> bool:
        response = self.get("/dashboard", allow_redirects=False)
        return response.status_code == 200


@pytest.fixture
def coord(world: World, server: LiveServer) -> Console:
    console = Console(server)
    assert console.login(world.coordinator).status_code == 200
    return console


def _jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (seed % 256, 80, 160)).save(out, "JPEG")
    return out.getvalue()


def _upload(client: Client, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    response = client.put(f"/photos/{sha}", data=data, headers={"Content-Type": "image/jpeg"})
    assert response.status_code in (200, 201), response.text
    return sha


def _visit(factory: Factory, visit_id: str) -> Visit:
    with factory.session() as s:
        visit = s.get(Visit, visit_id)
        assert visit is not None
        return visit


def _audit(factory: Factory, actor: str, action: str, entity: str) -> list[AuditLog]:
    with factory.session() as s:
        return list(
            s.exec(
                select(AuditLog).where(
                    AuditLog.actor == actor, AuditLog.action == action, AuditLog.entity == entity
                )
            )
        )


def _short_visit(world: World, **kw: Any) -> dict[str, Any]:
    """A pushed home visit with weak evidence: 20 minutes, no photo."""
    record = home_visit(world.student, minutes=20, **kw)
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied", result
    return record


def _term_now() -> str:
    return term_of(local_date(datetime.now(UTC) - timedelta(hours=3))).id


# -- signing in ---------------------------------------------------------------------------------


def test_signed_out_requests_go_to_login(server: LiveServer) -> None:
    browser = Console(server)
    root = browser.get("/", allow_redirects=False)
    assert root.status_code in (302, 303) and root.headers["location"].endswith("/login")
    for path in ("/dashboard", "/visits", "/devices", "/exports/visits.csv"):
        response = browser.get(path, allow_redirects=False)
        assert response.status_code in (302, 303), path
        assert "/login" in response.headers["location"], path


def test_login_returns_to_the_page_asked_for_and_never_off_site(
    world: World, server: LiveServer
) -> None:
    browser = Console(server)
    bounce = browser.get("/visits?kind=itinerant", allow_redirects=False)
    assert bounce.headers["location"] == "/login?next=/visits%3Fkind%3Ditinerant"
    browser.get(bounce.headers["location"])
    response = browser.post(
        "/login",
        {"username": world.coordinator, "password": PASSWORD, "next": "/visits?kind=itinerant"},
        allow_redirects=False,
    )
    assert response.headers["location"] == "/visits?kind=itinerant"
    other = Console(server)
    other.get("/login")
    response = other.post(
        "/login",
        {"username": world.coordinator, "password": PASSWORD, "next": "//evil.example/x"},
        allow_redirects=False,
    )
    assert response.headers["location"] == "/dashboard"


def test_login_page_has_username_password_and_csrf_fields(server: LiveServer) -> None:
    page = Console(server).get("/login")
    assert page.status_code == 200 and "登录" in page.text
    (form,) = [f for f in forms_of(page.text) if f["action"] == "/login"]
    assert form["method"] == "post"
    assert form["fields"]["username"] == "text"
    assert form["fields"]["password"] == "password"
    assert form["fields"]["csrf_token"] == "hidden"


def test_session_cookie_is_httponly_lax_and_not_secure_over_http(server: LiveServer) -> None:
    page = Console(server).get("/login")
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie.replace("samesite", "")


def test_login_without_or_with_wrong_csrf_is_403(world: World, server: LiveServer) -> None:
    fresh = Console(server)  # no session at all
    response = fresh.post(
        "/login", {"username": world.coordinator, "password": PASSWORD}, csrf=False
    )
    assert response.status_code == 403 and "表单已过期" in response.text
    browser = Console(server)
    browser.get("/login")
    browser.token = "forged"
    response = browser.post("/login", {"username": world.coordinator, "password": PASSWORD})
    assert response.status_code == 403
    assert not browser.signed_in()


def test_bad_password_shows_error_and_signs_nobody_in(world: World, server: LiveServer) -> None:
    browser = Console(server)
    response = browser.login(world.coordinator, "wrong password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert not browser.signed_in()


def test_csrf_token_changes_at_login(world: World, server: LiveServer) -> None:
    browser = Console(server)
    browser.get("/login")
    before = browser.token
    browser.post("/login", {"username": world.coordinator, "password": PASSWORD})
    assert browser.signed_in() and browser.token != before
    # A token picked up before signing in is worthless afterwards.
    after, browser.token = browser.token, before
    assert browser.post("/logout", {}).status_code == 403
    browser.token = after
    assert browser.signed_in()


def test_nul_in_a_login_form_is_400_like_in_a_url(world: World, server: LiveServer) -> None:
    browser = Console(server)
    browser.get("/login")
    response = browser.post("/login", {"username": world.coordinator + "\x00", "password": "x"})
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert t("invalid_request", detail="NUL") in response.text
    assert not browser.signed_in()
    # A NUL in a console URL is refused before any route, as a page of the console too.
    url_rule = requests.get(server.url + "/login", params={"next": "a\x00"}, timeout=60)
    assert url_rule.status_code == 400
    assert "text/html" in url_rule.headers["content-type"]
    assert t("invalid_request", detail="NUL") in url_rule.text
    # The API answers the same refusal in its error shape.
    api_rule = requests.get(server.url + "/api/v1/health", params={"q": "a\x00"}, timeout=60)
    assert api_rule.json()["error"] == {
        "code": "invalid_request",
        "message": t("invalid_request", detail="NUL"),
    }


def test_field_staff_cannot_use_the_console(world: World, server: LiveServer) -> None:
    for username in (world.teacher, world.itinerant):
        browser = Console(server)
        response = browser.login(username)
        assert response.status_code == 403
        assert "手机端" in response.text
        assert not browser.signed_in()


def test_logout_needs_csrf_and_ends_the_session(coord: Console) -> None:
    assert coord.post("/logout", {}, csrf=False).status_code == 403
    assert coord.signed_in()
    response = coord.post("/logout", {})
    assert response.status_code == 200 and "已退出登录" in response.text
    assert not coord.signed_in()


# -- scope --------------------------------------------------------------------------------------


def test_coordinator_dashboard_lists_own_district_only(
    world: World, factory: Factory, coord: Console
) -> None:
    other = factory.district(name="外区")
    _short_visit(world)
    page = coord.get("/dashboard")
    assert page.status_code == 200
    assert f"/districts/{world.district}?" in page.text
    assert f"/districts/{other}?" not in page.text
    assert "送教上门比例" in page.text and "巡回指导覆盖" in page.text
    assert _term_now() in page.text  # the current term is chosen by default
    district = coord.get(f"/districts/{world.district}")
    assert district.status_code == 200
    assert "未达到巡回指导次数的学校" in district.text and "测试学校" in district.text
    assert "张小明" in district.text  # underserved children, by name
    assert "13800000000" not in district.text and "某村" not in district.text


def test_dashboard_opens_on_the_term_of_the_latest_visit(world: World, server: LiveServer) -> None:
    # Early in a new term nothing is recorded yet: land on last term's data, not an empty page.
    old = home_visit(world.student, start=datetime(2025, 10, 9, 1, tzinfo=UTC))
    assert world.t.push(upsert(old))[0]["status"] == "applied"
    console = Console(server)
    console.login(world.coordinator)
    page = console.get("/dashboard")
    assert re.search(r'<option value="2025-1"[^>]*selected', page.text), page.text[:2000]


def test_other_districts_pages_and_exports_are_404(
    world: World, factory: Factory, coord: Console
) -> None:
    other = factory.district(name="外区")
    school = factory.school(other)
    child = factory.student(other, school)
    teacher = factory.user("teacher", other, base_school=school)
    factory.assign(teacher, student=child, district=other)
    theirs = home_visit(child)
    (result,) = factory.login(teacher).push(upsert(theirs))
    assert result["status"] == "applied"
    for path in (
        f"/districts/{other}",
        f"/visits?district={other}",
        f"/visits/{theirs['id']}",
        f"/exports/visits.csv?district={other}",
        f"/exports/subsidies.xlsx?district={other}",
        "/districts/999999",
    ):
        response = coord.get(path)
        assert response.status_code == 404, path
        assert "未找到" in response.text, path
    listing = coord.get(f"/visits?term={_term_now()}")
    assert theirs["id"] not in listing.text
    response = coord.post(
        f"/visits/{theirs['id']}/review", {"decision": "rejected", "reason": "越权"}
    )
    assert response.status_code == 404
    assert _visit(factory, theirs["id"]).review_status == "pending"


def test_admin_sees_every_district_but_cannot_review(
    world: World, factory: Factory, server: LiveServer
) -> None:
    other = factory.district(name="外区")
    admin = Console(server)
    assert admin.login(factory.user("admin", None)).status_code == 200
    page = admin.get("/dashboard")
    assert f"/districts/{world.district}?" in page.text and f"/districts/{other}?" in page.text
    record = _short_visit(world)
    detail = admin.get(f"/visits/{record['id']}")
    assert detail.status_code == 200 and "只读" in detail.text
    response = admin.post(f"/visits/{record['id']}/review", {"decision": "approved"})
    assert response.status_code == 403
    assert _visit(factory, record["id"]).review_status == "pending"


# -- visits -------------------------------------------------------------------------------------


def test_visits_list_filters(world: World, factory: Factory, coord: Console) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    second = factory.student(world.district, world.special_school, name="王小华")
    factory.assign(world.teacher, student=second, district=world.district)
    sha = _upload(world.t, _jpeg(1))
    good = home_visit(world.student, start=now - timedelta(hours=6), photos=[sha])
    weak = home_visit(second, start=now - timedelta(hours=3), minutes=20)
    school = itinerant_visit(world.school)
    for client, record in ((world.t, good), (world.t, weak), (world.i, school)):
        (result,) = client.push(upsert(record))
        assert result["status"] == "applied", result
    assert _visit(factory, good["id"]).flags == []
    term = term_of(local_date(now - timedelta(hours=3))).id

    def listed(**params: str) -> set[str]:
        response = coord.get("/visits", params={"term": term, **params})
        assert response.status_code == 200, response.text
        return set(re.findall(r'href="/visits/([0-9a-f-]{36})"', response.text))

    ours = {good["id"], weak["id"], school["id"]}
    assert ours <= listed()
    assert school["id"] in listed(kind="itinerant")
    assert not {good["id"], weak["id"]} & listed(kind="itinerant")
    assert {good["id"], weak["id"]} <= listed(teacher=world.teacher)
    assert school["id"] not in listed(teacher=world.teacher)
    flagged = listed(flagged="1")
    assert weak["id"] in flagged and good["id"] not in flagged
    assert not ours & listed(status="rejected")
    page = coord.get("/visits", params={"term": term, "teacher": world.teacher})
    assert "王小华" in page.text and "时长不足" in page.text and "120.00" in page.text
    assert coord.get("/visits", params={"kind": "walking"}).status_code == 400
    assert coord.get("/visits", params={"term": "2025-9"}).status_code == 400


def test_visit_detail_shows_chinese_flags_and_is_audited(
    world: World, factory: Factory, coord: Console
) -> None:
    record = _short_visit(world)
    page = coord.get(f"/visits/{record['id']}")
    assert page.status_code == 200
    for label in ("时长不足", "无照片", "认识颜色", "能指认三种颜色", "待审核", "张小明"):
        assert label in page.text, label
    assert "short_duration" in page.text  # the code travels in the resolution form only
    rows = _audit(factory, world.coordinator, "view", "visit")
    assert [r.entity_id for r in rows] == [record["id"]]
    assert rows[0].district_code == world.district
    review_forms = [f for f in forms_of(page.text) if f["action"].endswith("/review")]
    assert review_forms and review_forms[0]["fields"]["csrf_token"] == "hidden"


def test_visit_detail_tells_a_time_typed_away_from_the_tap_and_the_phones_duration(
    world: World, coord: Console
) -> None:
    """Checked in at 06:06 by the device, 04:30 typed: flagged time_edited, the difference in
    words; the duration shown is the judge's whole minutes (96 min 50 s shows 96, not 97)."""
    tapped = datetime(2025, 10, 9, 6, 6, tzinfo=SHANGHAI_TZ)
    start = datetime(2025, 10, 9, 4, 30, tzinfo=SHANGHAI_TZ)
    end = start + timedelta(minutes=96, seconds=50)
    record = home_visit(world.student, start=start, minutes=0)
    record["ended_at"] = end.isoformat()
    record["check_in"] = {**record["check_in"], "at": tapped.isoformat()}
    record["check_out"] = {**record["check_out"], "at": (end + timedelta(minutes=3)).isoformat()}
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied", result
    (pulled,) = [c for c in world.t.get("/sync/pull").json()["changes"] if c["id"] == record["id"]]
    assert "time_edited" in pulled["record"]["flags"]
    page = coord.get(f"/visits/{record['id']}")
    assert "签到时间被修改：设备记录 06:06，填写 04:30（提前 96 分钟）" in page.text
    # 3 minutes: within the default 5. Shown as the phone shows it (已修改), and not flagged.
    assert (
        "签退时间被修改：设备记录 06:09，填写 06:06（提前 3 分钟）；在允许的 5 分钟误差内，不作标记"
        in page.text
    )
    assert "签到时间被修改：设备记录 06:06，填写 04:30（提前 96 分钟）；" not in page.text
    assert "时间被修改" in page.text and "<td>96 分钟</td>" in page.text


def test_photo_is_served_through_scope_and_audited(
    world: World, factory: Factory, server: LiveServer, coord: Console
) -> None:
    shown, lost = _upload(world.t, _jpeg(2)), _upload(world.t, _jpeg(3))
    record = home_visit(world.student, photos=[shown, lost])
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied", result
    (server.media_dir / lost[:2] / lost).unlink()  # the file went missing on disk
    page = coord.get(f"/visits/{record['id']}")
    assert f"/visits/{record['id']}/photos/{shown}" in page.text
    assert "照片未上传" in page.text
    image = coord.get(f"/visits/{record['id']}/photos/{shown}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.headers["cache-control"] == "no-store"
    assert [r.entity_id for r in _audit(factory, world.coordinator, "view", "photo")] == [shown]
    assert coord.get(f"/visits/{record['id']}/photos/{lost}").status_code == 404
    assert coord.get(f"/visits/{record['id']}/photos/{'0' * 64}").status_code == 404


# -- review -------------------------------------------------------------------------------------


def test_review_needs_a_valid_csrf_token(world: World, factory: Factory, coord: Console) -> None:
    record = _short_visit(world)
    coord.get(f"/visits/{record['id']}")
    path = f"/visits/{record['id']}/review"
    assert coord.post(path, {"decision": "approved"}, csrf=False).status_code == 403
    good = coord.token
    coord.token = good[:-2] + "xx"
    assert coord.post(path, {"decision": "rejected", "reason": "x"}).status_code == 403
    assert _visit(factory, record["id"]).review_status == "pending"
    coord.token = good
    assert coord.post(path, {"decision": "approved"}).status_code == 200
    visit = _visit(factory, record["id"])
    assert (visit.review_status, visit.counted, visit.reviewed_by) == (
        "approved",
        True,
        world.coordinator,
    )
    assert visit.reviewed_at is not None


def test_nul_in_a_review_reason_is_400_and_changes_nothing(
    world: World, factory: Factory, coord: Console
) -> None:
    record = _short_visit(world)
    coord.get(f"/visits/{record['id']}")
    response = coord.post(
        f"/visits/{record['id']}/review", {"decision": "rejected", "reason": "a\x00b"}
    )
    assert response.status_code == 400
    assert t("invalid_request", detail="NUL") in response.text
    assert _visit(factory, record["id"]).review_status == "pending"


def test_rejection_requires_a_reason(world: World, factory: Factory, coord: Console) -> None:
    record = _short_visit(world)
    coord.get(f"/visits/{record['id']}")
    response = coord.post(
        f"/visits/{record['id']}/review", {"decision": "rejected", "reason": "  "}
    )
    assert response.status_code == 400
    assert "退回时必须填写理由" in response.text
    assert _visit(factory, record["id"]).review_status == "pending"
    bogus = coord.post(f"/visits/{record['id']}/review", {"decision": "maybe"})
    assert bogus.status_code == 400 and "通过或退回" in bogus.text


def test_rejection_reaches_the_phone_through_pull_without_a_new_version(
    world: World, factory: Factory, coord: Console
) -> None:
    record = _short_visit(world)
    cursor = world.t.get("/sync/pull").json()["cursor"]
    before = _visit(factory, record["id"])
    coord.get(f"/visits/{record['id']}")
    reason = "签到时长不足，请补充说明"
    response = coord.post(
        f"/visits/{record['id']}/review", {"decision": "rejected", "reason": reason}
    )
    assert response.status_code == 200 and "已退回" in response.text
    after = _visit(factory, record["id"])
    assert after.version == before.version and after.seq > before.seq
    assert after.counted is False
    changes = world.t.get("/sync/pull", params={"cursor": cursor}).json()["changes"]
    (change,) = [c for c in changes if c["id"] == record["id"]]
    assert change["record"]["review_status"] == "rejected"
    assert change["record"]["review_reason"] == reason
    # The teacher's next edit still applies on the version they hold; it goes back to review.
    (result,) = world.t.push(upsert({**record, "content": "补充说明"}, before.version))
    assert result["status"] == "applied", result
    assert _visit(factory, record["id"]).review_status == "pending"


def test_review_of_an_edited_visit_asks_to_look_again(
    world: World, factory: Factory, coord: Console
) -> None:
    record = _short_visit(world)
    coord.get(f"/visits/{record['id']}")  # the coordinator sees version 1
    (result,) = world.t.push(upsert({**record, "content": "改过"}, 1))
    assert result["status"] == "applied"
    response = coord.post(
        f"/visits/{record['id']}/review", {"decision": "approved", "version": "1"}
    )
    assert response.status_code == 409 and "已被教师修改" in response.text
    assert _visit(factory, record["id"]).review_status == "pending"


def test_flag_resolution_is_stored_with_reason(
    world: World, factory: Factory, coord: Console
) -> None:
    record = _short_visit(world)
    coord.get(f"/visits/{record['id']}")
    path = f"/visits/{record['id']}/flags"
    before = _visit(factory, record["id"])
    missing = coord.post(path, {"code": "short_duration", "reason": ""})
    assert missing.status_code == 400 and "必须填写说明" in missing.text
    absent = coord.post(path, {"code": "overlapping", "reason": "无"})
    assert absent.status_code == 400 and "同一教师时间重叠" in absent.text
    assert (
        coord.post(
            path, {"code": "short_duration", "reason": "家长临时有事"}, csrf=False
        ).status_code
        == 403
    )
    response = coord.post(path, {"code": "short_duration", "reason": "家长临时有事"})
    assert response.status_code == 200 and "家长临时有事" in response.text
    after = _visit(factory, record["id"])
    note = after.flag_notes["short_duration"]
    assert note["by"] == world.coordinator and note["reason"] == "家长临时有事" and note["at"]
    assert after.flags == before.flags and after.version == before.version
    assert after.seq > before.seq


# -- exports ------------------------------------------------------------------------------------


def test_visits_csv_has_bom_chinese_header_and_counted_visits(
    world: World, factory: Factory, coord: Console
) -> None:
    kept, dropped = (
        _short_visit(world),
        _short_visit(world, start=datetime.now(UTC) - timedelta(hours=8)),
    )
    coord.get(f"/visits/{dropped['id']}")
    coord.post(f"/visits/{dropped['id']}/review", {"decision": "rejected", "reason": "重复"})
    response = coord.get("/exports/visits.csv", params={"term": _term_now()})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["访问编号", "类型", "区县代码", "区县"]
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert kept["id"] in by_id and dropped["id"] not in by_id
    row = by_id[kept["id"]]
    assert row["类型"] == "送教上门" and row["学生姓名"] == "张小明"
    assert "时长不足" in row["证据标记"] and row["交通补助（元）"] == "120.00"
    assert "13800000000" not in response.text and "某村" not in response.text
    assert {
        r.district_code for r in _audit(factory, world.coordinator, "export", "visits_csv")
    } == {world.district}


def test_csv_neutralises_text_a_spreadsheet_would_run(
    world: World, factory: Factory, coord: Console
) -> None:
    child = factory.student(world.district, world.special_school, name="=HYPERLINK(1)")
    factory.assign(world.teacher, student=child, district=world.district)
    record = home_visit(child)
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied", result
    response = coord.get("/exports/visits.csv", params={"term": _term_now()})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    (row,) = [r for r in rows if r[0] == record["id"]]
    assert row[rows[0].index("学生姓名")] == "'=HYPERLINK(1)"


def test_subsidies_xlsx_totals_match_the_visits(
    world: World, factory: Factory, coord: Console
) -> None:
    records = [_short_visit(world, start=datetime.now(UTC) - timedelta(hours=h)) for h in (3, 6)]
    itinerant = itinerant_visit(world.school)
    (result,) = world.i.push(upsert(itinerant))
    assert result["status"] == "applied"
    coord.get(f"/visits/{records[0]['id']}")
    coord.post(f"/visits/{records[0]['id']}/review", {"decision": "approved"})
    started = datetime.fromisoformat(records[0]["started_at"])
    month = local_month(started)
    response = coord.get(
        "/exports/subsidies.xlsx", params={"month": f"{month // 100}-{month % 100:02d}"}
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[0]
    assert header[:4] == ["区县代码", "区县", "教师账号", "教师姓名"]
    # Below the total row come the signature lines for the finance office.
    (total_at,) = [i for i, r in enumerate(rows) if r[0] == "合计"]
    data = {r[2]: dict(zip(header, r, strict=True)) for r in rows[1:total_at]}
    total = dict(zip(header, rows[total_at], strict=True))
    assert any(str(r[0]).startswith("财务审核") for r in rows[total_at + 1 :] if r[0])
    with factory.session() as s:
        visits = s.exec(
            select(Visit).where(
                Visit.district_code == world.district,
                col(Visit.counted).is_(True),
                Visit.local_month == month,
            )
        ).all()
    fen = {
        u: sum(v.subsidy_fen for v in visits if v.teacher == u) for u in {v.teacher for v in visits}
    }
    assert set(data) == set(fen)
    for username, claimed in fen.items():
        assert round(data[username]["申报补助（元）"] * 100) == claimed
    assert round(total["申报补助（元）"] * 100) == sum(fen.values()) > 0
    assert total["访问次数"] == len(visits)
    approved = sum(v.subsidy_fen for v in visits if v.review_status == "approved")
    assert round(total["审核通过应发（元）"] * 100) == approved > 0
    assert data[world.teacher]["其中已审核通过"] == 1
    assert _audit(factory, world.coordinator, "export", "subsidies_xlsx")
    assert coord.get("/exports/subsidies.xlsx", params={"month": "2025-13"}).status_code == 400


@pytest.mark.parametrize("term", ["9999-2", "0000-1"])
def test_term_outside_the_year_window_is_a_400_page(
    world: World, coord: Console, term: str
) -> None:
    for path in ("/dashboard", f"/districts/{world.district}", "/visits", "/exports/visits.csv"):
        response = coord.get(path, params={"term": term})
        assert response.status_code == 400, (path, response.status_code)
        assert "text/html" in response.headers["content-type"]
        assert t("invalid_term") in response.text


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "2100-01"])
def test_month_outside_the_year_window_is_a_400_page(coord: Console, month: str) -> None:
    response = coord.get("/exports/subsidies.xlsx", params={"month": month})
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert t("console.invalid_month") in response.text


def test_percentages_are_rounded_once_from_exact_figures() -> None:
    schools = [f"S{i}" for i in range(19)]
    coverage = itinerant_coverage(schools, {s: 2 for s in schools[:15]}, 2).coverage
    assert _pct(coverage) == "78.9%"  # 15 of 19 schools, as 萧山区 has them


# -- devices ------------------------------------------------------------------------------------


def test_revoking_a_device_logs_that_phone_out(
    world: World, factory: Factory, server: LiveServer, coord: Console
) -> None:
    phone = factory.login(world.teacher, device="丢失的手机")
    assert phone.get("/sync/pull").status_code == 200
    page = coord.get("/devices")
    assert "丢失的手机" in page.text
    # The list links to a confirmation page; its form posts the revocation.
    token_id = re.search(r'丢失的手机</td>.*?href="/devices/(\d+)/revoke"', page.text, re.S)
    assert token_id is not None
    path = f"/devices/{token_id.group(1)}/revoke"
    forms = [f for f in forms_of(coord.get(path).text) if (f["action"] or "").endswith("/revoke")]
    assert forms and all(f["fields"]["csrf_token"] == "hidden" for f in forms)
    assert coord.post(path, {}, csrf=False).status_code == 403
    assert phone.get("/sync/pull").status_code == 200
    response = coord.post(path, {})
    assert response.status_code == 200 and "已撤销" in response.text
    assert phone.get("/sync/pull").status_code == 401
    assert world.t.get("/sync/pull").status_code == 200
    # Another district's coordinator cannot even see it.
    outsider = Console(server)
    assert outsider.login(factory.user("coordinator", factory.district())).status_code == 200
    assert "丢失的手机" not in outsider.get("/devices").text
    assert outsider.post(path, {}).status_code == 404
