"""Malformed requests get a clear 4xx in the error shape, never a 500, and lose nothing."""

import uuid

import pytest

from tests.conftest import World
from tests.factories import home_visit, upsert


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["message"]


def test_malformed_json_is_400(world: World) -> None:
    response = world.t.post(
        "/sync/push", data=b'{"ops": [', headers={"Content-Type": "application/json"}
    )
    assert "JSON" in _error(response, 400, "invalid_json")


def test_unknown_top_level_field_is_422(world: World) -> None:
    response = world.t.post("/sync/push", json={"ops": [], "debug": True})
    assert "不认识的字段" in _error(response, 422, "invalid_request")


def test_ops_of_wrong_type_is_422(world: World) -> None:
    response = world.t.post("/sync/push", json={"ops": "all of them"})
    _error(response, 422, "invalid_request")


def test_501_ops_are_refused_whole(world: World) -> None:
    ops = [upsert(home_visit(world.student)) for _ in range(501)]
    _error(world.t.post("/sync/push", json={"ops": ops}), 422, "invalid_request")
    # Nothing of it landed.
    pulled = world.t.get("/sync/pull").json()["changes"]
    assert not {op["record"]["id"] for op in ops} & {c["id"] for c in pulled}


def test_500_ops_are_fine(world: World) -> None:
    ops = [upsert(home_visit(world.student)) for _ in range(500)]
    results = world.t.push(*ops)
    assert [r["status"] for r in results] == ["applied"] * 500


def test_ten_megabyte_string_is_413(world: World) -> None:
    record = home_visit(world.student, content="字" * (10 * 1024 * 1024 // 3 + 10))
    _error(world.t.post("/sync/push", json={"ops": [upsert(record)]}), 413, "body_too_large")


def test_overlong_field_rejects_only_that_op(world: World) -> None:
    good = home_visit(world.student)
    long = home_visit(world.student, content="x" * 6000)
    results = world.t.push(upsert(good), upsert(long))
    assert [r["status"] for r in results] == ["applied", "rejected"]
    assert "过长" in results[1]["error"]["message"]


@pytest.mark.parametrize(
    "change, words",
    [
        ({"started_at": "yesterday"}, "类型不正确"),
        ({"started_at": "2025-10-01T09:00:00"}, "started_at"),  # no offset
        ({"kind": "picnic"}, "kind"),
        ({"check_in": {"lat": 30.1, "lon": 120.1}}, "缺少必填字段"),
        ({"check_in": {"lat": 30.1, "lon": 500, "accuracy_m": 5}}, "超出允许范围"),
        ({"photos": ["not-a-hash"]}, "photos"),
        ({"iep_goals": "一个字符串"}, "iep_goals"),
        ({"favourite_colour": "blue"}, "不认识的字段"),
        ({"id": "not-a-uuid"}, "id"),
        ({"school_id": "S1"}, "学生编号"),
    ],
)
def test_bad_record_rejected_with_chinese_reason(world: World, change: dict, words: str) -> None:
    record = {**home_visit(world.student), **change}
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "rejected", result
    assert result["error"]["code"] == "invalid_record"
    assert words in result["error"]["message"]


def test_missing_required_record_field(world: World) -> None:
    record = home_visit(world.student)
    del record["started_at"]
    (result,) = world.t.push(upsert(record))
    assert "缺少必填字段 started_at" in result["error"]["message"]


@pytest.mark.parametrize(
    "op",
    [
        {"type": "visit.upsert", "record": {}},  # no op_id
        {"op_id": str(uuid.uuid4()), "type": "visit.explode", "record": {}},
        {"op_id": str(uuid.uuid4()), "type": "visit.upsert", "record": "text"},
        {"op_id": str(uuid.uuid4()), "type": "visit.upsert", "record": {}, "base_version": -1},
        "just a string",
        None,
    ],
)
def test_malformed_op_is_rejected_alone(world: World, op) -> None:
    good = upsert(home_visit(world.student))
    results = world.t.push(op, good)
    assert results[0]["status"] == "rejected"
    assert results[0]["error"]["code"] == "invalid_record"
    assert results[1]["status"] == "applied"


def test_login_with_wrong_types_is_422(world: World) -> None:
    response = world.t.post("/auth/login", json={"username": ["x"], "password": 5})
    _error(response, 422, "invalid_request")


def test_unknown_route_is_404_in_error_shape(world: World) -> None:
    _error(world.t.get("/nothing-here"), 404, "not_found")


def test_nul_characters_are_refused_not_500(world: World) -> None:
    login = world.t.post("/auth/login", json={"username": "a\u0000b", "password": "x"})
    _error(login, 422, "invalid_request")
    _error(world.c.get("/compliance/33%0001", params={"term": "2025-1"}), 400, "invalid_request")
    _error(world.t.get("/sync/pull", params={"cursor": "c1.\x00"}), 400, "invalid_request")
    good, bad = home_visit(world.student), home_visit(world.student, content="教学\u0000内容")
    results = world.t.push(upsert(good), upsert(bad))
    assert [r["status"] for r in results] == ["applied", "rejected"]
