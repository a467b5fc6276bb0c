"""A student taken off the roll (转学、毕业、离开本区) or put back, from the console.

Off the roll is ``active`` false: the child leaves the compliance counts and every teacher's
phone (a pull sends the record as removed), and the record stays for the visits that name it.
The caller commits.
"""

from sqlmodel import Session, select

from server.db import next_seq
from server.errors import ApiError
from server.models import Student
from server.scope import Scope
from server.services import audit


def visible_student(session: Session, scope: Scope, student_id: str) -> Student:
    """The student if ``scope`` sees them; 404 otherwise (another district's included)."""
    student = session.exec(
        select(Student).where(Student.id == student_id[:64], scope.students())
    ).first()
    if student is None:
        raise ApiError(404, "not_found")
    return student


def set_active(session: Session, *, scope: Scope, student_id: str, active: bool) -> Student:
    """Put ``student_id`` on (``active``) or off the roll; audited as ``reactivate`` or
    ``deactivate``. Asking for the state it already has changes and logs nothing."""
    student = visible_student(session, scope, student_id)
    if student.active == active:
        return student
    student.active, student.version, student.seq = active, student.version + 1, next_seq(session)
    session.add(student)
    audit.record(
        session,
        actor=scope.username,
        action="reactivate" if active else "deactivate",
        entity="student",
        entity_id=student.id,
        district_code=student.district_code,
    )
    return student
