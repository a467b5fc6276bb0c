"""The visit form as a teacher found it, in a real browser: a check-in 37 km from the child's
home warns at once, a corrected time keeps the tap's, the subsidy line shows its rule, a draft
is named before signing out, Flutter's own controls speak Chinese, and a recommendation's due
date is picked in a calendar and reaches the server."""

import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import select

from server.models import Visit
from shared.terms import SHANGHAI
from tests.browser.phone import AppProcess, Phone
from tests.browser.test_field_day import SIGN_IN_MS
from tests.factories import PASSWORD, Factory
from tests.live import LiveServer, free_port

FAR = {"latitude": 29.70 + 0.334, "longitude": 119.10, "accuracy": 15}  # 37 km from home


def _teacher_with_a_child(server: LiveServer) -> tuple[str, str]:
    factory = Factory(server)
    try:
        district = factory.district("淳安县")
        special = factory.school(
            district, kind="special", lat=29.60, lon=119.00, name="淳安县特殊教育学校"
        )
        user = factory.user("teacher", district, base_school=special)
        child = factory.student(
            district, special, name="孙睿", home_lat=29.70, home_lon=119.10, photo_consent=True
        )
        factory.assign(user, student=child, district=district)
        return user, child
    finally:
        factory.engine.dispose()


def test_a_far_check_in_and_a_corrected_time_as_the_teacher_sees_them(
    browser, sync_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    username, child = _teacher_with_a_child(sync_server)
    app = AppProcess(tmp_path / "phone", sync_server.url, free_port(), tmp_path / "app.log")
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        geolocation=FAR,
        permissions=["geolocation"],
        locale="en-US",  # the browser's language must not matter: the app is Chinese
    )
    try:
        app.start()
        phone = Phone(context.new_page(), artifacts)
        phone.open(app.url)
        phone.fill("用户名", username)
        phone.fill("密码", PASSWORD)
        phone.tap("登录")
        phone.see("孙睿", timeout=SIGN_IN_MS)
        phone.see("全部记录已同步")

        phone.tap_id(f"start-{child}")
        phone.tap_id("check-in")
        phone.see("距登记住址约 37.0 公里，超出 500 米的范围")
        phone.shot("far-check-in")
        assert phone.control("返回").count() == 1 and phone.control("Back").count() == 0

        phone.fill("开始时间", "2025-11-12 04:30")
        phone.see("已修改，签到时刻")
        phone.shot("corrected-time")
        phone.fill("教学内容", "认识颜色")
        phone.scroll_to("计算：")
        phone.see("计算：每次定额 120.00 元")
        phone.shot("subsidy-rule")

        phone.back()
        phone.see("未完成的记录")
        phone.tap("退出登录")
        phone.see("还有 1 份未完成的记录没有保存，退出后将被删除：送教上门 · 孙睿")
        phone.shot("sign-out-names-the-draft")
        phone.tap("取消")
        phone.see("未完成的记录")
    finally:
        context.close()
        app.stop()


AT_SCHOOL = {"latitude": 29.61, "longitude": 119.04, "accuracy": 15}


def _instructor_with_a_school(server: LiveServer) -> tuple[str, str]:
    factory = Factory(server)
    try:
        district = factory.district("淳安县")
        special = factory.school(
            district, kind="special", lat=29.60, lon=119.00, name="淳安县特殊教育学校"
        )
        school = factory.school(district, lat=29.61, lon=119.04, name="千岛湖小学")
        factory.student(district, school, name="王小红", placement="regular_class")
        user = factory.user("itinerant", district, base_school=special)
        factory.assign(user, school=school, district=district)
        return user, school
    finally:
        factory.engine.dispose()


def _recommendations_on_server(server: LiveServer, username: str) -> list[dict]:
    factory = Factory(server)
    try:
        with factory.session() as s:
            (visit,) = s.exec(select(Visit).where(Visit.teacher == username)).all()
            return list(visit.record["recommendations"])
    finally:
        factory.engine.dispose()


def test_a_recommendations_due_date_is_picked_in_a_calendar_and_synced(
    browser, sync_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    username, school = _instructor_with_a_school(sync_server)
    app = AppProcess(tmp_path / "phone", sync_server.url, free_port(), tmp_path / "app.log")
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        geolocation=AT_SCHOOL,
        permissions=["geolocation"],
        timezone_id="Asia/Shanghai",  # a phone in China: Flutter picks its local midnight
    )
    try:
        app.start()
        phone = Phone(context.new_page(), artifacts)
        phone.open(app.url)
        phone.fill("用户名", username)
        phone.fill("密码", PASSWORD)
        phone.tap("登录")
        phone.see("千岛湖小学", timeout=SIGN_IN_MS)
        phone.see("全部记录已同步")

        phone.tap_id(f"start-{school}")
        phone.tap_id("check-in")
        phone.see("定位精度约 15 米")
        phone.tap("随堂观察")
        phone.fill("发现的问题", "课堂参与度较好")
        phone.tap("添加建议")
        phone.fill("建议 1", "增加视觉提示")
        phone.tap("建议 1 的完成日期：未定（可不填，点此选择）")
        phone.see("选择建议 1 的完成日期")
        today = datetime.now(SHANGHAI).date()
        opened = today + timedelta(days=14)  # the picker opens two weeks ahead
        phone.see(f"{opened.month}月{opened.day}日")
        phone.shot("due-date-picker")
        # Another day of the month on screen (the days before the visit's are not offered).
        day = opened + timedelta(days=1)
        if day.month != opened.month:
            day = opened - timedelta(days=1)
        name = re.compile(rf"^{day.day}, {day.year}年{day.month}月{day.day}日")
        phone.page.get_by_role("button", name=name).first.click()
        phone.tap("确定")
        phone.see(f"完成日期：{day.year}年{day.month}月{day.day}日")
        phone.shot("due-date-picked")
        phone.tap("清除建议 1 的完成日期")  # optional: it can be taken back, and picked again
        unset = "建议 1 的完成日期：未定（可不填，点此选择）"  # the button's name
        phone.see(unset)
        phone.tap(unset)
        phone.see("选择建议 1 的完成日期")
        phone.page.get_by_role("button", name=name).first.click()
        phone.tap("确定")
        phone.see(f"建议 1 的完成日期：{day.year}年{day.month}月{day.day}日")

        phone.tap_id("check-out")
        phone.see("时长")
        phone.tap_id("save-visit")
        phone.see("保存前请注意")
        phone.tap("仍然保存")
        phone.see("全部记录已同步", timeout=SIGN_IN_MS)
        assert _recommendations_on_server(sync_server, username) == [
            {"text": "增加视觉提示", "due_date": day.isoformat()}
        ]
    finally:
        context.close()
        app.stop()
