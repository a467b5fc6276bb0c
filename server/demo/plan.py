"""The whole demo data set, computed without touching the database."""

from dataclasses import dataclass

from server.demo.photos import DemoPhoto
from server.demo.planner import PlannedVisit
from server.demo.profiles import DISTRICTS
from server.demo.roster import ADMIN, build_roster
from server.demo.rows import DistrictRoster, StaffRow
from server.demo.visits import plan_visits


@dataclass
class Plan:
    rosters: list[DistrictRoster]
    visits: list[PlannedVisit]
    photos: list[DemoPhoto]

    @property
    def staff(self) -> list[StaffRow]:
        return [ADMIN] + [s for r in self.rosters for s in r.staff]


def build_plan() -> Plan:
    rosters, visits, pictures = [], [], []
    for profile in DISTRICTS:
        roster = build_roster(profile)
        planned, district_photos = plan_visits(roster)
        rosters.append(roster)
        visits += planned
        pictures += district_photos
    return Plan(rosters, visits, pictures)
