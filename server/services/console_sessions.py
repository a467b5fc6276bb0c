"""Console sign-ins kept on the server, so that they can be ended there.

The browser's signed cookie carries a random session id; ``console_session`` holds its
SHA-256 (a copy of the table gives no one a way in). A session is valid while not ended,
younger than ``LIFETIME`` and used within the idle timeout. Logout ends one; a password change
ends the user's others; "sign out everywhere" ends all of a user's sessions and device tokens.
Callers commit.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.models import ConsoleSession, DeviceToken, User, utcnow
from server.security import new_token, token_hash
from server.services import audit

LIFETIME = timedelta(hours=12)  # however active, a sign-in ends after a working day
# Pages are read in quick succession: last-seen moves at most once a minute, so browsing
# does not write on every request.
TOUCH_EVERY = timedelta(seconds=60)


def start(session: Session, *, user: User, address: str | None) -> tuple[str, ConsoleSession]:
    """A new session for ``user``: the id for the cookie, and its row."""
    assert user.id is not None
    raw = new_token()
    row = ConsoleSession(user_id=user.id, session_hash=token_hash(raw), address=address)
    session.add(row)
    session.flush()
    return raw, row


def resolve(
    session: Session, raw: str, *, idle: timedelta, now: datetime | None = None
) -> tuple[ConsoleSession, User] | None:
    """The live session with id ``raw`` and its active user, or None. Moves last-seen (at most
    once a minute, in a short transaction of its own, committed here)."""
    now = now or utcnow()
    found = session.exec(
        select(ConsoleSession, User)
        .join(User)
        .where(ConsoleSession.session_hash == token_hash(raw))
    ).first()
    if found is None:
        return None
    row, user = found
    if (
        row.ended_at is not None
        or now - row.created_at > LIFETIME
        or now - row.last_seen_at > idle
        or not user.active
    ):
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        # Conditional: of concurrent requests one writes, the others match nothing.
        session.execute(
            sa.update(ConsoleSession)
            .where(
                col(ConsoleSession.id) == row.id,
                col(ConsoleSession.last_seen_at) < now - TOUCH_EVERY,
            )
            .values(last_seen_at=now)
        )
        session.commit()
    return row, user


def end(session: Session, *, row_id: int, actor: str, action: str = "logout") -> None:
    """End session ``row_id`` (audited as ``action``)."""
    row = session.get(ConsoleSession, row_id)
    if row is None or row.ended_at is not None:
        return
    row.ended_at = utcnow()
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="console_session",
        entity_id=str(row_id),
    )


def end_by_cookie(session: Session, raw: str, *, actor: str, action: str) -> None:
    """End the session whose cookie carries ``raw``, if it is still open."""
    row = session.exec(
        select(ConsoleSession).where(ConsoleSession.session_hash == token_hash(raw))
    ).first()
    if row is not None and row.id is not None:
        end(session, row_id=row.id, actor=actor, action=action)


def end_all(session: Session, *, user: User, keep: int | None = None) -> tuple[int, int]:
    """End every live console session of ``user`` but ``keep``, and every device token;
    returns how many of each were ended. The caller audits the reason."""
    assert user.id is not None
    now = utcnow()
    ended = session.execute(
        sa.update(ConsoleSession)
        .where(
            col(ConsoleSession.user_id) == user.id,
            col(ConsoleSession.ended_at).is_(None),
            col(ConsoleSession.id) != (keep if keep is not None else -1),
        )
        .values(ended_at=now)
    )
    revoked = session.execute(
        sa.update(DeviceToken)
        .where(col(DeviceToken.user_id) == user.id, col(DeviceToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return _count(ended), _count(revoked)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
