"""The audit log: every view or export of a child's record or photo.

Required by 个人信息保护法 and 未成年人网络保护条例 Art. 36. Rows are only ever added.
"""

from sqlmodel import Session

from server.models import AuditLog, utcnow


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    district_code: str | None = None,
    detail: str = "",
) -> None:
    """Add one row in the caller's transaction; the caller commits with the read it logs.

    ``action`` is a verb such as ``view``, ``download``, ``export`` or ``sync``; ``entity`` what
    was read (``student``, ``photo``, ``visit``, ``visits_csv`` ...).
    """
    session.add(
        AuditLog(
            at=utcnow(),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id[:200],
            district_code=district_code,
            detail=detail[:500],
        )
    )
