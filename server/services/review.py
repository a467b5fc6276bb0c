"""A coordinator's review of a visit, and the resolution of its evidence flags.

Both change what the teacher's phone must learn, so both move the visit's ``seq`` (the phone
pulls review results through it). Neither moves ``version``: that is the teacher's edit counter,
and bumping it would turn the teacher's next edit into a conflict over a change they cannot see.

Both hold the change-counter lock before reading the visit, like a push does, so a review and a
teacher's concurrent edit queue rather than overwrite each other; and a review names the
version the coordinator looked at, so an edit that arrived in between is not approved unseen.

Every decision and resolution leaves an audit row in the same transaction (the reviewer, the
visit, the outcome), so a decision is never stored without its row.

Callers commit. Errors are ``ApiError``: 403 ``review.admin_read_only`` (anyone but a
coordinator), 404 ``not_found`` (outside the caller's district or absent), 409
``record_deleted`` / ``review.visit_changed``, 400 for a bad decision, reason or flag.
"""

from datetime import datetime

from sqlmodel import Session, select

from server.db import lock_changes, next_seq
from server.errors import ApiError
from server.models import Visit, utcnow
from server.scope import Scope
from server.services import audit
from shared.domain import ReviewStatus, Role
from shared.judge import in_counts
from shared.messages import t

REASON_LIMIT = 500  # the column's width


def review_visit(
    session: Session,
    *,
    scope: Scope,
    visit_id: str,
    decision: str,
    reason: str = "",
    seen_version: int | None = None,
    now: datetime | None = None,
) -> Visit:
    """Approve or reject ``visit_id``; a rejection needs a reason and stops the visit counting.

    ``seen_version``: the version the reviewer was shown; when the teacher has edited since,
    409 ``review.visit_changed`` and nothing changes. None skips the check.
    """
    _require_reviewer(scope)
    if decision not in (ReviewStatus.APPROVED, ReviewStatus.REJECTED):
        raise ApiError(400, "review.invalid_decision")
    reason = _reason(reason, required=decision == ReviewStatus.REJECTED)
    visit = _locked_visit(session, scope, visit_id)
    if seen_version is not None and seen_version != visit.version:
        raise ApiError(409, "review.visit_changed")
    visit.review_status = decision
    visit.review_reason = reason
    visit.reviewed_by = scope.username
    visit.reviewed_at = now or utcnow()
    visit.counted = in_counts(deleted=visit.deleted, review_status=decision)
    visit.seq = next_seq(session)
    session.add(visit)
    _audit(session, scope, visit, decision, f"version={visit.version} reason={reason}")
    session.flush()
    return visit


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
        raise ApiError(400, "review.flag_not_on_visit", label=t(f"flag.{code}")[:60])
    at = (now or utcnow()).isoformat()
    # A new dict: the JSON column does not notice changes made inside the old one.
    notes = dict(visit.flag_notes or {})
    notes[code] = {"by": scope.username, "reason": reason, "at": at}
    visit.flag_notes = notes
    visit.seq = next_seq(session)
    session.add(visit)
    _audit(session, scope, visit, "resolve_flag", f"flag={code} reason={reason}")
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
        raise ApiError(403, "review.admin_read_only")


def _reason(reason: str, *, required: bool, missing: str = "review.reason_required") -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ApiError(400, missing)
    if len(reason) > REASON_LIMIT:
        raise ApiError(400, "review.reason_too_long", limit=REASON_LIMIT)
    return reason


def _locked_visit(session: Session, scope: Scope, visit_id: str) -> Visit:
    lock_changes(session)  # first: the read below then sees every push committed before us
    visit = session.exec(
        select(Visit)
        .where(Visit.id == visit_id, scope.visits())
        .execution_options(populate_existing=True)
    ).first()
    if visit is None:
        raise ApiError(404, "not_found")
    if visit.deleted:
        raise ApiError(409, "record_deleted")
    return visit
