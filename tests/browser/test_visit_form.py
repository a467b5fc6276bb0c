"""The visit form as a teacher found it, in a real browser: a check-in 37 km from the child's
home warns at once, a corrected time keeps the tap's, the subsidy line shows its rule, a draft
is named before signing out, and Flutter's own controls speak Chinese."""

from pathlib import Path

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
