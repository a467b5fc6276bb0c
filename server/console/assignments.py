"""Who teaches whom: teachers to home-delivery children, instructors to ordinary schools, and
who is left without one (services.assignments holds the rule and the audit)."""

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from server.console.csrf import CsrfForm
from server.console.web import ConsoleRoute, Viewer, ViewerDep, flash, render
from server.deps import SessionDep
from server.errors import ApiError
from server.models import District
from server.services import assignments
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _district(session: SessionDep, viewer: Viewer, asked: str) -> tuple[str, list[District]]:
    """The district shown: the coordinator's own; for an admin the one asked for (else the
    first). Another district's code answers 404."""
    districts = list(
        session.exec(select(District).where(viewer.scope.districts()).order_by(col(District.code)))
    )
    if not viewer.is_admin:
        code = viewer.scope.district_code or ""
        if asked and asked != code:
            raise ApiError(404, "not_found")
        return code, districts
    if asked and asked not in {d.code for d in districts}:
        raise ApiError(404, "not_found")
    return asked or (districts[0].code if districts else ""), districts


@router.get("/assignments", response_class=HTMLResponse)
def assignments_page(
    request: Request, viewer: ViewerDep, session: SessionDep, district: str = ""
) -> Response:
    code, districts = _district(session, viewer, district[:6])
    board = assignments.board(session, scope=viewer.scope, district_code=code) if code else None
    return render(
        request,
        "assignments.html",
        viewer,
        board=board,
        district=code,
        districts=districts,
    )


@router.post("/assignments", response_class=HTMLResponse)
def change(request: Request, form: CsrfForm, viewer: ViewerDep, session: SessionDep) -> Response:
    """One assignment made (``action`` assign) or ended (``action`` unassign)."""
    action = str(form.get("action") or "")
    if action not in ("assign", "unassign"):
        raise ApiError(400, "invalid_request", detail="action")
    username = str(form.get("username") or "").strip()
    student_id = str(form.get("student_id") or "").strip() or None
    school_id = str(form.get("school_id") or "").strip() or None
    back = f"/assignments?district={quote(str(form.get('district') or '')[:6])}"
    if not username or bool(student_id) == bool(school_id):
        flash(request, t("assignments.pick_both"), "error")
        return RedirectResponse(back, status_code=303)
    try:
        outcome = assignments.change(
            session,
            scope=viewer.scope,
            username=username,
            student_id=student_id,
            school_id=school_id,
            remove=action == "unassign",
        )
    except ApiError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        flash(request, exc.message, "error")
        return RedirectResponse(back, status_code=303)
    session.commit()
    target = student_id or school_id or ""
    key = f"assignments.{action}ed" if outcome != "unchanged" else "assignments.unchanged"
    flash(request, t(key, username=username, target=target))
    return RedirectResponse(back, status_code=303)
