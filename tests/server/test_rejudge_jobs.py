"""Re-judging stored visits after a policy change, as a job (issue 10): a page per transaction,
progress and cursor committed with each page, a lease that one runner holds at a time, the
rest of a large job finished by the server's background worker. Real servers, real databases.
"""

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from server.models import RejudgeJob, Visit, utcnow
from server.services import rejudge_jobs
from server.services.policies import save_policy
from server.services.policy_versions import load_versions
from server.services.rejudge import rejudge_visits
from server.services.rejudge_jobs import JobStatus, Page
from shared.messages import t
from shared.policy import PolicyParams
from tests.conftest import World
from tests.factories import Factory, home_visit, upsert
from tests.live import Client, LiveServer, free_port
from tests.server.test_console import Console

SINCE = date(2025, 10, 1)
START = datetime(2025, 10, 9, 1, tzinfo=UTC)
LEASE = 60.0  # the servers' default lease: a job held in a test is never taken by them
SHORTER = PolicyParams(service_min_minutes=45)  # takes short_duration off a 50-minute session


@pytest.fixture(scope="module")
def slow(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second server process on the shared database whose saving requests judge nothing
    themselves and whose worker judges two visits a page: every job is larger than the
    inline budget, without a large dataset."""
    live = LiveServer(
        backend=server.backend,
        database_url=server.database_url,
        media_dir=server.media_dir,
        port=free_port(),
        log_path=tmp_path_factory.mktemp("rejudge-server") / "server.log",
        extra_env={
            "SONGJIAO_REJUDGE_PAGE_SIZE": "2",
            "SONGJIAO_REJUDGE_INLINE_SECONDS": "0",
            "SONGJIAO_REJUDGE_POLL_SECONDS": "0.2",
        },
    )
    live.start()
    yield live
    live.stop()


def _push_sessions(world: World, count: int, minutes: int = 50) -> list[dict[str, Any]]:
    """``count`` sessions on separate days (no pairwise flags), sorted by id: a job's order."""
    records = [
        home_visit(world.student, start=START + timedelta(days=d), minutes=minutes)
        for d in range(count)
    ]
    results = world.t.push(*(upsert(r) for r in records))
    assert all(r["status"] == "applied" for r in results), results
    return sorted(records, key=lambda r: r["id"])


def _one_shot(factory: Factory, district: str) -> tuple[int, int]:
    """(judged, changed) of judging the range again in one go, rolled back: a job whose
    outcome matches a one-shot judgement leaves it nothing to change."""
    with factory.session() as s:
        outcome = rejudge_visits(s, versions=load_versions(s), district_code=district, since=SINCE)
        s.rollback()
    return outcome.judged, outcome.changed


def _job(s: Session, job_id: int) -> RejudgeJob:
    job = s.get(RejudgeJob, job_id, populate_existing=True)
    assert job is not None
    return job


def _held_job(factory: Factory, world: World, owner: str) -> int:
    """A version saved as the API saves one, its job running under ``owner``."""
    with factory.session() as s:
        saved = save_policy(
            s,
            actor="admin-test",
            district_code=world.district,
            effective_from=SINCE,
            sent=SHORTER,
            owner=owner,
        )
        s.commit()
        assert saved.job is not None and saved.job.id is not None
        return saved.job.id


def test_a_job_larger_than_the_inline_budget_finishes_in_the_background(
    world: World, factory: Factory, slow: LiveServer
) -> None:
    records = _push_sessions(world, 7)
    cursor = world.t.get("/sync/pull").json()["cursor"]
    admin = Client(slow, factory.login(factory.user("admin", None)).token)
    response = admin.put(f"/policies/{world.district}/{SINCE}", json={"service_min_minutes": 45})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["params"]["service_min_minutes"] == 45 and body["version"] == 1
    job = body["rejudge_job"]
    assert job["total"] == 7 and job["judged"] < 7 and job["status"] in ("queued", "running")

    deadline = time.monotonic() + 90
    while job["status"] != "done" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = admin.get(f"/policies/rejudge/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    assert (job["judged"], job["changed"]) == (7, 7)
    assert job["lost"] == {"short_duration": 7} and job["gained"] == {}
    assert job["finished_at"] and job["error"] == ""
    assert _one_shot(factory, world.district) == (7, 0)
    pulled = world.t.get("/sync/pull", params={"cursor": cursor}).json()["changes"]
    moved = {c["id"]: c["record"] for c in pulled if c["entity"] == "visit"}
    assert set(moved) == {r["id"] for r in records}  # phones pull every re-judged visit
    assert all("short_duration" not in v["flags"] for v in moved.values())
    # A coordinator reads their district's job; another district's coordinator does not.
    assert world.c.get(f"/policies/rejudge/jobs/{job['id']}").status_code == 200
    other = factory.login(factory.user("coordinator", factory.district()))
    assert other.get(f"/policies/rejudge/jobs/{job['id']}").status_code == 404
    assert world.t.get(f"/policies/rejudge/jobs/{job['id']}").status_code == 404
    assert admin.get("/policies/rejudge/jobs/999999999").status_code == 404


def test_an_interrupted_job_resumes_from_its_cursor_with_the_same_result(
    world: World, factory: Factory
) -> None:
    records = _push_sessions(world, 7)
    first = rejudge_jobs.new_owner()
    job_id = _held_job(factory, world, first)
    with factory.session() as s:
        for _ in range(2):  # two pages of two, committed; then the process "dies"
            assert rejudge_jobs.run_page(s, job_id, owner=first, page_size=2) == Page.MORE
            s.commit()
        job = _job(s, job_id)
        assert (job.status, job.judged, job.cursor) == (JobStatus.RUNNING, 4, records[3]["id"])
        assert job.lost == {"short_duration": 4}

        second = rejudge_jobs.new_owner()
        # The lease is fresh: nobody takes the job over yet.
        assert not rejudge_jobs.claim(s, job_id, owner=second, lease_seconds=LEASE)
        later = utcnow() + timedelta(seconds=LEASE + 1)
        assert rejudge_jobs.claim(s, job_id, owner=second, lease_seconds=LEASE, now=later)
        # The first runner, back from the dead, may not write another page.
        assert rejudge_jobs.run_page(s, job_id, owner=first, page_size=2) == Page.LOST
        s.rollback()
        assert _job(s, job_id).judged == 4
        assert rejudge_jobs.run(s, job_id, owner=second, page_size=2) == Page.DONE
        job = _job(s, job_id)
        assert job.status == JobStatus.DONE and job.owner is None
        # Resumed at the cursor, not from the start: each visit judged once.
        assert (job.judged, job.changed, job.lost, job.gained) == (
            7,
            7,
            {"short_duration": 7},
            {},
        )
        flags = [_visit(s, r["id"]).flags for r in records]
    assert all("short_duration" not in f for f in flags)
    assert _one_shot(factory, world.district) == (7, 0)


def _visit(s: Session, visit_id: str) -> Visit:
    visit = s.exec(
        select(Visit).where(Visit.id == visit_id).execution_options(populate_existing=True)
    ).one()
    return visit


def test_two_runners_never_take_the_same_job(world: World, factory: Factory) -> None:
    _push_sessions(world, 3)
    job_id = _held_job(factory, world, "a-runner-that-died")
    later = utcnow() + timedelta(seconds=LEASE + 1)  # its lease has run out for these runners
    owners = [rejudge_jobs.new_owner() for _ in range(6)]
    won: list[str] = []
    start = threading.Barrier(len(owners))

    def take(owner: str) -> None:
        with factory.session() as s:
            start.wait(timeout=30)
            if rejudge_jobs.claim(s, job_id, owner=owner, lease_seconds=LEASE, now=later):
                won.append(owner)

    threads = [threading.Thread(target=take, args=(o,)) for o in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(won) == 1
    with factory.session() as s:
        assert _job(s, job_id).owner == won[0]
        for loser in set(owners) - set(won):
            assert rejudge_jobs.run_page(s, job_id, owner=loser, page_size=2) == Page.LOST
            s.rollback()
        assert rejudge_jobs.run(s, job_id, owner=won[0], page_size=2) == Page.DONE
        assert _job(s, job_id).judged == 3


def test_a_push_landing_mid_job_keeps_its_own_judgement(world: World, factory: Factory) -> None:
    records = _push_sessions(world, 6)
    owner = rejudge_jobs.new_owner()
    job_id = _held_job(factory, world, owner)
    with factory.session() as s:
        assert rejudge_jobs.run_page(s, job_id, owner=owner, page_size=2) == Page.MORE
        s.commit()
    # The teacher shortens a session the job has judged and one it has not reached: each push
    # is judged by the new version (in force since the save), 30 minutes is short under it.
    edits = []
    for record in (records[0], records[-1]):
        start = datetime.fromisoformat(record["started_at"])
        edits.append(record | {"ended_at": (start + timedelta(minutes=30)).isoformat()})
    results = world.t.push(*(upsert(e, base_version=1) for e in edits))
    assert [r["status"] for r in results] == ["applied", "applied"], results
    with factory.session() as s:
        assert rejudge_jobs.run(s, job_id, owner=owner, page_size=2) == Page.DONE
        job = _job(s, job_id)
        edited = [_visit(s, e["id"]) for e in edits]
        others = [_visit(s, r["id"]) for r in records[1:-1]]
    assert all("short_duration" in v.flags and v.version == 2 for v in edited)
    assert all(v.duration_s == 30 * 60 for v in edited)
    assert all("short_duration" not in v.flags for v in others)
    # The job judged the pushed session as it now is: nothing to change there.
    assert job.status == JobStatus.DONE and job.changed == 6 - 1
    assert _one_shot(factory, world.district) == (6, 0)


def test_the_console_shows_a_jobs_progress_then_its_counts(
    world: World, factory: Factory, server: LiveServer
) -> None:
    _push_sessions(world, 5)
    owner = rejudge_jobs.new_owner()
    job_id = _held_job(factory, world, owner)
    with factory.session() as s:
        assert rejudge_jobs.run_page(s, job_id, owner=owner, page_size=2) == Page.MORE
        s.commit()
    admin = Console(server)
    assert admin.login(factory.user("admin", None)).status_code == 200

    running = admin.get(f"/policies/jobs/{job_id}")
    assert running.status_code == 200, running.text
    assert '<meta http-equiv="refresh" content="2">' in running.text
    assert t("rejudge.status.running") in running.text
    assert re.search(r'<progress class="rejudge" max="5" value="2">', running.text)
    assert "已判定 2 / 5 条访问记录（40%）" in running.text
    listed = admin.get("/policies")
    assert f'href="/policies/jobs/{job_id}"' in listed.text and "2 / 5（40%）" in listed.text

    with factory.session() as s:
        assert rejudge_jobs.run(s, job_id, owner=owner, page_size=2) == Page.DONE
    done = admin.get(f"/policies/jobs/{job_id}")
    assert 'http-equiv="refresh"' not in done.text
    assert "重新判定已完成：判定 5 条访问记录，其中 5 条的证据标记有变化" in done.text
    row = re.search(r"<td>时长不足</td><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td>", done.text)
    assert row and row.groups() == ("0", "5")
    assert "每次送教最短时长（分钟）" in done.text  # the parameter that changed, 60 → 45
    assert world.c.get(f"/policies/rejudge/jobs/{job_id}").status_code == 200  # the API
    coord = Console(server)
    assert coord.login(factory.user("coordinator", factory.district())).status_code == 200
    assert coord.get(f"/policies/jobs/{job_id}").status_code == 404  # another district


def test_confirming_in_the_console_lands_on_the_progress_page(
    world: World, factory: Factory, slow: LiveServer
) -> None:
    _push_sessions(world, 5)
    admin = Console(slow)
    assert admin.login(factory.user("admin", None)).status_code == 200
    edit = admin.get("/policies/new", params={"district": world.district, "effective_from": SINCE})
    fields = dict(re.findall(r'<input id="p-(\w+)" name="\w+" value="([^"]*)"', edit.text))
    for name, body in re.findall(
        r'<select id="p-(\w+)" name="\w+">(.*?)</select>', edit.text, re.S
    ):
        found = re.search(r'<option value="([^"]+)" selected', body)
        assert found
        fields[name] = found.group(1)
    fields |= {
        "service_min_minutes": "45",
        "district": world.district,
        "effective_from": str(SINCE),
    }
    preview = admin.post("/policies/preview", fields)
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', preview.text))
    hidden.pop("csrf_token")
    saved = admin.post("/policies/save", hidden, allow_redirects=False)
    assert saved.status_code == 303
    location = saved.headers["location"]
    assert re.fullmatch(r"/policies/jobs/\d+", location)
    deadline = time.monotonic() + 90
    page = admin.get(location)
    while 'http-equiv="refresh"' in page.text and time.monotonic() < deadline:
        time.sleep(0.3)  # what the page's refresh does, sooner
        page = admin.get(location)
    assert "重新判定已完成：判定 5 条访问记录，其中 5 条" in page.text


def test_a_job_left_by_a_dead_process_is_taken_over_by_a_server(
    world: World, factory: Factory, slow: LiveServer
) -> None:
    records = _push_sessions(world, 5)
    ghost = rejudge_jobs.new_owner()
    job_id = _held_job(factory, world, ghost)
    with factory.session() as s:
        assert rejudge_jobs.run_page(s, job_id, owner=ghost, page_size=2) == Page.MORE
        s.commit()
        # The process died an hour ago: its lease ran out long since.
        job = _job(s, job_id)
        job.heartbeat_at = utcnow() - timedelta(hours=1)
        s.add(job)
        s.commit()
    deadline = time.monotonic() + 90
    with factory.session() as s:
        while _job(s, job_id).status != JobStatus.DONE and time.monotonic() < deadline:
            s.rollback()
            time.sleep(0.2)
        job = _job(s, job_id)
    assert job.status == JobStatus.DONE and job.owner is None
    assert (job.judged, job.changed) == (len(records), len(records))
    assert _one_shot(factory, world.district) == (5, 0)
