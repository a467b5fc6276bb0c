"""Reviewing the visits ticked on the log in one go (POST with CSRF).

Each ticked visit carries the ``seq`` it had when the log was shown; services/review.py refuses
a visit that moved since (another coordinator's review, a teacher's edit, flags judged again)
with a 409 saying why, and refuses before changing anything, so the others still land in the
same transaction. The answer is a page: how many landed, and each refused visit with its
reason. Posting it again changes nothing more: every visit it reviewed has moved.
"""

import re
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import col, select

from server.console import lookup, visit_filters
from server.console.csrf import CsrfForm
from server.console.visits import list_page
from server.console.web import ConsoleRoute, ViewerDep, render
from server.deps import SessionDep
from server.errors import status_of
from server.models import Visit
from server.services import review, review_codes
from server.services.errors import DomainError
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

MAX_PICKS = 200
_PICK = re.compile(r"([0-9A-Za-z-]{1,36}):([0-9]{1,18})")


@router.post("/visits/review")
def review_ticked(
    request: Request, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    back = _log_query(str(form.get("back") or ""))
    decision = str(form.get("decision") or "")
    note = str(form.get("note") or "")
    code = str(form.get("code") or "")[:40]
    raw = [str(p) for p in form.getlist("pick")]

    def refuse(message: str, status: int = 400) -> Response:
        session.rollback()
        return list_page(request, viewer, session, back, status=status, bulk_error=message)

    if not raw:
        return refuse(t("desk.bulk.none_picked"))
    if len(raw) > MAX_PICKS:
        return refuse(t("desk.bulk.too_many", limit=MAX_PICKS))
    picks: dict[str, int] = {}
    for item in raw:
        if not (found := _PICK.fullmatch(item)):
            return refuse(t("desk.bulk.bad_pick"))
        picks.setdefault(found.group(1), int(found.group(2)))
    done: list[str] = []
    refused: list[tuple[str, str]] = []
    try:
        reason = review_codes.reason_text(decision, code, note)
        for visit_id, seq in picks.items():
            try:
                review.review_visit(
                    session,
                    scope=viewer.scope,
                    visit_id=visit_id,
                    decision=decision,
                    reason=reason,
                    seen_seq=seq,
                    code=code,
                )
                done.append(visit_id)
            except DomainError as exc:
                if status_of(exc) in (400, 403):  # the form itself: the same for every visit
                    raise
                refused.append((visit_id, exc.message))
        session.commit()
    except DomainError as exc:
        return refuse(exc.message, status_of(exc))
    return render(
        request,
        "visits_bulk.html",
        viewer,
        status=200 if done or not refused else 409,
        decision=decision,
        done=_described(session, viewer, done),
        refused=[
            (row, message)
            for row, (_, message) in zip(
                _described(session, viewer, [v for v, _ in refused]), refused, strict=True
            )
        ],
        back=urlencode(back),
    )


def _described(session: SessionDep, viewer: ViewerDep, ids: list[str]) -> list[dict[str, str]]:
    """Each visit id with what the result page names it by, in the order given."""
    visits = (
        {
            v.id: v
            for v in session.exec(
                select(Visit).where(col(Visit.id).in_(ids), viewer.scope.visits())
            ).all()
        }
        if ids
        else {}
    )
    students = lookup.student_names(session, (v.student_id for v in visits.values()))
    schools = lookup.school_names(session, (v.school_id for v in visits.values()))
    teachers = lookup.user_names(session, (v.teacher for v in visits.values()))
    out = []
    for vid in ids:
        v = visits.get(vid)
        out.append(
            {
                "id": vid,
                "known": "1" if v else "",
                "when": v.started_at.isoformat() if v else "",
                "subject": (
                    students.get(v.student_id or "") or schools.get(v.school_id or "") or ""
                    if v
                    else ""
                ),
                "teacher": teachers.get(v.teacher, v.teacher) if v else "",
            }
        )
    return out


def _log_query(back: str) -> dict[str, str]:
    """The log's filters the form came from, kept to the log's own bounded fields."""
    pairs = parse_qsl(back[:2000], keep_blank_values=False)
    return {
        k: v for k, v in pairs if k in visit_filters.LIMITS and len(v) <= visit_filters.LIMITS[k]
    }
