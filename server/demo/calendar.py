"""The demo's term and its working days."""

from datetime import date, timedelta

from shared.terms import parse_term

TERM_ID = "2025-1"
TERM = parse_term(TERM_ID)
POLICY_FROM = date(2025, 9, 1)  # 淳安县's per-km policy takes effect
# 国庆 and 中秋 (1-8 Oct 2025) and New Year's Day: nobody visits.
HOLIDAYS = frozenset([date(2025, 10, d) for d in range(1, 9)] + [date(2026, 1, 1)])
OVERLAP_FROM = date(2025, 11, 1)  # the planned overlap falls on or after this day
REVIEWED_UNTIL = date(2025, 10, 31)  # reviewing coordinators have approved clean visits so far


def _teaching_days() -> list[date]:
    days, day = [], TERM.teaching_start
    while day <= TERM.teaching_end:
        if day.weekday() < 5 and day not in HOLIDAYS:
            days.append(day)
        day += timedelta(days=1)
    return days


TEACHING_DAYS = _teaching_days()
