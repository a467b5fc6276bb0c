"""The demo roster into the database through the registry upserts, the way a roster import
writes it; the staff with one argon2 hash of the demo password."""

from typing import Any

from sqlmodel import Session, col, select

from server.demo.plan import Plan
from server.demo.profiles import PER_KM_DISTRICT, PER_KM_POLICY
from server.demo.roster import PASSWORD
from server.demo.rows import StaffRow
from server.demo.summary import Tally
from server.models import Assignment, Policy, School, Student, User
from server.security import hash_password
from server.services import registry
from server.services.policies import set_policy


def load_roster(session: Session, plan: Plan, tally: Tally) -> None:
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
    _policy(session, plan, tally)
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


def _policy(session: Session, plan: Plan, tally: Tally) -> None:
    since = plan.calendar.policy_from
    before = session.exec(
        select(Policy.version).where(
            Policy.district_code == PER_KM_DISTRICT, Policy.effective_from == since
        )
    ).first()
    row = set_policy(
        session, district_code=PER_KM_DISTRICT, effective_from=since, params=PER_KM_POLICY
    )
    session.flush()
    outcome = "added" if before is None else "unchanged" if row.version == before else "updated"
    tally.roster[outcome] += 1
