"""What every console page shares: templates, the signed-in viewer, HTML errors, flashes.

The API answers errors as JSON; the console answers them as pages. Console routes use
``ConsoleRoute``, which turns ``ApiError`` into an HTML page with the same status and Chinese
message, and a missing or expired sign-in into a redirect to ``/login``.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from server.console import csrf
from server.deps import SessionDep
from server.errors import ApiError
from server.models import User
from server.scope import Scope
from shared.messages import describe_validation_errors, t
from shared.terms import SHANGHAI

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Pages show children's data: never keep them in a shared or back-button cache.
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# A signed cookie cannot be revoked server-side; an absolute lifetime bounds a stolen one.
SESSION_HOURS = 12
_UID, _LOGIN_AT, _FLASH = "uid", "login_at", "flash"


def _yuan(fen: int | None) -> str:
    return f"{Decimal(fen or 0) / 100:,.2f}"


def _km(metres: int | None) -> str:
    return f"{(metres or 0) / 1000:,.1f}"


def _local(moment: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(SHANGHAI).strftime(fmt)


def _pct(value: float | None) -> str:
    return f"{(value or 0):.1%}"


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters.update(yuan=_yuan, km=_km, local=_local, pct=_pct)
templates.env.globals.update(t=t, csrf_field=csrf.FIELD)


class LoginRequired(Exception):
    """No valid sign-in: the route answers with a redirect to the login page."""


@dataclass(frozen=True)
class Viewer:
    user: User
    scope: Scope

    @property
    def is_admin(self) -> bool:
        return self.scope.role == "admin"


def sign_in(request: Request, user: User) -> None:
    """A fresh session for ``user``: nothing from before the login survives (fixation)."""
    request.session.clear()
    request.session[_UID] = user.id
    request.session[_LOGIN_AT] = int(time.time())
    csrf.rotate(request)


def current_viewer(request: Request, session: SessionDep) -> Viewer:
    uid, login_at = request.session.get(_UID), request.session.get(_LOGIN_AT)
    if not isinstance(uid, int) or not isinstance(login_at, int):
        raise LoginRequired
    if time.time() - login_at > SESSION_HOURS * 3600:
        request.session.clear()
        raise LoginRequired
    user = session.get(User, uid)
    if user is None or not user.active:
        request.session.clear()
        raise LoginRequired
    scope = Scope.of(user)
    if scope.is_staff_in_field:
        raise ApiError(403, "console.field_role_refused")
    return Viewer(user, scope)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session[_FLASH] = [*request.session.get(_FLASH, [])[-4:], [kind, text]]


def render(
    request: Request,
    name: str,
    viewer: Viewer | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    context |= {
        "viewer": viewer,
        "csrf_token": csrf.token(request),
        "flashes": request.session.pop(_FLASH, []),
    }
    return templates.TemplateResponse(request, name, context, status_code=status, headers=NO_STORE)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    signed_in = isinstance(request.session.get(_UID), int)
    return render(
        request,
        "error.html",
        None,
        status=status,
        status_code=status,
        message=message,
        signed_in=signed_in,
    )


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    suffix = f"?next={quote(target)}" if request.method == "GET" and target != "/" else ""
    return RedirectResponse(f"/login{suffix}", status_code=303)


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (another host) becomes /dashboard."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


class ConsoleRoute(APIRoute):
    """A route whose errors are pages (see the module docstring)."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return login_redirect(request)
            except ApiError as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:
                detail = describe_validation_errors(list(exc.errors()))
                return error_page(request, 400, t("invalid_request", detail=detail))

        return guarded
