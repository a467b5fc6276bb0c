"""Which term the demo covers on the day it is run, and that term's working days.

The demo covers the term in progress up to the day before ``today``: the latest term whose
teaching has begun before ``today`` (shared.terms, with the city's calendar when one is set).
In a vacation (the summer one, or the winter one once term 2's span has begun but not its
teaching) that is the term just ended, in full.

The visits are planned over the whole term and then cut at ``today`` (server/demo/visits.py), so
the data of a later day of the same term holds that of an earlier day unchanged: loading the
demo again a day later only adds the day's visits and the reviews that have come due.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from shared.terms import Term, TermDates, parse_term, term_of

# The fixed-date public holidays that fall in teaching time: 元旦, 清明 (about 4-6 Apr), 劳动节,
# 国庆 (1-7 Oct). The lunar ones move and are left out; 2025's 中秋 joined 国庆 up to 8 Oct.
FIXED_HOLIDAYS = frozenset(
    [(1, 1), (4, 4), (4, 5), (4, 6)]
    + [(5, d) for d in range(1, 6)]
    + [(10, d) for d in range(1, 8)]
)
EXTRA_HOLIDAYS = frozenset([date(2025, 10, 8)])
# 淳安县's per-km policy took effect with term 2025-1 (or with an earlier demo term).
PER_KM_SINCE = date(2025, 9, 1)


@dataclass(frozen=True)
class DemoCalendar:
    today: date  # the day the demo is run: it covers the days before it
    term: Term
    teaching_days: list[date] = field(compare=False)  # the whole term's weekdays, less holidays

    @property
    def last_day(self) -> date:
        """The last day the demo covers: yesterday, or the term's last teaching day."""
        return min(self.today - timedelta(days=1), self.term.teaching_end)

    @property
    def policy_from(self) -> date:
        return min(PER_KM_SINCE, self.term.start)

    @property
    def reviewed_until(self) -> date:
        """Reviewing coordinators have approved the clean visits of the first two months."""
        return _month_start(self.term.teaching_start, 2) - timedelta(days=1)

    @property
    def overlap_from(self) -> date:
        """The planned overlap falls in the term's third month or later."""
        return _month_start(self.term.teaching_start, 2)


def demo_calendar(today: date, calendar: Mapping[str, TermDates] | None = None) -> DemoCalendar:
    term = demo_term(today, calendar)
    return DemoCalendar(today, term, _teaching_days(term))


def demo_term(today: date, calendar: Mapping[str, TermDates] | None = None) -> Term:
    """The latest term whose teaching began before ``today``."""
    term = parse_term(term_of(today, calendar).id, calendar)  # the city's dates, in a gap too
    while term.teaching_start >= today:
        year, half = term.id.split("-")
        term = parse_term(f"{year}-1" if half == "2" else f"{int(year) - 1}-2", calendar)
    return term


def is_holiday(day: date) -> bool:
    return (day.month, day.day) in FIXED_HOLIDAYS or day in EXTRA_HOLIDAYS


def _teaching_days(term: Term) -> list[date]:
    days, day = [], term.teaching_start
    while day <= term.teaching_end:
        if day.weekday() < 5 and not is_holiday(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _month_start(day: date, months_later: int) -> date:
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)
