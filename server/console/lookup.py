"""Small reads the console pages share: the term asked for, a visible district, names by id."""

from collections.abc import Iterable
from datetime import date, datetime

from sqlmodel import Session, col, select

from server.console.web import Viewer
from server.errors import ApiError
from server.models import District, School, Student, User
from server.settings import get_settings
from shared.terms import SHANGHAI, Term, TermError, parse_term, term_of

TERM_CHOICES = 4  # the current term and the three before it


def today() -> date:
    return datetime.now(SHANGHAI).date()


def term_or_400(term_id: str | None) -> Term:
    """The term named (the current one when empty); 400 ``invalid_term`` when malformed."""
    calendar = get_settings().calendar()
    if not term_id:
        return term_of(today(), calendar)
    try:
        return parse_term(term_id.strip(), calendar)
    except TermError:
        raise ApiError(400, "invalid_term") from None


def term_choices(selected: str) -> list[str]:
    """Term ids for a selector, newest first, always including ``selected``."""
    ids, current = [], term_of(today(), get_settings().calendar()).id
    for _ in range(TERM_CHOICES):
        ids.append(current)
        year, half = current.split("-")
        current = f"{year}-1" if half == "2" else f"{int(year) - 1}-2"
    return ids if selected in ids else [selected, *ids]


def visible_district(session: Session, viewer: Viewer, code: str | None) -> District:
    """The district if it exists and the viewer may see it; 404 otherwise (as if absent)."""
    district = session.get(District, code) if code else None
    if district is None or not viewer.scope.sees_district(district.code):
        raise ApiError(404, "not_found")
    return district


def districts_for(session: Session, viewer: Viewer) -> list[District]:
    return list(
        session.exec(select(District).where(viewer.scope.districts()).order_by(District.code))
    )


def student_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.exec(select(Student.id, Student.name).where(col(Student.id).in_(wanted)))
    return dict(rows.all())


def school_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.exec(select(School.id, School.name).where(col(School.id).in_(wanted)))
    return dict(rows.all())


def user_names(session: Session, usernames: Iterable[str | None]) -> dict[str, str]:
    wanted = {u for u in usernames if u}
    if not wanted:
        return {}
    rows = session.exec(select(User.username, User.name).where(col(User.username).in_(wanted)))
    return dict(rows.all())
