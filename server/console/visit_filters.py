"""The visit log's filters: read from the query string, bounded and checked, as SQL conditions.

Every value is bounded before it is used or shown again: a value that is too long, not one of
the choices, or not a date is dropped and named in a Chinese message (the page then answers
400 with its filters and no rows), so a 5,000-character teacher never reaches a query or
becomes an option that stretches the filter bar.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from server.console import lookup
from server.console.web import Viewer
from server.models import School, Student, User, Visit
from server.services.errors import DomainError
from shared.domain import EvidenceFlag, ReviewStatus, Role, VisitKind
from shared.messages import t
from shared.terms import SHANGHAI, Term

PAGE_SIZE = 50
MAX_PAGE = 100_000
# The longest value each filter takes (characters); longer ones are refused, not cut.
LIMITS = {
    "term": 8,
    "district": 6,
    "from": 10,
    "to": 10,
    "kind": 16,
    "status": 16,
    "flag": 24,
    "teacher": 64,
    "student": 64,
    "school": 64,
    "q": 100,
    "page": 6,
}
ANY_FLAG, NO_FLAG = "any", "none"
FLAG_CHOICES = (ANY_FLAG, NO_FLAG, *EvidenceFlag)
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


@dataclass(frozen=True)
class VisitFilter:
    start: date
    end: date  # inclusive, Asia/Shanghai
    district: str = ""
    kind: str = ""
    status: str = ""
    flag: str = ""
    teacher: str = ""
    student: str = ""
    school: str = ""
    q: str = ""
    page: int = 1
    errors: tuple[str, ...] = field(default=())

    def params(self, **changes: Any) -> str:
        """The query string of this filter, with ``changes``; empty values and page 1 left out."""
        values = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "district": self.district,
            "kind": self.kind,
            "status": self.status,
            "flag": self.flag,
            "teacher": self.teacher,
            "student": self.student,
            "school": self.school,
            "q": self.q,
            "page": self.page,
        } | changes
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})

    def utc_bounds(self) -> tuple[datetime, datetime]:
        lo = datetime.combine(self.start, time.min, SHANGHAI)
        hi = datetime.combine(self.end + timedelta(days=1), time.min, SHANGHAI)
        return lo, hi


def parse(session: Session, viewer: Viewer, query: Mapping[str, str]) -> VisitFilter:
    """The filter ``query`` asks for; refused values are left out and named in ``errors``."""
    errors: list[str] = []
    raw: dict[str, str] = {}
    for name, limit in LIMITS.items():
        value = (query.get(name) or "").strip()
        if len(value) > limit:
            errors.append(t("desk.filter.too_long", field=t(f"desk.filter.{name}"), limit=limit))
            value = ""
        raw[name] = value
    if query.get("flagged", "") in ("1", "on", "true") and not raw["flag"]:
        raw["flag"] = ANY_FLAG  # the old checkbox's links (dashboard) still work
    for name, choices in (
        ("kind", tuple(VisitKind)),
        ("status", tuple(ReviewStatus)),
        ("flag", FLAG_CHOICES),
    ):
        if raw[name] and raw[name] not in choices:
            errors.append(t("desk.filter.bad_choice", field=t(f"desk.filter.{name}")))
            raw[name] = ""
    if raw["district"]:
        lookup.visible_district(session, viewer, raw["district"])  # another district: 404
    if raw["teacher"] and not _teacher_visible(session, viewer, raw["teacher"]):
        errors.append(t("desk.filter.unknown_teacher"))
        raw["teacher"] = ""
    start, end = _dates(session, viewer, raw, errors)
    page = raw["page"]
    return VisitFilter(
        start=start,
        end=end,
        district=raw["district"],
        kind=raw["kind"],
        status=raw["status"],
        flag=raw["flag"],
        teacher=raw["teacher"],
        student=raw["student"],
        school=raw["school"],
        q=raw["q"],
        page=min(int(page), MAX_PAGE) if page.isdigit() and int(page) > 0 else 1,
        errors=tuple(errors),
    )


def _dates(
    session: Session, viewer: Viewer, raw: dict[str, str], errors: list[str]
) -> tuple[date, date]:
    """The date range asked for; a missing end comes from the term (named, or the term of the
    latest visit the viewer may see)."""
    term: Term | None = None
    try:
        term = lookup.term_or_400(raw["term"], session, viewer)
    except DomainError as exc:
        errors.append(exc.message)
        term = lookup.term_or_400("", session, viewer)
    picked: dict[str, date | None] = {}
    for name in ("from", "to"):
        picked[name] = None
        if raw[name]:
            try:
                day = date.fromisoformat(raw[name])
                if not EARLIEST <= day <= LATEST:
                    raise ValueError(day)
                picked[name] = day
            except ValueError:
                errors.append(t("desk.filter.bad_date", field=t(f"desk.filter.{name}")))
    start, end = picked["from"] or term.start, picked["to"] or term.end
    if start > end:
        errors.append(t("desk.filter.date_order"))
        start, end = term.start, term.end
    return start, end


def _teacher_visible(session: Session, viewer: Viewer, username: str) -> bool:
    user = session.exec(
        select(User).where(
            User.username == username, col(User.role).in_([Role.TEACHER, Role.ITINERANT])
        )
    ).first()
    return user is not None and viewer.scope.sees_district(user.district_code or "")


def conditions(viewer: Viewer, f: VisitFilter) -> list[Any]:
    lo, hi = f.utc_bounds()
    scope = viewer.scope
    conds: list[Any] = [
        scope.visits(),
        col(Visit.deleted).is_(False),
        col(Visit.started_at) >= lo,
        col(Visit.started_at) < hi,
    ]
    if f.district:
        conds.append(Visit.district_code == f.district)
    if f.kind:
        conds.append(Visit.kind == f.kind)
    if f.teacher:
        conds.append(Visit.teacher == f.teacher)
    if f.status:
        conds.append(Visit.review_status == f.status)
    if f.flag == ANY_FLAG:
        conds.append(col(Visit.flagged).is_(True))
    elif f.flag == NO_FLAG:
        conds.append(col(Visit.flagged).is_(False))
    elif f.flag:
        # flags is a JSON list of codes, stored as text without spaces: '["no_gps","…"]'.
        conds.append(sa.cast(Visit.flags, sa.Text).contains(f'"{f.flag}"', autoescape=True))
    if f.student:
        conds.append(
            or_(
                col(Visit.student_id) == f.student,
                col(Visit.student_id).in_(_students_named(viewer, f.student)),
            )
        )
    if f.school:
        schools = _schools_named(viewer, f.school)
        conds.append(
            or_(
                col(Visit.school_id) == f.school,
                col(Visit.school_id).in_(schools),
                col(Visit.student_id).in_(
                    select(Student.id).where(
                        scope.students(),
                        or_(
                            col(Student.school_id) == f.school, col(Student.school_id).in_(schools)
                        ),
                    )
                ),
            )
        )
    if f.q:
        conds.append(
            or_(
                col(Visit.id) == f.q,
                sa.cast(Visit.record, sa.Text).icontains(f.q, autoescape=True),
                col(Visit.student_id).in_(_students_named(viewer, f.q)),
                col(Visit.school_id).in_(_schools_named(viewer, f.q)),
                col(Visit.teacher).in_(
                    select(User.username).where(col(User.name).icontains(f.q, autoescape=True))
                ),
            )
        )
    return conds


def _students_named(viewer: Viewer, text: str) -> Any:
    return select(Student.id).where(
        viewer.scope.students(), col(Student.name).icontains(text, autoescape=True)
    )


def _schools_named(viewer: Viewer, text: str) -> Any:
    return select(School.id).where(
        viewer.scope.schools(), col(School.name).icontains(text, autoescape=True)
    )


def with_page(f: VisitFilter, page: int) -> VisitFilter:
    return replace(f, page=page)


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page links to show: the first, the last and ``around`` either side of ``page``;
    None where pages are left out."""
    wanted = {1, pages, *range(max(1, page - around), min(pages, page + around) + 1)}
    out: list[int | None] = []
    for n in sorted(wanted):
        if out and (last := out[-1]) is not None and n - last > 1:
            out.append(None)
        out.append(n)
    return out


def page_count(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))
