"""Signing in and out of the console (a server-side session; field staff use the phone app)."""

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.console.csrf import CsrfForm
from server.console.web import (
    ConsoleRoute,
    LoginRequired,
    current_viewer,
    flash,
    render,
    safe_next,
    session_id,
    sign_in,
    signed_out,
)
from server.deps import SessionDep, SettingsDep, ThrottleDep, client_address
from server.errors import LoginUnavailable, TooManyAttempts, status_of
from server.scope import Scope
from server.services import audit, console_sessions, signin
from server.services.errors import DomainError
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _is_signed_in(request: Request, session: SessionDep, settings: SettingsDep) -> bool:
    try:
        current_viewer(request, session, settings)
    except (LoginRequired, DomainError):
        return False
    return True


@router.get("/")
def home(request: Request, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    signed_in = _is_signed_in(request, session, settings)
    return RedirectResponse("/dashboard" if signed_in else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    next_: str = Query("", alias="next"),
) -> Response:
    if _is_signed_in(request, session, settings):
        return RedirectResponse(safe_next(next_), status_code=303)
    return render(request, "login.html", None, next=safe_next(next_), username="", error="")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: CsrfForm, session: SessionDep, throttle: ThrottleDep) -> Response:
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:256]
    target = safe_next(str(form.get("next") or ""))
    address = client_address(request)

    def refused(status: int, message: str, **headers: str) -> Response:
        page = render(
            request,
            "login.html",
            None,
            status=status,
            next=target,
            username=username,
            error=message,
        )
        page.headers.update(headers)
        return page

    try:
        user = signin.authenticate(
            session,
            throttle,
            username=username,
            password=password,
            address=address,
            channel="console",
        )
    except (TooManyAttempts, LoginUnavailable) as exc:
        session.commit()  # the refusal's audit row
        return refused(exc.status, exc.message, **exc.headers)
    except DomainError as exc:
        session.commit()  # the failure's audit rows
        return refused(status_of(exc), exc.message)
    if Scope.of(user).is_staff_in_field:
        audit.record_account(
            session,
            user,
            "login_refused",
            detail="channel=console reason=field_role",
            address=address,
        )
        session.commit()
        return refused(403, t("console.field_role_refused"))
    if earlier := session_id(request):
        # Signing in again in this browser (as anyone) ends the session it had: a copy of
        # the old cookie must not stay valid.
        console_sessions.end_by_cookie(session, earlier, actor=user.username, action="replaced")
    row_id = sign_in(request, session, user)
    audit.record_account(
        session,
        user,
        "login",
        detail=f"channel=console session={row_id}",
        address=address,
    )
    session.commit()
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(
    request: Request, form: CsrfForm, session: SessionDep, settings: SettingsDep
) -> RedirectResponse:
    """End the session on the server, then in the browser: a copy of the cookie is worthless."""
    try:
        viewer = current_viewer(request, session, settings)
    except (LoginRequired, DomainError):
        viewer = None
    if viewer is not None:
        console_sessions.end(session, row_id=viewer.session_id, actor=viewer.user.username)
        session.commit()
    elif session_id(request) is None:
        return RedirectResponse("/login", status_code=303)
    signed_out(request)
    flash(request, t("console.signed_out"))
    return RedirectResponse("/login", status_code=303)
