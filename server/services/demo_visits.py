"""The demo term's visits, a pure function of a district's roster and its generator.

Home-teaching sessions follow each child's weekly slot: some children get the monthly standard,
some fall short. Itinerant visits are spread over the term, most schools twice or more, some once,
some never. A few records carry weak evidence on purpose (a check-in far away, no GPS, poor
accuracy, too short, an overlap, a double entry) so that the server's flags and the coordinator's
review have something to show. The server computes every flag, distance and subsidy itself: the
records are pushed through the real sync path (see ``demo.py``).
"""

import hashlib
import io
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from PIL import Image, ImageDraw

from server.services import demo_data as words
from server.services.demo_plan import (
    SEED,
    TERM_ID,
    DistrictRoster,
    SchoolRow,
    StudentRow,
    around,
)
from shared.compliance import required_sessions
from shared.domain import ItinerantPurpose, Placement, ReviewStatus, TravelMode, VisitKind
from shared.policy import DEFAULT_POLICY
from shared.terms import SHANGHAI, parse_term

NAMESPACE = uuid.UUID("6f1d3c52-5b7e-4c1a-9a3e-2d0c5e8b7a41")
TERM = parse_term(TERM_ID)
# 国庆 and 中秋 (1-8 Oct 2025) and New Year's Day: nobody visits.
HOLIDAYS = frozenset([date(2025, 10, d) for d in range(1, 9)] + [date(2026, 1, 1)])
DUPLICATE_IN = "330182"  # a teacher records one session twice
OVERLAP_IN = "330122"  # a teacher's two records overlap in time
OVERLAP_FROM = date(2025, 11, 1)
REJECT_FAR_IN = ("330112", "330182")  # coordinators who reject a far-away check-in
REVIEWED_UNTIL = date(2025, 10, 31)  # reviewing coordinators have approved clean visits so far


def _teaching_days() -> list[date]:
    days, day = [], TERM.teaching_start
    while day <= TERM.teaching_end:
        if day.weekday() < 5 and day not in HOLIDAYS:
            days.append(day)
        day += timedelta(days=1)
    return days


TEACHING_DAYS = _teaching_days()


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


@dataclass(frozen=True)
class DemoPhoto:
    sha256: str
    data: bytes
    uploader: str


@dataclass
class _Slot:
    subject: StudentRow | SchoolRow
    minutes: int
    duplicate: bool = False


@dataclass
class VisitPlanner:
    roster: DistrictRoster
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

    # -- home teaching ----------------------------------------------------------------------

    def home(self, username: str, children: list[StudentRow]) -> None:
        rng, by_day = self.rng, defaultdict(list)
        weights = words.SERVICE_PROFILES[self.area]
        first_weekday = rng.randrange(5)
        for idx, child in enumerate(children):
            weekday = (first_weekday + idx) % 5  # each child has a weekly slot
            profile = rng.choices(("meets", "weekly", "sparse"), weights)[0]
            for month in TERM.months():
                days = [d for d in TEACHING_DAYS if d.year * 100 + d.month == month]
                if not days:
                    continue
                preferred = [d for d in days if d.weekday() == weekday]
                owed = required_sessions(TERM, month, DEFAULT_POLICY, TERM.end)
                if profile == "meets":
                    n = owed + int(rng.random() < 0.3)
                elif profile == "weekly":  # one a week, minus a week of illness now and then
                    n = len(preferred) - int(rng.random() < 0.25)
                else:
                    n = rng.randint(max(1, owed - 2), max(1, owed - 1))
                for day in _pick_days(rng, days, preferred, n):
                    short = profile != "meets" and rng.random() < 0.08
                    minutes = rng.randrange(30, 50, 5) if short else rng.randrange(60, 125, 5)
                    by_day[day].append(_Slot(child, minutes))
        if self.roster.profile.code == DUPLICATE_IN and username.endswith("_1") and children:
            first = children[0]
            days = sorted(
                d for d, slots in by_day.items() if any(s.subject == first for s in slots)
            )
            by_day[days[min(5, len(days) - 1)]].append(_Slot(first, 60, duplicate=True))
        if self.overlap_pending and len(children) >= 2:
            # A make-up session squeezed into a day with another child: the two records overlap.
            first, second = children[0], children[1]
            day = min(
                d
                for d, slots in by_day.items()
                if d >= OVERLAP_FROM
                and any(s.subject == first for s in slots)
                and all(s.subject != second for s in slots)
            )
            by_day[day].append(_Slot(second, 60))
        colleagues = [u for u in self.roster.caseload if u != username]
        for day in sorted(by_day):
            for slot, start, end in self._timetable(day, by_day[day]):
                self.visits.append(self._home_visit(username, slot, start, end, colleagues))

    def _home_visit(
        self, username: str, slot: _Slot, start: datetime, end: datetime, colleagues: list[str]
    ) -> PlannedVisit:
        rng, child = self.rng, slot.subject
        assert isinstance(child, StudentRow)
        evidence = self._evidence()
        check_in, check_out = self._positions((child.home_lat, child.home_lon), evidence)
        photos = self._pick_photos(0.75) if child.photo_consent else []
        # Now and then a colleague rides along: the trip is then paid once, split.
        shared = [rng.choice(colleagues)] if colleagues and rng.random() < 0.1 else []
        key = f"home:{child.id}:{start.date().isoformat()}:{2 if slot.duplicate else 1}"
        record = {
            "id": str(uuid.uuid5(NAMESPACE, f"visit:{key}")),
            "kind": VisitKind.HOME_TEACHING.value,
            "student_id": child.id,
            "started_at": start.isoformat(),
            "ended_at": end.isoformat(),
            "check_in": check_in,
            "check_out": check_out,
            "content": rng.choice(words.CONTENTS),
            "iep_goals": rng.sample(child.iep_goals, rng.randint(1, 2)),
            "student_response": rng.choice(words.RESPONSES),
            "guardian_guidance": rng.choice(words.GUIDANCE),
            "photos": photos,
            "travel": self._travel(shared),
        }
        return PlannedVisit(
            key, username, child.district_code, start.date(), record, evidence, slot.duplicate
        )

    # -- itinerant guidance -----------------------------------------------------------------

    def itinerant(self, username: str, schools: list[SchoolRow]) -> None:
        rng, by_day = self.rng, defaultdict(list)
        for school, visits in zip(schools, self._visit_counts(len(schools)), strict=True):
            size = len(TEACHING_DAYS) / max(visits, 1)
            for i in range(visits):  # one visit in each part of the term
                chunk = TEACHING_DAYS[round(i * size) : round((i + 1) * size)]
                short = rng.random() < 0.05
                minutes = rng.randrange(20, 30, 5) if short else rng.randrange(60, 195, 15)
                by_day[rng.choice(chunk)].append(_Slot(school, minutes))
        for day in sorted(by_day):
            for slot, start, end in self._timetable(day, by_day[day]):
                self.visits.append(self._itinerant_visit(username, slot, start, end))

    def _visit_counts(self, n: int) -> list[int]:
        """Visits per school by quota (not by independent draws, which can leave a whole
        district at zero): the profile's share of schools never or once visited, the rest
        twice or three times."""
        never, once, twice, thrice = words.ITINERANT_VISITS[self.roster.profile.coverage]
        zeros, ones = round(n * never), round(n * once)
        rest = [3 if self.rng.random() < thrice / (twice + thrice) else 2 for _ in range(n)]
        counts = [0] * zeros + [1] * ones + rest[: max(0, n - zeros - ones)]
        self.rng.shuffle(counts)
        return counts

    def _itinerant_visit(
        self, username: str, slot: _Slot, start: datetime, end: datetime
    ) -> PlannedVisit:
        rng, school = self.rng, slot.subject
        assert isinstance(school, SchoolRow)
        evidence = self._evidence()
        check_in, check_out = self._positions((school.lat, school.lon), evidence)
        hosted = self.regulars[school.id]
        seen = rng.sample(hosted, min(len(hosted), rng.randint(1, 3)))
        due = start.date() + timedelta(days=rng.randint(14, 45))
        key = f"itin:{username}:{school.id}:{start.date().isoformat()}"
        record = {
            "id": str(uuid.uuid5(NAMESPACE, f"visit:{key}")),
            "kind": VisitKind.ITINERANT.value,
            "school_id": school.id,
            "started_at": start.isoformat(),
            "ended_at": end.isoformat(),
            "check_in": check_in,
            "check_out": check_out,
            "purposes": [p.value for p in rng.sample(list(ItinerantPurpose), rng.randint(1, 3))],
            "students_seen": [s.id for s in seen],
            "findings": rng.choice(words.FINDINGS),
            "recommendations": [
                {"text": rng.choice(words.RECOMMENDATIONS), "due_date": due.isoformat()}
            ],
            "photos": self._pick_photos(0.6),
            "travel": self._travel([]),
        }
        if not all(s.photo_consent for s in seen):  # as the app allows (shared/consent.py)
            record["photos"] = []
        return PlannedVisit(key, username, school.district_code, start.date(), record, evidence)

    # -- shared pieces ----------------------------------------------------------------------

    def _timetable(self, day: date, slots: list[_Slot]) -> list[tuple[_Slot, datetime, datetime]]:
        """Daytime, one after another with travel in between (one overlap, where planned)."""
        rng, out = self.rng, list[tuple[_Slot, datetime, datetime]]()
        clock = _at(day, 8, 30) + timedelta(minutes=rng.randrange(0, 65, 5))
        overlap = self.overlap_pending and len(slots) >= 2 and day >= OVERLAP_FROM
        for slot in slots:
            if time(11, 15) < clock.time() < time(13, 30):  # lunch
                clock = _at(day, 13, 30) + timedelta(minutes=rng.randrange(0, 35, 5))
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

    def _evidence(self) -> str:
        far, no_gps, low = words.WEAK_EVIDENCE[self.area]
        draw = self.rng.random()
        if draw < far:
            return "far"
        if draw < far + no_gps:
            return "no_gps"
        return "low_accuracy" if draw < far + no_gps + low else "ok"

    def _positions(self, place: tuple[float, float], evidence: str) -> tuple[Any, Any]:
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

    def _pick_photos(self, chance: float) -> list[str]:
        if not self.photos or self.rng.random() >= chance:
            return []
        return sorted(self.rng.sample(self.photos, self.rng.randint(1, 2)))

    def _travel(self, shared: list[str]) -> dict[str, Any]:
        transit = self.area == "urban" and self.rng.random() < 0.15
        mode = TravelMode.PUBLIC_TRANSPORT if transit else TravelMode.CAR
        # origin None: the server measures from the teacher's base school.
        return {"origin": None, "mode": mode.value, "shared_with": shared}

    # -- the coordinator's review -----------------------------------------------------------

    def reviews(self) -> None:
        p = self.roster.profile
        if not p.reviewing:
            return
        reject_far = p.code in REJECT_FAR_IN
        for i, v in enumerate(self.visits):
            if v.duplicate:
                decision = (ReviewStatus.REJECTED.value, words.REJECT_DUPLICATE)
            elif reject_far and v.evidence == "far" and v.record["kind"] == "home_teaching":
                decision, reject_far = (ReviewStatus.REJECTED.value, words.REJECT_FAR), False
            elif v.day <= REVIEWED_UNTIL and v.evidence == "ok" and _long_enough(v):
                decision = (ReviewStatus.APPROVED.value, "")
            else:
                continue
            at = _at(v.day + timedelta(days=7), 10, 0) + timedelta(minutes=i % 90)
            self.visits[i] = replace(v, review=decision, reviewer=f"c_{p.code}", reviewed_at=at)


def plan_visits(roster: DistrictRoster) -> tuple[list[PlannedVisit], list[DemoPhoto]]:
    photos = demo_photos(roster)
    planner = VisitPlanner(roster, [p.sha256 for p in photos])
    for username, children in roster.caseload.items():
        planner.home(username, children)
    for username, schools in roster.rounds.items():
        planner.itinerant(username, schools)
    planner.reviews()
    return planner.visits, photos


def demo_photos(roster: DistrictRoster, count: int = 4) -> list[DemoPhoto]:
    """A few small real JPEGs (coloured shapes, like teaching cards), no metadata at all."""
    rng = random.Random(f"{SEED}-{roster.profile.code}-photos")
    uploader = next(iter(roster.caseload), roster.staff[0].username)
    out = []
    for _ in range(count):
        data = _image(rng)
        out.append(DemoPhoto(hashlib.sha256(data).hexdigest(), data, uploader))
    return out


def _image(rng: random.Random) -> bytes:
    background = tuple(rng.randint(215, 245) for _ in range(3))
    image = Image.new("RGB", (480, 360), background)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(4, 8)):
        x, y = rng.randint(0, 400), rng.randint(0, 280)
        box = (x, y, x + rng.randint(40, 140), y + rng.randint(40, 140))
        colour = tuple(rng.randint(40, 220) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _pick_days(rng: random.Random, days: list[date], preferred: list[date], n: int) -> list[date]:
    """``n`` days of ``days``: the child's weekly slot first, other days when it is not enough."""
    n = max(0, min(n, len(days)))
    if n <= len(preferred):
        return sorted(rng.sample(preferred, n))
    others = [d for d in days if d not in preferred]
    return sorted(preferred + rng.sample(others, n - len(preferred)))


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


def _long_enough(v: PlannedVisit) -> bool:
    started = datetime.fromisoformat(v.record["started_at"])
    ended = datetime.fromisoformat(v.record["ended_at"])
    policy = DEFAULT_POLICY
    home = v.record["kind"] == VisitKind.HOME_TEACHING
    minimum = policy.service_min_minutes if home else policy.itinerant_min_minutes
    return ended - started >= timedelta(minutes=minimum)
