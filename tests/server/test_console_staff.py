"""Assignments and staff accounts from the console, through real HTTP, down to the phone's pull."""

import re

import pytest
from sqlmodel import select

from server.models import AuditLog, User
from tests.conftest import World
from tests.factories import Factory, uid
from tests.live import Client, LiveServer
from tests.server.test_console import Console

NEW_PASSWORD = re.compile(r'<code id="new-password">([^<]+)</code>')


@pytest.fixture
def coord(world: World, server: LiveServer) -> Console:
    console = Console(server)
    assert console.login(world.coordinator).status_code == 200
    return console


def pull_changes(client: Client, cursor: str | None = None) -> tuple[list[dict], str]:
    body = client.get("/sync/pull", params={"cursor": cursor} if cursor else {}).json()
    return body["changes"], body["cursor"]


def actions(factory: Factory, actor: str) -> list[str]:
    with factory.session() as s:
        return list(s.exec(select(AuditLog.action).where(AuditLog.actor == actor)).all())


def gaps(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-gap="(\w+)">(\d+)<', html)}


def test_assigning_a_child_reaches_the_teachers_next_pull_and_unassigning_removes_it(
    coord: Console, world: World, factory: Factory
) -> None:
    child = factory.student(world.district, world.special_school, name="李小花")
    _, cursor = pull_changes(world.t)
    page = coord.get("/assignments")
    assert gaps(page.text)["children"] >= 1 and "李小花" in page.text
    done = coord.post(
        "/assignments", {"action": "assign", "username": world.teacher, "student_id": child}
    )
    assert "其手机下次同步时可见" in done.text
    changes, cursor = pull_changes(world.t, cursor)
    assert {(c["entity"], c["id"]) for c in changes} >= {
        ("assignment", f"{world.teacher}|{child}|"),
        ("student", child),
    }
    coord.get("/assignments")
    coord.post(
        "/assignments", {"action": "unassign", "username": world.teacher, "student_id": child}
    )
    changes, _ = pull_changes(world.t, cursor)
    assert [(c["entity"], c["deleted"]) for c in changes if c["entity"] == "assignment"] == [
        ("assignment", True)
    ]
    assert actions(factory, world.coordinator).count("assign") == 1
    assert actions(factory, world.coordinator).count("unassign") == 1


def test_the_board_shows_who_has_no_one(coord: Console, world: World, factory: Factory) -> None:
    lonely_school = factory.school(world.district, name="无人学校")
    idle = factory.user("itinerant", world.district)
    page = coord.get("/assignments").text
    found = gaps(page)
    assert found["schools"] >= 1 and found["staff"] >= 1
    assert "无人学校" in page and idle in page
    coord.post("/assignments", {"action": "assign", "username": idle, "school_id": lonely_school})
    after = gaps(coord.get("/assignments").text)
    assert after["schools"] == found["schools"] - 1 and after["staff"] == found["staff"] - 1


def test_the_assignment_rule_refuses_a_teacher_for_a_school(coord: Console, world: World) -> None:
    coord.get("/assignments")
    response = coord.post(
        "/assignments", {"action": "assign", "username": world.teacher, "school_id": world.school}
    )
    assert response.status_code == 200 and "无法分配" in response.text


def test_another_districts_child_or_teacher_is_404(
    coord: Console, world: World, factory: Factory
) -> None:
    elsewhere = factory.district()
    their_school = factory.school(elsewhere)
    their_child = factory.student(elsewhere, their_school)
    their_teacher = factory.user("teacher", elsewhere)
    coord.get("/assignments")
    for form in (
        {"username": world.teacher, "student_id": their_child},
        {"username": their_teacher, "student_id": world.student},
    ):
        response = coord.post("/assignments", {"action": "assign", **form})
        assert response.status_code == 404
    assert coord.get(f"/assignments?district={elsewhere}").status_code == 404


def test_a_coordinator_creates_a_teacher_who_signs_in_with_the_password_shown_once(
    coord: Console, world: World, server: LiveServer, factory: Factory
) -> None:
    username = uid("new")
    coord.get("/users")
    page = coord.post(
        "/users",
        {"username": username, "name": "新老师", "role": "teacher", "base_school_id": ""},
    )
    password = NEW_PASSWORD.search(page.text)
    assert password, page.text[:2000]
    assert "只显示这一次" in page.text
    login = Client(server).post(
        "/auth/login",
        json={"username": username, "password": password.group(1), "device_name": "新手机"},
    )
    assert login.status_code == 200
    assert login.json()["user"]["district_code"] == world.district
    assert password.group(1) not in coord.get("/users").text  # shown once
    with factory.session() as s:
        user = s.exec(select(User).where(User.username == username)).one()
        assert user.password_hash and user.password_hash.startswith("$argon2")
    assert "create_user" in actions(factory, world.coordinator)


def test_a_coordinator_may_not_create_a_coordinator_or_a_repeated_username(
    coord: Console, world: World
) -> None:
    coord.get("/users")
    page = coord.post("/users", {"username": uid("co"), "name": "某", "role": "coordinator"})
    assert page.status_code == 400 and "由市级管理员新建" in page.text
    coord.get("/users")
    page = coord.post("/users", {"username": world.teacher, "name": "某", "role": "teacher"})
    assert page.status_code == 409 and "用户名已存在" in page.text


def test_reset_ends_the_old_devices_and_disable_ends_everything(
    coord: Console, world: World, server: LiveServer, factory: Factory
) -> None:
    assert world.t.get("/sync/pull").status_code == 200
    coord.get("/users")
    page = coord.post(f"/users/{world.teacher}/password", {})
    password = NEW_PASSWORD.search(page.text)
    assert password
    assert world.t.get("/sync/pull").status_code == 401  # the old token is over
    fresh = Client(server)
    token = fresh.post(
        "/auth/login",
        json={"username": world.teacher, "password": password.group(1), "device_name": "新"},
    ).json()["token"]
    fresh.token = token
    assert fresh.get("/sync/pull").status_code == 200
    coord.get("/users")
    off = coord.post(f"/users/{world.teacher}/active", {"active": "0"})
    assert "已停用账号" in off.text
    assert fresh.get("/sync/pull").status_code == 401
    again = Client(server).post(
        "/auth/login",
        json={"username": world.teacher, "password": password.group(1), "device_name": "x"},
    )
    assert again.status_code == 401
    coord.get("/users")
    coord.post(f"/users/{world.teacher}/active", {"active": "1"})
    back = Client(server).post(
        "/auth/login",
        json={"username": world.teacher, "password": password.group(1), "device_name": "x"},
    )
    assert back.status_code == 200
    done = actions(factory, world.coordinator)
    assert {"reset_password", "disable_user", "enable_user"} <= set(done)


def test_disabling_a_coordinator_ends_their_console_session(
    world: World, server: LiveServer, factory: Factory
) -> None:
    admin = Console(server)
    admin.login(factory.user("admin", None))
    colleague = factory.user("coordinator", world.district)
    theirs = Console(server)
    theirs.login(colleague)
    assert theirs.signed_in()
    admin.get("/users")
    admin.post(f"/users/{colleague}/active", {"active": "0"})
    assert not theirs.signed_in()


def test_another_districts_account_is_404(coord: Console, factory: Factory) -> None:
    elsewhere = factory.district()
    their_teacher = factory.user("teacher", elsewhere)
    coord.get("/users")
    assert coord.post(f"/users/{their_teacher}/password", {}).status_code == 404
    coord.get("/users")
    assert coord.post(f"/users/{their_teacher}/active", {"active": "0"}).status_code == 404
    assert their_teacher not in coord.get("/users").text
    with factory.session() as s:
        assert s.exec(select(User).where(User.username == their_teacher)).one().active


def test_a_coordinator_cannot_reach_an_admin(
    coord: Console, factory: Factory, world: World
) -> None:
    admin = factory.user("admin", world.district)
    coord.get("/users")
    assert coord.post(f"/users/{admin}/active", {"active": "0"}).status_code == 404
    with factory.session() as s:
        assert s.exec(select(User).where(User.username == admin)).one().active
