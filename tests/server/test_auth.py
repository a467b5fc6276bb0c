"""Login per device; tokens as hashes; 401 for anything but a live token."""

from sqlmodel import select

from server.models import DeviceToken
from server.security import token_hash
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
