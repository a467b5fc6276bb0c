"""Login per device, and revoking a device's token."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from server import errors
from server.deps import CurrentUser, ManagerScope, SessionDep
from server.errors import ApiError
from server.models import DeviceToken, User
from server.services import users
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
    revoked: bool


@router.post("/auth/login", response_model=LoginOut, responses=errors.responses(400, 401, 413, 422))
def login(body: LoginIn, session: SessionDep) -> LoginOut:
    token, user = users.login(
        session, username=body.username, password=body.password, device_name=body.device_name
    )
    session.commit()
    return LoginOut(token=token, user=UserOut.model_validate(user, from_attributes=True))


@router.get("/auth/me", response_model=UserOut, responses=errors.responses(401))
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/devices", response_model=list[DeviceOut], responses=errors.responses(401, 403))
def devices(scope: ManagerScope, session: SessionDep) -> list[DeviceOut]:
    query = select(DeviceToken, User).join(User).order_by(col(DeviceToken.id).desc()).limit(500)
    if scope.role != "admin":
        query = query.where(User.district_code == scope.district_code)
    return [
        DeviceOut(
            id=d.id or 0,
            username=u.username,
            device_name=d.device_name,
            created_at=d.created_at.isoformat(),
            revoked=d.revoked_at is not None,
        )
        for d, u in session.exec(query)
    ]


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
    users.revoke_token(session, token_id=token_id)
    session.commit()
    return DeviceOut(
        id=token_id,
        username=owner.username,
        device_name=device.device_name,
        created_at=device.created_at.isoformat(),
        revoked=True,
    )
