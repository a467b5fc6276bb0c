"""The web app as several devices at once: one ``songjiao app`` process and one server, two
browsers signed in at the same time as a 送教教师 and a 巡回指导教师. Each records a visit and sees
only its own children and records; one signs out and deletes while the server is unreachable,
the other goes on and syncs; the revocation reaches the server once it is back; a brand-new
third browser asks for a sign-in with an empty username."""

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlmodel import select

from server.models import DeviceToken, User, Visit
from tests.browser.phone import AppProcess, Phone
from tests.browser.test_field_day import HOME, SIGN_IN_MS, _world
from tests.factories import PASSWORD, Factory
from tests.live import LiveServer, free_port


def _tokens(server: LiveServer, username: str) -> list[tuple[str, bool]]:
    """(device name, revoked) of the user's device tokens on the server."""
    factory = Factory(server)
    try:
        with factory.session() as s:
            rows = s.exec(select(DeviceToken).join(User).where(User.username == username)).all()
            return [(d.device_name, d.revoked_at is not None) for d in rows]
    finally:
        factory.engine.dispose()


def _visits_on_server(server: LiveServer, username: str) -> int:
    factory = Factory(server)
    try:
        with factory.session() as s:
            return len(s.exec(select(Visit).where(Visit.teacher == username)).all())
    finally:
        factory.engine.dispose()


def _local(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:  # read-only look beside the running app (WAL)
        return conn.execute(sql).fetchall()


def _device_id(page: Any) -> str:
    return str(page.evaluate("() => JSON.parse(localStorage['flutter.songjiao.device_id'])"))


def _sign_in(phone: Phone, username: str, subject: str) -> None:
    phone.see("登录送教通")
    phone.fill("用户名", username)
    phone.fill("密码", PASSWORD)
    phone.tap("登录")
    phone.see(subject, timeout=SIGN_IN_MS)
    phone.see("全部记录已同步", timeout=SIGN_IN_MS)


def _record_home_visit(phone: Phone, student_id: str) -> None:
    phone.tap_id(f"start-{student_id}")
    phone.tap_id("check-in")
    phone.see("定位精度约 15 米")
    phone.tap("能指认三种颜色")
    phone.fill("教学内容", "认识颜色：红、黄、蓝")
    phone.tap_id("check-out")
    phone.see("时长")
    phone.tap_id("save-visit")
    phone.see("保存前请注意")
    phone.tap("仍然保存")


def _record_itinerant_visit(phone: Phone, school_id: str) -> None:
    phone.tap_id(f"start-{school_id}")
    phone.tap_id("check-in")
    phone.see("定位精度约 15 米")
    phone.tap("随堂观察")
    phone.tap("王小红")
    phone.fill("发现的问题", "课堂参与度较好")
    phone.tap_id("check-out")
    phone.see("时长")
    phone.tap_id("save-visit")
    phone.see("保存前请注意")
    phone.tap("仍然保存")


def test_two_browsers_two_users_one_web_app_at_the_same_time(
    browser, sync_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    teacher = _world(sync_server, "home_teaching")
    itinerant = _world(sync_server, "itinerant")  # a second district of the same shape
    data = tmp_path / "web-app"
    app = AppProcess(data, sync_server.url, free_port(), tmp_path / "app.log")
    options = {
        "viewport": {"width": 360, "height": 740},
        "geolocation": HOME,
        "permissions": ["geolocation"],
        "locale": "zh-CN",
    }
    t_context, i_context = browser.new_context(**options), browser.new_context(**options)
    new_context = None
    try:
        app.start()
        t_phone = Phone(t_context.new_page(), artifacts)
        i_phone = Phone(i_context.new_page(), artifacts)
        t_phone.open(app.url)
        i_phone.open(app.url)
        _sign_in(t_phone, teacher.username, teacher.subject)
        _sign_in(i_phone, itinerant.username, itinerant.subject)
        t_phone.shot("teacher-caseload")
        i_phone.shot("itinerant-caseload")
        # Each sees only its own: the itinerant's district has no 李小宝 at all.
        assert not t_phone.sees(itinerant.subject) and not i_phone.sees(teacher.subject)

        # Both at work at once; each browser's visit goes up under its own user.
        # (The status line, not the snack: a snack may be gone while the other browser types.)
        _record_home_visit(t_phone, teacher.subject_id)
        _record_itinerant_visit(i_phone, itinerant.subject_id)
        t_phone.see("全部记录已同步")
        i_phone.see("全部记录已同步")
        t_phone.shot("teacher-synced")
        i_phone.shot("itinerant-synced")
        assert _visits_on_server(sync_server, teacher.username) == 1
        assert _visits_on_server(sync_server, itinerant.username) == 1
        t_phone.tap("历史记录")
        t_phone.see(teacher.subject)
        assert not t_phone.sees(itinerant.subject)
        t_phone.shot("teacher-history")
        t_phone.back()

        devices = sorted((data / "devices").iterdir())
        assert len(devices) == 2 and not (data / "songjiao.db").exists()
        # Each browser keeps its device id in its own localStorage (Flutter's shared prefs).
        kept = {_device_id(p.page) for p in (t_phone, i_phone)}
        assert kept == {d.name for d in devices}
        stores = {
            _local(d / "songjiao.db", "SELECT value FROM meta WHERE key = 'user'")[0][0]: d
            for d in devices
        }
        t_store = next(d for u, d in stores.items() if teacher.username in u)
        i_store = next(d for u, d in stores.items() if itinerant.username in u)
        assert _local(i_store / "songjiao.db", "SELECT COUNT(*) FROM visit") == [(1,)]
        assert teacher.subject_id not in str(
            _local(i_store / "songjiao.db", "SELECT * FROM entity")
        )

        # No signal: the teacher signs out and deletes; the revocation waits for the server.
        sync_server.stop()
        t_phone.tap("退出登录")
        t_phone.see("退出并删除本机数据")
        t_phone.shot("sign-out-confirm")
        t_phone.tap("退出并删除本机数据")
        t_phone.see("已退出登录，本机数据已删除")
        t_phone.see("登录送教通")
        t_phone.shot("teacher-signed-out")
        assert _local(t_store / "songjiao.db", "SELECT COUNT(*) FROM visit") == [(0,)]
        assert _local(t_store / "songjiao.db", "SELECT key FROM meta") == [("server_url",)]

        # The other browser works on offline, then syncs once the server is back.
        _record_itinerant_visit(i_phone, itinerant.subject_id)
        i_phone.see("待同步：1 条记录")
        i_phone.shot("itinerant-offline-visit")
        sync_server.start()
        assert [revoked for _, revoked in _tokens(sync_server, teacher.username)] == [False]
        i_phone.tap("立即同步")  # (its own backoff round may get there first: no count here)
        i_phone.see("同步完成")
        i_phone.see("全部记录已同步")
        i_phone.shot("itinerant-still-syncs")
        assert _local(i_store / "songjiao.db", "SELECT COUNT(*) FROM visit") == [(2,)]
        assert _visits_on_server(sync_server, itinerant.username) == 2
        assert _visits_on_server(sync_server, teacher.username) == 1
        assert [revoked for _, revoked in _tokens(sync_server, itinerant.username)] == [False]

        # The queued revocation goes out on its own (backoff) now the server answers.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if _tokens(sync_server, teacher.username)[0][1]:
                break
            time.sleep(1)
        ((name, revoked),) = _tokens(sync_server, teacher.username)
        assert revoked and name.startswith("送教通网页版")

        # The app is killed and started again: each browser comes back to its own device.
        app.kill()
        app.start()
        i_phone.reload()
        i_phone.see(itinerant.subject, timeout=SIGN_IN_MS)  # a cold start under the suite's load
        i_phone.see("全部记录已同步")
        assert not i_phone.sees("登录已失效")
        i_phone.shot("itinerant-after-restart")
        t_phone.reload()
        t_phone.see("登录送教通")
        assert not t_phone.sees(teacher.subject)

        # A brand-new browser: a device of its own, nobody's name filled in.
        new_context = browser.new_context(**options)
        new_phone = Phone(new_context.new_page(), artifacts)
        new_phone.open(app.url)
        new_phone.see("登录送教通")
        assert not new_phone.sees("登录已失效")
        assert new_phone.field_text("用户名") == ""
        new_phone.shot("new-browser")
        t_phone.shot("teacher-login-settled")
        fresh = _device_id(new_phone.page)
        assert fresh not in kept and (data / "devices" / fresh).is_dir()
        assert {_device_id(p.page) for p in (t_phone, i_phone)} == kept  # kept across restart
    finally:
        for context in (t_context, i_context, new_context):
            if context is not None:
                context.close()
        app.stop()
