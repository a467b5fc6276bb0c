"""What an auditor asks for: who did what, when, from which device or address (issue 7,
point 11). Sign-in failures and lock-outs are in test_login_throttle; console sessions in
test_console_sessions."""

import re

from sqlmodel import col, select

from server.models import AuditLog, DeviceToken
from server.security import token_hash
from tests.conftest import World
from tests.factories import Factory, home_visit, upsert
from tests.live import LiveServer
from tests.server.test_console import Console, _jpeg, _short_visit, _upload


def _rows(factory: Factory, action: str, entity_id: str) -> list[AuditLog]:
    with factory.session() as s:
        return list(
            s.exec(
                select(AuditLog)
                .where(AuditLog.action == action, AuditLog.entity_id == entity_id)
                .order_by(col(AuditLog.id))
            )
        )


def _token_id(factory: Factory, token: str | None) -> int:
    with factory.session() as s:
        device = s.exec(
            select(DeviceToken).where(DeviceToken.token_hash == token_hash(token or ""))
        ).one()
        return device.id or 0


def test_api_login_and_device_logout_leave_rows_with_device_and_address(
    world: World, factory: Factory
) -> None:
    phone = factory.login(world.teacher, device="审计手机")
    device_id = _token_id(factory, phone.token)
    login = [r for r in _rows(factory, "login", world.teacher) if r.device_id == device_id]
    assert len(login) == 1 and login[0].address == "127.0.0.1"
    assert "channel=api" in login[0].detail and login[0].district_code == world.district
    assert phone.post("/auth/logout").status_code == 204
    (logout,) = _rows(factory, "logout", str(device_id))
    assert (logout.actor, logout.entity, logout.device_id) == (world.teacher, "device", device_id)


def test_device_revocation_is_audited_on_the_api_and_the_console(
    world: World, factory: Factory, server: LiveServer
) -> None:
    lost = factory.login(world.teacher, device="API撤销")
    lost_id = _token_id(factory, lost.token)
    assert world.c.post(f"/devices/{lost_id}/revoke").status_code == 200
    (row,) = _rows(factory, "revoke", str(lost_id))
    assert row.actor == world.coordinator and row.device_id == _token_id(factory, world.c.token)
    assert row.district_code == world.district and world.teacher in row.detail
    assert world.c.post(f"/devices/{lost_id}/revoke").status_code == 200
    assert len(_rows(factory, "revoke", str(lost_id))) == 1  # nothing changed, nothing logged
    other = factory.login(world.teacher, device="控制台撤销")
    other_id = _token_id(factory, other.token)
    coord = Console(server)
    coord.login(world.coordinator)
    coord.get("/devices")
    assert coord.post(f"/devices/{other_id}/revoke", {}).status_code == 200
    (row,) = _rows(factory, "revoke", str(other_id))
    assert row.actor == world.coordinator and row.address == "127.0.0.1"
    assert row.device_id is None


def test_every_review_path_leaves_its_row(
    world: World, factory: Factory, server: LiveServer
) -> None:
    coord = Console(server)
    coord.login(world.coordinator)
    approved, rejected = _short_visit(world), _short_visit(world)
    for record, data in (
        (approved, {"decision": "approved"}),
        (rejected, {"decision": "rejected", "reason": "照片缺失"}),
    ):
        coord.get(f"/visits/{record['id']}")
        assert coord.post(f"/visits/{record['id']}/review", data).status_code == 200
    coord.get(f"/visits/{approved['id']}")
    flag = {"code": "short_duration", "reason": "家长临时有事"}
    assert coord.post(f"/visits/{approved['id']}/flags", flag).status_code == 200
    first, resolution = _rows(factory, "review", approved["id"])
    (rejection,) = _rows(factory, "review", rejected["id"])
    assert first.detail.startswith("approved version=1")
    assert rejection.detail.startswith("rejected") and "照片缺失" in rejection.detail
    assert resolution.detail.startswith("resolve_flag flag=short_duration")
    for row in (first, rejection, resolution):
        assert (row.actor, row.entity, row.district_code) == (
            world.coordinator,
            "visit",
            world.district,
        )
        assert row.address == "127.0.0.1"
    # A refused review (no reason) changes nothing and so leaves no review row.
    refused = _short_visit(world)
    coord.get(f"/visits/{refused['id']}")
    assert coord.post(f"/visits/{refused['id']}/review", {"decision": "rejected"}).status_code
    assert _rows(factory, "review", refused["id"]) == []


def test_reads_carry_the_device_or_the_address(
    world: World, factory: Factory, server: LiveServer
) -> None:
    sha = _upload(world.t, _jpeg(77))
    record = home_visit(world.student, photos=[sha])
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied", result
    assert world.c.get(f"/photos/{sha}").status_code == 200
    (download,) = _rows(factory, "download", sha)
    assert download.device_id == _token_id(factory, world.c.token)
    assert download.address == "127.0.0.1"
    assert world.t.get("/sync/pull").status_code == 200
    synced = _rows(factory, "sync", world.student)
    assert synced and synced[-1].device_id == _token_id(factory, world.t.token)
    coord = Console(server)
    coord.login(world.coordinator)
    page = coord.get(f"/visits/{record['id']}")
    assert re.search(sha, page.text)
    (view,) = _rows(factory, "view", record["id"])
    assert view.address == "127.0.0.1" and view.device_id is None
