"""Roster rows, one kind at a time: check every cell, then write through ``registry``.

Each ``*_row`` function records its reasons in ``cells.errors`` and writes nothing when there is
one; otherwise it returns the registry's outcome ("added", "updated", "unchanged", "removed").
A coordinator's rows must belong to their district, both as written and as already stored (a
row may not move another district's school, child or staff member into theirs). An upload may
be for one district (a coordinator's always is; an admin picks one or none): its rows are then
held to that district the same way, and a row whose district cell is empty belongs to it.
"""

from collections.abc import Callable, Iterable
from typing import Any

from sqlmodel import Session, col, select

from server.models import District, School, Student, User
from server.scope import Scope
from server.services import registry
from server.services.roster_cells import GRADE_RANGE, LABELS, Cells, label
from shared.domain import Role

# Columns that identify a row: a second row with the same values is a repeat.
ROW_KEYS = {
    "districts": ("district_code",),
    "schools": ("school_id",),
    "students": ("student_id",),
    "staff": ("username",),
    "assignments": ("username", "student_id", "school_id"),
}


PRELOAD_CHUNK = 500  # ids per IN (...) query: well below every database's parameter limit


class RowContext:
    """Lookups shared by the rows of one file, and the scope rule for each row.

    Districts, schools and students once read are kept here (the session's identity map holds
    them only weakly, so it would read them again for every row); ``preload`` reads the rows a
    file names in a few queries. ``seq`` is where the file's change numbers come from.
    ``district`` is the district the upload is for (an admin's pick); a coordinator's upload is
    for their own district whatever is passed. ``dry``: a preview, which needs each row's
    outcome and never the rows themselves.
    """

    def __init__(
        self,
        session: Session,
        scope: Scope,
        *,
        seq: registry.Numbers,
        district: str | None = None,
        dry: bool = False,
    ) -> None:
        self.session, self.scope, self.seq, self.dry = session, scope, seq, dry
        self.only = district if scope.role == Role.ADMIN else scope.district_code
        self._by_name: dict[str, list[str]] = {}
        self._districts: dict[str, bool] = {}
        self._schools: dict[str, School | None] = {}
        self._students: dict[str, Student | None] = {}

    def preload(self, kind: str, ids: Iterable[str]) -> None:
        """Read the stored schools or students among ``ids`` (any other kind: nothing)."""
        known: dict[str, Any]
        if kind == "schools":
            model: Any = School
            known = self._schools
        elif kind == "students":
            model, known = Student, self._students
        else:
            return
        wanted = sorted({i for i in ids if i and i not in known})
        for start in range(0, len(wanted), PRELOAD_CHUNK):
            chunk = wanted[start : start + PRELOAD_CHUNK]
            known.update(dict.fromkeys(chunk))
            stored = self.session.exec(select(model).where(col(model.id).in_(chunk)))
            known.update((row.id, row) for row in stored)

    def stored_school(self, school_id: str) -> School | None:
        if school_id not in self._schools:
            self._schools[school_id] = self.session.get(School, school_id)
        return self._schools[school_id]

    def stored_student(self, student_id: str) -> Student | None:
        if student_id not in self._students:
            self._students[student_id] = self.session.get(Student, student_id)
        return self._students[student_id]

    def _district_exists(self, code: str) -> bool:
        if code not in self._districts:
            self._districts[code] = self.session.get(District, code) is not None
        return self._districts[code]

    def in_scope(self, cells: Cells, code: str | None) -> bool:
        if code is not None and not self.scope.sees_district(code):
            cells.fail("roster.other_district", district=self.scope.district_code)
            return False
        if code is not None and self.only is not None and code != self.only:
            cells.fail("roster.not_upload_district", district=self.only, value=code or "—")
            return False
        return True

    def district(self, cells: Cells) -> str | None:
        """An existing district from its 6-digit code, or from its exact name; an empty cell
        is the upload's district when it has one."""
        value = cells.raw("district_code")
        if not value and self.only is not None and self._district_exists(self.only):
            return self.only
        if not value:
            cells.fail("roster.required", field=label("district_code"))
            return None
        if value.isdigit() and len(value) == 6:
            code: str | None = value if self._district_exists(value) else None
        else:
            if value not in self._by_name:
                query = select(District.code).where(District.name == value)
                self._by_name[value] = list(self.session.exec(query).all())
            matches = self._by_name[value]
            code = matches[0] if len(matches) == 1 else None
        if code is None:
            cells.fail("roster.unknown_district", value=value)
            return None
        return code if self.in_scope(cells, code) else None

    def school(self, cells: Cells, name: str, district: str | None) -> School | None:
        school_id = cells.ident(name)
        if not school_id:
            return None
        school = self.stored_school(school_id)
        if school is None:
            cells.fail("roster.unknown_school", value=school_id)
        elif district is not None and school.district_code != district:
            cells.fail("roster.school_other_district", school=school_id, district=district)
        return school

    def user(self, username: str) -> User | None:
        return self.session.exec(select(User).where(User.username == username)).first()


def _district_row(ctx: RowContext, cells: Cells) -> str | None:
    code = cells.raw("district_code")
    if not (code.isdigit() and len(code) == 6):
        cells.fail("roster.bad_district_code", value=code)
    name = cells.text("name", limit=64)
    if cells.errors or not ctx.in_scope(cells, code):
        return None
    return registry.upsert_district(ctx.session, code=code, name=name)


def _school_row(ctx: RowContext, cells: Cells) -> str | None:
    school_id = cells.ident("school_id")
    fields = {
        "name": cells.text("name", limit=128),
        "district_code": ctx.district(cells),
        "kind": cells.choice("kind"),
        "lat": cells.number("lat", -90, 90),
        "lon": cells.number("lon", -180, 180),
    }
    existing = ctx.stored_school(school_id) if school_id else None
    if existing is not None:  # a coordinator may not take over another district's school
        ctx.in_scope(cells, existing.district_code)
    if cells.errors:
        return None
    return registry.save_school(ctx.session, existing, id=school_id, seq=ctx.seq, **fields)


def _student_row(ctx: RowContext, cells: Cells) -> str | None:
    student_id = cells.ident("student_id")
    district = ctx.district(cells)
    school = ctx.school(cells, "school_id", district)
    stage, grade = cells.choice("stage"), cells.grade()
    if stage is not None and grade is not None:
        low, high = GRADE_RANGE[stage]
        if not low <= grade <= high:
            cells.fail("roster.grade_stage", grade=grade, stage=LABELS[stage], low=low, high=high)
    fields: dict[str, Any] = {
        "name": cells.text("name", limit=64),
        "district_code": district,
        "school_id": school.id if school else None,
        "stage": stage,
        "grade": grade,
        "placement": cells.choice("placement"),
        "disability_category": cells.choice("disability_category"),
        "disability_grade": cells.disability_grade(),
        "certified": cells.flag("certified"),
    }
    fields.update(_student_optional(cells))
    existing = ctx.stored_student(student_id) if student_id else None
    if existing is not None:
        ctx.in_scope(cells, existing.district_code)
    if cells.errors:
        return None
    if existing is None and ctx.dry:
        # What save_student answers for a new child, without building the ORM row it would
        # add: that was 70 % of a 100,000-row preview's time, and a preview writes nothing.
        return "added"
    return registry.save_student(ctx.session, existing, id=student_id, seq=ctx.seq, **fields)


def _student_optional(cells: Cells) -> dict[str, Any]:
    """Optional columns; an absent column leaves the stored value as it is."""
    fields: dict[str, Any] = {}
    if cells.has("home_lat") or cells.has("home_lon"):
        lat = cells.number("home_lat", -90, 90, required=False)
        lon = cells.number("home_lon", -180, 180, required=False)
        if bool(cells.raw("home_lat")) != bool(cells.raw("home_lon")):
            cells.fail("roster.coords_pair")
        fields.update(home_lat=lat, home_lon=lon)
    for name, limit in (("address", 256), ("guardian_name", 64)):
        if cells.has(name):
            fields[name] = cells.text(name, limit=limit, required=False)
    if cells.has("guardian_phone"):
        fields["guardian_phone"] = cells.phone("guardian_phone")
    if cells.has("photo_consent"):  # no answer is no consent
        fields["photo_consent"] = cells.flag("photo_consent", default=False)
    if cells.has("active"):
        fields["active"] = cells.flag("active", default=True)
    return fields


def _staff_row(ctx: RowContext, cells: Cells) -> str | None:
    username = cells.ident("username")
    name = cells.text("name", limit=64)
    role = cells.choice("role")
    district = ctx.district(cells)
    existing = ctx.user(username) if username else None
    base = existing.base_school_id if existing else None  # kept when the column is absent
    if cells.has("base_school_id"):
        school = None
        if cells.raw("base_school_id"):
            school = ctx.school(cells, "base_school_id", district)
        base = school.id if school else None
    if ctx.scope.role != Role.ADMIN:
        # Only an admin makes or changes an admin, or staff of another district.
        if role == Role.ADMIN or (existing is not None and existing.role == Role.ADMIN):
            cells.fail("roster.admin_only")
        elif existing is not None:
            ctx.in_scope(cells, existing.district_code or "")
    elif existing is not None and ctx.only is not None:
        # An admin's upload for one district does not move staff in from another (or the city).
        ctx.in_scope(cells, existing.district_code or "")
    if cells.errors or role is None or district is None:
        return None
    return registry.upsert_staff(
        ctx.session,
        username=username,
        name=name,
        role=role,
        district_code=district,
        base_school_id=base,
    )


def _assignment_row(ctx: RowContext, cells: Cells) -> str | None:
    username = cells.ident("username")
    student_id = cells.ident("student_id", required=False)
    school_id = cells.ident("school_id", required=False)
    remove = cells.flag("remove", default=False)
    user = ctx.user(username) if username else None
    if username and user is None:
        cells.fail("roster.unknown_user", value=username)
    if bool(student_id) == bool(school_id):
        cells.fail("roster.assign_one_target")
    elif user is not None:
        # A teacher is assigned children (送教), an itinerant instructor schools (巡回指导).
        if user.role == Role.TEACHER and not student_id:
            cells.fail("roster.assign_teacher")
        elif user.role == Role.ITINERANT and not school_id:
            cells.fail("roster.assign_itinerant")
        elif user.role not in (Role.TEACHER, Role.ITINERANT):
            cells.fail("roster.assign_role", value=username)
    target: Student | School | None = None
    if student_id:
        target = ctx.stored_student(student_id)
        if target is None:
            cells.fail("roster.unknown_student", value=student_id)
    elif school_id:
        target = ctx.stored_school(school_id)
        if target is None:
            cells.fail("roster.unknown_school", value=school_id)
    if (
        target is not None
        and ctx.in_scope(cells, target.district_code)
        and user is not None
        and user.district_code != target.district_code
    ):
        cells.fail("roster.assign_other_district", user=username, target=target.id)
    if cells.errors or target is None:
        return None
    if remove:
        gone = registry.remove_assignment(
            ctx.session,
            username=username,
            student_id=student_id or None,
            school_id=school_id or None,
            seq=ctx.seq,
        )
        return "removed" if gone else "unchanged"
    return registry.upsert_assignment(
        ctx.session,
        username=username,
        student_id=student_id or None,
        school_id=school_id or None,
        district_code=target.district_code,
        seq=ctx.seq,
    )


IMPORTERS: dict[str, Callable[[RowContext, Cells], str | None]] = {
    "districts": _district_row,
    "schools": _school_row,
    "students": _student_row,
    "staff": _staff_row,
    "assignments": _assignment_row,
}
