"""Assigning teachers to children and instructors to schools from the console, and who has no one.

One rule for an assignment, the roster's (``roster_rows._assignment_row``): a teacher gets
children, an itinerant instructor schools, both of their own district. What the caller may not
see (another district's child, school or staff) answers 404 before that rule is asked. Writes go
through ``registry``, which bumps ``seq`` on the assignment and on the child or school, so the
assignee's phone gets both on its next pull. Audited; the caller commits.
"""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from server.models import Assignment, School, Student, User
from server.scope import Scope
from server.services import audit
from server.services.errors import DomainError
from server.services.registry import SeqBlock
from server.services.roster_cells import Cells
from server.services.roster_rows import IMPORTERS, RowContext
from shared.domain import Role, SchoolKind
from shared.messages import t


def change(
    session: Session,
    *,
    scope: Scope,
    username: str,
    student_id: str | None = None,
    school_id: str | None = None,
    remove: bool = False,
) -> str:
    """Assign (or with ``remove`` unassign) ``username`` to a child or a school; returns the
    registry's outcome ("added", "updated", "unchanged", "removed"). 404 for what the caller
    may not see; 400 ``assignment_refused`` with the rule's Chinese reason otherwise."""
    user = session.exec(select(User).where(User.username == username[:64])).first()
    if user is None or not scope.sees_district(user.district_code or ""):
        raise DomainError("console.no_such_user")
    target: Student | School | None
    if student_id:
        target = session.exec(
            select(Student).where(Student.id == student_id[:64], scope.students())
        ).first()
    else:
        target = session.exec(
            select(School).where(School.id == (school_id or "")[:64], scope.schools())
        ).first()
    if target is None:
        raise DomainError("not_found")
    cells = Cells(
        0,
        {
            "username": user.username,
            "student_id": student_id or "",
            "school_id": school_id or "",
            "remove": "1" if remove else "0",
        },
    )
    outcome = IMPORTERS["assignments"](RowContext(session, scope, seq=SeqBlock(session, 2)), cells)
    if cells.errors or outcome is None:
        raise DomainError(
            "assignment_refused", detail=t("list.clause_sep").join(dict.fromkeys(cells.errors))
        )
    if outcome != "unchanged":
        audit.record(
            session,
            actor=scope.username,
            action="unassign" if remove else "assign",
            entity="assignment",
            entity_id=f"{user.username}|{student_id or ''}|{school_id or ''}",
            district_code=target.district_code,
        )
    return outcome


@dataclass
class Board:
    """The district's assignments, and who is left without one."""

    teachers: list[User]
    instructors: list[User]
    children: list[tuple[Student, list[str]]]  # home-delivery children on roll, their teachers
    schools: list[tuple[School, list[str]]]  # ordinary schools, their instructors
    idle_staff: list[User]  # active teachers and instructors with no caseload

    @property
    def children_without_teacher(self) -> list[Student]:
        return [s for s, names in self.children if not names]

    @property
    def schools_without_instructor(self) -> list[School]:
        return [s for s, names in self.schools if not names]


def board(session: Session, *, scope: Scope, district_code: str) -> Board:
    """What ``/assignments`` shows for one district the caller sees."""
    if not scope.sees_district(district_code):
        raise DomainError("not_found")
    staff = list(
        session.exec(
            select(User)
            .where(
                User.district_code == district_code,
                col(User.role).in_((Role.TEACHER, Role.ITINERANT)),
                col(User.active).is_(True),
            )
            .order_by(col(User.username))
        )
    )
    live = list(
        session.exec(
            select(Assignment).where(
                Assignment.district_code == district_code, col(Assignment.deleted).is_(False)
            )
        )
    )
    by_student: dict[str, list[str]] = {}
    by_school: dict[str, list[str]] = {}
    for a in live:
        if a.student_id:
            by_student.setdefault(a.student_id, []).append(a.username)
        elif a.school_id:
            by_school.setdefault(a.school_id, []).append(a.username)
    children = session.exec(
        select(Student)
        .where(
            Student.district_code == district_code,
            col(Student.active).is_(True),
            Student.placement == "home_delivery",
        )
        .order_by(col(Student.id))
    )
    schools = session.exec(
        select(School)
        .where(School.district_code == district_code, School.kind == SchoolKind.ORDINARY)
        .order_by(col(School.id))
    )
    busy = {a.username for a in live}
    return Board(
        teachers=[u for u in staff if u.role == Role.TEACHER],
        instructors=[u for u in staff if u.role == Role.ITINERANT],
        children=[(s, sorted(by_student.get(s.id, []))) for s in children],
        schools=[(s, sorted(by_school.get(s.id, []))) for s in schools],
        idle_staff=[u for u in staff if u.username not in busy],
    )
