"""The demo term's visits, a pure function of a district's roster and its generator."""

from server.demo.home_visits import plan_home
from server.demo.itinerant_visits import plan_itinerant
from server.demo.photos import DemoPhoto, demo_photos
from server.demo.planner import PlannedVisit, VisitPlanner
from server.demo.reviews import plan_reviews
from server.demo.rows import DistrictRoster


def plan_visits(roster: DistrictRoster) -> tuple[list[PlannedVisit], list[DemoPhoto]]:
    """The district's visits (with their planned reviews) and the photos they list. The order
    of the draws is fixed: teachers first, then instructors, in assignment order."""
    photos = demo_photos(roster)
    planner = VisitPlanner(roster, [p.sha256 for p in photos])
    for username, children in roster.caseload.items():
        plan_home(planner, username, children)
    for username, schools in roster.rounds.items():
        plan_itinerant(planner, username, schools)
    plan_reviews(planner)
    return planner.visits, photos
