"""Login per device, signing a device out, and revoking a device's token."""

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from server import errors
from server.deps import CurrentUser, ManagerScope, SessionDep, ThrottleDep, client_address
from server.errors import ApiError
from server.models import DeviceToken, User
from server.services import audit, signin, users
from server.services.errors import DomainError
from shared.protocol import NO_NUL

router = APIRouter(tags=["auth"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=256, pattern=NO_NUL)
    device_name: str = Field(default="unknown device", max_length=128, pattern=NO_NUL)


class UserOut(BaseModel):
    username: str
    name: str
    role: str
    district_code: str | None
    base_school_id: str | None = None


class LoginOut(BaseModel):
    token: str
    user: UserOut


class DeviceOut(BaseModel):
    id: int
    username: str
    device_name: str
    created_at: str
    last_used_at: str | None = None
    revoked: bool


def _device_out(device: DeviceToken, owner: User) -> DeviceOut:
    return DeviceOut(
        id=device.id or 0,
        username=owner.username,
        device_name=device.device_name,
        created_at=device.created_at.isoformat(),
        last_used_at=device.last_used_at.isoformat() if device.last_used_at else None,
        revoked=device.revoked_at is not None,
    )


@router.post(
    "/auth/login", response_model=LoginOut, responses=errors.responses(400, 401, 413, 422, 429, 503)
)
def login(body: LoginIn, request: Request, session: SessionDep, throttle: ThrottleDep) -> LoginOut:
    """A new device token. 401 ``bad_credentials``; 429 ``too_many_attempts`` (with
    Retry-After) after too many failures for the account or from the address, even for the
    right password."""
    address = client_address(request)
    try:
        user = signin.authenticate(
            session,
            throttle,
            username=body.username,
            password=body.password,
            address=address,
            channel="api",
        )
    except DomainError:
        session.commit()  # the failure's audit rows
        raise
    token, device = users.issue_token(session, user=user, device_name=body.device_name)
    audit.record_account(
        session,
        user,
        "login",
        detail=f"channel=api device={body.device_name}",
        device_id=device.id,
        address=address,
    )
    session.commit()
    return LoginOut(token=token, user=UserOut.model_validate(user, from_attributes=True))


@router.post(
    "/auth/logout", status_code=204, response_class=Response, responses=errors.responses(401)
)
def logout(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    """Revoke the calling device's token (and only it): 204; the token then answers 401."""
    users.revoke_token(
        session, token_id=request.state.device_id, actor=user.username, action="logout"
    )
    session.commit()
    return Response(status_code=204)


@router.get("/auth/me", response_model=UserOut, responses=errors.responses(401))
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/devices", response_model=list[DeviceOut], responses=errors.responses(401, 403))
def devices(scope: ManagerScope, session: SessionDep) -> list[DeviceOut]:
    query = select(DeviceToken, User).join(User).order_by(col(DeviceToken.id).desc()).limit(500)
    if scope.role != "admin":
        query = query.where(User.district_code == scope.district_code)
    return [_device_out(d, u) for d, u in session.exec(query)]


@router.post(
    "/devices/{token_id}/revoke",
    response_model=DeviceOut,
    responses=errors.responses(401, 403, 404, 422),
)
def revoke(token_id: int, scope: ManagerScope, session: SessionDep) -> DeviceOut:
    device = session.get(DeviceToken, token_id)
    owner = session.get(User, device.user_id) if device else None
    if device is None or owner is None or not scope.sees_district(owner.district_code or ""):
        raise ApiError(404, "not_found")
    users.revoke_token(session, token_id=token_id, actor=scope.username)
    session.commit()
    return _device_out(device, owner)
