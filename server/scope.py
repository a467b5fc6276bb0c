"""Who may see what: the one place where roles turn into row filters.

A teacher sees their assigned children, an itinerant instructor their assigned schools (and the
children on roll there), a coordinator their district, an admin everything. Every query for
records goes through one of these filters; anything outside answers 404 as if it did not exist.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from server.models import Assignment, District, Policy, School, Student, User, Visit
from shared.domain import Role

_ALL: ColumnElement[bool] = sa.true()


@dataclass(frozen=True)
class Scope:
    username: str
    role: Role
    district_code: str | None
    base_school_id: str | None = None

    @classmethod
    def of(cls, user: User) -> "Scope":
        return cls(user.username, Role(user.role), user.district_code, user.base_school_id)

    @property
    def is_staff_in_field(self) -> bool:
        return self.role in (Role.TEACHER, Role.ITINERANT)

    def _assigned(self, column: str) -> sa.Select:
        return select(getattr(Assignment, column)).where(
            Assignment.username == self.username,
            col(Assignment.deleted).is_(False),
            getattr(Assignment, column).is_not(None),
        )

    def districts(self) -> ColumnElement[bool]:
        return _ALL if self.role == Role.ADMIN else col(District.code) == self.district_code

    def sees_district(self, code: str) -> bool:
        return self.role == Role.ADMIN or code == self.district_code

    def students(self) -> ColumnElement[bool]:
        if self.role == Role.ADMIN:
            return _ALL
        if self.role == Role.COORDINATOR:
            return col(Student.district_code) == self.district_code
        if self.role == Role.TEACHER:
            return col(Student.id).in_(self._assigned("student_id"))
        return col(Student.school_id).in_(self._assigned("school_id"))

    def schools(self) -> ColumnElement[bool]:
        if self.role == Role.ADMIN:
            return _ALL
        if self.role == Role.COORDINATOR:
            return col(School.district_code) == self.district_code
        base = col(School.id) == self.base_school_id if self.base_school_id else sa.false()
        if self.role == Role.TEACHER:
            hosts = select(Student.school_id).where(
                col(Student.id).in_(self._assigned("student_id"))
            )
            return sa.or_(col(School.id).in_(hosts), base)
        return sa.or_(col(School.id).in_(self._assigned("school_id")), base)

    def assignments(self) -> ColumnElement[bool]:
        if self.role == Role.ADMIN:
            return _ALL
        if self.role == Role.COORDINATOR:
            return col(Assignment.district_code) == self.district_code
        return col(Assignment.username) == self.username

    def visits(self) -> ColumnElement[bool]:
        if self.role == Role.ADMIN:
            return _ALL
        if self.role == Role.COORDINATOR:
            return col(Visit.district_code) == self.district_code
        return col(Visit.teacher) == self.username

    def policies(self) -> ColumnElement[bool]:
        if self.role == Role.ADMIN:
            return _ALL
        return sa.or_(
            col(Policy.district_code) == self.district_code, col(Policy.district_code).is_(None)
        )

    def visitable_schools(self) -> ColumnElement[bool]:
        """The schools the caller may record an itinerant visit at: those assigned to an
        itinerant instructor (not their base school, which ``schools`` also shows); none for
        anyone else."""
        if self.role != Role.ITINERANT:
            return sa.false()
        return col(School.id).in_(self._assigned("school_id"))

    def may_visit_student(self, session: Session, student_id: str) -> Student | None:
        """The student if the caller may record a home-teaching visit to them."""
        if self.role != Role.TEACHER:
            return None
        return session.exec(
            select(Student).where(Student.id == student_id, self.students())
        ).first()

    def may_visit_school(self, session: Session, school_id: str) -> School | None:
        """The school if the caller may record an itinerant visit to it."""
        if self.role != Role.ITINERANT:
            return None
        return session.exec(
            select(School).where(
                School.id == school_id, col(School.id).in_(self._assigned("school_id"))
            )
        ).first()
