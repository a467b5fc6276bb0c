"""A recommendation's due date as the date picker offers it, and the day it reports."""

from datetime import UTC, date, datetime, timedelta, timezone

from mobile.core.due_date import DUE_IN, due_date_choice, picked_day
from shared.terms import LATEST_DATE

TODAY = date(2026, 12, 1)


def test_a_new_due_date_opens_two_weeks_ahead_and_no_earlier_than_the_visit() -> None:
    choice = due_date_choice(None, visit_day=TODAY, today=TODAY)
    assert choice.shown == date(2026, 12, 15) and choice.shown - TODAY == DUE_IN
    assert (choice.first, choice.last, choice.today) == (TODAY, LATEST_DATE, TODAY)
    # An older visit edited today: the days from that visit on; a new date still ahead of today.
    older = due_date_choice(None, visit_day=date(2026, 11, 20), today=TODAY)
    assert older.first == date(2026, 11, 20) and older.shown == date(2026, 12, 15)
    # Before 开始 there is no visit day: from today.
    assert due_date_choice(None, visit_day=None, today=TODAY).first == TODAY


def test_a_set_due_date_is_shown_and_kept_inside_the_window() -> None:
    assert due_date_choice(date(2027, 1, 8), visit_day=TODAY, today=TODAY).shown == date(2027, 1, 8)
    # A day the picker may not offer (the start was corrected to after it) opens on the first.
    early = due_date_choice(date(2026, 11, 1), visit_day=TODAY, today=TODAY)
    assert early.shown == early.first == TODAY
    late = due_date_choice(None, visit_day=LATEST_DATE, today=LATEST_DATE)
    assert late.shown == late.first == late.last == LATEST_DATE


def test_the_picked_day_is_the_local_midnight_flutter_sends_whatever_the_zone() -> None:
    day = date(2026, 12, 20)
    for hours in (-11, -8, 0, 5.5, 8, 12):
        zone = timezone(timedelta(hours=hours))
        midnight = datetime(2026, 12, 20, tzinfo=zone).astimezone(UTC)
        assert picked_day(midnight) == day, hours
    assert picked_day(datetime(2026, 12, 19, 16, tzinfo=UTC)) == day  # seen from China
    assert picked_day(datetime(2026, 12, 20)) == day and picked_day(day) == day
