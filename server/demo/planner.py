"""What every planned visit shares: the district's generator, the day's timetable, the evidence
a phone would capture (position, accuracy, photos) and the trip.

A few records carry weak evidence on purpose (a check-in far away, no GPS, poor accuracy) so
that the server's flags and the coordinator's review have something to show. The server
computes every flag, distance and subsidy itself: the records are pushed through the real sync
path (server/demo/fieldwork.py).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from server.demo import profiles
from server.demo.calendar import DemoCalendar
from server.demo.places import around
from server.demo.rows import DistrictRoster, SchoolRow, StudentRow
from shared.domain import Placement, TravelMode
from shared.terms import SHANGHAI

NAMESPACE = uuid.UUID("6f1d3c52-5b7e-4c1a-9a3e-2d0c5e8b7a41")  # of every demo id
OVERLAP_IN = "330122"  # a teacher's two records overlap in time


@dataclass(frozen=True)
class PlannedVisit:
    key: str  # stable name of this visit in the demo: its id and op ids derive from it
    username: str
    district_code: str
    day: date
    record: dict[str, Any]
    evidence: str = "ok"  # "ok" | "far" | "no_gps" | "low_accuracy" (what the plan put in)
    duplicate: bool = False
    review: tuple[str, str] | None = None  # (decision, reason)
    reviewer: str | None = None
    reviewed_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.record["id"]


@dataclass
class Slot:
    """One visit of a day, before its times are set."""

    subject: StudentRow | SchoolRow
    minutes: int
    duplicate: bool = False


@dataclass
class VisitPlanner:
    """One district's visits as they are planned, drawn from the roster's generator."""

    roster: DistrictRoster
    calendar: DemoCalendar
    photos: list[str]  # sha256 of the district's demo photos
    visits: list[PlannedVisit] = field(default_factory=list)
    overlap_pending: bool = False

    def __post_init__(self) -> None:
        self.rng = self.roster.rng
        self.area = self.roster.profile.area
        self.overlap_pending = self.roster.profile.code == OVERLAP_IN
        self.regulars: dict[str, list[StudentRow]] = defaultdict(list)
        for s in self.roster.students:
            if s.active and s.placement == Placement.REGULAR_CLASS:
                self.regulars[s.school_id].append(s)

    def timetable(self, day: date, slots: list[Slot]) -> list[tuple[Slot, datetime, datetime]]:
        """Daytime, one after another with travel in between (one overlap, where planned)."""
        rng, out = self.rng, list[tuple[Slot, datetime, datetime]]()
        clock = at(day, 8, 30) + timedelta(minutes=rng.randrange(0, 65, 5))
        overlap = self.overlap_pending and len(slots) >= 2 and day >= self.calendar.overlap_from
        for slot in slots:
            if time(11, 15) < clock.time() < time(13, 30):  # lunch
                clock = at(day, 13, 30) + timedelta(minutes=rng.randrange(0, 35, 5))
            start = clock
            if overlap and out:
                start, overlap, self.overlap_pending = (
                    out[-1][2] - timedelta(minutes=30),
                    False,
                    False,
                )
            end = start + timedelta(minutes=slot.minutes)
            out.append((slot, start, end))
            clock = end + timedelta(minutes=rng.randrange(30, 95, 5))
        return out

    def evidence(self) -> str:
        far, no_gps, low = profiles.WEAK_EVIDENCE[self.area]
        draw = self.rng.random()
        if draw < far:
            return "far"
        if draw < far + no_gps:
            return "no_gps"
        return "low_accuracy" if draw < far + no_gps + low else "ok"

    def positions(self, place: tuple[float, float], evidence: str) -> tuple[Any, Any]:
        """Check-in and check-out: near the registered place unless the plan says otherwise."""
        rng = self.rng
        if evidence == "no_gps":  # no signal in the valley: the phone got no fix
            return None, None
        if evidence == "far":
            (lat, lon), accuracy = around(rng, *place, 1.0, 3.0), rng.randint(5, 30)
        elif evidence == "low_accuracy":
            (lat, lon), accuracy = around(rng, *place, 0.02, 0.12), rng.choice((250, 300, 350))
        else:
            (lat, lon), accuracy = around(rng, *place, 0.005, 0.06), rng.randint(5, 30)
        out_lat, out_lon = around(rng, lat, lon, 0.0, 0.02)
        return (
            {"lat": lat, "lon": lon, "accuracy_m": float(accuracy)},
            {"lat": out_lat, "lon": out_lon, "accuracy_m": float(rng.randint(5, 30))},
        )

    def pick_photos(self, chance: float) -> list[str]:
        if not self.photos or self.rng.random() >= chance:
            return []
        return sorted(self.rng.sample(self.photos, self.rng.randint(1, 2)))

    def travel(self, shared: list[str]) -> dict[str, Any]:
        transit = self.area == "urban" and self.rng.random() < 0.15
        mode = TravelMode.PUBLIC_TRANSPORT if transit else TravelMode.CAR
        # origin None: the server measures from the teacher's base school.
        return {"origin": None, "mode": mode.value, "shared_with": shared}


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)
