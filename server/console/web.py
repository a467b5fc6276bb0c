"""What every console page shares: templates, the signed-in viewer, HTML errors, flashes.

The API answers errors as JSON; the console answers them as pages. Console routes use
``ConsoleRoute``, which turns a ``DomainError`` (``ApiError`` included) into an HTML page with
the same status and Chinese message, and a missing or expired sign-in into a redirect to ``/login``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlmodel import Session

from server.console import csrf
from server.deps import SessionDep, SettingsDep, client_address
from server.errors import ApiError, status_of
from server.models import User
from server.scope import Scope
from server.services import audit, console_sessions
from server.services.errors import DomainError
from shared.judge import duration_minutes
from shared.messages import describe_validation_errors, t
from shared.terms import SHANGHAI

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Pages show children's data: never keep them in a shared or back-button cache.
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# The cookie outlives no session: the server's row (console_sessions) decides, this only
# makes the browser forget the cookie at the same absolute lifetime.
SESSION_HOURS = int(console_sessions.LIFETIME.total_seconds() // 3600)
# The cookie holds the session id; the row behind it says whether it is still valid.
_SID, _FLASH = "sid", "flash"


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


def _minutes(visit: Any) -> int:
    """A visit's duration as the phone shows it: the judge's whole minutes."""
    return duration_minutes(visit.started_at, visit.ended_at)


def _t_markup(key: str, **values: Any) -> Markup:
    """``t`` for templates: the catalogue's text and the values are escaped, except a value that
    is already markup (a ``{% set %}`` block: a link or ``<strong>`` inside a sentence), so such
    a sentence stays one catalogue entry with the markup as a placeholder a translation can move.
    """
    text = Markup.escape(t(key))
    return text.format(**values) if values else text


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters.update(yuan=_yuan, km=_km, local=_local, pct=_pct, minutes=_minutes)
templates.env.globals.update(t=_t_markup, csrf_field=csrf.FIELD)


class LoginRequired(Exception):
    """No valid sign-in: the route answers with a redirect to the login page."""


@dataclass(frozen=True)
class Viewer:
    user: User
    scope: Scope
    session_id: int  # the console_session row this request signed in with

    @property
    def is_admin(self) -> bool:
        return self.scope.role == "admin"


def sign_in(request: Request, session: Session, user: User) -> int:
    """A fresh session for ``user``: nothing from before the login survives (fixation).
    Returns the new console_session row's id; the caller commits."""
    raw, row = console_sessions.start(session, user=user, address=client_address(request))
    request.session.clear()
    request.session[_SID] = raw
    csrf.rotate(request)
    return row.id or 0


def session_id(request: Request) -> str | None:
    """The session id the cookie carries (valid or not: ``current_viewer`` decides)."""
    raw = request.session.get(_SID)
    return raw if isinstance(raw, str) and raw else None


def signed_out(request: Request) -> None:
    """Forget the sign-in in this browser (the server's row is ended by the caller)."""
    request.session.clear()


def current_viewer(request: Request, session: SessionDep, settings: SettingsDep) -> Viewer:
    raw = session_id(request)
    found = (
        console_sessions.resolve(
            session, raw, idle=timedelta(minutes=settings.console_idle_minutes)
        )
        if raw
        else None
    )
    if found is None:
        if raw:
            request.session.clear()
        raise LoginRequired
    row, user = found
    audit.note_origin(session, address=client_address(request))
    scope = Scope.of(user)
    if scope.is_staff_in_field:
        raise ApiError(403, "console.field_role_refused")
    return Viewer(user, scope, row.id or 0)


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
    signed_in = session_id(request) is not None
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
            except DomainError as exc:
                return error_page(request, status_of(exc), exc.message)
            except RequestValidationError as exc:
                detail = describe_validation_errors(list(exc.errors()))
                return error_page(request, 400, t("invalid_request", detail=detail))

        return guarded
