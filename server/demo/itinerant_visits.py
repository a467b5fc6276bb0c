"""Itinerant guidance: visits spread over the term, most schools twice or more, some once,
some never (by each district's coverage profile)."""

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta

from server.demo import profiles, words
from server.demo.planner import NAMESPACE, PlannedVisit, Slot, VisitPlanner
from server.demo.rows import SchoolRow
from shared.domain import ItinerantPurpose, VisitKind


def plan_itinerant(p: VisitPlanner, username: str, schools: list[SchoolRow]) -> None:
    """The term's visits of ``username`` to ``schools``, appended to ``p.visits``."""
    rng, by_day = p.rng, defaultdict[date, list[Slot]](list)
    teaching_days = p.calendar.teaching_days
    for school, visits in zip(schools, _visit_counts(p, len(schools)), strict=True):
        size = len(teaching_days) / max(visits, 1)
        for i in range(visits):  # one visit in each part of the term
            chunk = teaching_days[round(i * size) : round((i + 1) * size)]
            short = rng.random() < 0.05
            minutes = rng.randrange(20, 30, 5) if short else rng.randrange(60, 195, 15)
            by_day[rng.choice(chunk)].append(Slot(school, minutes))
    for day in sorted(by_day):
        for slot, start, end in p.timetable(day, by_day[day]):
            p.visits.append(_itinerant_visit(p, username, slot, start, end))


def _visit_counts(p: VisitPlanner, n: int) -> list[int]:
    """Visits per school by quota (not by independent draws, which can leave a whole district
    at zero): the profile's share of schools never or once visited, the rest twice or three
    times."""
    never, once, twice, thrice = profiles.ITINERANT_VISITS[p.roster.profile.coverage]
    zeros, ones = round(n * never), round(n * once)
    rest = [3 if p.rng.random() < thrice / (twice + thrice) else 2 for _ in range(n)]
    counts = [0] * zeros + [1] * ones + rest[: max(0, n - zeros - ones)]
    p.rng.shuffle(counts)
    return counts


def _itinerant_visit(
    p: VisitPlanner, username: str, slot: Slot, start: datetime, end: datetime
) -> PlannedVisit:
    rng, school = p.rng, slot.subject
    assert isinstance(school, SchoolRow)
    evidence = p.evidence()
    check_in, check_out = p.positions((school.lat, school.lon), evidence)
    hosted = p.regulars[school.id]
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
        "purposes": [x.value for x in rng.sample(list(ItinerantPurpose), rng.randint(1, 3))],
        "students_seen": [s.id for s in seen],
        "findings": rng.choice(words.FINDINGS),
        "recommendations": [
            {"text": rng.choice(words.RECOMMENDATIONS), "due_date": due.isoformat()}
        ],
        "photos": p.pick_photos(0.6),
        "travel": p.travel([]),
    }
    if not all(s.photo_consent for s in seen):  # as the app allows (shared/consent.py)
        record["photos"] = []
    return PlannedVisit(key, username, school.district_code, start.date(), record, evidence)
