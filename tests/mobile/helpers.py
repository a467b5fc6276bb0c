"""Building blocks for the field-app core tests: a seeded store and visit records."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mobile.core.models import User
from mobile.core.store import Store
from shared.protocol import Change, PushResult, VisitRecord

DISTRICT = "330127"
TEACHER = User("t_330127_1", "王老师", "teacher", DISTRICT, "SPECIAL")
ITINERANT = User("i_330127_1", "李老师", "itinerant", DISTRICT, "SPECIAL")


def change(entity: str, record: dict[str, Any] | None, *, id: str, version: int = 1) -> Change:
    return Change(entity=entity, id=id, version=version, deleted=record is None, record=record)


def student(sid: str = "ST1", **over: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "name": "张小明",
        "school_id": "SPECIAL",
        "district_code": DISTRICT,
        "home_lat": 29.70,
        "home_lon": 119.10,
        "address": "某村 1 号",
        "guardian_name": "张父",
        "guardian_phone": "13800000000",
        "photo_consent": True,
        "iep_goals": ["能指认三种颜色", "能独立进食"],
        **over,
    }


def school(sid: str, **over: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "name": f"学校{sid}",
        "district_code": DISTRICT,
        "kind": "ordinary",
        "lat": 29.61,
        "lon": 119.04,
        **over,
    }


def seeded(path: Path, user: User = TEACHER, **policy: Any) -> Store:
    """A store signed in as ``user`` with one special school, two children and two schools."""
    store = Store(path)
    store.set_user(user)
    changes = [
        change("school", school("SPECIAL", kind="special", lat=29.60, lon=119.00), id="SPECIAL"),
        change("school", school("SC1"), id="SC1"),
        change("school", school("SC2", lat=None, lon=None), id="SC2"),
        change("student", student("ST1"), id="ST1"),
        change("student", student("ST2", name="李小红", photo_consent=False), id="ST2"),
        change("student", student("ST3", name="随班生", school_id="SC1"), id="ST3"),
        change(
            "student",
            student("ST4", name="随班生乙", school_id="SC1", photo_consent=False),
            id="ST4",
        ),
    ]
    for i, (target, column) in enumerate(
        [("ST1", "student_id"), ("ST2", "student_id"), ("SC1", "school_id"), ("SC2", "school_id")]
    ):
        who = TEACHER.username if column == "student_id" else ITINERANT.username
        record = {"username": who, "student_id": None, "school_id": None, column: target}
        changes.append(change("assignment", record, id=f"a{i}"))
    if policy:
        record = {"district_code": DISTRICT, "effective_from": "2020-01-01", "params": policy}
        changes.append(change("policy", record, id="p1"))
    store.apply_pull(changes, "c1.10", complete=True)
    return store


def home_record(
    student_id: str = "ST1",
    *,
    start: datetime | None = None,
    minutes: int = 70,
    photos: list[str] | None = None,
    **extra: Any,
) -> VisitRecord:
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    data = {
        "id": str(uuid.uuid4()),
        "kind": "home_teaching",
        "student_id": student_id,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        "check_in": {"lat": 29.70, "lon": 119.10, "accuracy_m": 12.0},
        "check_out": {"lat": 29.70, "lon": 119.10, "accuracy_m": 12.0},
        "content": "认识颜色：红、黄、蓝",
        "iep_goals": ["能指认三种颜色"],
        "photos": photos or [],
        "travel": {"origin": None, "mode": "car", "shared_with": []},
        **extra,
    }
    return VisitRecord.model_validate(data)


def itinerant_record(school_id: str = "SC1", **extra: Any) -> VisitRecord:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    data = {
        "id": str(uuid.uuid4()),
        "kind": "itinerant",
        "school_id": school_id,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=90)).isoformat(),
        "purposes": ["classroom_observation"],
        "findings": "课堂参与度较好",
        "travel": {"origin": None, "mode": "car", "shared_with": []},
        **extra,
    }
    return VisitRecord.model_validate(data)


def result(op_id: str, status: str, **kw: Any) -> PushResult:
    """A push result as the server words it."""
    if status == "rejected" and "error" not in kw:
        kw["error"] = {"code": "not_assigned", "message": "该学生或学校不存在，或未分配给您"}
    return PushResult.model_validate({"op_id": op_id, "status": status, **kw})
