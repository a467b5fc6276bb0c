"""A console user's own account: changing the password.

A new password ends every other console session of the user and every device token (whoever
learnt the old password is signed out everywhere); the session that changed it stays.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.console.csrf import CsrfForm
from server.console.web import ConsoleRoute, ViewerDep, flash, render
from server.deps import SessionDep, ThrottleDep, client_address
from server.errors import TooManyAttempts
from server.security import hash_password, verify_password
from server.services import audit, console_sessions
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

MIN_LENGTH = 8
MAX_LENGTH = 256


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, viewer: ViewerDep) -> Response:
    return render(request, "password.html", viewer, error="")


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    form: CsrfForm,
    viewer: ViewerDep,
    session: SessionDep,
    throttle: ThrottleDep,
) -> Response:
    """The old password is checked under the login throttle: a borrowed session must not
    become a way to guess it."""
    old = str(form.get("old_password") or "")[:MAX_LENGTH]
    new = str(form.get("new_password") or "")[:MAX_LENGTH]
    again = str(form.get("new_password_again") or "")[:MAX_LENGTH]
    user = viewer.user
    address = client_address(request)
    verdict = throttle.check(user.username, address)
    if verdict.locked:
        locked = TooManyAttempts(verdict.retry_after)
        page = render(request, "password.html", viewer, status=429, error=locked.message)
        page.headers.update(locked.headers)
        return page
    error, locked_now = "", False
    if not verify_password(old, user.password_hash):
        locked_now = throttle.fail(user.username, address).locked
        error = t("console.password_wrong")
    elif new != again:
        error = t("console.password_mismatch")
    elif len(new) < MIN_LENGTH:
        error = t("console.password_too_short", min=MIN_LENGTH)
    elif new == old:
        error = t("console.password_same")
    if error:
        audit.record_account(
            session,
            user,
            "password_change_failed",
            detail=error[:100],
        )
        if locked_now:
            audit.record_account(
                session,
                user,
                "lockout",
                detail="channel=console_password",
            )
        session.commit()
        return render(request, "password.html", viewer, status=400, error=error)
    user.password_hash = hash_password(new)
    session.add(user)
    sessions, devices = console_sessions.end_all(session, user=user, keep=viewer.session_id)
    audit.record_account(
        session,
        user,
        "password_change",
        detail=f"console_sessions={sessions} devices={devices}",
    )
    session.commit()
    flash(request, t("console.password_changed"))
    return RedirectResponse("/dashboard", status_code=303)
