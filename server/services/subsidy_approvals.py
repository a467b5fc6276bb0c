"""A coordinator's approval of a teacher's monthly travel subsidy, and its taking back.

An approval stores the figures it approved (visits, distance, claimed, cap, payable, and the
amount: what the visits approved in review come to under the month's cap). The amounts are
those of services/subsidies.py (``subsidy_rows``); this module only freezes and compares
them. When the month's visits change afterwards (a late visit, a review, a deletion) the
approval is **stale**: it keeps the figure approved, and the page says the current one differs,
instead of the approved amount silently moving. A stale approval is taken back and approved
again to approve the new figure.

Only a coordinator approves, for their own district (the admin reads, as for reviews). Every
approval and taking back leaves an audit row in the same transaction. Callers commit.

Errors (``ApiError``): 403 ``subsidy.admin_read_only``; 404 ``not_found`` (another district, no
such teacher-month, no such approval); 409 ``subsidy.already_approved`` /
``subsidy.figures_changed`` / ``subsidy.already_revoked`` / ``subsidy.nothing_approved`` (no
visit of the month approved in review yet: there is nothing to pay); 400
``subsidy.reason_required`` / ``subsidy.reason_too_long``.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from server.db import lock_changes
from server.models import SubsidyApproval, utcnow
from server.scope import Scope
from server.services import audit
from server.services.errors import DomainError
from server.services.subsidies import subsidy_rows
from shared.domain import Role

REASON_LIMIT = 500  # the column's width
# The figures an approval freezes, by subsidy_rows' key; all equal: not stale.
_FIGURES = {
    "visits": "visits",
    "approved_visits": "approved_visits",
    "distance_m": "distance_m",
    "claimed_fen": "claimed_fen",
    "cap_fen": "cap_fen",
    "payable_fen": "payable_fen",
    "approved_fen": "amount_fen",
}


@dataclass(frozen=True)
class MonthState:
    """One teacher's month as the page and the XLSX show it."""

    row: dict[str, Any]  # subsidy_rows' figures now (zeros when no counted visit is left)
    approval: SubsidyApproval | None  # the live approval, if any
    stale: bool  # approved, and the figures differ from those approved

    @property
    def pending_visits(self) -> int:
        return self.row["visits"] - self.row["approved_visits"]


def label(month: int) -> str:
    return f"{month // 100}-{month % 100:02d}"


def is_stale(approval: SubsidyApproval, row: dict[str, Any]) -> bool:
    return any(row[now] != getattr(approval, then) for now, then in _FIGURES.items())


def month_states(
    session: Session, scope: Scope, code: str | None, month: int, last_day: date
) -> list[MonthState]:
    """Every teacher with counted visits in ``month`` (``code``, or every visible district),
    and every teacher approved for it whose visits have all gone since, with the live
    approval and whether it is stale."""
    rows = subsidy_rows(session, scope, code, month)
    live = {(a.district_code, a.teacher): a for a in _approvals(session, scope, code, month)}
    states = [
        MonthState(r, a, a is not None and is_stale(a, r))
        for r in rows
        for a in [live.pop((r["district_code"], r["teacher"]), None)]
    ]
    for approval in live.values():  # approved, but no counted visit of that month is left
        empty = {k: 0 for k in _FIGURES} | {
            "district_code": approval.district_code,
            "teacher": approval.teacher,
            "cap_fen": approval.cap_fen,
        }
        states.append(MonthState(empty, approval, True))
    return sorted(states, key=lambda s: (s.row["district_code"], s.row["teacher"]))


def history(session: Session, scope: Scope, code: str | None, month: int) -> list[SubsidyApproval]:
    """Every approval of ``month`` the viewer may see, taken back ones included, newest first."""
    query = select(SubsidyApproval).where(SubsidyApproval.month == month)
    query = _in_scope(query, scope, code)
    return list(session.exec(query.order_by(col(SubsidyApproval.id).desc())))


def approve(
    session: Session,
    *,
    scope: Scope,
    district_code: str,
    teacher: str,
    month: int,
    last_day: date,
    seen_amount_fen: int | None,
) -> SubsidyApproval:
    """Approve ``teacher``'s ``month`` at the figures in force now. ``seen_amount_fen``: the
    amount the coordinator was shown; if it differs from today's, 409 and nothing is stored."""
    _require_coordinator(scope, district_code)
    lock_changes(session)  # pushes and reviews queue here: the figures hold until commit
    current = [
        r for r in subsidy_rows(session, scope, district_code, month) if r["teacher"] == teacher
    ]
    if not current:
        raise DomainError("not_found")
    (row,) = current
    if _live(session, teacher, month) is not None:
        raise DomainError("subsidy.already_approved")
    if row["approved_visits"] == 0:
        raise DomainError("subsidy.nothing_approved")
    if seen_amount_fen is not None and seen_amount_fen != row["approved_fen"]:
        raise DomainError("subsidy.figures_changed")
    approval = SubsidyApproval(
        district_code=district_code,
        teacher=teacher,
        month=month,
        **{then: row[now] for now, then in _FIGURES.items()},
        approved_by=scope.username,
        approved_at=utcnow(),
    )
    session.add(approval)
    session.flush()
    audit.record(
        session,
        actor=scope.username,
        action="subsidy_approve",
        entity="subsidy",
        entity_id=f"{teacher}|{label(month)}",
        district_code=district_code,
        detail=f"approval={approval.id} amount_fen={approval.amount_fen} "
        f"visits={approval.visits} approved_visits={approval.approved_visits}",
    )
    return approval


def take_back(session: Session, *, scope: Scope, approval_id: int, reason: str) -> SubsidyApproval:
    """Take back a live approval, with a reason (kept with the row and in the audit log)."""
    reason = reason.strip()
    if not reason:
        raise DomainError("subsidy.reason_required")
    if len(reason) > REASON_LIMIT:
        raise DomainError("subsidy.reason_too_long", limit=REASON_LIMIT)
    lock_changes(session)
    approval = session.get(SubsidyApproval, approval_id)
    if approval is None or not scope.sees_district(approval.district_code):
        raise DomainError("not_found")
    _require_coordinator(scope, approval.district_code)
    if approval.revoked_at is not None:
        raise DomainError("subsidy.already_revoked")
    approval.revoked_by, approval.revoked_at = scope.username, utcnow()
    approval.revoke_reason = reason
    session.add(approval)
    audit.record(
        session,
        actor=scope.username,
        action="subsidy_revoke",
        entity="subsidy",
        entity_id=f"{approval.teacher}|{label(approval.month)}",
        district_code=approval.district_code,
        detail=f"approval={approval.id} amount_fen={approval.amount_fen} reason={reason}",
    )
    return approval


def _require_coordinator(scope: Scope, district_code: str) -> None:
    if scope.role == Role.ADMIN:
        raise DomainError("subsidy.admin_read_only")
    if scope.role != Role.COORDINATOR:
        raise DomainError("forbidden")
    if not scope.sees_district(district_code):
        raise DomainError("not_found")


def _live(session: Session, teacher: str, month: int) -> SubsidyApproval | None:
    return session.exec(
        select(SubsidyApproval).where(
            SubsidyApproval.teacher == teacher,
            SubsidyApproval.month == month,
            col(SubsidyApproval.revoked_at).is_(None),
        )
    ).first()


def _approvals(
    session: Session, scope: Scope, code: str | None, month: int
) -> list[SubsidyApproval]:
    query = select(SubsidyApproval).where(
        SubsidyApproval.month == month, col(SubsidyApproval.revoked_at).is_(None)
    )
    return list(session.exec(_in_scope(query, scope, code)))


def _in_scope(query: Any, scope: Scope, code: str | None) -> Any:
    if code:
        return query.where(SubsidyApproval.district_code == code)
    if scope.role != Role.ADMIN:
        return query.where(SubsidyApproval.district_code == scope.district_code)
    return query
