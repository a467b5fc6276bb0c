"""A coordinator's review of a visit, and the resolution of its evidence flags.

Both change what the teacher's phone must learn, so both move the visit's ``seq`` (the phone
pulls review results through it). Neither moves ``version``: that is the teacher's edit counter,
and bumping it would turn the teacher's next edit into a conflict over a change they cannot see.

Both hold the change-counter lock before reading the visit, like a push does, so a review and a
teacher's concurrent edit queue rather than overwrite each other; and a review names the
version the coordinator looked at, so an edit that arrived in between is not approved unseen.

Every decision and resolution leaves an audit row in the same transaction (the reviewer, the
visit, the outcome), so a decision is never stored without its row.

Each decision and resolution is also an entry of the visit's change history
(services/visit_history.py). A refusal raises before anything is changed, so a caller that
reviews many visits in one transaction may go on after one is refused.

Callers commit. Refusals are ``DomainError``: ``review.admin_read_only`` (anyone but a
coordinator), ``not_found`` (outside the caller's district or absent), ``record_deleted`` /
``review.visit_changed`` / ``desk.visit_moved`` / ``desk.visit_reviewed_meanwhile``, and the
codes of a bad decision, reason or flag.
"""

from datetime import datetime

from sqlmodel import Session, select

from server.db import lock_changes, next_seq
from server.models import User, Visit, utcnow
from server.scope import Scope
from server.services import audit, visit_history
from server.services.errors import DomainError
from shared.domain import ReviewStatus, Role
from shared.judge import in_counts
from shared.messages import t
from shared.terms import SHANGHAI

REASON_LIMIT = 500  # the column's width


def review_visit(
    session: Session,
    *,
    scope: Scope,
    visit_id: str,
    decision: str,
    reason: str = "",
    seen_version: int | None = None,
    seen_seq: int | None = None,
    code: str = "",
    now: datetime | None = None,
) -> Visit:
    """Approve or reject ``visit_id``; a rejection needs a reason and stops the visit counting.

    ``seen_version``: the version the reviewer was shown; when the teacher has edited since,
    409 ``review.visit_changed`` and nothing changes. None skips the check.
    ``seen_seq``: the visit's ``seq`` when the reviewer was shown it; when anything moved it
    since (another review, a flag note, flags judged again), 409 ``desk.visit_moved`` saying
    how the visit stands now, and nothing changes. None skips the check.
    ``code``: the reason code the reviewer chose (services/review_codes.py), kept in the history.
    """
    _require_reviewer(scope)
    if decision not in (ReviewStatus.APPROVED, ReviewStatus.REJECTED):
        raise DomainError("review.invalid_decision")
    reason = _reason(reason, required=decision == ReviewStatus.REJECTED)
    visit = _locked_visit(session, scope, visit_id)
    if seen_version is not None and seen_version != visit.version:
        raise DomainError("review.visit_changed")
    if seen_seq is not None and seen_seq != visit.seq:
        raise _moved(session, visit)
    visit.review_status = decision
    visit.review_reason = reason
    visit.reviewed_by = scope.username
    visit.reviewed_at = now or utcnow()
    visit.counted = in_counts(deleted=visit.deleted, review_status=decision)
    visit.seq = next_seq(session)
    session.add(visit)
    _audit(session, scope, visit, decision, f"version={visit.version} reason={reason}")
    visit_history.record_review(
        session,
        visit,
        actor=scope.username,
        action=visit_history.REVIEW,
        detail={"decision": decision, "code": code[:40], "reason": reason},
        now=visit.reviewed_at,
    )
    session.flush()
    return visit


def _moved(session: Session, visit: Visit) -> DomainError:
    """The refusal of a review made on an older view of ``visit``, saying how it stands now."""
    if visit.reviewed_by is None:
        return DomainError("desk.visit_moved")
    who = session.exec(select(User.name).where(User.username == visit.reviewed_by)).first()
    return DomainError(
        "desk.visit_reviewed_meanwhile",
        who=(who or visit.reviewed_by)[:64],
        when=visit.reviewed_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        if visit.reviewed_at
        else "",
        outcome=t(f"review.{visit.review_status}"),
    )


def resolve_flag(
    session: Session,
    *,
    scope: Scope,
    visit_id: str,
    code: str,
    reason: str,
    now: datetime | None = None,
) -> Visit:
    """Record why flag ``code`` on ``visit_id`` is acceptable (or not): ``flag_notes[code] =
    {"by", "reason", "at"}``. The flag stays: a resolved flag is still shown and counted as
    flagged, with its note beside it. Resolving again replaces the note."""
    _require_reviewer(scope)
    reason = _reason(reason, required=True, missing="review.flag_reason_required")
    visit = _locked_visit(session, scope, visit_id)
    if code not in (visit.flags or []):
        raise DomainError("review.flag_not_on_visit", label=t(f"flag.{code}")[:60])
    at = (now or utcnow()).isoformat()
    # A new dict: the JSON column does not notice changes made inside the old one.
    notes = dict(visit.flag_notes or {})
    notes[code] = {"by": scope.username, "reason": reason, "at": at}
    visit.flag_notes = notes
    visit.seq = next_seq(session)
    session.add(visit)
    _audit(session, scope, visit, "resolve_flag", f"flag={code} reason={reason}")
    visit_history.record_review(
        session,
        visit,
        actor=scope.username,
        action=visit_history.RESOLVE_FLAG,
        detail={"code": code, "reason": reason},
        now=now,
    )
    session.flush()
    return visit


def _audit(session: Session, scope: Scope, visit: Visit, outcome: str, detail: str) -> None:
    audit.record(
        session,
        actor=scope.username,
        action="review",
        entity="visit",
        entity_id=visit.id,
        district_code=visit.district_code,
        detail=f"{outcome} {detail}",
    )


def _require_reviewer(scope: Scope) -> None:
    # The city's admin reads across districts but does not decide a district's claims.
    if scope.role != Role.COORDINATOR:
        raise DomainError("review.admin_read_only")


def _reason(reason: str, *, required: bool, missing: str = "review.reason_required") -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise DomainError(missing)
    if len(reason) > REASON_LIMIT:
        raise DomainError("review.reason_too_long", limit=REASON_LIMIT)
    return reason


def _locked_visit(session: Session, scope: Scope, visit_id: str) -> Visit:
    lock_changes(session)  # first: the read below then sees every push committed before us
    visit = session.exec(
        select(Visit)
        .where(Visit.id == visit_id, scope.visits())
        .execution_options(populate_existing=True)
    ).first()
    if visit is None:
        raise DomainError("not_found")
    if visit.deleted:
        raise DomainError("record_deleted")
    return visit
