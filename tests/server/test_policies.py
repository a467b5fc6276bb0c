"""Policy per district with an effective date, set by the city, applied on receipt."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import col, select

from server.models import AuditLog, Visit, VisitTally
from server.services import rejudge
from server.services.policies import set_policy
from shared.policy import PolicyParams
from tests.conftest import World
from tests.factories import Factory, home_visit, upsert


def test_admin_sets_per_km_policy_and_visits_use_it(world: World, factory: Factory) -> None:
    admin = factory.login(factory.user("admin", None))
    params = {
        "subsidy_mode": "per_km",
        "fen_per_km": 80,
        "road_factor": "1.3",
        "monthly_cap_fen": 150000,
    }
    response = admin.put(f"/policies/{world.district}/2025-09-01", json=params)
    assert response.status_code == 200, response.text
    assert response.json()["params"]["subsidy_mode"] == "per_km"
    before = home_visit(world.student, start=datetime(2025, 8, 20, 1, tzinfo=UTC))
    after = home_visit(world.student, start=datetime(2025, 9, 20, 1, tzinfo=UTC))
    world.t.push(upsert(before), upsert(after))
    changes = world.t.get("/sync/pull").json()["changes"]
    visits = {c["id"]: c["record"] for c in changes if c["entity"] == "visit"}
    assert visits[before["id"]]["subsidy_fen"] == 12000  # the default, still in force in August
    trip = visits[after["id"]]
    assert trip["distance_m"] > 0
    assert trip["subsidy_fen"] == round(trip["distance_m"] * 1.3 * 80 / 1000)
    policies = [c for c in changes if c["entity"] == "policy"]
    assert any(p["record"]["district_code"] == world.district for p in policies)


def test_only_admin_sets_policy_and_bad_params_are_422(world: World, factory: Factory) -> None:
    assert world.c.put(f"/policies/{world.district}/2025-09-01", json={}).status_code == 403
    admin = factory.login(factory.user("admin", None))
    bad = admin.put(f"/policies/{world.district}/2025-09-01", json={"home_delivery_cap": 2})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    unknown = admin.put("/policies/000000/2025-09-01", json={})
    assert unknown.status_code == 404
    # The city-wide version applies to every district (so other tests' too): keep the defaults.
    default = admin.put("/policies/default/2020-01-01", json={})
    assert default.status_code == 200 and default.json()["district_code"] is None


def test_a_later_policy_judges_stored_visits_again(world: World, factory: Factory) -> None:
    """Saved after the visits arrived, a district's 45-minute minimum takes the short flag off
    a 50-minute session from its effective day on; phones pull the change, the report counts
    the session, the pairwise flags stay and the subsidy already claimed does not move."""
    start = datetime(2025, 10, 9, 1, tzinfo=UTC)
    first = home_visit(world.student, start=start, minutes=50)
    overlapping = home_visit(world.student, start=start + timedelta(minutes=20), minutes=50)
    earlier = home_visit(world.student, start=datetime(2025, 9, 2, 1, tzinfo=UTC), minutes=50)
    results = world.t.push(upsert(first), upsert(overlapping), upsert(earlier))
    assert all(r["status"] == "applied" for r in results), results
    cursor = world.t.get("/sync/pull").json()["cursor"]
    before = _visits(world, None)
    assert {"short_duration", "overlapping"} <= set(before[first["id"]]["flags"])

    admin = factory.login(factory.user("admin", None))
    response = admin.put(
        f"/policies/{world.district}/2025-10-01",
        json={"service_min_minutes": 45, "service_sessions_per_month": 1},
    )
    assert response.status_code == 200, response.text

    moved = _visits(world, cursor)  # only what changed since the cursor
    assert set(moved) == {first["id"], overlapping["id"]}  # September's is before the policy
    for visit_id in moved:
        assert "short_duration" not in moved[visit_id]["flags"]
        assert "overlapping" in moved[visit_id]["flags"]
        assert moved[visit_id]["subsidy_fen"] == before[visit_id]["subsidy_fen"]
        assert moved[visit_id]["version"] == before[visit_id]["version"]  # not the teacher's edit
    with factory.session() as s:  # what the report's service standard reads
        tally = {
            row.local_month: (row.visits, row.sessions)
            for row in s.exec(select(VisitTally).where(VisitTally.subject_id == world.student))
        }
    assert tally == {202509: (1, 0), 202510: (2, 2)}
    # Saving the same version again judges nothing anew.
    cursor = world.t.get("/sync/pull").json()["cursor"]
    again = admin.put(
        f"/policies/{world.district}/2025-10-01",
        json={"service_min_minutes": 45, "service_sessions_per_month": 1},
    )
    assert again.status_code == 200 and _visits(world, cursor) == {}


def _visits(world: World, cursor: str | None) -> dict[str, dict]:
    params = {"cursor": cursor} if cursor else {}
    changes = world.t.get("/sync/pull", params=params).json()["changes"]
    return {c["id"]: c["record"] for c in changes if c["entity"] == "visit"}


def test_rejudging_reads_the_visits_page_by_page(
    world: World, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2025, 10, 9, 1, tzinfo=UTC)
    records = [
        home_visit(world.student, start=start + timedelta(days=d), minutes=50) for d in (0, 1, 2)
    ]
    assert all(r["status"] == "applied" for r in world.t.push(*(upsert(r) for r in records)))
    monkeypatch.setattr(rejudge, "PAGE", 1)  # one visit a page: the paging itself is tested
    with factory.session() as s:
        set_policy(
            s,
            district_code=world.district,
            effective_from=date(2025, 10, 1),
            params=PolicyParams(service_min_minutes=45),
        )
        s.commit()
        flags = [s.get(Visit, r["id"]).flags for r in records]
    assert all("short_duration" not in f for f in flags) and len(flags) == 3


def test_partial_put_inherits_the_version_in_force_and_is_audited(
    world: World, factory: Factory
) -> None:
    admin_name = factory.user("admin", None)
    admin = factory.login(admin_name)
    full = {"subsidy_mode": "per_km", "fen_per_km": 80, "monthly_cap_fen": 150000}
    assert admin.put(f"/policies/{world.district}/2025-09-01", json=full).status_code == 200
    partial = {"service_min_minutes": 45, "geofence_m": 800, "max_age_days": 30}
    response = admin.put(f"/policies/{world.district}/2025-11-01", json=partial)
    assert response.status_code == 200, response.text
    params = response.json()["params"]
    assert (params["subsidy_mode"], params["fen_per_km"], params["monthly_cap_fen"]) == (
        "per_km",
        80,
        150000,
    )
    assert (params["service_min_minutes"], params["geofence_m"], params["max_age_days"]) == (
        45,
        800,
        30,
    )
    # A field sent as null is sent: the cap goes; the rest stays as the version on that date.
    response = admin.put(f"/policies/{world.district}/2025-11-01", json={"monthly_cap_fen": None})
    params = response.json()["params"]
    assert params["monthly_cap_fen"] is None
    assert (params["fen_per_km"], params["service_min_minutes"]) == (80, 45)
    with factory.session() as s:
        rows = s.exec(
            select(AuditLog)
            .where(AuditLog.action == "policy_change", AuditLog.entity == "policy")
            .where(col(AuditLog.entity_id).startswith(f"{world.district}|"))
            .order_by(col(AuditLog.id))
        ).all()
    assert [(r.actor, r.entity_id) for r in rows] == [
        (admin_name, f"{world.district}|2025-09-01"),
        (admin_name, f"{world.district}|2025-11-01"),
        (admin_name, f"{world.district}|2025-11-01"),
    ]
    assert "subsidy_mode: flat_per_visit→per_km" in rows[0].detail
    assert "fen_per_km: 100→80" in rows[0].detail
    assert "service_min_minutes: 60→45" in rows[1].detail
    assert "fen_per_km" not in rows[1].detail  # inherited, not changed
    assert rows[2].detail == "monthly_cap_fen: 150000→None"
    assert {r.district_code for r in rows} == {world.district}


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01"])
def test_effective_date_outside_the_window_is_422(world: World, factory: Factory, day: str) -> None:
    admin = factory.login(factory.user("admin", None))
    response = admin.put(f"/policies/{world.district}/{day}", json={"fen_per_km": 80})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert "2000-01-01" in response.json()["error"]["message"]
