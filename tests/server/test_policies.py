"""Policy per district with an effective date, set by the city, applied on receipt."""

from datetime import UTC, datetime

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
