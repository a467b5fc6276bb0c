"""Why a visit carries each of its evidence flags, with the numbers: what was measured and the
limit of the policy in force on the visit's day (「签到点距登记住址 37,258 米，超出 500 米」).

The rules themselves are shared/evidence.py's: the numbers are measured here with the same
functions (shared/travel.py's distance, shared/evidence.py's minimum and pairwise test) and
the same policy (services/policies.py), never judged again by a copy.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from server.models import School, Student, Visit
from server.scope import Scope
from server.services.policies import params_for
from server.services.visits import facts, registered_place
from shared.domain import EvidenceFlag, VisitKind
from shared.evidence import pair_flags
from shared.messages import t
from shared.terms import local_date
from shared.travel import distance_m
from shared.visit_time import minimum_minutes

_PARTNER_LIMIT = 50  # other visits named under one pairwise flag


@dataclass
class Partner:
    """Another visit a pairwise flag pairs this one with."""

    id: str
    kind: str
    started_at: datetime
    ended_at: datetime
    student_id: str | None
    school_id: str | None
    teacher: str


@dataclass
class Explained:
    code: str
    label: str
    text: str
    note: dict[str, Any] | None = None  # the coordinator's resolution, if any
    partners: list[Partner] = field(default_factory=list)


def explain(
    session: Session, scope: Scope, visit: Visit, subject: Student | School | None
) -> list[Explained]:
    """One explanation per flag of ``visit``, in the order stored."""
    policy = params_for(session, visit.district_code, local_date(visit.started_at))
    pairs = _partners(session, scope, visit) if set(visit.flags or ()) & _PAIRWISE else {}
    check_in = (visit.record or {}).get("check_in")
    notes = visit.flag_notes or {}
    out = []
    for code in visit.flags or []:
        values: dict[str, Any] = {}
        if code == EvidenceFlag.OUTSIDE_GEOFENCE:
            place = registered_place(subject) if subject else None
            where = "desk.place.home" if isinstance(subject, Student) else "desk.place.school"
            if place is None or not check_in:
                values = {"key": "desk.explain.no_place"}
            else:
                off = distance_m((check_in["lat"], check_in["lon"]), place)
                values = {"place": t(where), "distance": f"{off:,}", "limit": policy.geofence_m}
        elif code == EvidenceFlag.LOW_ACCURACY and check_in:
            values = {"accuracy": f"{round(check_in['accuracy_m']):,}"}
            values["limit"] = f"{policy.max_accuracy_m:,}"
        elif code == EvidenceFlag.SHORT_DURATION:
            values = {
                "minutes": visit.duration_s // 60,
                "limit": minimum_minutes(visit.kind, policy),
            }
        elif code == EvidenceFlag.FUTURE_TIME:
            ahead = visit.started_at - visit.received_at
            values = {"minutes": f"{_minutes(ahead):,}", "limit": policy.future_tolerance_minutes}
        elif code == EvidenceFlag.STALE_TIME:
            values = {"days": (visit.received_at - visit.started_at).days}
            values["limit"] = policy.max_age_days
        key = values.pop("key", f"desk.explain.{code}")
        partners = pairs.get(code, [])
        if code in _PAIRWISE and not partners:
            key = "desk.explain.partner_gone"
        out.append(Explained(code, t(f"flag.{code}"), t(key, **values), notes.get(code), partners))
    return out


_PAIRWISE = frozenset({EvidenceFlag.OVERLAPPING, EvidenceFlag.SAME_DAY_DUPLICATE})


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _partners(session: Session, scope: Scope, visit: Visit) -> dict[str, list[Partner]]:
    """The other live visits each pairwise flag of ``visit`` pairs it with, by flag code.

    Candidates are the teacher's visits within a day either side and the other home visits to
    the same child around that day; shared/evidence.py's ``pair_flags`` decides which pair.
    """
    lo, hi = visit.started_at - timedelta(days=1), visit.ended_at + timedelta(days=1)
    near = [col(Visit.teacher) == visit.teacher]
    if visit.kind == VisitKind.HOME_TEACHING and visit.student_id:
        near.append(col(Visit.student_id) == visit.student_id)
    rows = session.exec(
        select(Visit)
        .where(
            scope.visits(),
            col(Visit.deleted).is_(False),
            col(Visit.id) != visit.id,
            col(Visit.started_at) >= lo,
            col(Visit.started_at) < hi,
            or_(*near),
        )
        .order_by(col(Visit.started_at))
        .limit(500)
    ).all()
    mine = facts(visit)
    found: dict[str, list[Partner]] = {}
    for other in rows:
        for code in pair_flags(mine, [facts(other)]):
            group = found.setdefault(code, [])
            if len(group) < _PARTNER_LIMIT:
                group.append(
                    Partner(
                        other.id,
                        other.kind,
                        other.started_at,
                        other.ended_at,
                        other.student_id,
                        other.school_id,
                        other.teacher,
                    )
                )
    return found
