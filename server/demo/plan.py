"""The whole demo data set for the day it is run, computed without touching the database."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from server.demo.calendar import DemoCalendar, demo_calendar
from server.demo.photos import DemoPhoto
from server.demo.planner import PlannedVisit
from server.demo.profiles import DISTRICTS
from server.demo.roster import ADMIN, build_roster
from server.demo.rows import DistrictRoster, StaffRow
from server.demo.visits import plan_visits
from shared.terms import TermDates


@dataclass
class Plan:
    calendar: DemoCalendar
    rosters: list[DistrictRoster]
    visits: list[PlannedVisit]
    photos: list[DemoPhoto]

    @property
    def staff(self) -> list[StaffRow]:
        return [ADMIN] + [s for r in self.rosters for s in r.staff]


def build_plan(today: date, calendar: Mapping[str, TermDates] | None = None) -> Plan:
    """The demo as it stands on ``today``: the roster, and the visits of the term in progress
    (server/demo/calendar.py) up to the day before. The same day gives the same data."""
    days = demo_calendar(today, calendar)
    rosters, visits, pictures = [], [], []
    for profile in DISTRICTS:
        roster = build_roster(profile)
        planned, district_photos = plan_visits(roster, days)
        rosters.append(roster)
        visits += planned
        pictures += district_photos
    return Plan(days, rosters, visits, pictures)
