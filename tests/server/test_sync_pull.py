"""Pull through real HTTP: cursors from the server's sequence, scope, paging."""

from sqlmodel import select

from server.models import AuditLog
from server.services import registry
from tests.conftest import World
from tests.factories import Factory, home_visit, upsert


def _pull_all(client, cursor=None, limit=None, max_pages=1000):
    changes, pages = [], 0
    while pages < max_pages:
        params = {k: v for k, v in {"cursor": cursor, "limit": limit}.items() if v is not None}
        body = client.get("/sync/pull", params=params).json()
        changes += body["changes"]
        cursor, pages = body["cursor"], pages + 1
        if not body["has_more"]:
            return changes, cursor, pages
    raise AssertionError("pull never finished")


def test_first_pull_brings_assigned_child_school_and_policy_scope(world: World) -> None:
    changes, _, _ = _pull_all(world.t)
    students = {c["id"] for c in changes if c["entity"] == "student"}
    assert students == {world.student}
    student = next(c["record"] for c in changes if c["entity"] == "student")
    # Only what the job needs: no roll details beyond these, never an ID number.
    assert "certified" not in student and "active" not in student
    assert student["guardian_phone"] and student["iep_goals"] == []
    schools = {c["id"] for c in changes if c["entity"] == "school"}
    assert world.special_school in schools  # the child's school and the teacher's base
    assert world.school not in schools  # the itinerant's school is none of the teacher's business


def test_cursor_returns_only_newer_changes(world: World) -> None:
    _, cursor, _ = _pull_all(world.t)
    again, cursor2, _ = _pull_all(world.t, cursor=cursor)
    assert again == [] and cursor2 == cursor
    record = home_visit(world.student)
    world.t.push(upsert(record))
    newer, _, _ = _pull_all(world.t, cursor=cursor)
    assert [(c["entity"], c["id"]) for c in newer] == [("visit", record["id"])]


def test_paging_with_small_limit_sees_every_change_once(world: World) -> None:
    ids = []
    for _ in range(7):
        record = home_visit(world.student)
        ids.append(record["id"])
        world.t.push(upsert(record))
    whole, _, _ = _pull_all(world.t)
    paged, _, pages = _pull_all(world.t, limit=2)
    assert [c["id"] for c in paged] == [c["id"] for c in whole]
    assert pages >= 5
    assert set(ids) <= {c["id"] for c in paged}


def test_limit_is_a_hint_never_refused(world: World) -> None:
    for limit in ("0", "-5", "100000000", "abc"):
        response = world.t.get("/sync/pull", params={"limit": limit})
        assert response.status_code == 200, (limit, response.text)


def test_bad_cursor_is_a_clear_400(world: World) -> None:
    response = world.t.get("/sync/pull", params={"cursor": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_new_assignment_brings_an_old_student(world: World, factory: Factory) -> None:
    older = factory.student(world.district, world.special_school, name="李小红")
    _, cursor, _ = _pull_all(world.t)
    factory.assign(world.teacher, student=older, district=world.district)
    changes, cursor, _ = _pull_all(world.t, cursor=cursor)
    assert {(c["entity"], c["id"]) for c in changes} >= {("student", older)}
    with factory.session() as s:
        registry.remove_assignment(s, username=world.teacher, student_id=older, school_id=None)
        s.commit()
    changes, _, _ = _pull_all(world.t, cursor=cursor)
    assert any(c["entity"] == "assignment" and c["deleted"] for c in changes)


def test_teacher_never_sees_other_teachers_visits(world: World, factory: Factory) -> None:
    other = factory.user("teacher", world.district, base_school=world.special_school)
    factory.assign(other, student=world.student, district=world.district)
    theirs = home_visit(world.student)
    factory.login(other).push(upsert(theirs))
    changes, _, _ = _pull_all(world.t)
    assert theirs["id"] not in {c["id"] for c in changes}
    coordinator_changes, _, _ = _pull_all(world.c)
    assert theirs["id"] in {c["id"] for c in coordinator_changes}


def test_pull_of_a_child_is_audited(world: World, factory: Factory) -> None:
    _pull_all(world.t)
    with factory.session() as s:
        rows = s.exec(
            select(AuditLog).where(AuditLog.actor == world.teacher, AuditLog.action != "login")
        ).all()
    # The device's sign-in is audited too (its own row); the pull adds one row per child.
    assert [(r.action, r.entity, r.entity_id) for r in rows] == [("sync", "student", world.student)]


def test_the_calendar_comes_only_to_a_pull_that_asks_and_only_when_changed(world: World) -> None:
    """A contract client's pull is unchanged; the phone's tag gets the calendar once."""
    plain = world.t.get("/sync/pull").json()
    assert "calendar" not in plain
    first = world.t.get("/sync/pull", params={"calendar": ""}).json()
    calendar = first["calendar"]
    assert calendar["tag"] and isinstance(calendar["terms"], list)
    again = world.t.get("/sync/pull", params={"calendar": calendar["tag"]}).json()
    assert "calendar" not in again
    stale = world.t.get("/sync/pull", params={"calendar": "0" * 16}).json()
    assert stale["calendar"] == calendar
