"""``songjiao demo``: the invented Hangzhou data set, loaded through the real services.

The roster goes in through the ``registry`` upserts, staff with one argon2 hash of the demo
password, photos through ``photos.store``, visits through ``sync_push.push`` (so the server
computes flags, distances and subsidies exactly as it does for a phone) and the coordinators'
decisions through ``review.review_visit``. Every id (op ids included) derives from fixed seeds,
so a second run finds everything in place: roster rows unchanged, every visit's op already
applied (pushing it again would only answer ``duplicate``, so it is not sent), nothing reviewed
twice, no change number spent. A visit whose planned content changed since an earlier run (the
demo's code was edited) is pushed as an edit of the stored one.
"""

import hashlib
import json
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from server.models import Assignment, Policy, School, Student, SyncOp, User, Visit
from server.scope import Scope
from server.security import hash_password
from server.services import photos, registry, review, sync_push
from server.services.demo_data import DISTRICTS
from server.services.demo_plan import (
    ADMIN,
    PASSWORD,
    PER_KM_DISTRICT,
    PER_KM_POLICY,
    POLICY_FROM,
    TERM_ID,
    DistrictRoster,
    StaffRow,
    build_roster,
)
from server.services.demo_visits import NAMESPACE, DemoPhoto, PlannedVisit, plan_visits
from server.services.policies import set_policy
from server.settings import get_settings
from shared.domain import Placement, VisitKind
from shared.messages import t
from shared.protocol import MAX_OPS
from shared.terms import SHANGHAI

SHOWN_DISTRICT = "330127"  # the logins printed in the summary: a county over the cap


@dataclass
class Plan:
    rosters: list[DistrictRoster]
    visits: list[PlannedVisit]
    photos: list[DemoPhoto]

    @property
    def staff(self) -> list[StaffRow]:
        return [ADMIN] + [s for r in self.rosters for s in r.staff]


@dataclass
class Tally:
    roster: Counter = field(default_factory=Counter)  # added / updated / unchanged
    visits: Counter = field(default_factory=Counter)  # push statuses, plus "replaced"
    new_photos: int = 0
    reviews: int = 0
    rejected: list[str] = field(default_factory=list)


def build_plan() -> Plan:
    """The whole data set, computed without touching the database."""
    rosters, visits, pictures = [], [], []
    for profile in DISTRICTS:
        roster = build_roster(profile)
        planned, district_photos = plan_visits(roster)
        rosters.append(roster)
        visits += planned
        pictures += district_photos
    return Plan(rosters, visits, pictures)


def load(session: Session, *, console_url: str = "http://127.0.0.1:8000/login") -> str:
    """Load (or confirm) the demo data; returns the summary the CLI prints, which gives
    ``console_url`` as the console's address."""
    plan, tally = build_plan(), Tally()
    _roster(session, plan, tally)
    session.commit()
    _photos(session, plan, tally)
    _visits(session, plan, tally)
    _reviews(session, plan, tally)
    session.commit()
    return summary(plan, tally, console_url)


# -- roster -----------------------------------------------------------------------------------


def _roster(session: Session, plan: Plan, tally: Tally) -> None:
    codes = [r.profile.code for r in plan.rosters]
    # Held here so that the upserts' session.get() finds them without a query each.
    cached = [
        *session.exec(select(School).where(col(School.district_code).in_(codes))),
        *session.exec(select(Student).where(col(Student.district_code).in_(codes))),
        *session.exec(select(Assignment).where(col(Assignment.district_code).in_(codes))),
    ]
    # New rows are written table by table (parents first: foreign keys without relationships),
    # not one flush per lookup.
    with session.no_autoflush:
        for r in plan.rosters:
            outcome = registry.upsert_district(session, code=r.profile.code, name=r.profile.name)
            tally.roster[outcome] += 1
        session.flush()
        for r in plan.rosters:
            for school in [r.special, *r.schools]:
                tally.roster[registry.upsert_school(session, id=school.id, **school.fields())] += 1
        session.flush()
        for r in plan.rosters:
            for student in r.students:
                outcome = registry.upsert_student(session, id=student.id, **student.fields())
                tally.roster[outcome] += 1
        session.flush()
    _staff(session, plan.staff, tally)
    session.flush()
    for r in plan.rosters:
        for a in r.assignments():
            outcome = registry.upsert_assignment(
                session,
                username=a.username,
                student_id=a.student_id,
                school_id=a.school_id,
                district_code=a.district_code,
            )
            tally.roster[outcome] += 1
    _policy(session, tally)
    del cached


def _staff(session: Session, staff: list[StaffRow], tally: Tally) -> None:
    """Demo logins all share one password, hashed once (argon2 is slow by design). A user who
    already exists keeps the password they have."""
    names = [s.username for s in staff]
    existing = {
        u.username: u for u in session.exec(select(User).where(col(User.username).in_(names)))
    }
    password_hash: str | None = None
    for row in staff:
        fields: dict[str, Any] = {
            "name": row.name,
            "role": row.role,
            "district_code": row.district_code,
            "base_school_id": row.base_school_id,
        }
        user = existing.get(row.username)
        if user is None:
            password_hash = password_hash or hash_password(PASSWORD)
            session.add(User(username=row.username, password_hash=password_hash, **fields))
            tally.roster["added"] += 1
            continue
        changed: dict[str, Any] = {k: v for k, v in fields.items() if getattr(user, k) != v}
        for key, value in changed.items():
            setattr(user, key, value)
        if user.password_hash is None:  # on a roster but never given a password
            password_hash = password_hash or hash_password(PASSWORD)
            user.password_hash, changed["password"] = password_hash, True
        tally.roster["updated" if changed else "unchanged"] += 1


def _policy(session: Session, tally: Tally) -> None:
    before = session.exec(
        select(Policy.version).where(
            Policy.district_code == PER_KM_DISTRICT, Policy.effective_from == POLICY_FROM
        )
    ).first()
    row = set_policy(
        session, district_code=PER_KM_DISTRICT, effective_from=POLICY_FROM, params=PER_KM_POLICY
    )
    session.flush()
    outcome = "added" if before is None else "unchanged" if row.version == before else "updated"
    tally.roster[outcome] += 1


# -- photos, visits, reviews ------------------------------------------------------------------


def _photos(session: Session, plan: Plan, tally: Tally) -> None:
    """Every worker whose visits list a demo photo uploads it, as their phone would: a visit may
    list only photos its own teacher uploaded (services/photos.py, Possession)."""
    settings = get_settings()
    listers: dict[str, set[str]] = {p.sha256: {p.uploader} for p in plan.photos}
    for visit in plan.visits:
        for sha in visit.record.get("photos", []):
            listers.setdefault(sha, set()).add(visit.username)
    for photo in plan.photos:
        for uploader in sorted(listers[photo.sha256], key=lambda u: u != photo.uploader):
            _, new = photos.store(
                session,
                sha256=photo.sha256,
                data=photo.data,
                uploader=uploader,
                media_dir=settings.media_dir,
                max_bytes=settings.max_photo_bytes,
                max_pixels=settings.max_photo_pixels,
            )
            tally.new_photos += int(new)


def _visits(session: Session, plan: Plan, tally: Tally) -> None:
    """Each field worker syncs once a week, in the evening after their last visit of the week."""
    names = sorted({v.username for v in plan.visits})
    users = {u.username: u for u in session.exec(select(User).where(col(User.username).in_(names)))}
    weeks: dict[tuple[str, int, int], list[PlannedVisit]] = defaultdict(list)
    for v in plan.visits:
        year, week, _ = v.day.isocalendar()
        weeks[(v.username, year, week)].append(v)
    done = _applied_ops(session, plan.visits)
    for (username, _, _), batch in sorted(weeks.items()):
        # An op this user already applied would only come back "duplicate": skip the round trip.
        todo = [v for v in batch if not any((username, op) in done for op in _op_ids(v))]
        tally.visits["duplicate"] += len(batch) - len(todo)
        scope = Scope.of(users[username])
        for i in range(0, len(todo), MAX_OPS):
            _push(session, scope, todo[i : i + MAX_OPS], tally)


def _applied_ops(session: Session, visits: list[PlannedVisit]) -> set[tuple[str, str]]:
    op_ids = [op for v in visits for op in _op_ids(v)]
    done: set[tuple[str, str]] = set()
    for i in range(0, len(op_ids), 500):
        rows = session.exec(
            select(SyncOp.username, SyncOp.op_id).where(col(SyncOp.op_id).in_(op_ids[i : i + 500]))
        )
        done.update((username, op_id) for username, op_id in rows)
    return done


def _push(session: Session, scope: Scope, batch: list[PlannedVisit], tally: Tally) -> None:
    now = _received_at(batch)
    results = sync_push.push(
        session, scope=scope, raw_ops=[visit_op(v, None) for v in batch], now=now
    )
    retry: list[tuple[PlannedVisit, int]] = []
    for v, result in zip(batch, results, strict=True):
        if result.status == "conflict" and result.version is not None:
            retry.append((v, result.version))  # the demo's record changed since the last run
            continue
        tally.visits[result.status] += 1
        if result.status == "rejected" and result.error is not None:
            tally.rejected.append(f"{v.key}：{result.error.code}")
    if not retry:
        return
    again = sync_push.push(
        session, scope=scope, raw_ops=[visit_op(v, version) for v, version in retry], now=now
    )
    for (v, _), result in zip(retry, again, strict=True):
        tally.visits["replaced" if result.status == "applied" else result.status] += 1
        if result.error is not None:
            tally.rejected.append(f"{v.key}：{result.error.code}")


def visit_op(v: PlannedVisit, base_version: int | None) -> dict[str, Any]:
    """An upsert whose op_id names this exact record: a replay is a duplicate."""
    return {
        "op_id": _op_id(v, replacing=base_version is not None),
        "type": "visit.upsert",
        "record": v.record,
        "base_version": base_version,
    }


def _op_id(v: PlannedVisit, *, replacing: bool) -> str:
    """The first push of a record, or the edit replacing an older demo's version of it (whose
    version the plan cannot know, so it is not part of the name)."""
    body = json.dumps(v.record, sort_keys=True, ensure_ascii=False).encode()
    name = f"op:{v.key}:{hashlib.sha256(body).hexdigest()[:16]}:{'edit' if replacing else 'new'}"
    return str(uuid.uuid5(NAMESPACE, name))


def _op_ids(v: PlannedVisit) -> tuple[str, str]:
    return _op_id(v, replacing=False), _op_id(v, replacing=True)


def _received_at(batch: list[PlannedVisit]) -> datetime:
    last = max(datetime.fromisoformat(v.record["ended_at"]) for v in batch)
    evening = datetime.combine(last.date(), time(21, 0), SHANGHAI)
    return max(evening, last + timedelta(minutes=30))


def _reviews(session: Session, plan: Plan, tally: Tally) -> None:
    """Decide the planned reviews still pending; a visit already decided is left as it is."""
    planned = [v for v in plan.visits if v.review and v.reviewer]
    status: dict[str, tuple[str, bool]] = {}
    for i in range(0, len(planned), 500):
        ids = [v.id for v in planned[i : i + 500]]
        for vid, state, deleted in session.exec(
            select(Visit.id, Visit.review_status, Visit.deleted).where(col(Visit.id).in_(ids))
        ):
            status[vid] = (state, deleted)
    reviewers = {v.reviewer for v in planned}
    scopes = {
        u.username: Scope.of(u)
        for u in session.exec(select(User).where(col(User.username).in_(reviewers)))
    }
    for v in planned:
        if status.get(v.id) != ("pending", False):
            continue
        assert v.review is not None and v.reviewer is not None
        decision, reason = v.review
        review.review_visit(
            session,
            scope=scopes[v.reviewer],
            visit_id=v.id,
            decision=decision,
            reason=reason,
            now=v.reviewed_at,
        )
        tally.reviews += 1


# -- summary ----------------------------------------------------------------------------------


def summary(plan: Plan, tally: Tally, console_url: str) -> str:
    students = [s for r in plan.rosters for s in r.students]
    shown = next(r for r in plan.rosters if r.profile.code == SHOWN_DISTRICT)
    kinds = Counter(v.record["kind"] for v in plan.visits)
    lines = [
        t("demo.loaded", term=TERM_ID),
        t(
            "demo.totals",
            districts=len(plan.rosters),
            schools=sum(1 + len(r.schools) for r in plan.rosters),
            special=len(plan.rosters),  # one special school per district
            students=len(students),
            home=sum(1 for s in students if s.placement == Placement.HOME_DELIVERY and s.active),
            staff=len(plan.staff),
            visits=len(plan.visits),
            home_visits=kinds[VisitKind.HOME_TEACHING],
            itinerant_visits=kinds[VisitKind.ITINERANT],
            photos=len(plan.photos),
        ),
        t(
            "demo.changes",
            added=tally.roster["added"],
            updated=tally.roster["updated"],
            unchanged=tally.roster["unchanged"],
            applied=tally.visits["applied"],
            duplicate=tally.visits["duplicate"],
            replaced=tally.visits["replaced"],
            new_photos=tally.new_photos,
            reviews=tally.reviews,
        ),
    ]
    if tally.rejected:
        detail = "；".join(tally.rejected[:5])
        lines.append(t("demo.rejected", count=len(tally.rejected), detail=detail))
    by_role = {s.role: s.username for s in reversed(shown.staff)}  # the first of each role
    lines += [
        t("demo.console", url=console_url),
        t("demo.logins", password=PASSWORD),
        t("demo.login_admin", username=ADMIN.username),
        t("demo.login_coordinator", username=by_role["coordinator"], district=shown.profile.name),
        t("demo.login_teacher", username=by_role["teacher"]),
        t("demo.login_itinerant", username=by_role["itinerant"]),
        t("demo.login_pattern"),
    ]
    return "\n".join(lines)
