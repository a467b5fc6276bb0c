"""The roster desk in a real browser (Debian chromium + Playwright), as a coordinator would use
it: upload a roster with two bad rows, read the preview, confirm, find the children; assign one
to a teacher and see it in that teacher's pull; create an account, then disable it.
Screenshots of every page go to test-artifacts/<test name>/."""

import re
from pathlib import Path
from typing import Any

from sqlmodel import select

from server.models import Student
from tests.factories import PASSWORD, Factory, uid
from tests.live import Client, LiveServer

HEADER = "学籍号,姓名,区县代码,学校编号,学段,年级,安置方式,残疾类别,残疾等级,持证"


def _shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def test_coordinator_imports_assigns_and_manages_accounts(
    browser: Any, sync_server: LiveServer, artifacts: Path
) -> None:
    factory = Factory(sync_server)
    district = factory.district("淳安县")
    special = factory.school(district, kind="special", name="淳安县特殊教育学校")
    teacher = factory.user("teacher", district, base_school=special)
    coordinator = factory.user("coordinator", district)
    ids = [uid("CA") for _ in range(4)]
    names = ["方小雨", "余乐乐", "汪子涵", "重复的"]
    lines = [
        f"{ids[0]},{names[0]},{district},{special},小学,3,送教上门,智力,二级,是",
        f"{ids[1]},{names[1]},{district},{special},初中,8,送教上门,肢体,一级,是",
        f"{ids[2]},{names[2]},{district},没有这所学校,小学,2,送教上门,多重,一级,是",
        f"{ids[0]},{names[3]},{district},{special},小学,3,送教上门,智力,二级,是",
        f"{ids[3]},戴一鸣,{district},{special},小学,5,送教上门,视力,三级,否",
    ]
    roster = ("\r\n".join([HEADER, *lines]) + "\r\n").encode("gbk")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{sync_server.url}/login")
    page.fill("input[name=username]", coordinator)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard**")

    # Upload: a GBK file with a repeated id and an unknown school.
    page.goto(f"{sync_server.url}/roster")
    _shot(page, artifacts, "01-roster")
    page.set_input_files(
        "input[name=file]", {"name": "学生名册.csv", "mimeType": "text/csv", "buffer": roster}
    )
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/roster/uploads/**")
    assert page.inner_text("[data-count=added]") == "3"
    assert page.inner_text("[data-count=rejected]") == "2"
    assert "GBK/GB18030" in page.content()
    _shot(page, artifacts, "02-preview")
    page.click("a.outcome-rejected")
    page.wait_for_url("**outcome=rejected**")
    text = page.inner_text("table.preview")
    assert "没有这所学校" in text and f"编号 {ids[0]} 与第 2 行重复" in text
    _shot(page, artifacts, "03-preview-rejected")
    with factory.session() as s:
        assert s.exec(select(Student).where(Student.district_code == district)).all() == []

    page.click("#confirm")
    page.wait_for_url("**/roster")
    assert "新增 3" in page.inner_text("p.flash")
    page.fill("input[name=q]", "CA")
    page.click("form.filters button[type=submit]")
    listed = page.inner_text("table.grid")
    assert all(n in listed for n in (names[0], names[1], "戴一鸣")) and names[2] not in listed
    _shot(page, artifacts, "04-roster-imported")

    # Assign one child to the teacher; the teacher's phone sees it on its next pull.
    phone = factory.login(teacher)
    first = phone.get("/sync/pull").json()
    assert not [c for c in first["changes"] if c["entity"] == "student"]
    page.goto(f"{sync_server.url}/assignments")
    assert page.inner_text("[data-gap=children]") == "3"
    _shot(page, artifacts, "05-assignments")
    page.select_option("#assign-student select[name=student_id]", ids[1])
    page.select_option("#assign-student select[name=username]", teacher)
    page.click("#assign-student button[type=submit]")
    page.wait_for_url("**/assignments**")
    assert "其手机下次同步时可见" in page.inner_text("p.flash")
    assert page.inner_text("[data-gap=children]") == "2"
    _shot(page, artifacts, "06-assigned")
    pulled = phone.get("/sync/pull", params={"cursor": first["cursor"]}).json()
    students = [c["record"]["name"] for c in pulled["changes"] if c["entity"] == "student"]
    assert students == [names[1]]

    # A new account, its password shown once; then disabled.
    username = uid("t_new")
    page.goto(f"{sync_server.url}/users")
    page.fill("#create-user input[name=username]", username)
    page.fill("#create-user input[name=name]", "新来的老师")
    page.select_option("#create-user select[name=role]", "teacher")
    page.click("#create-user button[type=submit]")
    password = page.inner_text("#new-password")
    assert re.fullmatch(r"[A-Za-z2-9]{12}", password)
    _shot(page, artifacts, "07-user-created")
    device = Client(sync_server)
    login = device.post(
        "/auth/login", json={"username": username, "password": password, "device_name": "手机"}
    )
    assert login.status_code == 200
    device.token = login.json()["token"]
    page.click(f"tr[data-username='{username}'] form[action$='/active'] button")
    page.wait_for_url("**/users")
    assert "已停用账号" in page.inner_text("p.flash")
    assert "已停用" in page.inner_text(f"tr[data-username='{username}']")
    _shot(page, artifacts, "08-user-disabled")
    assert device.get("/sync/pull").status_code == 401
    context.close()
    factory.engine.dispose()
