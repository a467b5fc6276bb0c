"""The compliance report through HTTP and the CLI, on a hand-built district."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.messages import t
from tests.factories import Factory, home_visit, itinerant_visit, upsert
from tests.live import LiveServer


@pytest.fixture(scope="module")
def district(factory: Factory):
    """100 compulsory-stage children, 6 of them 送教; 4 ordinary schools hosting 随班就读."""
    code = factory.district("淳安县")
    special = factory.school(code, kind="special")
    schools = [factory.school(code, name=f"普通学校{i}") for i in range(4)]
    idle_school = factory.school(code, name="没有随班就读的学校")  # never in scope
    home = [factory.student(code, special) for _ in range(6)]
    for i in range(90):
        factory.student(code, schools[i % 4], placement="regular_class")
    for _ in range(4):
        factory.student(code, special, placement="special_school")
    # Not compulsory-stage: outside the cap, but still owed the service standard.
    preschool = factory.student(code, special, stage="preschool", grade=0)
    factory.student(code, special, active=False)  # off the roll: not counted
    teacher = factory.user("teacher", code, base_school=special)
    itinerant = factory.user("itinerant", code, base_school=special)
    for s in home:
        factory.assign(teacher, student=s, district=code)
    for s in schools + [idle_school]:
        factory.assign(itinerant, school=s, district=code)
    t, i = factory.login(teacher), factory.login(itinerant)
    day = datetime(2025, 9, 3, 1, tzinfo=UTC)  # 09:00 in Hangzhou
    visits_per_school = [2, 3, 2, 1]
    ops = []
    for school, n in zip(schools, visits_per_school, strict=True):
        for k in range(n):
            ops.append(
                upsert(itinerant_visit(school, start=day + timedelta(days=7 * k + len(ops))))
            )
    assert all(r["status"] == "applied" for r in i.push(*ops))
    # Two children meet the standard: 4 sessions a month, 3 in January (teaching ends 23 Jan).
    ops = []
    for child in home[:2]:
        for month, n in ((9, 4), (10, 4), (11, 4), (12, 4), (1, 3)):
            year = 2026 if month == 1 else 2025
            for k in range(n):
                start = datetime(year, month, 2 + 5 * k, 1, tzinfo=UTC)
                offset = timedelta(hours=3) if child == home[1] else timedelta()
                ops.append(upsert(home_visit(child, start=start + offset, minutes=65)))
    # A third child gets short sessions only: they do not count toward the standard.
    ops.append(upsert(home_visit(home[2], start=datetime(2025, 9, 10, 1, tzinfo=UTC), minutes=30)))
    assert all(r["status"] == "applied" for r in t.push(*ops))
    coordinator = factory.login(factory.user("coordinator", code))
    return {
        "code": code,
        "home": home,
        "preschool": preschool,
        "schools": schools,
        "c": coordinator,
        "t": t,
        "n_visits": len(ops) + sum(visits_per_school),
    }


def test_report_matches_contract_semantics(district) -> None:
    response = district["c"].get(f"/compliance/{district['code']}", params={"term": "2025-1"})
    assert response.status_code == 200, response.text
    r = response.json()
    assert r["district_name"] == "淳安县" and r["term"] == "2025-1"
    assert r["home_delivery"] == {
        "count": 6,
        "total": 100,
        "ratio": 0.06,
        "cap": 0.05,
        "over_cap": True,
        "headroom": -1,
    }
    it = r["itinerant"]
    assert (it["schools_in_scope"], it["schools_covered"], it["coverage"]) == (4, 3, 0.75)
    assert it["required_visits"] == 2
    assert it["uncovered_school_ids"] == [district["schools"][3]]
    assert it["instructors"][0]["schools"] == 5 and it["instructors"][0]["covered"] == 3
    svc = r["service"]
    assert (svc["students"], svc["students_meeting_standard"]) == (7, 2)
    assert (svc["required_sessions_per_month"], svc["min_minutes"]) == (4, 60)
    assert sorted(svc["underserved_student_ids"]) == sorted(
        district["home"][2:] + [district["preschool"]]
    )
    assert r["visits"]["total"] == district["n_visits"]
    assert r["visits"]["flagged"] == district["n_visits"]  # no photos on any of them
    assert r["subsidy"]["claimed_fen"] == 12000 * district["n_visits"]
    assert r["subsidy"]["approved_fen"] == 0


def test_deleted_visit_drops_out_of_counts(district) -> None:
    record = home_visit(district["home"][5], start=datetime(2025, 11, 5, 2, tzinfo=UTC))
    t, c = district["t"], district["c"]
    params = {"term": "2025-1"}
    before = c.get(f"/compliance/{district['code']}", params=params).json()["visits"]["total"]
    t.push(upsert(record))
    assert c.get(f"/compliance/{district['code']}", params=params).json()["visits"]["total"] == (
        before + 1
    )
    t.push(
        {
            "op_id": "7a1c0e3e-0000-4000-8000-000000000001",
            "type": "visit.delete",
            "record": {"id": record["id"]},
            "base_version": 1,
        }
    )
    assert c.get(f"/compliance/{district['code']}", params=params).json()["visits"]["total"] == (
        before
    )


def test_all_districts_lists_only_own_for_coordinator(district) -> None:
    body = district["c"].get("/compliance", params={"term": "2025-1"}).json()
    assert [d["district_code"] for d in body["districts"]] == [district["code"]]


def test_other_district_is_404_and_teacher_403(district, factory: Factory) -> None:
    stranger = factory.login(factory.user("coordinator", factory.district()))
    response = stranger.get(f"/compliance/{district['code']}", params={"term": "2025-1"})
    assert response.status_code == 404
    assert district["t"].get("/compliance", params={"term": "2025-1"}).status_code == 403


def test_bad_term_is_400(district) -> None:
    response = district["c"].get("/compliance", params={"term": "autumn"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_term"


@pytest.mark.parametrize("term", ["9999-2", "9999-1", "0000-1", "1999-2", "2100-1"])
def test_term_outside_the_year_window_is_400(district, server: LiveServer, term: str) -> None:
    for path in ("/compliance", f"/compliance/{district['code']}"):
        response = district["c"].get(path, params={"term": term})
        assert response.status_code == 400, response.text
        assert response.json()["error"] == {"code": "invalid_term", "message": t("invalid_term")}
    result = server.cli("compliance", "--term", term)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert t("invalid_term") in result.stderr


def test_first_and_last_terms_of_the_window_answer(district) -> None:
    for term in ("2000-1", "2099-2"):
        response = district["c"].get("/compliance", params={"term": term})
        assert response.status_code == 200, response.text


def test_cli_json_is_exactly_the_api(district, server: LiveServer) -> None:
    api = district["c"].get(f"/compliance/{district['code']}", params={"term": "2025-1"}).json()
    out = server.cli("compliance", "--term", "2025-1", "--district", district["code"], "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == api
    text = server.cli("compliance", "--term", "2025-1", "--district", district["code"])
    assert "超标" in text.stdout and district["code"] in text.stdout
