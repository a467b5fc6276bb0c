"""Staff accounts of the district: create, reset a password, disable and enable
(services.staff holds the rules and the audit). A new password is shown once, on the page the
post answers with, never in a redirect's cookie (the session cookie is signed, not secret)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from server.console.csrf import CsrfForm
from server.console.web import ConsoleRoute, Viewer, ViewerDep, flash, render
from server.deps import SessionDep
from server.errors import ApiError
from server.models import District, School, User
from server.services import staff
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _page(
    request: Request,
    viewer: Viewer,
    session: SessionDep,
    *,
    shown_password: tuple[User, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    schools = session.exec(
        select(School).where(viewer.scope.schools()).order_by(col(School.id)).limit(1000)
    )
    districts = session.exec(
        select(District).where(viewer.scope.districts()).order_by(col(District.code))
    )
    return render(
        request,
        "users.html",
        viewer,
        status=status,
        accounts=staff.managed_users(session, viewer.scope),
        roles=staff.roles_managed(viewer.scope),
        schools=list(schools),
        districts=list(districts),
        shown=shown_password,
        error=error,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    return _page(request, viewer, session)


@router.post("/users", response_class=HTMLResponse)
def create(request: Request, form: CsrfForm, viewer: ViewerDep, session: SessionDep) -> Response:
    try:
        user, password = staff.create(
            session,
            scope=viewer.scope,
            username=str(form.get("username") or ""),
            name=str(form.get("name") or ""),
            role=str(form.get("role") or ""),
            district_code=str(form.get("district_code") or "") or None,
            base_school_id=str(form.get("base_school_id") or "") or None,
        )
    except ApiError as exc:
        session.rollback()
        return _page(request, viewer, session, error=exc.message, status=exc.status)
    session.commit()
    return _page(request, viewer, session, shown_password=(user, password))


@router.post("/users/{username}/password", response_class=HTMLResponse)
def reset_password(
    request: Request, username: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    user, password = staff.reset_password(session, scope=viewer.scope, username=username)
    session.commit()
    return _page(request, viewer, session, shown_password=(user, password))


@router.post("/users/{username}/active")
def set_active(
    request: Request, username: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    wanted = str(form.get("active") or "")
    if wanted not in ("0", "1"):
        raise ApiError(400, "invalid_request", detail="active")
    user = staff.set_active(session, scope=viewer.scope, username=username, active=wanted == "1")
    session.commit()
    key = "staff.enabled" if user.active else "staff.disabled"
    flash(request, t(key, username=user.username))
    return RedirectResponse("/users", status_code=303)
