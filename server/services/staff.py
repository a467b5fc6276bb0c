"""Staff accounts managed from the console: create, reset a password, disable and enable.

A coordinator manages the teachers and itinerant instructors of their own district; only an
admin makes coordinators (or manages anyone of any district). An account outside what the
caller may manage answers 404, as if it did not exist. Passwords are made here, random and
shown once to the coordinator (who passes them on by phone or in person); only their argon2
hash is kept. Disabling ends every console session and device token of the account at once.
Every change is audited; the caller commits.
"""

import secrets
import string

from sqlmodel import Session, col, select

from server.models import School, User
from server.scope import Scope
from server.security import hash_password
from server.services import audit, console_sessions, users
from server.services.errors import DomainError
from server.services.roster_cells import has_forbidden_id_character
from shared.domain import Role

# Letters and digits a person reads aloud without confusion (no 0/O, 1/l/I).
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
PASSWORD_LENGTH = 12
FIELD_ROLES = (Role.TEACHER, Role.ITINERANT)


def roles_managed(scope: Scope) -> tuple[Role, ...]:
    if scope.role == Role.ADMIN:
        return (*FIELD_ROLES, Role.COORDINATOR)
    return FIELD_ROLES if scope.role == Role.COORDINATOR else ()


def new_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))


def managed_users(session: Session, scope: Scope) -> list[User]:
    query = select(User).where(col(User.role).in_(roles_managed(scope)))
    if scope.role != Role.ADMIN:
        query = query.where(User.district_code == scope.district_code)
    return list(session.exec(query.order_by(col(User.role), col(User.username))))


def managed_user(session: Session, scope: Scope, username: str) -> User:
    user = session.exec(select(User).where(User.username == username[:64])).first()
    if (
        user is None
        or user.role not in roles_managed(scope)
        or not scope.sees_district(user.district_code or "")
        or user.username == scope.username
    ):
        raise DomainError("console.no_such_user")
    return user


def create(
    session: Session,
    *,
    scope: Scope,
    username: str,
    name: str,
    role: str,
    district_code: str | None,
    base_school_id: str | None,
) -> tuple[User, str]:
    """A new account and its first password (returned once, in clear)."""
    username, name = username.strip(), name.strip()
    if (
        not username
        or len(username) > 64
        or has_forbidden_id_character(username)
        or " " in username
    ):
        raise DomainError("staff.bad_username")
    if not name or len(name) > 64:
        raise DomainError("staff.bad_name")
    if role not in roles_managed(scope):
        raise DomainError("staff.bad_role")
    district = district_code if scope.role == Role.ADMIN else scope.district_code
    if not district or not scope.sees_district(district):
        raise DomainError("staff.bad_district")
    if base_school_id:
        school = session.get(School, base_school_id[:64])
        if school is None or school.district_code != district:
            raise DomainError("staff.bad_school")
    password = new_password()
    user = users.add_user(
        session,
        username=username,
        role=role,
        district_code=district,
        password=password,
        name=name,
        base_school_id=base_school_id or None,
    )
    audit.record_account(session, user, "create_user", actor=scope.username, detail=f"role={role}")
    return user, password


def reset_password(session: Session, *, scope: Scope, username: str) -> tuple[User, str]:
    """A new random password; whoever knew the old one is signed out everywhere."""
    user = managed_user(session, scope, username)
    password = new_password()
    user.password_hash = hash_password(password)
    session.add(user)
    sessions, devices = console_sessions.end_all(session, user=user)
    audit.record_account(
        session,
        user,
        "reset_password",
        actor=scope.username,
        detail=f"console_sessions={sessions} devices={devices}",
    )
    return user, password


def set_active(session: Session, *, scope: Scope, username: str, active: bool) -> User:
    """Enable or disable an account; disabling ends its console sessions and device tokens
    (the phone's next call answers 401). The same state again changes and logs nothing."""
    user = managed_user(session, scope, username)
    if user.active == active:
        return user
    user.active = active
    session.add(user)
    detail = ""
    if not active:
        sessions, devices = console_sessions.end_all(session, user=user)
        detail = f"console_sessions={sessions} devices={devices}"
    action = "enable_user" if active else "disable_user"
    audit.record_account(session, user, action, actor=scope.username, detail=detail)
    return user
