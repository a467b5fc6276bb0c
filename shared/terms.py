"""School terms (学期) and the calendar.

A term id is ``YYYY-1`` (first term of the 学年 starting in YYYY: 1 Sep - 31 Jan) or ``YYYY-2``
(1 Feb - 31 Aug), unless the city's calendar gives other dates. Inside a term, the *teaching
period* excludes the winter and summer vacations; the service standard is only owed then.
All dates are local dates in Asia/Shanghai.
"""

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
TERM_ID = re.compile(r"^(\d{4})-([12])$")
MONTH_ID = re.compile(r"^(\d{4})-(\d{2})$")

# The window of every time and date the server accepts (docs/api.md). Python's datetime ends at
# year 9999, so a time near either end overflows as soon as a day is added or a zone applied;
# no visit, policy or school year of this system lies outside these hundred years.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # inclusive
END_TIME = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
EARLIEST_DATE = EARLIEST_TIME.date()  # inclusive
LATEST_DATE = date(2099, 12, 31)  # inclusive
EARLIEST_YEAR, LATEST_YEAR = EARLIEST_DATE.year, LATEST_DATE.year  # of term and month ids
WINDOW_TEXT = "2000-01-01T00:00Z <= t < 2100-01-01T00:00Z"  # for schema descriptions


class TermError(ValueError):
    """A term id that is not ``YYYY-1`` or ``YYYY-2`` with YYYY in the year window."""


class MonthError(ValueError):
    """A month that is not ``YYYY-MM`` with YYYY in the year window."""


def time_in_window(moment: datetime) -> datetime:
    """``moment`` itself; ValueError ``field.out_of_window`` outside [EARLIEST_TIME, END_TIME)."""
    if not EARLIEST_TIME <= moment < END_TIME:  # aware comparison: never overflows
        raise ValueError("field.out_of_window")
    return moment


def date_in_window(day: date) -> date:
    """``day`` itself; ValueError ``field.out_of_window`` outside [EARLIEST_DATE, LATEST_DATE]."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError("field.out_of_window")
    return day


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
            out.append(month_of(day))
            day = month_end(day) + timedelta(days=1)
        return out

    def covers_month(self, month: int) -> bool:
        """Whether every day of ``month`` lies in the term (a city calendar may start a term on
        8 September: that September is only partly the term's)."""
        first, last = month_bounds(month)
        return self.start <= first and last <= self.end

    def teaching_days(self, month: int, as_of: date | None = None) -> tuple[int, int]:
        """(teaching days in ``month`` up to ``as_of``, days in the month)."""
        first, last = month_bounds(month)
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
    """The term named ``term_id``; raises TermError when the id is malformed or its year lies
    outside [EARLIEST_YEAR, LATEST_YEAR] (the one parser of term ids: API, console and CLI)."""
    m = TERM_ID.match(term_id or "")
    if not m or not EARLIEST_YEAR <= int(m.group(1)) <= LATEST_YEAR:
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


def parse_month(month_id: str) -> tuple[date, date]:
    """(first day, last day) of the month ``YYYY-MM``; raises MonthError when malformed or its
    year lies outside [EARLIEST_YEAR, LATEST_YEAR] (the one parser of month ids)."""
    m = MONTH_ID.match(month_id or "")
    year, month = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    if not EARLIEST_YEAR <= year <= LATEST_YEAR or not 1 <= month <= 12:
        raise MonthError(month_id)
    return month_bounds(year * 100 + month)


# -- months: the one month arithmetic -----------------------------------------------------------


def month_of(day: date) -> int:
    """The month of a local date as ``YYYYMM`` (how months are stored and keyed)."""
    return day.year * 100 + day.month


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def month_bounds(month: int) -> tuple[date, date]:
    """(first day, last day) of the month ``YYYYMM``."""
    first = date(month // 100, month % 100, 1)
    return first, month_end(first)


def term_of(day: date, calendar: Mapping[str, TermDates] | None = None) -> Term:
    """The term a local date falls in."""
    for candidate in _candidates(day):
        try:
            term = parse_term(candidate, calendar)
        except TermError:  # January 2000 would be term 1999-1, before the window
            continue
        if term.contains(day):
            return term
    # A city calendar with a gap: the default split names the term, and the calendar still
    # gives its dates where it has that term. One id is one span everywhere: the console reads
    # a term by its id through the calendar, and a phone that took the default dates here owed
    # a child other sessions than the server did (tests/test_judge_agreement.py found it).
    year = max(EARLIEST_YEAR, day.year if day.month >= 9 else day.year - 1)
    return parse_term(f"{year}-{1 if day.month >= 9 or day.month == 1 else 2}", calendar)


def _candidates(day: date) -> Iterator[str]:
    for year in (day.year - 1, day.year):
        yield f"{year}-1"
        yield f"{year}-2"


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware instant."""
    return moment.astimezone(SHANGHAI).date()


def local_month(moment: datetime) -> int:
    """The Asia/Shanghai month of an aware instant, as ``YYYYMM``."""
    return month_of(local_date(moment))


# -- the city's calendar as data ----------------------------------------------------------------

TermCalendar = Mapping[str, TermDates]  # term id -> the city's dates for it
_DATE_FIELDS = ("start", "end", "teaching_start", "teaching_end")


def parse_calendar(raw: str | Mapping[str, Mapping[str, str]] | None) -> dict[str, TermDates]:
    """A city calendar from its JSON form ``{"2025-1": {"start": "2025-09-01", "end": ...,
    "teaching_start": ..., "teaching_end": ...}}`` (text or parsed); empty or None: no
    overrides. Raises ValueError when a term id, a field or a date is malformed, so that a
    server refuses to start with a calendar nobody can read."""
    data = json.loads(raw) if isinstance(raw, str) and raw.strip() else raw
    if not data:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError("a term calendar is an object of term ids")
    out: dict[str, TermDates] = {}
    for term_id, dates in data.items():
        parse_term(term_id)  # TermError (a ValueError) for a bad id
        if not isinstance(dates, Mapping) or set(dates) != set(_DATE_FIELDS):
            raise ValueError(f"term {term_id}: needs exactly {', '.join(_DATE_FIELDS)}")
        d = TermDates(**{k: date_in_window(date.fromisoformat(dates[k])) for k in _DATE_FIELDS})
        if not d.start <= d.teaching_start <= d.teaching_end <= d.end:
            raise ValueError(f"term {term_id}: start <= teaching_start <= teaching_end <= end")
        out[term_id] = d
    return out


def calendar_json(calendar: TermCalendar) -> dict[str, dict[str, str]]:
    """The JSON form ``parse_calendar`` reads, in term order."""
    return {
        term_id: {k: getattr(calendar[term_id], k).isoformat() for k in _DATE_FIELDS}
        for term_id in sorted(calendar)
    }


def calendar_tag(calendar: TermCalendar) -> str:
    """A short digest of the calendar's content: equal tags, equal calendars."""
    text = json.dumps(calendar_json(calendar), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
