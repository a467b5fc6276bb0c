"""Users and device tokens."""

from sqlmodel import Session, select

from server.models import DeviceToken, District, User, utcnow
from server.security import hash_password, new_token, token_hash
from server.services import audit
from server.services.errors import DomainError
from shared.domain import Role
from shared.messages import t


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
        raise DomainError("invalid_user", detail=f"role={role}")
    if session.exec(select(User).where(User.username == username)).first():
        raise DomainError("user_exists")
    if district_code and session.get(District, district_code) is None:
        if role != Role.ADMIN:  # an admin sees every district; the code is only a label
            raise DomainError("invalid_user", detail=t("user.no_district", code=district_code))
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


def issue_token(session: Session, *, user: User, device_name: str) -> tuple[str, DeviceToken]:
    """A new device token for ``user`` (whose password was checked); only its hash is kept."""
    assert user.id is not None  # read back from the table, so it has its key
    token = new_token()
    device = DeviceToken(user_id=user.id, device_name=device_name, token_hash=token_hash(token))
    session.add(device)
    session.flush()
    return token, device


def revoke_token(
    session: Session, *, token_id: int, actor: str, action: str = "revoke"
) -> DeviceToken | None:
    """End device token ``token_id`` (audited as ``action`` by ``actor``); revoking a revoked
    token changes nothing and logs nothing."""
    device = session.get(DeviceToken, token_id)
    if device is None or device.revoked_at is not None:
        return device
    device.revoked_at = utcnow()
    session.add(device)
    owner = session.get(User, device.user_id)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="device",
        entity_id=str(token_id),
        district_code=owner.district_code if owner else None,
        detail=f"user={owner.username if owner else ''} device={device.device_name}",
    )
    return device
