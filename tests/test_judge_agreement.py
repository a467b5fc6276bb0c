"""The phone and the server judge alike (issue 9): for random visits, policies and city
calendars, what the field app shows before syncing (本月已送教 n/m, each visit's duration,
flags and subsidy, the month's subsidy) equals what the server stores and reports once the
phone's own push ops arrive.

The server side is the server's own service functions on a real database (the pull that feeds
the phone, the push, the tally, the compliance report, the subsidy sheet); the phone side is
``mobile.core`` on a real phone store, Flet-free.
"""

import itertools
import json
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from mobile.core import judged
from mobile.core.caseload import teacher_caseload
from mobile.core.models import User as PhoneUser
from mobile.core.store import Store
from mobile.core.trip import month_subsidy, visit_subsidy
from server.console.web import _minutes as console_minutes
from server.db import make_engine, migrate
from server.models import User, Visit, VisitTally
from server.scope import Scope
from server.services import compliance, registry, sync_pull, sync_push
from server.services.policies import set_policy
from server.services.subsidies import subsidy_rows
from server.settings import get_settings
from shared.domain import Role
from shared.evidence import PAIR_FLAGS
from shared.policy import PolicyParams, SubsidyMode
from shared.protocol import PullResponse, VisitRecord
from shared.terms import SHANGHAI, calendar_json, month_bounds, term_of
from tests.live import PG_ENV, create_database, drop_database

HOME = (29.61, 119.04)  # the child's registered home (淳安县)
BASE = (29.70, 119.20)  # the teacher's special school
_codes = itertools.count(random.randint(100, 899) * 1000)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    if request.param == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    url = create_database(request.param, tmp_path_factory.mktemp("judge-db"))
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    drop_database(url)


# -- what hypothesis draws ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    calendar: dict[str, dict[str, str]]  # the city's (JSON form); {} for the default dates
    month: int  # the month the phone looks at
    today: date  # the day it looks, in that month
    policies: list[tuple[date, PolicyParams]]  # the district's versions
    visits: list[dict]  # records as the phone saves them


@st.composite
def calendars(draw: st.DrawFn) -> dict[str, dict[str, str]]:
    if draw(st.booleans()):
        return {}
    start = date(2025, 9, draw(st.integers(1, 10)))
    teaching_start = start + timedelta(days=draw(st.integers(0, 7)))
    teaching_end = date(2026, 1, draw(st.integers(5, 25)))
    return {
        "2025-1": {
            "start": start.isoformat(),
            "end": "2026-01-31",
            "teaching_start": teaching_start.isoformat(),
            "teaching_end": teaching_end.isoformat(),
        }
    }


@st.composite
def policies(draw: st.DrawFn, month: int) -> list[tuple[date, PolicyParams]]:
    first, last = month_bounds(month)
    days = st.dates(first - timedelta(days=40), last + timedelta(days=5))
    versions = {}
    for day in draw(st.lists(days, min_size=1, max_size=3, unique=True)):
        versions[day] = PolicyParams(
            service_sessions_per_month=draw(st.integers(1, 8)),
            service_min_minutes=draw(st.sampled_from([30, 45, 60, 90])),
            geofence_m=draw(st.sampled_from([200, 500, 5000])),
            max_accuracy_m=draw(st.sampled_from([20, 100])),
            time_edit_tolerance_minutes=draw(st.integers(0, 10)),
            subsidy_mode=draw(st.sampled_from(list(SubsidyMode))),
            flat_fen_per_visit=draw(st.integers(0, 15_000)),
            fen_per_km=draw(st.integers(0, 300)),
            road_factor=draw(st.sampled_from([Decimal("1"), Decimal("1.3"), Decimal("0.8") + 1])),
            monthly_cap_fen=draw(st.sampled_from([None, 3_000, 25_000])),
        )
    return sorted(versions.items())


@st.composite
def visits(draw: st.DrawFn, month: int, today: date) -> list[dict]:
    first, last = month_bounds(month)[0], today
    out = []
    for _ in range(draw(st.integers(1, 6))):
        day = draw(st.dates(first, last))
        start = datetime.combine(day, time(draw(st.integers(6, 20)), draw(st.integers(0, 59))))
        start = start.replace(tzinfo=SHANGHAI, second=draw(st.integers(0, 59)))
        end = start + timedelta(seconds=draw(st.integers(15 * 60, 130 * 60)))

        def position(at: datetime) -> dict | None:
            if draw(st.integers(0, 5)) == 0:
                return None
            tapped = None
            if draw(st.booleans()):  # a phone that records the tap: sometimes edited away
                tapped = at + timedelta(seconds=draw(st.integers(-20 * 60, 20 * 60)))
            spot = {
                "lat": HOME[0] + draw(st.floats(-0.05, 0.05)),
                "lon": HOME[1] + draw(st.floats(-0.05, 0.05)),
                "accuracy_m": draw(st.sampled_from([5.0, 50.0, 150.0])),
            }
            return spot | ({"at": tapped.isoformat()} if tapped else {})

        out.append(
            {
                "id": str(uuid.uuid4()),
                "kind": "home_teaching",
                "started_at": start.isoformat(),
                "ended_at": end.isoformat(),
                "check_in": position(start),
                "check_out": position(end),
                "content": "认识颜色",
                "photos": [],
                "travel": {"origin": None, "mode": "car", "shared_with": []}
                if draw(st.booleans())
                else None,
            }
        )
    return out


@st.composite
def cases(draw: st.DrawFn) -> Case:
    month = draw(st.sampled_from([202509, 202510, 202511, 202512, 202601]))
    today = draw(st.dates(*month_bounds(month)))
    return Case(draw(calendars()), month, today, draw(policies(month)), draw(visits(month, today)))


# -- the property -------------------------------------------------------------------------------


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_the_phone_shows_what_the_server_stores_and_reports(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory, case: Case
) -> None:
    os.environ["SONGJIAO_TERM_CALENDAR"] = json.dumps(case.calendar)
    get_settings.cache_clear()
    try:
        _check(engine, tmp_path_factory.mktemp("phone"), case)
    finally:
        del os.environ["SONGJIAO_TERM_CALENDAR"]
        get_settings.cache_clear()


def _check(engine: Engine, phone_dir: Path, case: Case) -> None:
    today, month_end = case.today, month_bounds(case.month)[1]
    now = datetime.combine(today, time(21, 0), SHANGHAI)  # the phone saves and syncs tonight
    with Session(engine) as s:
        district, student, teacher = _roster(s, case)
        scope = Scope.of(s.exec(select(User).where(User.username == teacher)).one())
        admin = Scope("admin", Role.ADMIN, None, None)
        settings_ = get_settings()
        sent = sync_pull.pull(
            s,
            scope=scope,
            cursor=None,
            limit=1000,
            calendar=(settings_.calendar(), settings_.calendar_tag),
        )
    # As the phone reads it: the JSON the route sends.
    page = PullResponse.model_validate_json(sent.model_dump_json(exclude_unset=True))

    # The phone: what a pull gave it, and its own visits saved but not yet synced.
    store = Store(phone_dir)
    store.set_user(PhoneUser(teacher, "老师", "teacher", district, base_school_id=f"B{district}"))
    assert page.calendar is not None
    store.set_calendar(page.calendar)
    store.apply_pull(page.changes, page.cursor, complete=True)
    assert calendar_json(store.calendar()) == case.calendar
    for record in case.visits:
        store.visit_repo.save_visit(VisitRecord.model_validate(record | {"student_id": student}))
    shown = {
        v.id: (judged.minutes(v), judged.shown_flags(store, v, now), visit_subsidy(store, v))
        for v in store.visits(month=case.month)
    }
    (load,) = teacher_caseload(store, today)
    money = month_subsidy(store, case.month, today)
    ops = [op.wire() for op in store.outbox.ops()]
    store.close()

    # The server: the same ops pushed, then what it stores and reports.
    with Session(engine) as s:
        results = sync_push.push(s, scope=scope, raw_ops=ops, now=now)
        assert [r.status for r in results] == ["applied"] * len(ops)
        stored = {
            v.id: (console_minutes(v), sorted(set(v.flags) - PAIR_FLAGS), v.subsidy_fen)
            for v in s.exec(select(Visit).where(Visit.teacher == teacher))
        }
        sessions = s.exec(
            select(func.coalesce(func.sum(VisitTally.sessions), 0)).where(
                VisitTally.subject_id == student, VisitTally.local_month == case.month
            )
        ).one()
        term = term_of(today, get_settings().calendar())
        owed = {
            day: compliance.district_report(
                s, scope=admin, district_code=district, term_id=term.id, today=day
            ).service.required_by_month[str(case.month)]
            for day in (today, month_end)
        }
        (sheet,) = subsidy_rows(s, admin, district, case.month)
        s.commit()

    assert shown == stored  # each visit: duration, the judge's own flags, subsidy
    assert load.delivered == sessions  # 本月已送教 n ...
    assert load.required == owed[month_end]  # ... / m, the whole month's
    assert load.owed_so_far == owed[today]
    assert load.min_minutes == _policy_on_last_day(case).service_min_minutes
    assert (money.claimed_fen, money.cap_fen) == (sheet["payable_fen"], sheet["cap_fen"])
    assert money.uncapped_fen == sheet["claimed_fen"]


def _policy_on_last_day(case: Case) -> PolicyParams:
    last = month_bounds(case.month)[1]
    in_force = [p for day, p in case.policies if day <= last]
    return in_force[-1] if in_force else PolicyParams()


def _roster(s: Session, case: Case) -> tuple[str, str, str]:
    """A district with its policy versions, the teacher's base school, one child at home."""
    code = f"{next(_codes):06d}"
    registry.upsert_district(s, code=code, name="测试县")
    base = f"B{code}"
    registry.upsert_school(
        s, id=base, name="特教学校", district_code=code, kind="special", lat=BASE[0], lon=BASE[1]
    )
    student = f"S{code}"
    registry.upsert_student(
        s,
        id=student,
        name="李梓玥",
        district_code=code,
        school_id=base,
        stage="compulsory",
        grade=3,
        placement="home_delivery",
        disability_category="multiple",
        disability_grade=1,
        certified=True,
        home_lat=HOME[0],
        home_lon=HOME[1],
        photo_consent=True,
        active=True,
    )
    teacher = f"t{code}"
    s.add(
        User(
            username=teacher,
            name="老师",
            role="teacher",
            district_code=code,
            base_school_id=base,
            password_hash="-",
        )
    )
    registry.upsert_assignment(
        s, username=teacher, student_id=student, school_id=None, district_code=code
    )
    for day, params in case.policies:
        set_policy(s, district_code=code, effective_from=day, params=params)
    s.commit()
    return code, student, teacher
