"""``songjiao demo`` on the live server's database, checked through the API as its users see it:
the demo of term 2025-1 in full, as it stands on tests.live.DEMO_TODAY (the servers' setting).

The test databases also hold other tests' districts (random codes); the Hangzhou codes are
fixed, so every assertion here looks only at those.
"""

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from server.demo.load_fieldwork import visit_op
from server.demo.plan import build_plan
from server.demo.profiles import DISTRICTS, PER_KM_POLICY
from server.demo.roster import PASSWORD
from shared.domain import ReviewStatus
from shared.messages import t
from shared.travel import visit_subsidy_fen
from tests.factories import Factory
from tests.live import DEMO_TODAY, Client, LiveServer

TERM = {"term": "2025-1"}
HANGZHOU = {p.code for p in DISTRICTS}
PLAN = build_plan(date.fromisoformat(DEMO_TODAY))  # pure: what the command loads


@pytest.fixture(scope="module")
def demo(server: LiveServer) -> str:
    result = server.cli("demo", "--port", "18000")  # where serve would listen
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def login(server: LiveServer, username: str) -> Client:
    client = Client(server)
    response = client.post(
        "/auth/login", json={"username": username, "password": PASSWORD, "device_name": "演示"}
    )
    assert response.status_code == 200, response.text
    client.token = response.json()["token"]
    return client


def pull_all(client: Client, max_pages: int = 100) -> list[dict[str, Any]]:
    changes, cursor = [], None
    for _ in range(max_pages):
        params = {"cursor": cursor} if cursor else {}
        response = client.get("/sync/pull", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        changes += body["changes"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return changes
    raise AssertionError("pull never finished")


def visits_of(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["record"] for c in changes if c["entity"] == "visit" and not c["deleted"]]


def roster(code: str):
    return next(r for r in PLAN.rosters if r.profile.code == code)


def test_summary_gives_console_address_and_demo_logins(demo: str) -> None:
    assert "控制台：http://127.0.0.1:18000/login" in demo
    assert ":8000" not in demo
    for text in (PASSWORD, "admin", "c_330127", "t_330127_1", "i_330127_1"):
        assert text in demo
    assert t("demo.rejected", count=0, detail="").split("0")[0] not in demo  # none refused
    loaded = t("demo.loaded_term", term="2025-1", last_day="2026-01-23", today=DEMO_TODAY)
    assert loaded in demo


def test_over_cap_county_reports_negative_headroom(demo: str, server: LiveServer) -> None:
    coordinator = login(server, "c_330127")
    response = coordinator.get("/compliance/330127", params=TERM)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["district_name"] == "淳安县"
    hd = report["home_delivery"]
    assert hd["over_cap"] is True and hd["headroom"] < 0 and hd["ratio"] > 0.05
    home = [
        s
        for s in roster("330127").students
        if s.active and s.stage == "compulsory" and s.placement == "home_delivery"
    ]
    assert hd["count"] == len(home)
    # A coordinator sees their own district only.
    assert coordinator.get("/compliance/330102", params=TERM).status_code == 404


def test_districts_differ_in_cap_coverage_and_every_visit_landed(
    demo: str, server: LiveServer
) -> None:
    response = login(server, "admin").get("/compliance", params=TERM)
    assert response.status_code == 200, response.text
    reports = {
        r["district_code"]: r
        for r in response.json()["districts"]
        if r["district_code"] in HANGZHOU
    }
    assert set(reports) == HANGZHOU
    within = [r for r in reports.values() if not r["home_delivery"]["over_cap"]]
    assert within and all(r["home_delivery"]["headroom"] >= 0 for r in within)
    assert {"330127", "330182", "330112"} <= {
        c for c, r in reports.items() if r["home_delivery"]["over_cap"]
    }
    partial = [r for r in reports.values() if r["itinerant"]["coverage"] < 1]
    assert partial
    for r in partial:
        uncovered = r["itinerant"]["uncovered_school_ids"]
        assert uncovered and all(s.startswith(f"SC{r['district_code']}-") for s in uncovered)
    assert any(r["itinerant"]["coverage"] == 1 for r in reports.values())
    # Every planned visit was applied by the sync path; only review rejections stop counting.
    for code, report in reports.items():
        counted = [
            v
            for v in PLAN.visits
            if v.district_code == code and (v.review or ("",))[0] != ReviewStatus.REJECTED
        ]
        assert report["visits"]["total"] == len(counted), code
        assert 0 < report["visits"]["flagged"] < len(counted)


def test_visits_carry_flags_distance_and_per_km_subsidy(demo: str, server: LiveServer) -> None:
    visits = visits_of(pull_all(login(server, "c_330127")))
    assert len(visits) == sum(1 for v in PLAN.visits if v.district_code == "330127")
    flags = {f for v in visits for f in v["flags"]}
    assert {"outside_geofence", "no_gps", "low_accuracy", "short_duration"} <= flags
    assert any(not v["flags"] for v in visits)
    for v in visits:  # 淳安县 pays by the kilometre from the teacher's base school
        assert v["distance_m"] > 0
        shared = v["travel"]["shared_with"]
        assert v["subsidy_fen"] == visit_subsidy_fen(
            v["distance_m"], PER_KM_POLICY, v["teacher"], shared
        )
    assert all(v["review_status"] == ReviewStatus.PENDING for v in visits)  # not reviewed yet


def test_reviews_and_pairwise_flags_in_other_counties(demo: str, server: LiveServer) -> None:
    jiande = visits_of(pull_all(login(server, "c_330182")))
    statuses = {v["review_status"] for v in jiande}
    assert statuses == {"pending", "approved", "rejected"}
    rejected = [v for v in jiande if v["review_status"] == "rejected"]
    assert rejected and all(v["review_reason"] for v in rejected)
    assert any("same_day_duplicate" in v["flags"] for v in rejected)
    assert all(v["subsidy_fen"] == 12_000 for v in jiande if not v["travel"]["shared_with"])
    tonglu = visits_of(pull_all(login(server, "c_330122")))
    assert sum("overlapping" in v["flags"] for v in tonglu) == 2  # both sides of the pair


def test_demo_teacher_pulls_their_children_and_visits(demo: str, server: LiveServer) -> None:
    teacher = login(server, "t_330127_1")
    changes = pull_all(teacher)
    students = {c["id"] for c in changes if c["entity"] == "student"}
    assert students == {s.id for s in roster("330127").caseload["t_330127_1"]}
    visits = visits_of(changes)
    planned = [v for v in PLAN.visits if v.username == "t_330127_1"]
    assert {v["id"] for v in visits} == {v.id for v in planned}
    assert all(v["teacher"] == "t_330127_1" for v in visits)
    with_photo = next(v for v in visits if v["photos"])
    photo = teacher.get(f"/photos/{with_photo['photos'][0]}")
    assert photo.status_code == 200 and photo.content.startswith(b"\xff\xd8")


def test_demo_ops_replayed_by_the_phone_are_duplicates(demo: str, server: LiveServer) -> None:
    planned = [v for v in PLAN.visits if v.username == "t_330127_1"][:3]
    results = login(server, "t_330127_1").push(*(visit_op(v, None) for v in planned))
    assert [r["status"] for r in results] == ["duplicate"] * 3
    assert [r["id"] for r in results] == [v.id for v in planned]


def _snapshot(factory: Factory) -> dict[str, int]:
    tables = [
        "district",
        "school",
        "student",
        "app_user",
        "assignment",
        "policy",
        "visit",
        "visit_photo",
        "photo",
        "sync_op",
    ]
    with factory.engine.connect() as conn:
        out = {
            name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in tables
        }
        out["seq_counter"] = conn.execute(
            sa.text("SELECT value FROM seq_counter WHERE name = 'change'")
        ).scalar_one()
        out["visit_versions"] = conn.execute(
            sa.text("SELECT coalesce(sum(version), 0) FROM visit")
        ).scalar_one()
    return out


def test_second_run_changes_nothing(demo: str, server: LiveServer, factory: Factory) -> None:
    before = _snapshot(factory)
    result = server.cli("demo", "--port", "18000")  # where serve would listen
    assert result.returncode == 0, result.stderr[-3000:]
    assert _snapshot(factory) == before
    roster_rows = 2 + sum(  # the admin, the policy and per district everything else
        1 + 1 + len(r.schools) + len(r.students) + len(r.staff) + len(r.assignments())
        for r in PLAN.rosters
    )
    assert (
        t(
            "demo.changes",
            added=0,
            updated=0,
            unchanged=roster_rows,
            applied=0,
            duplicate=len(PLAN.visits),
            replaced=0,
            new_photos=0,
            reviews=0,
        )
        in result.stdout
    )
