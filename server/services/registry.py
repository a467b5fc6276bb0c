"""Roster entities (districts, schools, students, staff, assignments): create or update.

Each function returns "added", "updated" or "unchanged" and moves ``seq`` only on a real change,
so re-importing the same file changes nothing and phones pull nothing new.

``seq`` arguments say where change numbers come from: by default ``next_seq`` one at a time; a
bulk writer (a 100,000-row roster) passes a ``SeqBlock``, which reserves them a thousand at once.
The ``save_*`` functions take the row as already read (None: not stored), so such a writer reads
its rows in a few queries instead of one per row.
"""

from collections.abc import Callable
from typing import Any, Literal

from sqlmodel import Session, select

from server.db import next_seq
from server.models import Assignment, District, School, Student, User

Outcome = Literal["added", "updated", "unchanged"]
Numbers = Callable[[], int]  # the next change number of this transaction


class SeqBlock:
    """Change numbers reserved ``size`` at a time under the counter's lock (``next_seq``): the
    same order guarantee as one at a time, for a thousandth of the round trips. Numbers left
    unused when the transaction ends are a gap, which cursors do not mind."""

    def __init__(self, session: Session, size: int = 1000) -> None:
        self.session, self.size = session, size
        self._next = self._end = 0

    def __call__(self) -> int:
        if self._next == self._end:
            self._next = next_seq(self.session, self.size)
            self._end = self._next + self.size
        self._next += 1
        return self._next - 1


def _one_at_a_time(session: Session) -> Numbers:
    return lambda: next_seq(session)


def upsert_district(session: Session, *, code: str, name: str) -> Outcome:
    row = session.get(District, code)
    if row is None:
        session.add(District(code=code, name=name))
        return "added"
    if row.name == name:
        return "unchanged"
    row.name = name
    session.add(row)
    return "updated"


def _apply(session: Session, row: Any, fields: dict[str, Any], seq: Numbers) -> bool:
    changed = False
    for key, value in fields.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    if changed:
        row.version += 1
        row.seq = seq()
        session.add(row)
    return changed


def upsert_school(session: Session, *, id: str, **fields: Any) -> Outcome:
    return save_school(session, session.get(School, id), id=id, **fields)


def save_school(
    session: Session, row: School | None, *, id: str, seq: Numbers | None = None, **fields: Any
) -> Outcome:
    """``row``: school ``id`` as stored, or None when there is none."""
    seq = seq or _one_at_a_time(session)
    if row is None:
        session.add(School(id=id, seq=seq(), **fields))
        return "added"
    return "updated" if _apply(session, row, fields, seq) else "unchanged"


def upsert_student(session: Session, *, id: str, **fields: Any) -> Outcome:
    """``fields`` are Student columns; ``iep_goals`` is kept when not given."""
    return save_student(session, session.get(Student, id), id=id, **fields)


def save_student(
    session: Session, row: Student | None, *, id: str, seq: Numbers | None = None, **fields: Any
) -> Outcome:
    """``row``: student ``id`` as stored, or None when there is none."""
    seq = seq or _one_at_a_time(session)
    if row is None:
        # iep_goals given: left to its default_factory, pydantic inspects ``list``'s signature
        # for every new student (two thirds of a 100,000-row import's time).
        session.add(Student(id=id, seq=seq(), **({"iep_goals": []} | fields)))
        return "added"
    return "updated" if _apply(session, row, fields, seq) else "unchanged"


def upsert_staff(
    session: Session,
    *,
    username: str,
    name: str,
    role: str,
    district_code: str,
    base_school_id: str | None,
) -> Outcome:
    """Staff from a roster carry no password: they get one with ``songjiao user add`` or
    from a coordinator, and cannot sign in before."""
    uid = _user_id(session, username)
    row = session.get(User, uid) if uid is not None else None
    fields: dict[str, Any] = {
        "name": name,
        "role": role,
        "district_code": district_code,
        "base_school_id": base_school_id,
    }
    if row is None:
        session.add(User(username=username, **fields))
        return "added"
    if all(getattr(row, k) == v for k, v in fields.items()):
        return "unchanged"
    for key, value in fields.items():
        setattr(row, key, value)
    session.add(row)
    return "updated"


def _user_id(session: Session, username: str) -> int | None:
    return session.exec(select(User.id).where(User.username == username)).first()


def assignment_id(username: str, student_id: str | None, school_id: str | None) -> str:
    return f"{username}|{student_id or ''}|{school_id or ''}"


def upsert_assignment(
    session: Session,
    *,
    username: str,
    student_id: str | None,
    school_id: str | None,
    district_code: str,
    seq: Numbers | None = None,
) -> Outcome:
    """Assign; also moves the student's or school's ``seq`` so the assignee's next pull
    brings the record even though it changed long before their cursor."""
    next_number = seq or _one_at_a_time(session)
    key = assignment_id(username, student_id, school_id)
    row = session.get(Assignment, key)
    if row is not None and not row.deleted:
        return "unchanged"
    if row is None:
        row = Assignment(
            id=key,
            username=username,
            student_id=student_id,
            school_id=school_id,
            district_code=district_code,
            seq=next_number(),
        )
        outcome: Outcome = "added"
    else:
        row.deleted, row.version, row.seq = False, row.version + 1, next_number()
        outcome = "updated"
    session.add(row)
    target = session.get(Student, student_id) if student_id else session.get(School, school_id)
    if target is not None:
        target.seq = next_number()
        session.add(target)
    return outcome


def remove_assignment(
    session: Session,
    *,
    username: str,
    student_id: str | None,
    school_id: str | None,
    seq: Numbers | None = None,
) -> bool:
    """Tombstone: the assignee's phone learns of the removal on its next pull."""
    row = session.get(Assignment, assignment_id(username, student_id, school_id))
    if row is None or row.deleted:
        return False
    next_number = seq or _one_at_a_time(session)
    row.deleted, row.version, row.seq = True, row.version + 1, next_number()
    session.add(row)
    return True
