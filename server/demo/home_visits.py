"""Home-teaching sessions: each child has a weekly slot; some children get the monthly
standard, some fall short. One teacher records a session twice and one squeezes a make-up
session into another child's day, so that the pairwise flags have something to show."""

import random
import uuid
from collections import defaultdict
from datetime import date, datetime

from server.demo import profiles, words
from server.demo.planner import NAMESPACE, PlannedVisit, Slot, VisitPlanner
from server.demo.rows import StudentRow
from shared.compliance import required_sessions
from shared.domain import VisitKind
from shared.policy import DEFAULT_POLICY
from shared.terms import month_of

DUPLICATE_IN = "330182"  # a teacher records one session twice


def plan_home(p: VisitPlanner, username: str, children: list[StudentRow]) -> None:
    """The term's sessions of ``username`` with ``children``, appended to ``p.visits``."""
    rng, by_day = p.rng, defaultdict[date, list[Slot]](list)
    term, teaching_days = p.calendar.term, p.calendar.teaching_days
    weights = profiles.SERVICE_PROFILES[p.area]
    first_weekday = rng.randrange(5)
    for idx, child in enumerate(children):
        weekday = (first_weekday + idx) % 5  # each child has a weekly slot
        profile = rng.choices(("meets", "weekly", "sparse"), weights)[0]
        for month in term.months():
            days = [d for d in teaching_days if month_of(d) == month]
            if not days:
                continue
            preferred = [d for d in days if d.weekday() == weekday]
            owed = required_sessions(term, month, DEFAULT_POLICY, term.end)
            if profile == "meets":
                n = owed + int(rng.random() < 0.3)
            elif profile == "weekly":  # one a week, minus a week of illness now and then
                n = len(preferred) - int(rng.random() < 0.25)
            else:
                n = rng.randint(max(1, owed - 2), max(1, owed - 1))
            for day in _pick_days(rng, days, preferred, n):
                short = profile != "meets" and rng.random() < 0.08
                minutes = rng.randrange(30, 50, 5) if short else rng.randrange(60, 125, 5)
                by_day[day].append(Slot(child, minutes))
    if p.roster.profile.code == DUPLICATE_IN and username.endswith("_1") and children:
        first = children[0]
        days = sorted(d for d, slots in by_day.items() if any(s.subject == first for s in slots))
        by_day[days[min(5, len(days) - 1)]].append(Slot(first, 60, duplicate=True))
    if p.overlap_pending and len(children) >= 2:
        # A make-up session squeezed into a day with another child: the two records overlap.
        first, second = children[0], children[1]
        overlap_day = min(
            (
                d
                for d, slots in by_day.items()
                if d >= p.calendar.overlap_from
                and any(s.subject == first for s in slots)
                and all(s.subject != second for s in slots)
            ),
            default=None,  # a city's term too short for it
        )
        if overlap_day is not None:
            by_day[overlap_day].append(Slot(second, 60))
    colleagues = [u for u in p.roster.caseload if u != username]
    for day in sorted(by_day):
        for slot, start, end in p.timetable(day, by_day[day]):
            p.visits.append(_home_visit(p, username, slot, start, end, colleagues))


def _home_visit(
    p: VisitPlanner,
    username: str,
    slot: Slot,
    start: datetime,
    end: datetime,
    colleagues: list[str],
) -> PlannedVisit:
    rng, child = p.rng, slot.subject
    assert isinstance(child, StudentRow)
    evidence = p.evidence()
    check_in, check_out = p.positions((child.home_lat, child.home_lon), evidence)
    photos = p.pick_photos(0.75) if child.photo_consent else []
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
        "travel": p.travel(shared),
    }
    return PlannedVisit(
        key, username, child.district_code, start.date(), record, evidence, slot.duplicate
    )


def _pick_days(rng: random.Random, days: list[date], preferred: list[date], n: int) -> list[date]:
    """``n`` days of ``days``: the child's weekly slot first, other days when it is not enough."""
    n = max(0, min(n, len(days)))
    if n <= len(preferred):
        return sorted(rng.sample(preferred, n))
    others = [d for d in days if d not in preferred]
    return sorted(preferred + rng.sample(others, n - len(preferred)))
