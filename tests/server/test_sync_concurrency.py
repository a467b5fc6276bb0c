"""Push and pull from many connections and two server processes on one database at once.

The contract's cursor rule (a pull never skips a change committed late; no device clock decides
what is new) and idempotency by op_id must hold when pushes really overlap: judged with no lock
(server/services/sync_push.py), numbered and written under the change counter.
"""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from server.db import next_seq
from server.models import Student, SyncOp, User, Visit, utcnow
from server.scope import Scope
from server.services import sync_pull, sync_push
from tests.conftest import World
from tests.factories import Factory, home_visit, local_day_at, upsert
from tests.live import Client, LiveServer, free_port

PUSHERS = 4
ROUNDS = 20  # pushes per teacher
MAX_PULLS = 20_000  # bound on the follower's loop


@pytest.fixture(scope="module")
def second_server(
    server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Another ``songjiao serve`` process on the same database as ``server``."""
    workdir: Path = tmp_path_factory.mktemp(f"second-{server.backend}")
    live = LiveServer(
        backend=server.backend,
        database_url=server.database_url,
        media_dir=server.media_dir,
        port=free_port(),
        log_path=workdir / "server.log",
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_concurrent_retries_of_one_op_answer_applied_and_duplicate(
    world: World, second_server: LiveServer, factory: Factory
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    for attempt in range(6):
        op = upsert(home_visit(world.student, start=start + timedelta(hours=attempt)))
        phones = [Client(world.t.server, world.t.token), Client(second_server, world.t.token)]
        barrier = threading.Barrier(len(phones))

        def send(
            phone: Client, op: dict[str, Any] = op, barrier: threading.Barrier = barrier
        ) -> dict[str, Any]:
            barrier.wait(timeout=30)
            return phone.push(op)[0]

        with ThreadPoolExecutor(len(phones)) as pool:
            results = list(pool.map(send, phones))
        assert sorted(r["status"] for r in results) == ["applied", "duplicate"]
        assert {(r["id"], r["version"]) for r in results} == {(op["record"]["id"], 1)}
        with factory.session() as s:
            ops = s.exec(select(func.count()).where(SyncOp.op_id == op["op_id"])).one()
            visit = s.get(Visit, op["record"]["id"])
        assert ops == 1 and visit is not None and visit.version == 1


def _state(change: dict[str, Any]) -> tuple[int, bool, list[str]]:
    record = change["record"] or {}
    return change["version"], change["deleted"], sorted(record.get("flags") or [])


def test_two_servers_pushing_leave_a_cursor_follower_every_final_version(
    server: LiveServer, second_server: LiveServer, factory: Factory
) -> None:
    district = factory.district()
    special = factory.school(district, kind="special", lat=30.20, lon=120.20)
    day = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(days=2)
    phones = []
    for _ in range(PUSHERS):
        student = factory.student(district, special)
        teacher = factory.user("teacher", district, base_school=special)
        factory.assign(teacher, student=student, district=district)
        a = factory.login(teacher)
        phones.append((student, a, Client(second_server, a.token)))
    follower = factory.login(factory.user("coordinator", district))
    followers = (follower, Client(second_server, follower.token))
    errors: list[BaseException] = []

    def push_rounds(student: str, a: Client, b: Client) -> None:
        try:
            # Each push adds 3 visits and edits the 3 of the push before: every push holds some
            # visit's final version, and each visit has neighbours whose flags it moves.
            previous: list[dict[str, Any]] = []
            for n in range(ROUNDS):
                new = [
                    home_visit(student, start=day - timedelta(days=m // 4, hours=-2 * (m % 4)))
                    for m in range(3 * n, 3 * n + 3)
                ]
                for r in previous:
                    r["content"] = "改过的送教内容"
                ops = [upsert(r, 1) for r in previous] + [upsert(r) for r in new]
                for result in (a, b)[n % 2].push(*ops):
                    assert result["status"] == "applied", result
                previous = new
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=push_rounds, args=phone) for phone in phones]
    for thread in threads:
        thread.start()
    held: dict[str, tuple[int, bool, list[str]]] = {}
    cursor, quiet = None, False
    for n in range(MAX_PULLS):
        pushing = any(thread.is_alive() for thread in threads)
        params: dict[str, Any] = {"limit": 7}  # small pages: many cursors between commits
        if cursor:
            params["cursor"] = cursor
        response = followers[n % 2].get("/sync/pull", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        for change in body["changes"]:
            if change["entity"] == "visit":
                held[change["id"]] = _state(change)
        cursor = body["cursor"]
        # Quiet: every push had answered before this pull began, and it found nothing more.
        if not pushing and not body["has_more"] and not body["changes"]:
            quiet = True
            break
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert quiet, "the follower never caught up"
    with factory.session() as s:
        stored = s.exec(select(Visit).where(col(Visit.district_code) == district)).all()
        truth = {
            v.id: (v.version, v.deleted, sorted(v.flags or [])) for v in stored if not v.deleted
        }
    assert len(truth) == PUSHERS * 3 * ROUNDS
    assert sorted({version for version, _, _ in truth.values()}) == [1, 2]
    assert {vid: held.get(vid) for vid in truth} == truth


class _Interleave:
    """Stands in for ``lock_changes`` in this process: once, runs ``meanwhile`` (another phone's
    push, over HTTP) after a push was judged and before it takes the lock, as a concurrent
    request may."""

    def __init__(self, meanwhile: Any) -> None:
        self.meanwhile, self.ran = meanwhile, False

    def __call__(self, session: Any) -> int:
        if not self.ran:
            self.ran = True
            self.meanwhile()
        return _real_lock_changes(session)


_real_lock_changes = sync_push.lock_changes


def _push_here(factory: Factory, username: str, *ops: dict[str, Any]) -> list[dict[str, Any]]:
    """``sync_push.push`` called in this process on the live server's database."""
    with factory.session() as s:
        user = s.exec(select(User).where(User.username == username)).one()
        results = sync_push.push(s, scope=Scope.of(user), raw_ops=list(ops), now=utcnow())
    return [r.model_dump(mode="json") for r in results]


def test_an_op_applied_while_its_retry_was_judged_is_a_duplicate(
    world: World, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = upsert(home_visit(world.student))
    first: list[dict[str, Any]] = []
    interleave = _Interleave(lambda: first.extend(world.t.push(op)))
    monkeypatch.setattr(sync_push, "lock_changes", interleave)
    (again,) = _push_here(factory, world.teacher, op)
    assert interleave.ran and first[0]["status"] == "applied"
    assert again["status"] == "duplicate" and again["version"] == first[0]["version"] == 1
    with factory.session() as s:
        assert s.exec(select(func.count()).where(SyncOp.op_id == op["op_id"])).one() == 1


def test_a_neighbour_stored_while_a_push_was_judged_moves_its_flags(
    world: World, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = local_day_at(days_ago=4, hour=9)
    earlier = home_visit(world.student, start=start)
    later = home_visit(world.student, start=start + timedelta(hours=3))  # the same child's day
    interleave = _Interleave(lambda: world.t.push(upsert(earlier)))
    monkeypatch.setattr(sync_push, "lock_changes", interleave)
    (result,) = _push_here(factory, world.teacher, upsert(later))
    assert interleave.ran and result["status"] == "applied"
    with factory.session() as s:
        for vid in (earlier["id"], later["id"]):
            visit = s.get(Visit, vid)
            assert visit is not None and "same_day_duplicate" in visit.flags


def test_a_pull_never_skips_a_change_committed_between_its_statements(
    world: World, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull reads its tables in several statements, each with a snapshot of its own. Changes
    committed between them, the child numbered below the visit, must not let the cursor pass
    the child's change: the cursor is capped at the counter read in the first statement."""
    with factory.session() as s:
        user = s.exec(select(User).where(User.username == world.teacher)).one()
    scope = Scope.of(user)

    def pull(cursor: str | None) -> tuple[list[Any], str]:
        with factory.session() as s:
            page = sync_pull.pull(s, scope=scope, cursor=cursor, limit=500)
        return page.changes, page.cursor

    _, cursor = pull(None)
    record = home_visit(world.student)
    (pushed,) = world.t.push(upsert(record))
    assert pushed["status"] == "applied"

    real_rows_after = sync_pull._rows_after

    def meanwhile(*args: Any, **kw: Any) -> Any:
        # After the first statement, before the rows: a writer numbers the child's change n and
        # moves the visit to n + 1 (as a review does), and commits.
        with factory.session() as s:
            n = next_seq(s, 2)
            student = s.get(Student, world.student)
            visit = s.get(Visit, record["id"])
            assert student is not None and visit is not None
            student.name, student.version, student.seq = "王喆", student.version + 1, n
            visit.seq = n + 1
            s.commit()
        monkeypatch.setattr(sync_pull, "_rows_after", real_rows_after)
        return real_rows_after(*args, **kw)

    monkeypatch.setattr(sync_pull, "_rows_after", meanwhile)
    first, cursor = pull(cursor)
    second, _ = pull(cursor)
    seen = {(c.entity, c.id): c for c in first + second}
    child = seen.get(("student", world.student))
    assert child is not None and child.record is not None and child.record.name == "王喆"
    assert ("visit", record["id"]) in seen
