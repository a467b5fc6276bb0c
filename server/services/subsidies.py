"""The month's travel subsidies per district and teacher: counted visits, what they claim, and
what is payable once the monthly cap per teacher of the policy that settles the month is applied
(shared.compliance.capped_subsidy, shared.judge.policy_for_month). Read by the console's sheet
and by the approvals (services/subsidy_approvals.py)."""

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func

from server.models import Visit
from server.scope import Scope
from server.services.policies import load_versions
from shared.compliance import capped_subsidy
from shared.domain import ReviewStatus
from shared.judge import policy_for_month


def subsidy_rows(
    session: Session, scope: Scope, code: str | None, month: int
) -> list[dict[str, Any]]:
    """Per district and teacher, the month's counted visits and subsidy, capped by the policy
    that settles the month (shared.judge.policy_for_month)."""
    is_ok = col(Visit.review_status) == ReviewStatus.APPROVED
    conds: list[Any] = [
        scope.visits(),
        col(Visit.counted).is_(True),
        Visit.local_month == month,
    ]
    if code:
        conds.append(Visit.district_code == code)
    query = (
        sa.select(
            col(Visit.district_code),
            col(Visit.teacher),
            func.count(),
            func.sum(sa.case((is_ok, 1), else_=0)),
            func.sum(col(Visit.distance_m)),
            func.sum(col(Visit.subsidy_fen)),
            func.sum(sa.case((is_ok, col(Visit.subsidy_fen)), else_=0)),
        )
        .where(*conds)
        .group_by(col(Visit.district_code), col(Visit.teacher))
        .order_by(col(Visit.district_code), col(Visit.teacher))
    )
    versions = load_versions(session)
    rows = []
    # sqlmodel types select() only up to four columns; the query is plain SQLAlchemy.
    grouped = session.exec(query)  # type: ignore[call-overload]
    for district_code, teacher, n, n_ok, metres, fen, ok_fen in grouped:
        cap = policy_for_month(versions, district_code, month).monthly_cap_fen
        rows.append(
            {
                "district_code": district_code,
                "teacher": teacher,
                "visits": int(n),
                "approved_visits": int(n_ok or 0),
                "distance_m": int(metres or 0),
                "claimed_fen": int(fen or 0),
                "cap_fen": cap,
                "payable_fen": capped_subsidy({(teacher, month): int(fen or 0)}, cap),
                "approved_fen": capped_subsidy({(teacher, month): int(ok_fen or 0)}, cap),
            }
        )
    return rows


__all__ = ["subsidy_rows"]
