"""A recommendation's due date as the date picker offers it (no flet).

The picker allows the days from the visit's own day (a due date before it is refused on save)
to the protocol's last date, and opens on the day already set or, for a new one, two weeks
from today: a day a school can act on, never an example in the past.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.terms import EARLIEST_DATE, LATEST_DATE

DUE_IN = timedelta(days=14)  # the day a new due date's picker opens on, from today


@dataclass(frozen=True)
class DueDateChoice:
    first: date  # the earliest day offered: the visit's day (today before 开始)
    last: date  # the protocol's last date (shared.terms.LATEST_DATE)
    shown: date  # the day the picker opens on
    today: date  # marked as today in the calendar


def due_date_choice(current: date | None, *, visit_day: date | None, today: date) -> DueDateChoice:
    """The picker for a due date now ``current`` (None: not set) of a visit on ``visit_day``."""
    first = _clamp(visit_day or today, EARLIEST_DATE, LATEST_DATE)
    shown = current or max(today, first) + DUE_IN
    return DueDateChoice(first, LATEST_DATE, _clamp(shown, first, LATEST_DATE), today)


def picked_day(value: datetime | date) -> date:
    """The calendar day the picker reports. Flutter picks a local midnight and Flet sends it as
    a UTC instant (2026-12-19T16:00Z for 20 December in China, 2026-12-20T08:00Z in
    California: seen in chromium), so the day is the one whose midnight lies nearest: right
    for every zone from UTC-11 to UTC+12. A date, or a naive time, is its own day."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.date()
    return (value.astimezone(UTC) + timedelta(hours=12)).date()


def _clamp(day: date, lo: date, hi: date) -> date:
    return min(max(day, lo), hi)
