"""Console sign-ins kept on the server: logout, idle timeout, lifetime, password change and
"sign out everywhere" end them, so a copied cookie is worthless afterwards (issue 7, point 5)."""

import re
from datetime import timedelta

import requests
from sqlmodel import col, select

from server.models import AuditLog, ConsoleSession, DeviceToken, User, utcnow
from tests.conftest import World
from tests.factories import PASSWORD, Factory, home_visit, upsert
from tests.live import LiveServer
from tests.server.test_console import Console, _jpeg, _short_visit, _upload, _visit, forms_of

NEW_PASSWORD = "一个新的密码 2026"


def _sessions(factory: Factory, username: str) -> list[ConsoleSession]:
    with factory.session() as s:
        user = s.exec(select(User).where(User.username == username)).one()
        return list(
            s.exec(
                select(ConsoleSession)
                .where(ConsoleSession.user_id == user.id)
                .order_by(col(ConsoleSession.id))
            )
        )


def _set_past(factory: Factory, session_id: int | None, **ago: timedelta) -> None:
    """Move a console session's times into the past, as if that much time had gone by."""
    with factory.session() as s:
        stored = s.get(ConsoleSession, session_id)
        assert stored is not None
        for field, delta in ago.items():
            setattr(stored, field, utcnow() - delta)
        s.add(stored)
        s.commit()


def _audit(factory: Factory, action: str, entity_id: str) -> list[AuditLog]:
    with factory.session() as s:
        return list(
            s.exec(
                select(AuditLog).where(AuditLog.action == action, AuditLog.entity_id == entity_id)
            )
        )


def _replay(server: LiveServer, browser: Console) -> Console:
    """Another browser holding a copy of ``browser``'s cookie and CSRF token."""
    thief = Console(server)
    thief.http.cookies.update(requests.utils.dict_from_cookiejar(browser.http.cookies))
    thief.token = browser.token
    return thief


def _bounced(browser: Console, path: str) -> bool:
    response = browser.get(path, allow_redirects=False)
    return response.status_code == 303 and "/login" in response.headers["location"]


def test_cookie_replayed_after_logout_opens_nothing_and_changes_nothing(
    world: World, factory: Factory, server: LiveServer
) -> None:
    coord = Console(server)
    assert coord.login(world.coordinator).status_code == 200
    sha = _upload(world.t, _jpeg(41))
    record = home_visit(world.student, photos=[sha], minutes=20)
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied", result
    phone = factory.login(world.teacher, device="被撤销的手机")
    page = coord.get("/devices")
    token_id = re.search(r'被撤销的手机</td>.*?href="/devices/(\d+)/revoke"', page.text, re.S)
    assert token_id is not None
    pages = [
        "/dashboard",
        f"/visits/{record['id']}",
        f"/visits/{record['id']}/photos/{sha}",
        "/exports/visits.csv",
        "/exports/subsidies.xlsx",
        "/devices",
    ]
    for path in pages:
        assert coord.get(path, allow_redirects=False).status_code == 200, path
    coord.get(f"/visits/{record['id']}")  # the CSRF token a thief would copy
    thief = _replay(server, coord)
    assert coord.post("/logout", {}).status_code == 200
    for path in pages:
        assert _bounced(thief, path), path
    review = thief.post(
        f"/visits/{record['id']}/review", {"decision": "approved"}, allow_redirects=False
    )
    assert review.status_code == 303 and "/login" in review.headers["location"]
    revoke = thief.post(f"/devices/{token_id.group(1)}/revoke", {}, allow_redirects=False)
    assert revoke.status_code == 303 and "/login" in revoke.headers["location"]
    assert _visit(factory, record["id"]).review_status == "pending"
    assert phone.get("/sync/pull").status_code == 200
    (row,) = _sessions(factory, world.coordinator)
    assert row.ended_at is not None
    assert _audit(factory, "logout", str(row.id))


def test_cookie_holds_no_user_id_and_the_table_only_a_hash(
    world: World, factory: Factory, server: LiveServer
) -> None:
    coord = Console(server)
    coord.login(world.coordinator)
    (row,) = _sessions(factory, world.coordinator)
    cookie = coord.http.cookies["songjiao_session"]
    assert row.session_hash not in cookie and len(row.session_hash) == 64
    assert row.address == "127.0.0.1"


def test_idle_session_ends_and_activity_moves_last_seen_once_a_minute(
    world: World, factory: Factory, server: LiveServer
) -> None:
    coord = Console(server)
    coord.login(world.coordinator)
    (row,) = _sessions(factory, world.coordinator)
    _set_past(factory, row.id, last_seen_at=timedelta(minutes=2))
    assert coord.signed_in()
    (moved,) = _sessions(factory, world.coordinator)
    assert utcnow() - moved.last_seen_at < timedelta(seconds=30)
    assert coord.signed_in()
    (again,) = _sessions(factory, world.coordinator)
    assert again.last_seen_at == moved.last_seen_at  # within the minute: no write
    _set_past(factory, row.id, last_seen_at=timedelta(minutes=31))  # the default idle timeout: 30
    assert _bounced(coord, "/dashboard")


def test_session_ends_after_twelve_hours_however_active(
    world: World, factory: Factory, server: LiveServer
) -> None:
    coord = Console(server)
    coord.login(world.coordinator)
    (row,) = _sessions(factory, world.coordinator)
    _set_past(factory, row.id, created_at=timedelta(hours=12, minutes=1))
    assert _bounced(coord, "/dashboard")


def test_password_change_ends_other_sessions_and_every_device_token(
    world: World, factory: Factory, server: LiveServer
) -> None:
    here, elsewhere = Console(server), Console(server)
    here.login(world.coordinator)
    elsewhere.login(world.coordinator)
    page = here.get("/account/password")
    (form,) = [f for f in forms_of(page.text) if f["action"] == "/account/password"]
    assert set(form["fields"]) == {
        "csrf_token",
        "old_password",
        "new_password",
        "new_password_again",
    }
    form_data = {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    wrong = here.post("/account/password", {"old_password": "nope", **form_data})
    assert wrong.status_code == 400 and "原密码不正确" in wrong.text
    mismatch = here.post(
        "/account/password",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": "x"},
    )
    assert mismatch.status_code == 400 and "不一致" in mismatch.text
    assert elsewhere.signed_in() and world.c.get("/auth/me").status_code == 200
    assert here.post("/account/password", {**form_data}, csrf=False).status_code == 403
    done = here.post("/account/password", {"old_password": PASSWORD, **form_data})
    assert done.status_code == 200 and "密码已修改" in done.text
    assert here.signed_in()
    assert not elsewhere.signed_in()
    assert world.c.get("/auth/me").status_code == 401
    assert Console(server).login(world.coordinator).status_code == 401
    assert Console(server).login(world.coordinator, NEW_PASSWORD).status_code == 200
    assert _audit(factory, "password_change", world.coordinator)
    assert _audit(factory, "password_change_failed", world.coordinator)


def test_sign_out_everywhere_ends_sessions_and_tokens_within_scope(
    world: World, factory: Factory, server: LiveServer
) -> None:
    coord = Console(server)
    coord.login(world.coordinator)
    phone = factory.login(world.teacher, device="第二台手机")
    page = coord.get("/devices")
    (form,) = [f for f in forms_of(page.text) if f["action"] == "/devices/sign-out-everywhere"]
    assert form["fields"] == {"csrf_token": "hidden", "username": "text"}
    path = "/devices/sign-out-everywhere"
    assert coord.post(path, {"username": world.teacher}, csrf=False).status_code == 403
    outsider = factory.user("teacher", factory.district())
    outsider_phone = factory.login(outsider)
    assert coord.post(path, {"username": outsider}).status_code == 404
    assert coord.post(path, {"username": "nobody-at-all"}).status_code == 404
    assert outsider_phone.get("/auth/me").status_code == 200
    done = coord.post(path, {"username": world.teacher})
    assert done.status_code == 200 and world.teacher in done.text
    assert phone.get("/auth/me").status_code == 401
    assert world.t.get("/auth/me").status_code == 401
    assert world.i.get("/auth/me").status_code == 200
    (row,) = _audit(factory, "sign_out_everywhere", world.teacher)
    assert row.actor == world.coordinator and row.detail.endswith("devices=2")
    # An admin signs a coordinator out of the console too; a coordinator cannot sign out an admin.
    admin_name = factory.user("admin", None)
    admin = Console(server)
    assert admin.login(admin_name).status_code == 200
    assert coord.post(path, {"username": admin_name}).status_code == 404
    assert admin.signed_in()
    assert admin.post(path, {"username": world.coordinator}).status_code == 200
    assert not coord.signed_in()
    with factory.session() as s:
        user = s.exec(select(User).where(User.username == world.coordinator)).one()
        live = s.exec(
            select(DeviceToken).where(
                DeviceToken.user_id == user.id, col(DeviceToken.revoked_at).is_(None)
            )
        ).all()
    assert live == []


def test_signing_in_again_after_logout_gives_a_new_working_session(
    world: World, factory: Factory, server: LiveServer
) -> None:
    """Signing out and in again gives a working session (the new row, not the ended one)."""
    coord = Console(server)
    coord.login(world.coordinator)
    coord.get("/dashboard")
    coord.post("/logout", {})
    assert coord.login(world.coordinator).status_code == 200
    record = _short_visit(world)
    coord.get(f"/visits/{record['id']}")
    assert coord.post(f"/visits/{record['id']}/review", {"decision": "approved"}).ok
    assert _visit(factory, record["id"]).review_status == "approved"
    first, second = _sessions(factory, world.coordinator)
    assert first.ended_at is not None and second.ended_at is None


def test_signing_in_again_in_the_same_browser_ends_the_earlier_session(
    world: World, factory: Factory, server: LiveServer
) -> None:
    coord = Console(server)
    coord.login(world.coordinator)
    copy = _replay(server, coord)
    assert copy.signed_in()
    coord.get("/login")
    response = coord.post("/login", {"username": world.coordinator, "password": PASSWORD})
    assert response.status_code == 200 and coord.signed_in()
    assert not copy.signed_in()
    first, second = _sessions(factory, world.coordinator)
    assert first.ended_at is not None and second.ended_at is None
    assert _audit(factory, "replaced", str(first.id))
