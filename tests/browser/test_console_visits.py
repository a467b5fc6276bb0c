"""The coordinator's visit desk in a real browser (Debian chromium + Playwright): sign in, find
three flagged visits in the log, select the page and bulk-approve them, and see the teacher's
phone pull the decisions; open a visit whose flags are explained with their numbers and one
whose change history holds two versions; find each read and decision in the audit log.
Screenshots go to test-artifacts/."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from server.services.policies import save_policy
from shared.policy import PolicyParams
from shared.terms import SHANGHAI
from shared.travel import distance_m
from tests.factories import PASSWORD, Factory, home_visit, upsert
from tests.live import Client, LiveServer

HOME = (29.70, 119.10)  # the child's registered home


def _morning(days_ago: int, hour: int) -> datetime:
    local = datetime.now(SHANGHAI).replace(hour=hour, minute=0, second=0, microsecond=0)
    return (local - timedelta(days=days_ago)).astimezone(UTC)


def _pull(client: Client, cursor: str | None = None) -> tuple[dict[str, dict[str, Any]], str]:
    records: dict[str, dict[str, Any]] = {}
    for _ in range(100):
        body = client.get("/sync/pull", params={"cursor": cursor} if cursor else {}).json()
        records |= {c["id"]: c["record"] for c in body["changes"] if c["entity"] == "visit"}
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert cursor is not None
    return records, cursor


def test_bulk_approve_reaches_the_phone_and_the_visit_page_explains_itself(
    browser, sync_server: LiveServer, artifacts: Path
) -> None:
    factory = Factory(sync_server)
    district = factory.district("淳安县")
    special = factory.school(
        district, kind="special", lat=29.60, lon=119.00, name="淳安县特殊教育学校"
    )
    child = factory.student(district, special, name="李小宝", home_lat=HOME[0], home_lon=HOME[1])
    teacher = factory.user("teacher", district, base_school=special)
    coordinator = factory.user("coordinator", district)
    factory.assign(teacher, student=child, district=district)
    phone = factory.login(teacher, device="李老师的手机")
    with factory.session() as s:  # the district asks for a 50 m fix (the default is 100 m)
        save_policy(
            s,
            actor="admin",
            district_code=district,
            effective_from=date(2000, 1, 1),
            sent=PolicyParams(max_accuracy_m=50),
        )
        s.commit()
    factory.engine.dispose()

    def visit(days_ago: int, hour: int, **kw: Any) -> dict[str, Any]:
        return home_visit(child, start=_morning(days_ago, hour), lat=HOME[0], lon=HOME[1], **kw)

    # Three short visits on three days (flagged: short, no photo), to approve together.
    batch = [visit(n, 9, minutes=30, content=f"批量审核示例 {n}") for n in (3, 4, 5)]
    # One checked in 37 km away with a poor fix, short, beside another visit of the same day.
    far = home_visit(child, start=_morning(1, 9), minutes=25, lat=30.03, lon=119.12, accuracy=80)
    beside = visit(1, 9, minutes=70, content="同日另一条记录")
    beside["started_at"] = (_morning(1, 9) + timedelta(minutes=15)).isoformat()
    beside["ended_at"] = (_morning(1, 9) + timedelta(minutes=85)).isoformat()
    # One edited once: two versions.
    edited = visit(2, 14, minutes=40, content="认识颜色：红、黄、蓝")
    results = phone.push(*(upsert(r) for r in [*batch, far, beside, edited]))
    assert {r["status"] for r in results} == {"applied"}
    again = dict(edited, content="认识颜色：红、黄、蓝、绿", student_response="能指认绿色")
    again["ended_at"] = (_morning(2, 14) + timedelta(minutes=65)).isoformat()
    (result,) = phone.push(upsert(again, base_version=1))
    assert result["version"] == 2
    _, cursor = _pull(phone)

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{sync_server.url}/login")
        page.fill('input[name="username"]', coordinator)
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url("**/dashboard")

        # The log, filtered down to the three by its text search and the flag.
        page.goto(f"{sync_server.url}/visits")
        page.fill('input[name="q"]', "批量审核示例")
        page.select_option('select[name="flag"]', "short_duration")
        page.click('form.visit-filters button[type="submit"]')
        page.wait_for_selector("text=共 3 条")
        page.screenshot(path=str(artifacts / "01-visit-log-filtered.png"), full_page=True)
        page.check("#pick-all")
        boxes = page.locator('input[name="pick"]')
        assert boxes.count() == 3
        assert all(boxes.nth(i).is_checked() for i in range(3))
        page.select_option('form#bulk select[name="code"]', "verified")
        page.fill('form#bulk input[name="note"]', "已电话核实")
        page.screenshot(path=str(artifacts / "02-visit-log-ticked.png"), full_page=True)
        page.click('form#bulk button[value="approved"]')
        page.wait_for_selector("text=已通过 3 条；0 条未处理")
        page.screenshot(path=str(artifacts / "03-bulk-approved.png"), full_page=True)

        # The teacher's phone pulls the three decisions.
        pulled, _ = _pull(phone, cursor)
        for record in batch:
            assert pulled[record["id"]]["review_status"] == "approved"
            assert pulled[record["id"]]["review_reason"] == "【核实无误】已电话核实"

        # The visit whose flags are explained with their numbers.
        page.goto(f"{sync_server.url}/visits/{far['id']}")
        metres = distance_m((30.03, 119.12), HOME)
        body = page.inner_text("main")
        assert f"签到点距登记住址 {metres:,} 米，超出 500 米" in body
        assert "定位精度 80 米，超出 50 米" in body  # the district's own limit
        assert "时长 25 分钟，少于 60 分钟" in body
        assert "与同一教师的以下记录时间重叠" in body
        assert page.locator(f'a[href="/visits/{beside["id"]}"]').count() >= 1
        page.screenshot(path=str(artifacts / "04-visit-flags-explained.png"), full_page=True)

        # The visit edited once: its history shows both versions and what changed.
        page.goto(f"{sync_server.url}/visits/{edited['id']}")
        history = page.inner_text("table.history")
        assert "第 2 版" in history and "第 1 版" in history and "首次上传" in history
        assert "认识颜色：红、黄、蓝、绿" in history and "能指认绿色" in history
        assert "李老师的手机" in history
        page.locator("table.history").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "05-visit-history.png"), full_page=True)

        # The audit log holds each of the coordinator's reads and decisions, row by visit.
        page.goto(f"{sync_server.url}/audit?person={coordinator}")
        for record, action in [(far, "查看"), (edited, "查看")] + [(r, "审核") for r in batch]:
            rows = page.locator(f'table.audit tr:has(a[href="/visits/{record["id"]}"])')
            assert any(action in row for row in rows.all_inner_texts()), (record["id"], action)
        table = page.inner_text("table.audit")  # the details in words, not the code's keys
        assert "类型：送教上门" in table and "已通过 版本：1 理由：【核实无误】已电话核实" in table
        assert "kind=" not in table and "channel=" not in table
        page.screenshot(path=str(artifacts / "06-audit-of-the-desk.png"), full_page=True)

        # A 5,000-character filter: refused in Chinese, the filter bar keeps its width.
        answer = page.goto(f"{sync_server.url}/visits?teacher={'长' * 5000}&q={'x' * 5000}")
        assert answer is not None and answer.status == 400
        assert page.locator("text=筛选条件过长").count() == 2
        bar = page.locator("form.visit-filters").bounding_box()
        assert bar is not None and bar["width"] <= 1400
        page.screenshot(path=str(artifacts / "07-long-filter-refused.png"), full_page=True)
    finally:
        context.close()
