"""The coordinators' review of the demo's visits: in the districts that have started, clean
visits of the first months approved, a double entry and a far-away check-in rejected."""

from dataclasses import replace
from datetime import datetime, timedelta

from server.demo import words
from server.demo.planner import PlannedVisit, VisitPlanner, at
from shared.domain import ReviewStatus, VisitKind
from shared.policy import DEFAULT_POLICY

REJECT_FAR_IN = ("330112", "330182")  # coordinators who reject a far-away check-in


def plan_reviews(p: VisitPlanner) -> None:
    """Sets the review of ``p.visits`` that the district's coordinator decides, a week after
    the visit (server/demo/visits.py keeps only those made before the demo's day)."""
    profile = p.roster.profile
    if not profile.reviewing:
        return
    reject_far = profile.code in REJECT_FAR_IN
    for i, v in enumerate(p.visits):
        if v.duplicate:
            decision = (ReviewStatus.REJECTED.value, words.REJECT_DUPLICATE)
        elif reject_far and v.evidence == "far" and v.record["kind"] == "home_teaching":
            decision, reject_far = (ReviewStatus.REJECTED.value, words.REJECT_FAR), False
        elif v.day <= p.calendar.reviewed_until and v.evidence == "ok" and _long_enough(v):
            decision = (ReviewStatus.APPROVED.value, "")
        else:
            continue
        when = at(v.day + timedelta(days=7), 10, 0) + timedelta(minutes=i % 90)
        p.visits[i] = replace(v, review=decision, reviewer=f"c_{profile.code}", reviewed_at=when)


def _long_enough(v: PlannedVisit) -> bool:
    started = datetime.fromisoformat(v.record["started_at"])
    ended = datetime.fromisoformat(v.record["ended_at"])
    policy = DEFAULT_POLICY
    home = v.record["kind"] == VisitKind.HOME_TEACHING
    minimum = policy.service_min_minutes if home else policy.itinerant_min_minutes
    return ended - started >= timedelta(minutes=minimum)
