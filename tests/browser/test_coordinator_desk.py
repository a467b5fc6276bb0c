"""The coordinator's desk end to end, in one real browser (Debian chromium + Playwright) against
one live server: sign in; the dashboard's figures are the compliance API's for the same term;
upload a roster with two bad rows (children named outside GB2312 among the good ones), read
the preview, confirm, see the children; assign one to a teacher and see it in the teacher's
pull; bulk-approve three flagged visits and see the phone pull the decisions; approve the
teacher's month and read the XLSX back (its totals are the visits'); as admin, upload a roster
for a district picked on the page and change a policy, and see the stored visits' flags
follow; find each step in the audit log, filtered by person; another district's pages are 404.

Set-up that is no step of the desk (the district, the teacher's child, the visits the phone
pushed) goes through the factories and the API. Screenshots of every page go to
test-artifacts/<test name>/ (look at them)."""

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlmodel import col, select

from server.models import Visit
from shared.terms import SHANGHAI
from tests.factories import PASSWORD, Factory, home_visit, uid, upsert
from tests.live import Client, LiveServer

HOME = (29.70, 119.10)  # the set-up child's registered home
HEADER = "学籍号,姓名,区县代码,学校编号,学段,年级,安置方式,残疾类别,残疾等级,持证"


def _morning(days_ago: int, hour: int = 9) -> datetime:
    local = datetime.now(SHANGHAI).replace(hour=hour, minute=0, second=0, microsecond=0)
    return (local - timedelta(days=days_ago)).astimezone(UTC)


def _csv(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode(encoding)


def _pull(client: Client, cursor: str | None = None) -> tuple[list[dict[str, Any]], str]:
    changes: list[dict[str, Any]] = []
    for _ in range(100):
        body = client.get("/sync/pull", params={"cursor": cursor} if cursor else {}).json()
        changes += body["changes"]
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert cursor is not None
    return changes, cursor


class Desk:
    """One signed-in browser page, and the screenshots it leaves, numbered in the order of the
    day (one count for every desk: the coordinator's and the admin's interleave)."""

    shots = [0]

    def __init__(self, browser: Any, server: LiveServer, artifacts: Path, who: str) -> None:
        self.server, self.artifacts, self.who = server, artifacts, who
        self.context = browser.new_context(
            viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(self, username: str) -> None:
        self.goto("/login")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(PASSWORD)
        self.page.get_by_role("button", name="登录").click()
        self.page.wait_for_url("**/dashboard**")

    def goto(self, path: str) -> int:
        response = self.page.goto(self.server.url + path)
        assert response is not None
        return response.status

    def shot(self, name: str) -> None:
        self.shots[0] += 1
        path = self.artifacts / f"{self.shots[0]:02d}-{self.who}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)


def test_a_coordinators_day_at_the_desk_end_to_end(
    browser: Any, sync_server: LiveServer, artifacts: Path
) -> None:
    factory = Factory(sync_server)
    district = factory.district("淳安县")
    other = factory.district("建德市")
    factory.school(other, kind="special", name="建德市特殊教育学校")
    special = factory.school(
        district, kind="special", lat=29.60, lon=119.00, name="淳安县特殊教育学校"
    )
    child = factory.student(district, special, name="李小宝", home_lat=HOME[0], home_lon=HOME[1])
    teacher = factory.user("teacher", district, base_school=special)
    coordinator = factory.user("coordinator", district)
    admin_name = factory.user("admin", None)
    factory.assign(teacher, student=child, district=district)
    phone = factory.login(teacher, device="李老师的手机")

    # What the teacher's phone pushed before the day began: three short visits (flagged), and
    # one of 70 minutes that a later policy will find short.
    batch = [
        home_visit(
            child,
            start=_morning(n),
            minutes=30,
            lat=HOME[0],
            lon=HOME[1],
            content=f"批量审核示例 {n}",
        )
        for n in (3, 4, 5)
    ]
    full = home_visit(child, start=_morning(2), minutes=70, lat=HOME[0], lon=HOME[1])
    results = phone.push(*(upsert(r) for r in [*batch, full]))
    assert {r["status"] for r in results} == {"applied"}
    pulled, cursor = _pull(phone)

    desk = Desk(browser, sync_server, artifacts, "coordinator")
    admin = Desk(browser, sync_server, artifacts, "admin")
    try:
        page = desk.page
        desk.sign_in(coordinator)

        # 1. The dashboard shows the API's figures for the term it shows.
        page.wait_for_function("document.querySelectorAll('.chart.drawn').length === 4")
        term = page.locator("select[name=term]").input_value()
        desk.shot("dashboard")
        coordinator_api = factory.login(coordinator, device="核对用")
        (report,) = coordinator_api.get("/compliance", params={"term": term}).json()["districts"]
        hd, it, sv = report["home_delivery"], report["itinerant"], report["service"]
        cells = page.locator("table.grid tbody tr").first.locator("td").all_inner_texts()
        assert cells[1] == f"{hd['count']}/{hd['total']}" == "1/1"
        assert cells[5].startswith(f"{it['schools_covered']}/{it['schools_in_scope']}")
        assert cells[6] == f"{sv['students_meeting_standard']}/{sv['students']}"
        visits = report["visits"]
        assert cells[7] == f"{visits['total']}（{visits['flagged']}）" == "4（4）"
        assert cells[9] == f"{report['subsidy']['claimed_fen'] / 100:,.2f}"

        # 2. A roster with two bad rows (an unknown school, a repeated id), in GBK-free UTF-8
        #    since two names are outside GB2312: preview, confirm, find the children.
        ids = [uid("CD") for _ in range(4)]
        names = ["李梓玥", "王喆", "方小雨"]
        roster = _csv(
            [
                f"{ids[0]},{names[0]},{district},{special},小学,3,送教上门,智力,二级,是",
                f"{ids[1]},{names[1]},{district},{special},初中,8,送教上门,肢体,一级,是",
                f"{ids[2]},汪子涵,{district},没有这所学校,小学,2,送教上门,多重,一级,是",
                f"{ids[0]},重复的,{district},{special},小学,3,送教上门,智力,二级,是",
                f"{ids[3]},{names[2]},{district},{special},小学,5,送教上门,视力,三级,否",
            ]
        )
        desk.goto("/roster")
        desk.shot("roster")
        page.set_input_files(
            "input[name=file]", {"name": "学生名册.csv", "mimeType": "text/csv", "buffer": roster}
        )
        page.click("#upload-form button[type=submit]")
        page.wait_for_url("**/roster/uploads/**")
        assert page.inner_text("[data-count=added]") == "3"
        assert page.inner_text("[data-count=rejected]") == "2"
        preview = page.inner_text("table.preview")
        assert names[0] in preview and names[1] in preview
        assert "没有这所学校" in preview and f"编号 {ids[0]} 与第 2 行重复" in preview
        desk.shot("roster-preview")
        page.click("#confirm")
        page.wait_for_url("**/roster")
        assert "新增 3" in page.inner_text("p.flash")
        page.fill("input[name=q]", "CD")
        page.click("form.filters button[type=submit]")
        listed = page.inner_text("table.grid")
        assert all(n in listed for n in names) and "汪子涵" not in listed
        assert "淳安县特殊教育学校" in listed  # schools by name, not only by id
        desk.shot("roster-imported")

        # 3. One child assigned to the teacher: the phone's next pull brings it.
        desk.goto("/assignments")
        page.select_option("#assign-student select[name=student_id]", ids[1])
        page.select_option("#assign-student select[name=username]", teacher)
        page.click("#assign-student button[type=submit]")
        page.wait_for_url("**/assignments**")
        assert "其手机下次同步时可见" in page.inner_text("p.flash")
        desk.shot("assigned")
        pulled, cursor = _pull(phone, cursor)
        assert [c["record"]["name"] for c in pulled if c["entity"] == "student"] == [names[1]]

        # 4. The three short visits found in the log and approved together; the phone pulls
        #    the decisions.
        desk.goto("/visits")
        page.fill('input[name="q"]', "批量审核示例")
        page.select_option('select[name="flag"]', "short_duration")
        page.click('form.visit-filters button[type="submit"]')
        page.wait_for_selector("text=共 3 条")
        page.check("#pick-all")
        page.select_option('form#bulk select[name="code"]', "verified")
        page.fill('form#bulk input[name="note"]', "已电话核实")
        desk.shot("visits-ticked")
        page.click('form#bulk button[value="approved"]')
        page.wait_for_selector("text=已通过 3 条；0 条未处理")
        desk.shot("visits-approved")
        pulled, cursor = _pull(phone, cursor)
        decided = {c["id"]: c["record"] for c in pulled if c["entity"] == "visit"}
        for record in batch:
            assert decided[record["id"]]["review_status"] == "approved"
            assert decided[record["id"]]["review_reason"] == "【核实无误】已电话核实"
        desk.goto(f"/visits/{batch[0]['id']}")  # a read, for the audit log below
        assert "【核实无误】已电话核实" in page.inner_text("main")
        desk.shot("visit")

        # 5. The teacher's month approved; the XLSX's totals are the month's visits.
        month = _morning(3).astimezone(SHANGHAI).strftime("%Y-%m")
        desk.goto(f"/subsidies?month={month}")
        row = page.locator(f"tr#t-{teacher}")
        assert "未审批" in row.inner_text()
        desk.shot("subsidies")
        row.get_by_role("button", name=re.compile("^审批")).click()
        assert "已审批" in page.locator(f"tr#t-{teacher}").inner_text()
        desk.shot("subsidies-approved")
        with page.expect_download() as download:
            page.get_by_role("link", name="导出 XLSX（财务用）").click()
        xlsx = Path(download.value.path()).read_bytes()
        sheet = load_workbook(io.BytesIO(xlsx)).worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        total = dict(zip(rows[0], next(r for r in rows if r[0] == "合计"), strict=True))
        mine = dict(zip(rows[0], next(r for r in rows if r[2] == teacher), strict=True))
        year, number = month.split("-")
        with factory.session() as s:
            stored = s.exec(
                select(Visit).where(
                    Visit.district_code == district,
                    Visit.local_month == int(year) * 100 + int(number),
                    col(Visit.counted).is_(True),
                )
            ).all()
        assert total["访问次数"] == len(stored) >= 1
        assert round(total["申报补助（元）"] * 100) == sum(v.subsidy_fen for v in stored)
        approved = sum(v.subsidy_fen for v in stored if v.review_status == "approved")
        assert mine["审批状态"] == "已审批" and round(mine["审批金额（元）"] * 100) == approved > 0

        # 6. Another district's pages answer 404, as if it did not exist.
        assert desk.goto(f"/districts/{other}?term={term}") == 404
        assert page.get_by_text("未找到").first.is_visible()
        desk.shot("other-district-404")
        assert desk.goto(f"/roster?district={other}") == 404

        # 7. The admin uploads a roster for the district picked on the page: its blank district
        #    cell joins that district.
        admin.sign_in(admin_name)
        apage = admin.page
        admin.goto("/roster")
        apage.select_option("#upload-district", district)
        admin.shot("roster-pick-district")
        late = uid("CD")
        apage.set_input_files(
            "input[name=file]",
            {
                "name": "补录名册.csv",
                "mimeType": "text/csv",
                "buffer": _csv([f"{late},张堃,,{special},小学,4,送教上门,听力,二级,是"]),
            },
        )
        apage.click("#upload-form button[type=submit]")
        apage.wait_for_url("**/roster/uploads/**")
        assert f"导入到：淳安县（{district}）" in apage.inner_text("#upload-district")
        assert apage.inner_text("[data-count=added]") == "1"
        admin.shot("roster-preview-for-district")
        apage.click("#confirm")
        apage.wait_for_url(f"**/roster?district={district}")
        assert "张堃" in apage.inner_text("table.grid")
        admin.shot("roster-imported-for-district")

        # 8. The admin raises the minimum length; the stored 70-minute visit becomes short.
        admin.goto("/policies")
        apage.get_by_label("适用范围").select_option(district)
        apage.get_by_label("生效日期").fill(_morning(10).astimezone(SHANGHAI).date().isoformat())
        apage.get_by_role("button", name="下一步：填写参数").click()
        apage.get_by_label("每次送教最短时长（分钟）").fill("80")
        apage.get_by_role("button", name="下一步：查看变化").click()
        changes = apage.locator("table.changes").inner_text()
        assert "每次送教最短时长（分钟）" in changes and "80" in changes
        admin.shot("policy-preview")
        apage.get_by_role("button", name="确认保存并重新判定").click()
        assert "判定" in apage.locator("#rejudge-done").inner_text()
        admin.shot("policy-saved")
        with factory.session() as s:
            again = s.get(Visit, full["id"])
            assert again is not None and "short_duration" in again.flags
        desk.goto(f"/visits/{full['id']}")
        assert page.get_by_text("时长不足").first.is_visible()
        desk.shot("visit-now-short")

        # 9. Every step in the audit log, filtered by person on the page.
        desk.goto("/audit")
        page.get_by_label("人员（用户名或姓名）").fill(coordinator)
        page.get_by_role("button", name="筛选").click()
        page.wait_for_url(f"**person={coordinator}**")
        log = page.locator("table.audit tbody tr").all_inner_texts()

        def has(*words: str) -> bool:
            return any(all(w in r for w in words) for r in log)

        assert has("导入名册", "学生名册", "学生名册.csv", "新增：3")
        assert has("分配", f"测试teacher {teacher} → {names[1]} {ids[1]}")
        for record in batch:
            review = page.locator(f'table.audit tr:has(a[href="/visits/{record["id"]}"])')
            assert any("审核" in r for r in review.all_inner_texts()), record["id"]
        assert has("查看", batch[0]["id"], f"学生：李小宝 {child}")  # the child by name
        assert has("审批补助", f"测试teacher {teacher} · ")  # the teacher by name, then the month
        assert has("导出", "补助 XLSX")
        assert not has(admin_name)  # filtered: only the coordinator's rows
        desk.shot("audit-coordinator")
        admin.goto("/audit")
        apage.get_by_label("人员（用户名或姓名）").fill(admin_name)
        apage.get_by_role("button", name="筛选").click()
        apage.wait_for_url(f"**person={admin_name}**")
        log = apage.locator("table.audit tbody tr").all_inner_texts()
        assert has("修改政策", "每次送教最短时长（分钟）：60→80")
        assert has("导入名册", "补录名册.csv", district)
        admin.shot("audit-admin")
        assert desk.errors == [] and admin.errors == []
    finally:
        desk.context.close()
        admin.context.close()
        factory.engine.dispose()
