"""The coordinators' planned decisions, through ``review.review_visit`` as the console
makes them."""

from sqlmodel import Session, col, select

from server.demo.plan import Plan
from server.demo.summary import Tally
from server.models import User, Visit
from server.scope import Scope
from server.services import review


def apply_reviews(session: Session, plan: Plan, tally: Tally) -> None:
    """Decide the planned reviews still pending; a visit already decided is left as it is."""
    planned = [v for v in plan.visits if v.review and v.reviewer]
    status: dict[str, tuple[str, bool]] = {}
    for i in range(0, len(planned), 500):
        ids = [v.id for v in planned[i : i + 500]]
        for vid, state, deleted in session.exec(
            select(Visit.id, Visit.review_status, Visit.deleted).where(col(Visit.id).in_(ids))
        ):
            status[vid] = (state, deleted)
    reviewers = {v.reviewer for v in planned}
    scopes = {
        u.username: Scope.of(u)
        for u in session.exec(select(User).where(col(User.username).in_(reviewers)))
    }
    for v in planned:
        if status.get(v.id) != ("pending", False):
            continue
        assert v.review is not None and v.reviewer is not None
        decision, reason = v.review
        review.review_visit(
            session,
            scope=scopes[v.reviewer],
            visit_id=v.id,
            decision=decision,
            reason=reason,
            now=v.reviewed_at,
        )
        tally.reviews += 1
