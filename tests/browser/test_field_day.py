"""A field day in a real browser: sign in, lose the server, record a visit with GPS and a photo,
kill the app, start it again, get the server back, sync exactly once, sync again: nothing."""

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from server.models import Visit, VisitPhoto
from tests.browser.phone import AppProcess, Phone
from tests.factories import PASSWORD, Factory
from tests.live import LiveServer, free_port

HOME = {"latitude": 29.70, "longitude": 119.10, "accuracy": 15}
# Sign-in waits for the login and the first pull of the roster: the slowest step on a busy
# machine (once seen to take over 20 s while other test processes ran).
SIGN_IN_MS = 60_000


@dataclass
class Day:
    kind: str
    username: str
    subject: str  # the child's or the school's name, as on screen
    subject_id: str


def _world(server: LiveServer, kind: str) -> Day:
    factory = Factory(server)
    try:
        district = factory.district("淳安县")
        special = factory.school(
            district, kind="special", lat=29.60, lon=119.00, name="淳安县特殊教育学校"
        )
        school = factory.school(district, lat=29.61, lon=119.04, name="千岛湖镇第一小学")
        factory.student(
            district,
            special,
            name="张小明",
            home_lat=29.70,
            home_lon=119.10,
            iep_goals=["能指认三种颜色", "能独立进食"],
            photo_consent=True,
        )
        factory.student(district, school, name="王小红", placement="regular_class")
        if kind == "home_teaching":
            user = factory.user("teacher", district, base_school=special)
            student = factory.student(
                district,
                special,
                name="李小宝",
                home_lat=29.70,
                home_lon=119.10,
                iep_goals=["能指认三种颜色", "能独立进食"],
                photo_consent=True,
            )
            factory.assign(user, student=student, district=district)
            return Day(kind, user, "李小宝", student)
        user = factory.user("itinerant", district, base_school=special)
        factory.assign(user, school=school, district=district)
        return Day(kind, user, "千岛湖镇第一小学", school)
    finally:
        factory.engine.dispose()


def _server_state(server: LiveServer, username: str) -> list[tuple[str, int, int, str, int]]:
    """(id, version, seq, received_at, photos) of the user's visits on the server."""
    factory = Factory(server)
    try:
        with factory.session() as s:
            visits = s.exec(select(Visit).where(Visit.teacher == username)).all()
            return [
                (
                    str(v.id),
                    v.version,
                    v.seq,
                    str(v.received_at),
                    len(s.exec(select(VisitPhoto).where(VisitPhoto.visit_id == v.id)).all()),
                )
                for v in visits
            ]
    finally:
        factory.engine.dispose()


def _photo(path: Path) -> Path:
    image = Image.merge("RGB", [Image.effect_noise((1600, 1200), 40) for _ in range(3)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("kind", ["home_teaching", "itinerant"])
def test_a_visit_recorded_offline_survives_a_kill_and_syncs_exactly_once(
    kind: str, browser, sync_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    day = _world(sync_server, kind)
    app = AppProcess(tmp_path / "phone", sync_server.url, free_port(), tmp_path / "app.log")
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        geolocation=HOME,
        permissions=["geolocation", "camera"],
        locale="zh-CN",
    )
    try:
        app.start()
        phone = Phone(context.new_page(), artifacts)
        phone.open(app.url)
        phone.see("登录送教通")
        phone.shot("login")
        phone.fill("用户名", day.username)
        phone.fill("密码", PASSWORD)
        phone.tap("登录")
        phone.see(day.subject, timeout=SIGN_IN_MS)
        phone.see("全部记录已同步")
        phone.shot("caseload")

        sync_server.stop()  # into the hills: no signal from here on

        phone.tap_id(f"start-{day.subject_id}")
        phone.see("签到")
        phone.tap_id("save-visit")
        phone.see("还不能保存")
        phone.shot("form-empty-fields")
        phone.tap_id("check-in")
        phone.see("定位精度约 15 米")
        if kind == "home_teaching":
            phone.tap("能指认三种颜色")
            phone.fill("教学内容", "认识颜色：红、黄、蓝")
            phone.fill("家长指导", "每天练习十分钟")
        else:
            phone.tap("随堂观察")
            phone.tap("王小红")
            phone.fill("发现的问题", "课堂参与度较好")
            phone.tap("添加建议")
            phone.fill("建议 1", "增加视觉提示")
        huge = tmp_path / "huge.jpg"
        with huge.open("wb") as f:
            f.truncate(50 * 1024 * 1024)
        phone.pick_file("从相册选择", huge)
        phone.see("照片文件过大")
        phone.pick_file("从相册选择", _photo(tmp_path / "visit.jpg"))
        phone.see("照片（1 张）")
        photos = 1
        if kind == "itinerant":  # and one with the camera
            phone.tap("拍照")
            phone.see("按下拍照")
            phone.shot("camera")
            phone.tap("按下拍照")
            phone.see("照片（2 张）")
            photos = 2
        phone.see("已添加照片")
        phone.shot("form-photo")
        phone.tap_id("check-out")
        phone.see("时长")
        phone.scroll_to("本次补贴")
        phone.shot("form-trip")
        phone.tap_id("save-visit")
        phone.see("保存前请注意")  # a visit of a few minutes: the short-visit warning
        phone.shot("warnings")
        phone.tap("仍然保存")
        waiting = f"待同步：1 条记录、{photos} 张照片"
        phone.see(waiting)
        phone.shot("saved-offline")

        app.kill()  # the phone kills the app
        app.start()
        phone.reload()
        phone.see(waiting)  # straight to work: no sign-in, visit kept
        phone.tap("历史记录")
        phone.see("待同步")
        phone.shot("history-pending")
        phone.back()

        sync_server.start()  # back in town
        assert _server_state(sync_server, day.username) == []
        phone.tap("立即同步")
        phone.see(f"同步完成：上传 1 条记录、{photos} 张照片")
        phone.see("全部记录已同步")
        phone.shot("synced")
        (first,) = _server_state(sync_server, day.username)
        assert first[4] == photos  # the visit holds its photos

        phone.tap("立即同步")
        phone.see("同步完成：上传 0 条记录、0 张照片")
        assert _server_state(sync_server, day.username) == [first]  # nothing sent, nothing new
        phone.tap("历史记录")
        phone.see("待审核")
        phone.shot("history-synced")
    finally:
        context.close()
        app.stop()


def test_a_half_finished_visit_survives_a_kill(
    browser, sync_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    """开始, a goal and some typing, never 保存: the phone kills the app. Started again, the app
    offers the visit under 未完成的记录 and the form comes back as it was left, ready to finish."""
    day = _world(sync_server, "home_teaching")
    app = AppProcess(tmp_path / "phone", sync_server.url, free_port(), tmp_path / "app.log")
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        geolocation=HOME,
        permissions=["geolocation"],
        locale="zh-CN",
    )
    content, guidance = "认识颜色：红、黄、蓝", "每天练习十分钟"
    try:
        app.start()
        phone = Phone(context.new_page(), artifacts)
        phone.open(app.url)
        phone.fill("用户名", day.username)
        phone.fill("密码", PASSWORD)
        phone.tap("登录")
        phone.see(day.subject, timeout=SIGN_IN_MS)
        phone.see("全部记录已同步")
        sync_server.stop()  # no signal: only the phone's own store can keep this

        phone.tap_id(f"start-{day.subject_id}")
        phone.tap_id("check-in")
        phone.see("定位精度约 15 米")
        phone.tap("能指认三种颜色")
        phone.fill("教学内容", content)
        phone.fill("家长指导", guidance)
        phone.shot("draft-typed")

        app.kill()  # mid-visit, nothing saved by hand
        app.start()
        phone.reload()
        phone.see("未完成的记录")  # straight to work, the visit offered
        phone.see("全部记录已同步")  # a draft is not queued for the server
        phone.shot("draft-offered")
        phone.tap(f"继续填写：{day.subject}")
        phone.see("定位精度约 15 米")  # the check-in, with its GPS
        assert phone.is_checked("能指认三种颜色")
        assert phone.field_text("教学内容") == content
        assert phone.field_text("家长指导") == guidance
        assert phone.field_text("学生反应") == ""
        phone.shot("draft-restored")

        phone.tap_id("check-out")  # and the restored draft finishes like any other
        phone.see("时长")
        phone.tap_id("save-visit")
        phone.see("保存前请注意")  # a visit of a few minutes
        phone.tap("仍然保存")
        phone.see("待同步：1 条记录、0 张照片")
        assert not phone.sees("未完成的记录")
        phone.shot("draft-saved")
    finally:
        context.close()
        app.stop()
