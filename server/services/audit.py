"""The audit log: every view or export of a child's record or photo, every review, device
revocation and policy change, every sign-in (failed or not), lock-out and sign-out.

Required by 个人信息保护法 and 未成年人网络保护条例 Art. 36. Rows are only ever added.
"""

from sqlmodel import Session

from server.models import AuditLog, User, utcnow

# Keys of ``Session.info`` where the request's dependencies leave where it came from, so that
# every row written in that request carries them without each caller passing them on.
DEVICE_KEY, ADDRESS_KEY = "audit_device_id", "audit_address"


def note_origin(session: Session, *, address: str | None, device_id: int | None = None) -> None:
    """Remember the client address (and device token) of the request ``session`` serves."""
    session.info[ADDRESS_KEY] = (address or "")[:64] or None
    if device_id is not None:
        session.info[DEVICE_KEY] = device_id


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    district_code: str | None = None,
    detail: str = "",
    device_id: int | None = None,
    address: str | None = None,
) -> None:
    """Add one row in the caller's transaction; the caller commits with the read it logs.

    ``action`` is a verb such as ``view``, ``download``, ``export``, ``sync``, ``review``,
    ``revoke``, ``login`` or ``login_failed``; ``entity`` what it was about (``student``,
    ``photo``, ``visit``, ``visits_csv``, ``device``, ``user`` ...). ``device_id`` and
    ``address`` default to those the request noted (``note_origin``).
    """
    session.add(
        AuditLog(
            at=utcnow(),
            actor=actor[:64],
            action=action,
            entity=entity,
            entity_id=entity_id[:200],
            district_code=district_code,
            detail=detail[:500],
            device_id=device_id if device_id is not None else session.info.get(DEVICE_KEY),
            address=(address or "")[:64] or session.info.get(ADDRESS_KEY),
        )
    )


def record_account(
    session: Session,
    user: User,
    action: str,
    *,
    detail: str = "",
    actor: str | None = None,
    device_id: int | None = None,
    address: str | None = None,
) -> None:
    """A row about ``user``'s account (sign-in, lock-out, password, sign-out everywhere):
    the entity is the user; the actor is the user unless someone else acted on it."""
    record(
        session,
        actor=actor or user.username,
        action=action,
        entity="user",
        entity_id=user.username,
        district_code=user.district_code,
        detail=detail,
        device_id=device_id,
        address=address,
    )
