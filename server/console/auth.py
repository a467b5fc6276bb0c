"""Signing in and out of the console (a session cookie; field staff use the phone app)."""

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from server.console.csrf import CsrfForm
from server.console.web import ConsoleRoute, flash, render, safe_next, sign_in
from server.deps import SessionDep
from server.models import User
from server.scope import Scope
from server.security import verify_password
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/")
def home(request: Request) -> RedirectResponse:
    signed_in = isinstance(request.session.get("uid"), int)
    return RedirectResponse("/dashboard" if signed_in else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next_: str = Query("", alias="next")) -> Response:
    if isinstance(request.session.get("uid"), int):
        return RedirectResponse(safe_next(next_), status_code=303)
    return render(request, "login.html", None, next=safe_next(next_), username="", error="")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: CsrfForm, session: SessionDep) -> Response:
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:256]
    target = safe_next(str(form.get("next") or ""))
    user = session.exec(select(User).where(User.username == username)).first() if username else None
    # verify_password runs even for an unknown user, so both failures take the same time.
    ok = verify_password(password, user.password_hash if user else None) and bool(
        user and user.active
    )
    if not ok or user is None:
        return render(
            request,
            "login.html",
            None,
            status=401,
            next=target,
            username=username,
            error=t("bad_credentials"),
        )
    if Scope.of(user).is_staff_in_field:
        return render(
            request,
            "login.html",
            None,
            status=403,
            next=target,
            username=username,
            error=t("console.field_role_refused"),
        )
    sign_in(request, user)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, form: CsrfForm) -> RedirectResponse:
    request.session.clear()
    flash(request, t("console.signed_out"))
    return RedirectResponse("/login", status_code=303)
