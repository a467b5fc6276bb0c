"""What a run of ``songjiao demo`` did, and the summary it prints."""

from collections import Counter
from dataclasses import dataclass, field

from server.demo.plan import Plan
from server.demo.roster import ADMIN, PASSWORD
from shared.domain import Placement, VisitKind
from shared.messages import t

SHOWN_DISTRICT = "330127"  # the logins printed in the summary: a county over the cap


@dataclass
class Tally:
    roster: Counter = field(default_factory=Counter)  # added / updated / unchanged
    visits: Counter = field(default_factory=Counter)  # push statuses, plus "replaced"
    new_photos: int = 0
    reviews: int = 0
    rejected: list[str] = field(default_factory=list)


def summary(plan: Plan, tally: Tally, console_url: str) -> str:
    students = [s for r in plan.rosters for s in r.students]
    shown = next(r for r in plan.rosters if r.profile.code == SHOWN_DISTRICT)
    kinds = Counter(v.record["kind"] for v in plan.visits)
    lines = [
        t(
            "demo.loaded_term",
            term=plan.calendar.term.id,
            last_day=plan.calendar.last_day.isoformat(),
            today=plan.calendar.today.isoformat(),
        ),
        t(
            "demo.totals",
            districts=len(plan.rosters),
            schools=sum(1 + len(r.schools) for r in plan.rosters),
            special=len(plan.rosters),  # one special school per district
            students=len(students),
            home=sum(1 for s in students if s.placement == Placement.HOME_DELIVERY and s.active),
            staff=len(plan.staff),
            visits=len(plan.visits),
            home_visits=kinds[VisitKind.HOME_TEACHING],
            itinerant_visits=kinds[VisitKind.ITINERANT],
            photos=len(plan.photos),
        ),
        t(
            "demo.changes",
            added=tally.roster["added"],
            updated=tally.roster["updated"],
            unchanged=tally.roster["unchanged"],
            applied=tally.visits["applied"],
            duplicate=tally.visits["duplicate"],
            replaced=tally.visits["replaced"],
            new_photos=tally.new_photos,
            reviews=tally.reviews,
        ),
    ]
    if tally.rejected:
        detail = "；".join(tally.rejected[:5])
        lines.append(t("demo.rejected", count=len(tally.rejected), detail=detail))
    by_role = {s.role: s.username for s in reversed(shown.staff)}  # the first of each role
    lines += [
        t("demo.console", url=console_url),
        t("demo.logins", password=PASSWORD),
        t("demo.login_admin", username=ADMIN.username),
        t("demo.login_coordinator", username=by_role["coordinator"], district=shown.profile.name),
        t("demo.login_teacher", username=by_role["teacher"]),
        t("demo.login_itinerant", username=by_role["itinerant"]),
        t("demo.login_pattern"),
    ]
    return "\n".join(lines)
