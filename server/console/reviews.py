"""The review and flag forms of a visit (POST with CSRF; the work is in services/review.py).

A refused form (no reason, a stale version...) shows the visit again with the message and the
text typed so far, with the error's status; success redirects back to the visit.
"""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from server.console.csrf import CsrfForm
from server.console.visits import detail_page
from server.console.web import ConsoleRoute, Viewer, ViewerDep, flash
from server.deps import SessionDep
from server.errors import status_of
from server.services import review, review_codes
from server.services.errors import DomainError
from shared.domain import ReviewStatus
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _redisplay(
    request: Request,
    viewer: Viewer,
    session: Session,
    visit_id: str,
    exc: DomainError,
    form: dict[str, str],
) -> Response:
    session.rollback()  # release the change-counter lock the service took
    status = status_of(exc)
    if status in (403, 404):
        raise exc
    return detail_page(
        request, viewer, session, visit_id, status=status, error=exc.message, form=form
    )


@router.post("/visits/{visit_id}/review")
def review_visit(
    request: Request, visit_id: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    decision = str(form.get("decision") or "")
    note = str(form.get("reason") or "")
    code = str(form.get("code") or "")[:40]
    version = str(form.get("version") or "")
    seq = str(form.get("seq") or "")
    try:
        review.review_visit(
            session,
            scope=viewer.scope,
            visit_id=visit_id,
            decision=decision,
            reason=review_codes.reason_text(decision, code, note),
            seen_version=int(version) if version.isdigit() and len(version) < 10 else None,
            seen_seq=int(seq) if seq.isdigit() and len(seq) < 19 else None,
            code=code,
        )
        session.commit()
    except DomainError as exc:
        back = {"reason": note[:500], "code": code}
        return _redisplay(request, viewer, session, visit_id, exc, back)
    ok = "review.approved_ok" if decision == ReviewStatus.APPROVED else "review.rejected_ok"
    flash(request, t(ok))
    return RedirectResponse(f"/visits/{visit_id}", status_code=303)


@router.post("/visits/{visit_id}/flags")
def resolve_flag(
    request: Request, visit_id: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    code = str(form.get("code") or "")[:40]
    reason = str(form.get("reason") or "")
    try:
        review.resolve_flag(
            session, scope=viewer.scope, visit_id=visit_id, code=code, reason=reason
        )
        session.commit()
    except DomainError as exc:
        form_back = {"flag_reason": reason[:500], "flag_code": code}
        return _redisplay(request, viewer, session, visit_id, exc, form_back)
    flash(request, t("review.flag_resolved_ok", label=t(f"flag.{code}")))
    return RedirectResponse(f"/visits/{visit_id}", status_code=303)
