"""My caseload: this month's sessions per child (送教), this term's visits per school (巡回).

The rules are the server's, from ``shared``: sessions owed by ``required_sessions`` (teaching days
only, so vacations owe nothing) under the policy that settles the month
(``shared.judge.policy_for_month``), the term by ``term_of`` over the pulled calendar. The phone
counts its own visits, local and synced alike: saved, not deleted, not refused by the server and
not rejected in review; a home session counts when the judge says it counts toward the standard
under the policy of its own day (``shared.judge.counts_for_service``). (The server also counts
other teachers' sessions with the same child; the phone sees only its own.)

Next session due, a pacing rule: the month's teaching days are shared evenly among the sessions
it requires, session *k* being due by day ceil(k x teaching days / required) of that stretch.
The next due date is that of session ``delivered + 1``; none once the month's number is reached.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from math import ceil
from typing import Any

from mobile.core.judged import service_session
from mobile.core.store import Store
from shared import judge
from shared.compliance import required_sessions
from shared.domain import VisitKind
from shared.terms import SHANGHAI, Term, month_end, month_of, term_of


@dataclass(frozen=True)
class NextDue:
    day: date
    overdue: bool  # the day has passed


@dataclass(frozen=True)
class ChildLoad:
    student: dict[str, Any]  # as pulled: name, address, guardian, iep_goals...
    delivered: int  # counted sessions this month
    required: int  # owed for the whole month
    owed_so_far: int  # owed up to today: what the coordinator's report checks
    min_minutes: int
    next_due: NextDue | None

    @property
    def met(self) -> bool:
        return self.delivered >= self.required


@dataclass(frozen=True)
class SchoolLoad:
    school: dict[str, Any]
    visits: int  # counted itinerant visits this term
    required: int
    term: str

    @property
    def covered(self) -> bool:
        return self.visits >= self.required


def today_local() -> date:
    return datetime.now(SHANGHAI).date()


def teacher_caseload(store: Store, today: date | None = None) -> list[ChildLoad]:
    """One row per child assigned to the signed-in teacher, by name."""
    today = today or today_local()
    term, month = term_of(today, store.calendar()), month_of(today)
    last_day = month_end(today)
    versions = store.policies()
    visits = [v for v in store.visits(month=month) if v.kind == VisitKind.HOME_TEACHING]
    rows = []
    for student in store.my_students():
        district = student.get("district_code") or ""
        policy = judge.policy_for_month(versions, district, month)
        delivered = sum(
            1
            for v in visits
            if v.subject_id == student["id"]
            and v.counted
            and service_session(v, versions, district)
        )
        required = required_sessions(term, month, policy, last_day)
        rows.append(
            ChildLoad(
                student=student,
                delivered=delivered,
                required=required,
                owed_so_far=required_sessions(term, month, policy, today),
                min_minutes=policy.service_min_minutes,
                next_due=next_session_due(term, today, required, delivered),
            )
        )
    return rows


def itinerant_caseload(store: Store, today: date | None = None) -> list[SchoolLoad]:
    """One row per school assigned to the signed-in itinerant instructor, by name."""
    today = today or today_local()
    term = term_of(today, store.calendar())
    versions = store.policies()
    visits = [
        v
        for month in term.months()
        for v in store.visits(month=month)
        if v.kind == VisitKind.ITINERANT and v.counted
    ]
    rows = []
    for school in store.my_schools():
        # As the server's report: the parameters in force on the term's last counted day.
        policy = judge.policy_for_term(versions, school.get("district_code") or "", term, today)
        count = sum(1 for v in visits if v.subject_id == school["id"])
        rows.append(SchoolLoad(school, count, policy.itinerant_visits_per_term, term.id))
    return rows


def next_session_due(term: Term, today: date, required: int, delivered: int) -> NextDue | None:
    """The pacing rule of the module docstring, for ``today``'s month."""
    first, last = today.replace(day=1), month_end(today)
    lo, hi = max(first, term.teaching_start), min(last, term.teaching_end)
    if required <= 0 or delivered >= required or lo > hi:
        return None
    days = (hi - lo).days + 1
    due = lo + timedelta(days=ceil((delivered + 1) * days / required) - 1)
    return NextDue(due, due < today)
