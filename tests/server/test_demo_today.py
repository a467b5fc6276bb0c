"""The demo shows the day it is run: the term in progress up to the day before, the same data
for the same day, and a later day of the term adding to an earlier one's data.

The live tests load a day of term 2026-1 into a server of their own (the shared test servers
hold the pinned demo of term 2025-1, tests/server/test_demo.py).
"""

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from server.demo.calendar import demo_calendar, demo_term, is_holiday
from server.demo.plan import build_plan
from server.demo.roster import PASSWORD
from shared.messages import t
from shared.policy import DEFAULT_POLICY
from shared.terms import TermDates, local_date
from tests.conftest import BACKENDS, _skip_without_pg
from tests.live import ROOT, Client, LiveServer, create_database, drop_database, free_port
from tests.server.test_console import Console

DAY = date(2026, 11, 20)  # a Friday late in a month of term 2026-1
SHOWN = ("330127", "330102")  # a rural county and an urban district


@pytest.mark.parametrize(
    ("today", "term", "last_day"),
    [
        (date(2026, 12, 2), "2026-1", date(2026, 12, 1)),  # in term: up to yesterday
        (date(2026, 9, 2), "2026-1", date(2026, 9, 1)),  # its first teaching day only
        (date(2026, 9, 1), "2025-2", date(2026, 7, 3)),  # no teaching day before: the last term
        (date(2026, 7, 20), "2025-2", date(2026, 7, 3)),  # summer vacation: term 2 in full
        (date(2026, 2, 10), "2025-1", date(2026, 1, 23)),  # term 2 begun, its teaching not
        (date(2026, 2, 17), "2025-2", date(2026, 2, 16)),
        (date(2025, 5, 20), "2024-2", date(2025, 5, 19)),
    ],
)
def test_the_demo_covers_the_term_in_progress_up_to_the_day_before(
    today: date, term: str, last_day: date
) -> None:
    days = demo_calendar(today)
    assert (days.term.id, days.last_day) == (term, last_day)


def test_between_a_citys_terms_the_demo_is_the_term_just_ended_on_the_citys_dates() -> None:
    city = {
        "2025-1": TermDates(
            date(2025, 8, 25), date(2026, 1, 28), date(2025, 8, 25), date(2026, 1, 20)
        ),
        "2025-2": TermDates(
            date(2026, 2, 24), date(2026, 7, 10), date(2026, 2, 24), date(2026, 7, 3)
        ),
    }
    assert demo_term(date(2026, 2, 10), city).teaching_end == date(2026, 1, 20)  # in the gap
    assert demo_term(date(2026, 2, 24), city).id == "2025-1"  # term 2's first day: none before
    days = demo_calendar(date(2025, 9, 1), city)
    assert (days.term.id, days.last_day) == ("2025-1", date(2025, 8, 31))  # a Sunday


def test_a_days_plan_has_visits_before_that_day_only_and_every_weekday_of_its_term() -> None:
    plan = build_plan(DAY)
    days = plan.calendar
    assert days.term.id == "2026-1"
    visited = {v.day for v in plan.visits}
    assert max(visited) == DAY - timedelta(days=1) and min(visited) == days.term.teaching_start
    assert not any(is_holiday(d) or d.weekday() >= 5 for d in visited)
    assert {d for d in days.teaching_days if d < DAY} == visited  # a working district
    for v in plan.visits:
        assert datetime.fromisoformat(v.record["ended_at"]).date() < DAY
        assert v.reviewed_at is None or v.reviewed_at.date() < DAY  # decisions made already
    assert any(v.review for v in plan.visits)


def test_the_same_day_gives_the_same_data() -> None:
    first, again = build_plan(DAY), build_plan(DAY)
    assert first.visits == again.visits
    assert first.photos == again.photos
    assert [r.students for r in first.rosters] == [r.students for r in again.rosters]


def test_a_later_day_keeps_every_visit_and_decision_of_an_earlier_one() -> None:
    earlier, later = build_plan(DAY), build_plan(DAY + timedelta(days=7))
    by_key = {v.key: v for v in later.visits}
    assert len(later.visits) > len(earlier.visits)
    for v in earlier.visits:
        kept = by_key[v.key]
        assert kept.record == v.record
        assert v.review is None or kept.review == v.review


# -- loaded into a server ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def today_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    """A server of its own with the demo of DAY loaded; (server, what the command printed)."""
    _skip_without_pg(request.param)
    workdir = tmp_path_factory.mktemp(f"demo-today-{request.param}")
    url = create_database(request.param, workdir)
    live = LiveServer(
        backend=request.param,
        database_url=url,
        media_dir=workdir / "media",
        port=free_port(),
        log_path=workdir / "server.log",
    )
    try:
        loaded = live.cli("demo", "--today", DAY.isoformat())
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        live.start()
        yield live, loaded.stdout
    finally:
        live.stop()
        drop_database(url)


def login(server: LiveServer, username: str) -> Client:
    client = Client(server)
    response = client.post(
        "/auth/login", json={"username": username, "password": PASSWORD, "device_name": "演示"}
    )
    assert response.status_code == 200, response.text
    client.token = response.json()["token"]
    return client


def pulled_visits(client: Client) -> list[dict]:
    changes, cursor = [], None
    for _ in range(100):
        body = client.get("/sync/pull", params={"cursor": cursor} if cursor else {}).json()
        changes += body["changes"]
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    return [c["record"] for c in changes if c["entity"] == "visit" and not c["deleted"]]


def test_summary_names_the_days_term_and_its_last_day(today_server) -> None:
    _, printed = today_server
    expected = t("demo.loaded_term", term="2026-1", last_day="2026-11-19", today="2026-11-20")
    assert expected in printed


def test_loaded_visits_end_the_day_before_and_this_month_shows_progress(today_server) -> None:
    server, _ = today_server
    plan = build_plan(DAY)
    for code in SHOWN:
        visits = pulled_visits(login(server, f"c_{code}"))
        assert len(visits) == sum(1 for v in plan.visits if v.district_code == code)
        started = [local_date(datetime.fromisoformat(v["started_at"])) for v in visits]
        assert max(started) == DAY - timedelta(days=1) and min(started) >= date(2026, 9, 1)
        # What a teacher's caseload counts as 本月已送教 n/4: this month's sessions of the
        # minimum length that were not rejected.
        this_month = Counter(
            v["student_id"]
            for v, day in zip(visits, started, strict=True)
            if v["kind"] == "home_teaching"
            and (day.year, day.month) == (DAY.year, DAY.month)
            and v["review_status"] != "rejected"
            and datetime.fromisoformat(v["ended_at"]) - datetime.fromisoformat(v["started_at"])
            >= timedelta(minutes=DEFAULT_POLICY.service_min_minutes)
        )
        roster = next(r for r in plan.rosters if r.profile.code == code)
        children = [c.id for caseload in roster.caseload.values() for c in caseload]
        progressing = [c for c in children if this_month[c] > 0]
        assert len(progressing) >= 0.8 * len(children), (code, this_month)


def test_the_console_and_the_report_open_on_the_days_term(today_server) -> None:
    server, _ = today_server
    console = Console(server)
    assert console.login("c_330127", PASSWORD).status_code in (200, 303)
    page = console.get("/dashboard")
    assert re.search(r'<option value="2026-1"[^>]*selected', page.text), page.text[:2000]
    coordinator = login(server, "c_330127")
    report = coordinator.get("/compliance/330127", params={"term": "2026-1"}).json()
    assert report["visits"]["total"] > 0
    assert 0 < report["itinerant"]["coverage"] < 1  # the term is not over
    old = coordinator.get("/compliance/330127", params={"term": "2025-1"}).json()
    assert old["visits"]["total"] == 0  # nothing of another term


def test_loading_the_same_day_again_changes_nothing(today_server) -> None:
    server, _ = today_server
    again = server.cli("demo", "--today", DAY.isoformat())
    assert again.returncode == 0, again.stderr[-3000:]
    plan = build_plan(DAY)
    roster_rows = 2 + sum(  # the admin, the policy and per district everything else
        1 + 1 + len(r.schools) + len(r.students) + len(r.staff) + len(r.assignments())
        for r in plan.rosters
    )
    unchanged = t(
        "demo.changes",
        added=0,
        updated=0,
        unchanged=roster_rows,
        applied=0,
        duplicate=len(plan.visits),
        replaced=0,
        new_photos=0,
        reviews=0,
    )
    assert unchanged in again.stdout


def test_a_bad_day_is_refused_with_a_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "songjiao", "demo", "--today", "2026-13-01"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2 and t("demo.bad_today") in result.stderr
