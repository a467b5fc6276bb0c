"""Cross-cutting dependencies as typed aliases."""

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session, select

from server.db import get_session
from server.errors import ApiError
from server.last_used import LastUsedMarks
from server.models import DeviceToken, User, utcnow
from server.scope import Scope
from server.security import token_hash
from server.services import audit
from server.services.throttle import LoginThrottle
from server.settings import Settings, get_settings

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_throttle(request: Request) -> LoginThrottle:
    """The app's one login throttle (made in server.main, shared by the API and console)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]


def current_user(request: Request, session: SessionDep) -> User:
    """The user behind a valid, unrevoked bearer token; 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized")
    row = session.exec(
        select(DeviceToken, User)
        .join(User)
        .where(DeviceToken.token_hash == token_hash(token.strip()))
    ).first()
    if row is None:
        raise ApiError(401, "unauthorized")
    device, user = row
    if device.revoked_at is not None or not user.active:
        raise ApiError(401, "unauthorized")
    request.state.device_id = device.id
    audit.note_origin(session, address=client_address(request), device_id=device.id)
    _touch(request, device)
    return user


# A phone syncs in bursts; the device list needs minutes, not every request, so at most one
# mark a minute per token.
TOUCH_EVERY = timedelta(seconds=60)


def _touch(request: Request, device: DeviceToken) -> None:
    """Keep ``last_used_at`` of ``device`` to the minute, without a write in this request.

    The time is only noted in memory (server.last_used): one background task writes the
    marks of every token together every few seconds, so no request waits for a write lock
    here (on SQLite it would queue behind pushes) and 200 phones make no stream of small
    transactions. The device list may lag by that interval.
    """
    now = utcnow()
    if device.last_used_at is not None and device.last_used_at >= now - TOUCH_EVERY:
        return
    marks: LastUsedMarks = request.app.state.last_used
    assert device.id is not None
    marks.mark(device.id, now)


def client_address(request: Request) -> str | None:
    """The address the request came from, as the server saw it (for throttling and audit)."""
    return request.client.host if request.client else None


CurrentUser = Annotated[User, Depends(current_user)]


def current_scope(user: CurrentUser) -> Scope:
    return Scope.of(user)


ScopeDep = Annotated[Scope, Depends(current_scope)]


def require_manager(scope: ScopeDep) -> Scope:
    """Coordinators and admins only; field staff get 403."""
    if scope.is_staff_in_field:
        raise ApiError(403, "forbidden")
    return scope


ManagerScope = Annotated[Scope, Depends(require_manager)]
__all__ = [
    "SessionDep",
    "SettingsDep",
    "CurrentUser",
    "ScopeDep",
    "ManagerScope",
    "ThrottleDep",
    "client_address",
    "utcnow",
]
