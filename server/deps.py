"""Cross-cutting dependencies as typed aliases."""

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session, select

from server.db import get_session
from server.errors import ApiError
from server.models import DeviceToken, User, utcnow
from server.scope import Scope
from server.security import token_hash
from server.settings import Settings, get_settings

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


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
    return user


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
__all__ = ["SessionDep", "SettingsDep", "CurrentUser", "ScopeDep", "ManagerScope", "utcnow"]
