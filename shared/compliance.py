"""The compliance arithmetic, once. Callers count; these functions decide.

Every function is pure: the server feeds them counts from SQL, the phone from its own store, and
the tests from hypothesis.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from shared.domain import Placement, SchoolKind, Stage
from shared.policy import PolicyParams
from shared.terms import Term


@dataclass(frozen=True)
class HomeDelivery:
    count: int
    total: int
    ratio: float
    cap: float
    over_cap: bool
    headroom: int


def counts_toward_cap(
    stage: str, placement: str, certified: bool, active: bool, policy: PolicyParams
) -> tuple[bool, bool]:
    """(in the denominator, in the numerator) of the home-delivery ratio for one child."""
    if not active or stage != Stage.COMPULSORY:
        return False, False
    if policy.count_certified_only and not certified:
        return False, False
    if placement == Placement.INSTITUTION and not policy.institution_in_denominator:
        return False, False
    return True, placement == Placement.HOME_DELIVERY


def home_delivery(count: int, total: int, cap: Decimal) -> HomeDelivery:
    """Ratio, cap and headroom = floor(cap x total) - count.

    ``headroom < 0`` exactly when ``count / total > cap``: both sides are exact in Decimal, and
    floor(cap*total) >= count  <=>  cap*total >= count for integer count.
    """
    if not 0 <= count <= total:
        raise ValueError("count must lie between 0 and total")
    allowed = int((cap * total).to_integral_value(rounding=ROUND_FLOOR))
    ratio = Decimal(count) / Decimal(total) if total else Decimal(0)
    return HomeDelivery(
        count=count,
        total=total,
        ratio=float(ratio.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)),
        cap=float(cap),
        over_cap=Decimal(count) > cap * total,
        headroom=allowed - count,
    )


def school_in_scope(kind: str, regular_class_students: int) -> bool:
    """An ordinary school hosting a 随班就读 student on roll must get itinerant visits."""
    return kind == SchoolKind.ORDINARY and regular_class_students > 0


@dataclass(frozen=True)
class Coverage:
    schools_in_scope: int
    schools_covered: int
    coverage: float
    required_visits: int
    uncovered_school_ids: list[str]


def itinerant_coverage(
    in_scope: Iterable[str], visits_per_school: Mapping[str, int], required: int
) -> Coverage:
    """Covered = at least ``required`` counted itinerant visits in the term."""
    schools = sorted(set(in_scope))
    uncovered = [s for s in schools if visits_per_school.get(s, 0) < required]
    covered = len(schools) - len(uncovered)
    return Coverage(
        schools_in_scope=len(schools),
        schools_covered=covered,
        # Exact: rounded once, where shown (rounding here too made 15/19 read 79.0%).
        coverage=covered / len(schools) if schools else 1.0,
        required_visits=required,
        uncovered_school_ids=uncovered,
    )


def required_sessions(term: Term, month: int, policy: PolicyParams, as_of: date) -> int:
    """Sessions owed in ``month``: the monthly standard prorated to teaching days up to ``as_of``.

    Vacation days owe nothing, so a July with three teaching days owes round(4 x 3/31) = 0.
    """
    teaching, days = term.teaching_days(month, as_of)
    owed = Decimal(policy.service_sessions_per_month * teaching) / Decimal(days)
    return int(owed.to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Service:
    students: int
    students_meeting_standard: int
    required_sessions_per_month: int
    min_minutes: int
    underserved_student_ids: list[str]
    months: dict[int, int] = field(default_factory=dict)  # month -> sessions owed


def service_standard(
    student_ids: Iterable[str],
    sessions: Mapping[tuple[str, int], int],
    term: Term,
    policy: PolicyParams,
    as_of: date,
    month_policy: Callable[[int], PolicyParams] | None = None,
) -> Service:
    """A child meets the standard when every month of the term so far got what it owed.

    ``sessions[(student_id, yyyymm)]`` counts the sessions that count toward the standard
    (``shared.judge.counts_for_service``). Each month owes what ``month_policy(month)`` asks
    (``shared.judge.policy_for_month``); without it, what ``policy`` asks.
    """
    of_month = month_policy or (lambda _month: policy)
    owed = {m: required_sessions(term, m, of_month(m), as_of) for m in term.months()}
    students = sorted(set(student_ids))
    under = [s for s in students if any(sessions.get((s, m), 0) < n for m, n in owed.items())]
    return Service(
        students=len(students),
        students_meeting_standard=len(students) - len(under),
        required_sessions_per_month=policy.service_sessions_per_month,
        min_minutes=policy.service_min_minutes,
        underserved_student_ids=under,
        months=owed,
    )


@dataclass(frozen=True)
class MonthDelivery:
    sessions: int  # sessions of at least the minimum length, summed over the children
    students_meeting: int  # children who got at least what the month owed


def month_delivery(
    student_ids: Iterable[str], sessions: Mapping[tuple[str, int], int], month: int, owed: int
) -> MonthDelivery:
    """One month of the service standard over the children owed home teaching, as
    ``service_standard`` judges each of them."""
    got = [sessions.get((s, month), 0) for s in set(student_ids)]
    return MonthDelivery(sessions=sum(got), students_meeting=sum(n >= owed for n in got))


def capped_subsidy(per_teacher_month: Mapping[tuple[str, int], int], cap_fen: int | None) -> int:
    """Total fen payable when each teacher's monthly sum is held to the policy's monthly cap."""
    if cap_fen is None:
        return sum(per_teacher_month.values())
    return sum(min(v, cap_fen) for v in per_teacher_month.values())


def capped_by_month(
    per_teacher_month: Mapping[tuple[str, int], int], cap_of_month: Callable[[int], int | None]
) -> int:
    """``capped_subsidy`` where each month has its own cap (``shared.judge.policy_for_month``)."""
    total = 0
    for (_teacher, month), fen in per_teacher_month.items():
        cap = cap_of_month(month)
        total += fen if cap is None else min(fen, cap)
    return total
