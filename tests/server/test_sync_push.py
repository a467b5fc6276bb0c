"""Push through real HTTP: idempotency, versions, scope, per-op rejection."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlmodel import select

from server.models import SyncOp, VisitTally
from shared.protocol import tap_instant
from tests.conftest import World
from tests.factories import Factory, delete, home_visit, itinerant_visit, local_day_at, upsert
from tests.live import LiveServer


def test_push_applies_and_server_adds_its_fields(world: World) -> None:
    record = home_visit(world.student, teacher="someone-else")
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied" and result["version"] == 1
    assert result["error"] is None
    pulled = world.t.get("/sync/pull").json()["changes"]
    visit = next(c["record"] for c in pulled if c["entity"] == "visit" and c["id"] == record["id"])
    assert visit["teacher"] == world.teacher  # from the token, never the record
    assert visit["review_status"] == "pending"
    assert visit["distance_m"] > 0 and visit["subsidy_fen"] == 12000
    assert "no_photo" in visit["flags"]


def test_push_same_op_twice_is_duplicate(world: World) -> None:
    op = upsert(home_visit(world.student))
    first = world.t.push(op)[0]
    again = world.t.push(op)[0]
    assert first["status"] == "applied"
    assert again["status"] == "duplicate"
    assert (again["id"], again["version"]) == (first["id"], first["version"])


def test_same_op_id_with_other_body_is_rejected(world: World) -> None:
    op = upsert(home_visit(world.student))
    world.t.push(op)
    changed = {**op, "record": {**op["record"], "content": "改过的内容"}}
    (result,) = world.t.push(changed)
    assert result["status"] == "rejected" and result["error"]["code"] == "op_id_reused"


def test_stale_base_version_is_conflict_with_server_copy(world: World) -> None:
    record = home_visit(world.student)
    world.t.push(upsert(record))
    world.t.push(upsert({**record, "content": "第二版"}, base_version=1))
    (result,) = world.t.push(upsert({**record, "content": "旧手机上的改动"}, base_version=1))
    assert result["status"] == "conflict"
    assert result["server_record"]["content"] == "第二版"
    assert result["server_record"]["version"] == 2


def test_new_record_pushed_twice_without_version_conflicts(world: World) -> None:
    record = home_visit(world.student)
    world.t.push(upsert(record))
    (result,) = world.t.push(upsert({**record, "content": "另一台手机"}))
    assert result["status"] == "conflict"


def test_delete_leaves_a_tombstone(world: World) -> None:
    record = home_visit(world.student)
    world.t.push(upsert(record))
    (result,) = world.t.push(delete(record["id"], base_version=1))
    assert result["status"] == "applied" and result["version"] == 2
    changes = world.t.get("/sync/pull").json()["changes"]
    tomb = next(c for c in changes if c["id"] == record["id"])
    assert tomb["deleted"] is True and tomb["record"] is None


def test_bad_op_is_rejected_alone(world: World) -> None:
    good1, good2 = home_visit(world.student), home_visit(world.student)
    bad = home_visit(world.student, check_in={"lat": 200, "lon": 120, "accuracy_m": 5})
    results = world.t.push(upsert(good1), upsert(bad), {"op_id": "x"}, upsert(good2))
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "applied"]
    assert results[1]["error"]["code"] == "invalid_record"
    assert "check_in.lat" in results[1]["error"]["message"]


def test_visit_ending_before_it_starts_is_rejected(world: World) -> None:
    record = home_visit(world.student, minutes=-30)
    (result,) = world.t.push(upsert(record))
    assert result["error"]["code"] == "invalid_record"
    assert "结束时间早于开始时间" in result["error"]["message"]


def test_unassigned_or_unknown_student_is_not_assigned(world: World, factory) -> None:
    stranger = factory.student(world.district, world.special_school)
    for student in (stranger, "NO-SUCH-STUDENT"):
        (result,) = world.t.push(upsert(home_visit(student)))
        assert result["status"] == "rejected"
        assert result["error"]["code"] == "not_assigned"


def test_itinerant_pushes_school_visit_but_not_home_visit(world: World) -> None:
    ok, wrong = world.i.push(
        upsert(itinerant_visit(world.school)), upsert(home_visit(world.student))
    )
    assert ok["status"] == "applied"
    assert wrong["error"]["code"] == "not_assigned"


def test_wrong_clock_is_kept_and_flagged(world: World) -> None:
    future = home_visit(world.student, start=datetime(2035, 3, 1, 9, tzinfo=UTC))
    past = home_visit(world.student, start=datetime(2015, 3, 1, 9, tzinfo=UTC))
    results = world.t.push(upsert(future), upsert(past))
    assert [r["status"] for r in results] == ["applied", "applied"]
    flags = {
        c["id"]: c["record"]["flags"]
        for c in world.t.get("/sync/pull").json()["changes"]
        if c["entity"] == "visit"
    }
    assert "future_time" in flags[future["id"]]
    assert "stale_time" in flags[past["id"]]


def test_overlap_flags_both_visits_whatever_the_order(world: World) -> None:
    start = local_day_at(days_ago=1, hour=9)
    a = home_visit(world.student, start=start)
    b = home_visit(world.student, start=start + timedelta(minutes=30))
    world.t.push(upsert(a))
    world.t.push(upsert(b))
    flags = {
        c["id"]: c["record"]["flags"]
        for c in world.t.get("/sync/pull").json()["changes"]
        if c["entity"] == "visit"
    }
    for vid in (a["id"], b["id"]):
        assert "overlapping" in flags[vid] and "same_day_duplicate" in flags[vid]


def test_pulled_record_echoed_back_is_accepted(world: World) -> None:
    """A phone may push back exactly what it pulled (server fields included); they are ignored."""
    record = home_visit(world.student)
    world.t.push(upsert(record))
    pulled = next(
        c["record"] for c in world.t.get("/sync/pull").json()["changes"] if c["id"] == record["id"]
    )
    (result,) = world.t.push(
        upsert({**pulled, "content": "补充说明", "teacher": "x"}, base_version=pulled["version"])
    )
    assert result["status"] == "applied" and result["version"] == 2


@pytest.mark.parametrize(
    "start, end",
    [
        ("9999-12-31T20:00:00+00:00", "9999-12-31T21:00:00+00:00"),
        ("0001-01-01T01:00:00+00:00", "0001-01-01T02:00:00+00:00"),
        ("1999-12-31T23:00:00+00:00", "1999-12-31T23:59:00+00:00"),
        ("2100-01-01T00:00:00+00:00", "2100-01-01T01:00:00+00:00"),
    ],
)
def test_time_outside_the_window_rejects_only_that_op(world: World, start: str, end: str) -> None:
    good = home_visit(world.student)
    extreme = home_visit(world.student, started_at=start, ended_at=end)
    results = world.t.push(upsert(good), upsert(extreme))
    assert [r["status"] for r in results] == ["applied", "rejected"]
    assert results[1]["error"]["code"] == "invalid_record"
    assert "2000-01-01" in results[1]["error"]["message"]
    assert "2099-12-31" in results[1]["error"]["message"]
    ids = {c["id"] for c in world.t.get("/sync/pull").json()["changes"]}
    assert good["id"] in ids and extreme["id"] not in ids


def test_window_edges_are_accepted(world: World) -> None:
    first = home_visit(world.student, start=datetime(2000, 1, 1, tzinfo=UTC))
    last = home_visit(world.student, start=datetime(2099, 12, 31, 22, 59, tzinfo=UTC), minutes=60)
    results = world.t.push(upsert(first), upsert(last))
    assert [r["status"] for r in results] == ["applied", "applied"]


def test_due_date_outside_the_window_is_rejected(world: World) -> None:
    bad = itinerant_visit(world.school, recommendations=[{"text": "t", "due_date": "9999-12-31"}])
    (result,) = world.i.push(upsert(bad))
    assert result["status"] == "rejected" and result["error"]["code"] == "invalid_record"
    assert "recommendations" in result["error"]["message"]


def test_phone_clock_a_year_off_is_kept_and_flagged(world: World) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ahead = home_visit(world.student, start=now + timedelta(days=365))
    behind = home_visit(world.student, start=now - timedelta(days=365))
    results = world.t.push(upsert(ahead), upsert(behind))
    assert [r["status"] for r in results] == ["applied", "applied"]
    flags = {
        c["id"]: c["record"]["flags"]
        for c in world.t.get("/sync/pull").json()["changes"]
        if c["entity"] == "visit"
    }
    assert "future_time" in flags[ahead["id"]]
    assert "stale_time" in flags[behind["id"]]


def test_openapi_states_the_time_window(server: LiveServer) -> None:
    schema = requests.get(f"{server.url}/openapi.json", timeout=60).json()
    ops = schema["components"]["schemas"]["PushRequest"]["properties"]["ops"]
    assert "2000-01-01T00:00Z <= t < 2100-01-01T00:00Z" in ops["description"]
    policy = schema["paths"]["/api/v1/policies/{district}/{effective_from}"]["put"]
    (day,) = [p for p in policy["parameters"] if p["name"] == "effective_from"]
    assert "2000-01-01" in day["description"] and "2099-12-31" in day["description"]


def test_upsert_on_the_tombstones_version_restores_the_visit(
    world: World, factory: Factory
) -> None:
    record = home_visit(world.student, start=datetime(2025, 10, 9, 1, tzinfo=UTC))
    world.t.push(upsert(record))
    world.t.push(delete(record["id"], base_version=1))
    restored = {**record, "content": "撤销删除后改过"}
    (result,) = world.t.push(upsert(restored, base_version=2))
    assert (result["status"], result["version"]) == ("applied", 3), result
    changes = world.t.get("/sync/pull").json()["changes"]
    visit = next(c for c in changes if c["id"] == record["id"])
    assert visit["deleted"] is False and visit["version"] == 3
    assert visit["record"]["content"] == "撤销删除后改过"
    assert visit["record"]["review_status"] == "pending"
    assert "no_photo" in visit["record"]["flags"]  # judged afresh
    with factory.session() as s:  # counted again in the report's sums
        tally = s.exec(select(VisitTally).where(VisitTally.subject_id == world.student)).all()
    assert [(row.local_month, row.visits) for row in tally] == [(202510, 1)]


def test_tombstone_answers_conflict_to_any_other_version_and_to_a_delete(world: World) -> None:
    record = home_visit(world.student)
    world.t.push(upsert(record))
    world.t.push(delete(record["id"], base_version=1))
    for op in (upsert(record, base_version=1), delete(record["id"], base_version=2)):
        (result,) = world.t.push(op)
        assert result["status"] == "conflict", result
        assert result["server_record"]["deleted"] is True
        assert result["server_record"]["version"] == 2


def test_check_in_and_out_may_carry_the_taps_instant_or_not(world: World) -> None:
    """``Position.at`` is optional: a contract client's {lat, lon, accuracy_m} is as valid as
    the phone's record with the instants of its taps, and neither gains a key it did not send."""
    plain = home_visit(world.student)
    tapped = plain["started_at"]
    timed = home_visit(world.student, start=datetime.fromisoformat(tapped) + timedelta(hours=1))
    timed["check_in"] = {**timed["check_in"], "at": tapped}  # started_at corrected by an hour
    timed["check_out"] = {**timed["check_out"], "at": timed["ended_at"]}
    plain_op = upsert(plain)
    results = world.t.push(plain_op, upsert(timed))
    assert [r["status"] for r in results] == ["applied", "applied"], results
    changes = world.t.get("/sync/pull").json()["changes"]
    pulled = {c["id"]: c["record"] for c in changes if c["entity"] == "visit"}
    assert "at" not in pulled[plain["id"]]["check_in"]
    assert datetime.fromisoformat(pulled[timed["id"]]["check_in"]["at"]) == datetime.fromisoformat(
        tapped
    )
    assert world.t.push(plain_op)[0]["status"] == "duplicate"  # its meaning hashes as before
    bad = home_visit(world.student)
    bad["check_in"] = {**bad["check_in"], "at": "1970-01-01T00:00:00Z"}
    (refused,) = world.t.push(upsert(bad))
    assert refused["status"] == "rejected" and refused["error"]["code"] == "invalid_record"


def test_a_tap_without_a_position_may_carry_its_instant_at_the_top_level(world: World) -> None:
    """No position at 签到 / 签退: ``check_in`` is null and the tap's instant may come as
    ``check_in_at`` / ``check_out_at`` (shared.protocol.tap_instant reads either place). A
    record without them is as valid; neither gains a key it did not send; a tap given in both
    places is refused."""
    plain = home_visit(world.student, check_in=None, check_out=None)
    start = datetime.fromisoformat(plain["started_at"])
    tapped_in = (start + timedelta(minutes=20)).isoformat()  # started_at corrected by 20 min
    timed = home_visit(
        world.student,
        start=start - timedelta(days=1),
        check_in=None,
        check_out=None,
        check_in_at=tapped_in,
        check_out_at=plain["ended_at"],
    )
    plain_op, timed_op = upsert(plain), upsert(timed)
    results = world.t.push(plain_op, timed_op)
    assert [r["status"] for r in results] == ["applied", "applied"], results
    changes = world.t.get("/sync/pull").json()["changes"]
    pulled = {c["id"]: c["record"] for c in changes if c["entity"] == "visit"}
    assert pulled[plain["id"]]["check_in"] is None
    assert "check_in_at" not in pulled[plain["id"]]
    assert "check_out_at" not in pulled[plain["id"]]
    back = pulled[timed["id"]]
    assert back["check_in"] is None and "no_gps" in back["flags"]
    assert datetime.fromisoformat(tap_instant(back, "check_in") or "") == datetime.fromisoformat(
        tapped_in
    )
    assert datetime.fromisoformat(back["check_out_at"]) == datetime.fromisoformat(plain["ended_at"])
    assert [world.t.push(op)[0]["status"] for op in (plain_op, timed_op)] == [
        "duplicate",
        "duplicate",
    ]
    twice = home_visit(world.student, check_in_at=plain["started_at"])  # beside a position
    outside = home_visit(world.student, check_in=None, check_in_at="1970-01-01T00:00:00Z")
    for record in (twice, outside):
        (refused,) = world.t.push(upsert(record))
        assert refused["status"] == "rejected" and refused["error"]["code"] == "invalid_record"


def test_resent_op_with_the_same_meaning_in_other_json_is_duplicate(world: World) -> None:
    record = home_visit(world.student, accuracy=15.0)
    op = upsert(record)
    assert world.t.push(op)[0]["status"] == "applied"
    # Another JSON writer: 15.0 as 15, keys in another order, server fields echoed back.
    same = {
        **op,
        "record": {
            **dict(reversed(list(record.items()))),
            "check_in": {"lat": 30.3, "lon": 120.1, "accuracy_m": 15},
            "check_out": {"accuracy_m": 15, "lat": 30.3, "lon": 120.1},
            "flags": ["whatever the phone had"],
        },
    }
    (again,) = world.t.push(same)
    assert again["status"] == "duplicate", again
    changed = {**op, "record": {**record, "check_in": {**record["check_in"], "accuracy_m": 16}}}
    (reused,) = world.t.push(changed)
    assert reused["error"]["code"] == "op_id_reused"


def test_replay_of_an_op_stored_with_the_old_raw_hash_is_still_duplicate(
    world: World, factory: Factory
) -> None:
    """Ops stored before replays compared meanings kept the hash of the raw body."""
    op = upsert(home_visit(world.student))
    first = world.t.push(op)[0]
    raw = {"type": op["type"], "record": op["record"], "base_version": op["base_version"]}
    old_hash = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    with factory.session() as s:
        stored = s.get(SyncOp, op["op_id"])
        assert stored is not None
        stored.body_hash = old_hash
        s.add(stored)
        s.commit()
    (again,) = world.t.push(op)
    assert (again["status"], again["version"]) == ("duplicate", first["version"])
    changed = {**op, "record": {**op["record"], "content": "改过"}}
    assert world.t.push(changed)[0]["error"]["code"] == "op_id_reused"
