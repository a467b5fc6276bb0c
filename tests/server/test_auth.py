"""Login per device; tokens as hashes; 401 for anything but a live token."""

import re
import time
from datetime import datetime, timedelta

from sqlmodel import select

from server.models import DeviceToken, utcnow
from server.security import token_hash
from shared.terms import SHANGHAI
from tests.conftest import World
from tests.factories import PASSWORD, Factory
from tests.live import Client, LiveServer


def test_login_returns_token_and_user(world: World, server: LiveServer) -> None:
    response = Client(server).post(
        "/auth/login", json={"username": world.teacher, "password": PASSWORD, "device_name": "红米"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "username": world.teacher,
        "name": "测试teacher",
        "role": "teacher",
        "district_code": world.district,
        "base_school_id": world.special_school,
    }
    assert "password_hash" not in response.text


def test_token_is_stored_only_as_hash(world: World, factory: Factory) -> None:
    with factory.session() as s:
        stored = {d.token_hash for d in s.exec(select(DeviceToken))}
    assert world.t.token not in stored
    assert token_hash(world.t.token) in stored


def test_bad_password_and_unknown_user_are_401(world: World, server: LiveServer) -> None:
    for username, password in ((world.teacher, "wrong"), ("nobody-here", PASSWORD)):
        response = Client(server).post(
            "/auth/login", json={"username": username, "password": password, "device_name": "x"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_credentials"
        assert "密码" in response.json()["error"]["message"]


def test_missing_malformed_unknown_token_is_401(server: LiveServer) -> None:
    for header in (None, "Bearer", "Basic abc", "Bearer not-a-token", "bearer  "):
        headers = {"Authorization": header} if header else {}
        response = Client(server).get("/sync/pull", headers=headers)
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "unauthorized"


def test_revoked_token_is_401_on_next_call(world: World, factory: Factory) -> None:
    phone = factory.login(world.teacher, device="旧手机")
    assert phone.get("/sync/pull").status_code == 200
    devices = world.c.get("/devices").json()
    target = next(
        d for d in devices if d["device_name"] == "旧手机" and d["username"] == world.teacher
    )
    assert world.c.post(f"/devices/{target['id']}/revoke").status_code == 200
    assert phone.get("/sync/pull").status_code == 401
    assert world.t.get("/sync/pull").status_code == 200  # the teacher's other device still works


def test_field_staff_cannot_revoke_or_list_devices(world: World) -> None:
    assert world.t.get("/devices").status_code == 403
    assert world.t.post("/devices/1/revoke").status_code == 403


def test_coordinator_cannot_revoke_other_districts_device(world: World, factory: Factory) -> None:
    other_district = factory.district()
    outsider = factory.user("teacher", other_district)
    factory.login(outsider, device="外区手机")
    other_coord = factory.login(factory.user("coordinator", other_district))
    target = next(d for d in other_coord.get("/devices").json() if d["username"] == outsider)
    assert world.c.post(f"/devices/{target['id']}/revoke").status_code == 404


def _device(factory: Factory, token: str) -> DeviceToken:
    with factory.session() as s:
        return s.exec(select(DeviceToken).where(DeviceToken.token_hash == token_hash(token))).one()


def test_logout_revokes_exactly_the_calling_token(world: World, factory: Factory) -> None:
    phone = factory.login(world.teacher, device="退出的手机")
    assert phone.post("/auth/logout").status_code == 204
    assert phone.get("/sync/pull").status_code == 401
    again = phone.post("/auth/logout")
    assert again.status_code == 401 and again.json()["error"]["code"] == "unauthorized"
    assert world.t.get("/sync/pull").status_code == 200  # the teacher's other device
    listed = next(d for d in world.c.get("/devices").json() if d["device_name"] == "退出的手机")
    assert listed["revoked"] is True
    assert Client(phone.server).post("/auth/logout").status_code == 401  # no token at all


def _last_used_once_written(
    factory: Factory, token: str, newer_than: datetime | None = None
) -> datetime:
    """The device's ``last_used_at`` once the server wrote a mark newer than ``newer_than``:
    marks are written together every SONGJIAO_LAST_USED_FLUSH_SECONDS (server.last_used)."""
    deadline = time.monotonic() + 30
    while True:
        used = _device(factory, token).last_used_at
        if used is not None and (newer_than is None or used > newer_than):
            return used
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.2)


def test_last_used_at_is_kept_at_most_once_a_minute(world: World, factory: Factory) -> None:
    phone = factory.login(world.teacher, device="常用手机")
    assert _device(factory, phone.token or "").last_used_at is None
    assert phone.get("/auth/me").status_code == 200
    first = _last_used_once_written(factory, phone.token or "")
    assert utcnow() - first < timedelta(seconds=30)
    assert phone.get("/sync/pull").status_code == 200
    time.sleep(1.5)  # longer than the test servers' flush interval (tests/live.py)
    assert _device(factory, phone.token or "").last_used_at == first  # within the minute
    stale = utcnow() - timedelta(minutes=2)
    with factory.session() as s:
        device = _device(factory, phone.token or "")
        device.last_used_at = stale
        s.add(device)
        s.commit()
    assert phone.get("/auth/me").status_code == 200
    moved = _last_used_once_written(factory, phone.token or "", newer_than=stale)
    assert moved > first - timedelta(seconds=1)
    listed = next(d for d in world.c.get("/devices").json() if d["device_name"] == "常用手机")
    assert listed["last_used_at"] == moved.isoformat()


def test_console_device_list_shows_last_use(world: World, factory: Factory) -> None:
    from tests.server.test_console import Console

    phone = factory.login(world.teacher, device="显示时间的手机")
    phone.get("/auth/me")
    used = _last_used_once_written(factory, phone.token or "")
    coord = Console(world.c.server)
    coord.login(world.coordinator)
    page = coord.get("/devices").text
    row = re.search(r"显示时间的手机</td>(.*?)</tr>", page, re.S)
    assert row is not None and used.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in row.group(1)
    assert "最近使用" in page
