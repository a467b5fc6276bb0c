"""Small reads the console pages share: the term asked for, a visible district, names by id."""

from collections.abc import Iterable
from datetime import date, datetime

from sqlmodel import Session, col, func, select

from server.console.web import Viewer
from server.errors import ApiError
from server.models import District, School, Student, User, Visit, utcnow
from server.settings import get_settings
from shared.terms import SHANGHAI, Term, TermError, local_date, parse_term, term_of

TERM_CHOICES = 4  # the current term and the three before it


def today() -> date:
    return datetime.now(SHANGHAI).date()


def term_or_400(term_id: str | None, session: Session, viewer: Viewer) -> Term:
    """The term named; 400 ``invalid_term`` when malformed.

    With none named, the term of the latest visit the viewer may see (not one dated in the
    future by a wrong phone clock), so that a coordinator lands on data early in a new term too;
    the current term when there are no visits at all.
    """
    calendar = get_settings().calendar()
    if not term_id:
        latest = session.exec(
            select(func.max(Visit.started_at)).where(
                viewer.scope.visits(), col(Visit.counted).is_(True), Visit.started_at <= utcnow()
            )
        ).first()
        return term_of(local_date(latest) if latest else today(), calendar)
    try:
        return parse_term(term_id.strip(), calendar)
    except TermError:
        raise ApiError(400, "invalid_term") from None


def default_month(term: Term) -> str:
    """The month a subsidy export most likely wants: today's, kept within the chosen term."""
    day = min(max(today(), term.start), term.end)
    return day.strftime("%Y-%m")


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
