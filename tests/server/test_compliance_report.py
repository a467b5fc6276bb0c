"""The report's visit sums where its query takes other paths: a monthly subsidy cap per teacher,
a district's own service minimum, and visits at the very edges of a term (Asia/Shanghai)."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.factories import Factory, home_visit, itinerant_visit, upsert

SHANGHAI = timezone(timedelta(hours=8))
TERM = {"term": "2025-1"}


@pytest.fixture(scope="module")
def capped(factory: Factory):
    """Two teachers and an instructor in a district that caps the subsidy at 300 元 a month
    per teacher, owes one session a month and counts sessions from 45 minutes."""
    code = factory.district("封顶区")
    special = factory.school(code, kind="special")
    ordinary = factory.school(code, name="随班就读学校")
    factory.student(code, ordinary, placement="regular_class")
    kept, short = factory.student(code, special), factory.student(code, special)
    a = factory.user("teacher", code, base_school=special)
    b = factory.user("teacher", code, base_school=special)
    itinerant = factory.user("itinerant", code, base_school=special)
    factory.assign(a, student=kept, district=code)
    factory.assign(b, student=short, district=code)
    factory.assign(itinerant, school=ordinary, district=code)
    admin = factory.login(factory.user("admin", None))
    params = {"monthly_cap_fen": 30000, "service_sessions_per_month": 1, "service_min_minutes": 45}
    response = admin.put(f"/policies/{code}/2025-01-01", json=params)
    assert response.status_code == 200, response.text

    def at(month: int, day: int, hour: int = 9) -> datetime:
        return datetime(2026 if month == 1 else 2025, month, day, hour, tzinfo=SHANGHAI)

    months = (9, 10, 11, 12, 1)
    # Teacher a: one 50-minute session a month (meets the district's 45-minute minimum), and
    # two more in October: 3 x 120 元 that month, held to the 300 元 cap.
    ops = [upsert(home_visit(kept, start=at(m, 10), minutes=50)) for m in months]
    ops += [upsert(home_visit(kept, start=at(10, d), minutes=50)) for d in (15, 20)]
    assert all(r["status"] == "applied" for r in factory.login(a).push(*ops))
    # Teacher b: 40-minute sessions only, one a month: none counts toward the standard.
    ops = [upsert(home_visit(short, start=at(m, 11), minutes=40)) for m in months]
    assert all(r["status"] == "applied" for r in factory.login(b).push(*ops))
    # Two school visits in October: 240 元, under the cap.
    ops = [upsert(itinerant_visit(ordinary, start=at(10, d))) for d in (8, 9)]
    assert all(r["status"] == "applied" for r in factory.login(itinerant).push(*ops))
    coordinator = factory.login(factory.user("coordinator", code))
    return {"code": code, "kept": kept, "short": short, "school": ordinary, "c": coordinator}


def test_monthly_cap_applies_per_teacher_and_month(capped) -> None:
    r = capped["c"].get(f"/compliance/{capped['code']}", params=TERM).json()
    assert r["visits"]["total"] == 5 + 2 + 5 + 2
    # a: 4 months x 120 + min(360, 300) in October; b: 5 x 120; itinerant: 240.
    assert r["subsidy"]["claimed_fen"] == 4 * 12000 + 30000 + 5 * 12000 + 24000
    assert r["subsidy"]["approved_fen"] == 0


def test_district_service_minimum_decides_which_sessions_count(capped) -> None:
    svc = capped["c"].get(f"/compliance/{capped['code']}", params=TERM).json()["service"]
    assert (svc["min_minutes"], svc["required_sessions_per_month"]) == (45, 1)
    assert (svc["students"], svc["students_meeting_standard"]) == (2, 1)
    assert svc["underserved_student_ids"] == [capped["short"]]


def test_itinerant_visits_cover_the_school_under_a_cap(capped) -> None:
    it = capped["c"].get(f"/compliance/{capped['code']}", params=TERM).json()["itinerant"]
    assert (it["schools_in_scope"], it["schools_covered"], it["uncovered_school_ids"]) == (
        1,
        1,
        [],
    )
    assert it["instructors"][0]["covered"] == 1


def test_term_edges_follow_shanghai_local_time(factory: Factory) -> None:
    """2025-1 runs from 1 Sep 2025 00:00 to 31 Jan 2026 24:00 in Asia/Shanghai."""
    code = factory.district("边界区")
    special = factory.school(code, kind="special")
    child = factory.student(code, special)
    teacher = factory.user("teacher", code, base_school=special)
    factory.assign(teacher, student=child, district=code)
    starts = {
        datetime(2025, 8, 31, 23, 30, tzinfo=SHANGHAI): False,  # 15:30 UTC, still August
        datetime(2025, 9, 1, 0, 10, tzinfo=SHANGHAI): True,  # 31 Aug 16:10 UTC
        datetime(2026, 1, 31, 23, 30, tzinfo=SHANGHAI): True,
        datetime(2026, 2, 1, 0, 10, tzinfo=SHANGHAI): False,  # 31 Jan 16:10 UTC
    }
    ops = [upsert(home_visit(child, start=start, minutes=30)) for start in starts]
    assert all(r["status"] == "applied" for r in factory.login(teacher).push(*ops))
    c = factory.login(factory.user("coordinator", code))
    inside = sum(starts.values())
    assert c.get(f"/compliance/{code}", params=TERM).json()["visits"]["total"] == inside
    later = c.get(f"/compliance/{code}", params={"term": "2025-2"}).json()["visits"]["total"]
    earlier = c.get(f"/compliance/{code}", params={"term": "2024-2"}).json()["visits"]["total"]
    assert (earlier, later) == (1, 1)
