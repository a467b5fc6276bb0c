"""The console's subsidy, policy, audit and device pages in a real browser (Debian chromium +
Playwright): a coordinator approves a teacher's month and downloads the XLSX, revokes a device
through its confirmation (with JavaScript off), an admin changes a policy and the stored
visits' flags follow, and all of it is in the audit log. Screenshots of every page go to
test-artifacts/<test>/ (look at them: Chinese must be Chinese)."""

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlmodel import col, select

from server.models import Visit
from tests.conftest import World
from tests.factories import PASSWORD, Factory, home_visit, upsert
from tests.live import LiveServer

DAY = datetime(2025, 11, 4, 1, tzinfo=UTC)  # a Tuesday, 09:00 in Asia/Shanghai
MONTH = "2025-11"


def _sign_in(browser: Any, server: LiveServer, username: str, **options: Any) -> Any:
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, locale="zh-CN", **options
    )
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/dashboard**")
    return page


def _shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def test_subsidies_policy_audit_and_devices_in_a_browser(
    browser: Any, server: LiveServer, world: World, factory: Factory, artifacts: Path
) -> None:
    if server.backend != "sqlite":
        return  # one browser run is enough; storage is covered on both in tests/server
    records = [home_visit(world.student, start=DAY + timedelta(days=d)) for d in (0, 1, 2)]
    assert all(r["status"] == "applied" for r in world.t.push(*(upsert(r) for r in records)))
    coordinator = _sign_in(browser, server, world.coordinator)

    # Review one visit, then approve the teacher's month on /subsidies.
    coordinator.goto(f"{server.url}/visits/{records[0]['id']}")
    coordinator.get_by_role("button", name="通过", exact=True).click()
    coordinator.wait_for_load_state()
    coordinator.goto(f"{server.url}/subsidies?month={MONTH}")
    _shot(coordinator, artifacts, "01-subsidies-before")
    row = coordinator.locator(f"tr#t-{world.teacher}")
    assert "未审批" in row.inner_text()
    row.get_by_role("button", name=re.compile("^审批")).click()
    row = coordinator.locator(f"tr#t-{world.teacher}")
    assert "已审批" in row.inner_text()
    _shot(coordinator, artifacts, "02-subsidies-approved")

    with coordinator.expect_download() as download:
        coordinator.get_by_role("link", name="导出 XLSX（财务用）").click()
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[0]
    (total_at,) = [i for i, r in enumerate(rows) if r[0] == "合计"]
    mine = next(dict(zip(header, r, strict=True)) for r in rows if r[2] == world.teacher)
    total = dict(zip(header, rows[total_at], strict=True))
    with factory.session() as s:
        visits = s.exec(
            select(Visit).where(
                Visit.district_code == world.district,
                Visit.local_month == 202511,
                col(Visit.counted).is_(True),
            )
        ).all()
    assert total["访问次数"] == len(visits) == 3
    assert round(total["申报补助（元）"] * 100) == sum(v.subsidy_fen for v in visits)
    approved = sum(v.subsidy_fen for v in visits if v.review_status == "approved")
    assert mine["审批状态"] == "已审批" and round(mine["审批金额（元）"] * 100) == approved > 0
    assert mine["审批人"] == world.coordinator

    # The coordinator reads the policy, and cannot change it.
    coordinator.goto(f"{server.url}/policies")
    assert coordinator.get_by_role("button", name="下一步：填写参数").count() == 0
    _shot(coordinator, artifacts, "03-policies-coordinator")

    # Revoking a device goes through a confirmation page, with JavaScript switched off too.
    phone = factory.login(world.teacher, device="遗失的手机")
    no_js = _sign_in(browser, server, world.coordinator, java_script_enabled=False)
    no_js.goto(f"{server.url}/devices")
    _shot(no_js, artifacts, "04-devices")
    no_js.locator("tr", has_text="遗失的手机").get_by_role("link", name="撤销…").click()
    assert no_js.get_by_role("heading", name="确认撤销设备").is_visible()
    _shot(no_js, artifacts, "05-device-confirm")
    assert phone.get("/sync/pull").status_code == 200
    no_js.get_by_role("button", name="确认撤销").click()
    assert no_js.get_by_text("已撤销设备“遗失的手机”").is_visible()
    assert phone.get("/sync/pull").status_code == 401

    # The admin raises the minimum minutes: a stored 70-minute session becomes short.
    assert "short_duration" not in _flags(factory, records[1]["id"])
    admin = _sign_in(browser, server, factory.user("admin", None))
    admin.goto(f"{server.url}/policies")
    _shot(admin, artifacts, "06-policies-admin")
    admin.get_by_label("适用范围").select_option(world.district)
    admin.get_by_label("生效日期").fill("2025-11-01")
    admin.get_by_role("button", name="下一步：填写参数").click()
    admin.get_by_label("每次送教最短时长（分钟）").fill("80")
    _shot(admin, artifacts, "07-policy-edit")
    admin.get_by_role("button", name="下一步：查看变化").click()
    changes = admin.locator("table.changes").inner_text()
    assert "每次送教最短时长（分钟）" in changes and "60" in changes and "80" in changes
    _shot(admin, artifacts, "08-policy-preview")
    admin.get_by_role("button", name="确认保存并重新判定").click()
    done = admin.locator("#rejudge-done").inner_text()
    assert re.search(r"判定 3 条访问记录，其中 3 条", done), done
    _shot(admin, artifacts, "09-policy-saved")
    assert "short_duration" in _flags(factory, records[1]["id"])
    admin.goto(f"{server.url}/visits/{records[1]['id']}")
    assert admin.get_by_text("时长不足").first.is_visible()
    _shot(admin, artifacts, "10-visit-now-short")

    # The subsidy approval is now stale? No: flags do not move money (rejudge.py); it holds.
    coordinator.goto(f"{server.url}/subsidies?month={MONTH}")
    assert "数据已变化" not in coordinator.locator(f"tr#t-{world.teacher}").inner_text()

    # Everything above is in the audit log: the coordinator's own, and the admin's policy change.
    coordinator.goto(f"{server.url}/audit?person={world.coordinator}")
    text = coordinator.locator("table.audit").inner_text()
    for action in ("审核", "审批补助", "导出", "撤销设备", "查看"):
        assert action in text, action
    _shot(coordinator, artifacts, "11-audit-coordinator")
    admin.goto(f"{server.url}/audit")
    admin.get_by_label("操作").select_option("policy_change")
    admin.get_by_role("button", name="筛选").click()
    assert "修改政策" in admin.locator("table.audit").inner_text()
    assert "每次送教最短时长（分钟）：60→80" in admin.locator("table.audit").inner_text()
    _shot(admin, artifacts, "12-audit-admin-policy")
    with admin.expect_download() as download:
        admin.get_by_role("link", name="导出 CSV").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith("\ufeff".encode()) and "修改政策" in data.decode("utf-8-sig")
    for page in (coordinator, no_js, admin):
        page.context.close()


def _flags(factory: Factory, visit_id: str) -> list[str]:
    with factory.session() as s:
        visit = s.get(Visit, visit_id)
        assert visit is not None
        return list(visit.flags)
