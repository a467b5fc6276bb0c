"""Checking a password, for the API and the console alike: throttled, and audited.

Every failure, every lock-out and every attempt refused while locked leaves an audit row
(actor: the username as typed, truncated; never the password). Raises ``TooManyAttempts``
(429) while locked, ``DomainError("bad_credentials")`` for a wrong password, an unknown or
inactive user. The caller commits, also when this raises, so the rows are kept; it records
the success itself, once it knows what the sign-in made (a device token, a console session).
"""

from sqlmodel import Session, select

from server.errors import TooManyAttempts
from server.models import User
from server.security import verify_password
from server.services import audit
from server.services.errors import DomainError
from server.services.throttle import LoginThrottle

USERNAME_KEPT = 64  # what of a typed username is kept in the log (the column's width)


def authenticate(
    session: Session,
    throttle: LoginThrottle,
    *,
    username: str,
    password: str,
    address: str | None,
    channel: str,
) -> User:
    """The active user ``username`` whose password is ``password``; ``channel`` (``api`` or
    ``console``) is written to the log."""
    typed = username[:USERNAME_KEPT]

    def log(action: str, detail: str = "") -> None:
        audit.record(
            session,
            actor=typed,
            action=action,
            entity="user",
            entity_id=typed,
            district_code=user.district_code if user else None,
            detail=f"channel={channel}" + (f" {detail}" if detail else ""),
            address=address,
        )

    user: User | None = None
    verdict = throttle.check(typed, address)
    if verdict.locked:
        log("login_locked", f"by={'+'.join(verdict.by)} retry_after={verdict.retry_after}")
        raise TooManyAttempts(verdict.retry_after)
    user = session.exec(select(User).where(User.username == username)).first()
    # verify_password runs even for an unknown user, so both failures take the same time.
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.active:
        reason = "unknown_user" if user is None else "inactive" if ok else "bad_password"
        log("login_failed", f"reason={reason}")
        after = throttle.fail(typed, address)
        if after.locked:
            log("lockout", f"by={'+'.join(after.by)} retry_after={after.retry_after}")
        raise DomainError("bad_credentials")
    throttle.succeed(typed)
    return user
