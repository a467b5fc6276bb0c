"""Users and device tokens."""

from sqlmodel import Session, select

from server.errors import ApiError
from server.models import DeviceToken, District, User, utcnow
from server.security import hash_password, new_token, token_hash, verify_password
from shared.domain import Role


def add_user(
    session: Session,
    *,
    username: str,
    role: str,
    district_code: str | None,
    password: str | None,
    name: str = "",
    base_school_id: str | None = None,
) -> User:
    if role not in set(Role):
        raise ApiError(400, "invalid_user", detail=f"role={role}")
    if session.exec(select(User).where(User.username == username)).first():
        raise ApiError(409, "user_exists")
    if district_code and session.get(District, district_code) is None:
        if role != Role.ADMIN:  # an admin sees every district; the code is only a label
            raise ApiError(400, "invalid_user", detail=f"区县 {district_code} 不存在")
        district_code = None
    user = User(
        username=username,
        name=name or username,
        role=role,
        district_code=district_code,
        base_school_id=base_school_id,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def login(session: Session, *, username: str, password: str, device_name: str) -> tuple[str, User]:
    """A new device token for a correct password; 401 otherwise (same answer for unknown user)."""
    user = session.exec(select(User).where(User.username == username)).first()
    if not verify_password(password, user.password_hash if user else None) or not (
        user and user.active
    ):
        raise ApiError(401, "bad_credentials")
    assert user.id is not None  # read back from the table, so it has its key
    token = new_token()
    session.add(DeviceToken(user_id=user.id, device_name=device_name, token_hash=token_hash(token)))
    return token, user


def revoke_token(session: Session, *, token_id: int) -> DeviceToken | None:
    device = session.get(DeviceToken, token_id)
    if device is not None and device.revoked_at is None:
        device.revoked_at = utcnow()
        session.add(device)
    return device
