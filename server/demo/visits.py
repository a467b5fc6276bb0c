"""The demo's visits, a pure function of a district's roster, its generator and the demo's day:
planned over the whole term, then cut at that day."""

from dataclasses import replace

from server.demo.calendar import DemoCalendar
from server.demo.home_visits import plan_home
from server.demo.itinerant_visits import plan_itinerant
from server.demo.photos import DemoPhoto, demo_photos
from server.demo.planner import PlannedVisit, VisitPlanner
from server.demo.reviews import plan_reviews
from server.demo.rows import DistrictRoster


def plan_visits(
    roster: DistrictRoster, calendar: DemoCalendar
) -> tuple[list[PlannedVisit], list[DemoPhoto]]:
    """The district's visits before ``calendar.today`` (with the reviews decided before it too)
    and the photos they list.

    The whole term is drawn, always in the same order (teachers first, then instructors, in
    assignment order), whatever the day: a later day of the term keeps every earlier visit and
    decision exactly as it was and adds the new ones.
    """
    photos = demo_photos(roster)
    planner = VisitPlanner(roster, calendar, [p.sha256 for p in photos])
    for username, children in roster.caseload.items():
        plan_home(planner, username, children)
    for username, schools in roster.rounds.items():
        plan_itinerant(planner, username, schools)
    plan_reviews(planner)
    return [_as_of(v, calendar) for v in planner.visits if v.day < calendar.today], photos


def _as_of(v: PlannedVisit, calendar: DemoCalendar) -> PlannedVisit:
    """``v`` as it stands on the demo's day: a review still to come is not made yet."""
    if v.reviewed_at is None or v.reviewed_at.date() < calendar.today:
        return v
    return replace(v, review=None, reviewer=None, reviewed_at=None)
