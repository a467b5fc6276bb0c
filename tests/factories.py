"""Test data, written straight into the server's database through the service layer.

Every call makes fresh ids, so tests sharing one server never see each other's records.
"""

import itertools
import random
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlmodel import Session

from server.db import make_engine
from server.models import User
from server.security import hash_password
from server.services import registry
from shared.terms import SHANGHAI
from tests.live import Client, LiveServer

PASSWORD = "correct horse 送教"
_HASH = hash_password(PASSWORD)  # once: argon2 is deliberately slow
_codes = itertools.count(random.randint(100, 899) * 1000)
_ids = itertools.count(1)


def uid(prefix: str) -> str:
    return f"{prefix}{next(_ids)}-{uuid.uuid4().hex[:6]}"


class Factory:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.engine = make_engine(server.database_url)

    def session(self) -> Session:
        return Session(self.engine)

    def district(self, name: str = "测试区") -> str:
        code = f"{next(_codes):06d}"
        with self.session() as s:
            registry.upsert_district(s, code=code, name=name)
            s.commit()
        return code

    def school(
        self,
        district: str,
        *,
        kind: str = "ordinary",
        lat: float = 30.25,
        lon: float = 120.15,
        name: str = "测试学校",
    ) -> str:
        sid = uid("SC")
        with self.session() as s:
            registry.upsert_school(
                s, id=sid, name=name, district_code=district, kind=kind, lat=lat, lon=lon
            )
            s.commit()
        return sid

    def student(self, district: str, school: str, **overrides: Any) -> str:
        sid = uid("ST")
        fields: dict[str, Any] = dict(
            name="张小明",
            district_code=district,
            school_id=school,
            stage="compulsory",
            grade=3,
            placement="home_delivery",
            disability_category="multiple",
            disability_grade=1,
            certified=True,
            home_lat=30.30,
            home_lon=120.10,
            address="某村 1 号",
            guardian_name="张父",
            guardian_phone="13800000000",
            photo_consent=True,
            active=True,
        )
        fields.update(overrides)
        with self.session() as s:
            registry.upsert_student(s, id=sid, **fields)
            s.commit()
        return sid

    def user(self, role: str, district: str | None, *, base_school: str | None = None) -> str:
        username = uid(role[:3])
        with self.session() as s:
            s.add(
                User(
                    username=username,
                    name=f"测试{role}",
                    role=role,
                    district_code=district,
                    base_school_id=base_school,
                    password_hash=_HASH,
                )
            )
            s.commit()
        return username

    def assign(
        self, username: str, *, student: str | None = None, school: str | None = None, district: str
    ) -> None:
        with self.session() as s:
            registry.upsert_assignment(
                s, username=username, student_id=student, school_id=school, district_code=district
            )
            s.commit()

    def login(self, username: str, device: str = "测试手机") -> Client:
        client = Client(self.server)
        response = client.post(
            "/auth/login", json={"username": username, "password": PASSWORD, "device_name": device}
        )
        assert response.status_code == 200, response.text
        client.token = response.json()["token"]
        return client


def local_day_at(days_ago: int, hour: int) -> datetime:
    """``hour`` o'clock, Beijing time, ``days_ago`` days before today, in UTC: for tests whose
    visits must fall on one local day whatever time the suite runs (21:00 plus three hours is
    tomorrow)."""
    day = datetime.now(SHANGHAI).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour), SHANGHAI).astimezone(UTC)


def home_visit(
    student_id: str,
    *,
    start: datetime | None = None,
    minutes: int = 70,
    lat: float = 30.30,
    lon: float = 120.10,
    accuracy: float = 12.0,
    photos: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    record = {
        "id": str(uuid.uuid4()),
        "kind": "home_teaching",
        "student_id": student_id,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        "check_in": {"lat": lat, "lon": lon, "accuracy_m": accuracy},
        "check_out": {"lat": lat, "lon": lon, "accuracy_m": accuracy},
        "content": "认识颜色：红、黄、蓝",
        "iep_goals": ["能指认三种颜色"],
        "student_response": "能指认红色",
        "guardian_guidance": "每天练习 10 分钟",
        "photos": photos or [],
        "travel": {"origin": None, "mode": "car", "shared_with": []},
    }
    record.update(extra)
    return record


def itinerant_visit(
    school_id: str, *, start: datetime | None = None, minutes: int = 90, **extra: Any
) -> dict[str, Any]:
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    record = {
        "id": str(uuid.uuid4()),
        "kind": "itinerant",
        "school_id": school_id,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        "check_in": {"lat": 30.25, "lon": 120.15, "accuracy_m": 8.0},
        "check_out": None,
        "purposes": ["classroom_observation", "iep_review"],
        "students_seen": [],
        "findings": "课堂参与度较好",
        "recommendations": [{"text": "增加视觉提示", "due_date": "2025-12-01"}],
        "photos": [],
        "travel": {"origin": None, "mode": "car", "shared_with": []},
    }
    record.update(extra)
    return record


def upsert(record: dict[str, Any], base_version: int | None = None) -> dict[str, Any]:
    return {
        "op_id": str(uuid.uuid4()),
        "type": "visit.upsert",
        "record": record,
        "base_version": base_version,
    }


def delete(record_id: str, base_version: int) -> dict[str, Any]:
    return {
        "op_id": str(uuid.uuid4()),
        "type": "visit.delete",
        "record": {"id": record_id},
        "base_version": base_version,
    }
