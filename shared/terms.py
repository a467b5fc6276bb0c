"""School terms (学期) and the calendar.

A term id is ``YYYY-1`` (first term of the 学年 starting in YYYY: 1 Sep - 31 Jan) or ``YYYY-2``
(1 Feb - 31 Aug), unless the city's calendar gives other dates. Inside a term, the *teaching
period* excludes the winter and summer vacations; the service standard is only owed then.
All dates are local dates in Asia/Shanghai.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
TERM_ID = re.compile(r"^(\d{4})-([12])$")


class TermError(ValueError):
    """A term id that is not ``YYYY-1`` or ``YYYY-2``."""


@dataclass(frozen=True)
class Term:
    id: str
    start: date  # first day of the term, inclusive
    end: date  # last day of the term, inclusive
    teaching_start: date
    teaching_end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the term as UTC instants, for range queries on stored times."""
        lo = datetime.combine(self.start, time.min, SHANGHAI).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time.min, SHANGHAI).astimezone(UTC)
        return lo, hi

    def months(self) -> list[int]:
        """The months the term touches, as ``YYYYMM`` integers."""
        out, day = [], self.start.replace(day=1)
        while day <= self.end:
            out.append(day.year * 100 + day.month)
            day = (day + timedelta(days=32)).replace(day=1)
        return out

    def teaching_days(self, month: int, as_of: date | None = None) -> tuple[int, int]:
        """(teaching days in ``month`` up to ``as_of``, days in the month)."""
        first = date(month // 100, month % 100, 1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        lo = max(first, self.teaching_start)
        hi = min(last, self.teaching_end, as_of or last)
        return max(0, (hi - lo).days + 1), last.day


@dataclass(frozen=True)
class TermDates:
    """A city's override for one term: span and teaching period."""

    start: date
    end: date
    teaching_start: date
    teaching_end: date


def parse_term(term_id: str, calendar: Mapping[str, TermDates] | None = None) -> Term:
    """The term named ``term_id``; raises TermError when the id is malformed."""
    m = TERM_ID.match(term_id or "")
    if not m:
        raise TermError(term_id)
    if calendar and term_id in calendar:
        d = calendar[term_id]
        return Term(term_id, d.start, d.end, d.teaching_start, d.teaching_end)
    year, half = int(m.group(1)), int(m.group(2))
    if half == 1:
        # Winter vacation usually starts in the last third of January.
        return Term(
            term_id,
            date(year, 9, 1),
            date(year + 1, 1, 31),
            date(year, 9, 1),
            date(year + 1, 1, 23),
        )
    # Term 2 teaching runs from about mid-February to early July.
    return Term(
        term_id,
        date(year + 1, 2, 1),
        date(year + 1, 8, 31),
        date(year + 1, 2, 16),
        date(year + 1, 7, 3),
    )


def term_of(day: date, calendar: Mapping[str, TermDates] | None = None) -> Term:
    """The term a local date falls in."""
    for candidate in _candidates(day):
        term = parse_term(candidate, calendar)
        if term.contains(day):
            return term
    # A city calendar with a gap: fall back to the default split.
    year = day.year if day.month >= 9 else day.year - 1
    return parse_term(f"{year}-{1 if day.month >= 9 or day.month == 1 else 2}")


def _candidates(day: date) -> Iterator[str]:
    for year in (day.year - 1, day.year):
        yield f"{year}-1"
        yield f"{year}-2"


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware instant."""
    return moment.astimezone(SHANGHAI).date()


def local_month(moment: datetime) -> int:
    d = local_date(moment)
    return d.year * 100 + d.month
