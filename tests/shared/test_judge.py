"""The judge's rules (shared.judge, shared.visit_time, shared.terms' months and calendar)."""

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import judge
from shared.domain import ReviewStatus, VisitKind
from shared.evidence import VisitFacts, own_flags
from shared.policy import PolicyParams, PolicyVersion
from shared.terms import (
    calendar_json,
    calendar_tag,
    month_bounds,
    month_end,
    parse_calendar,
    parse_term,
)
from shared.visit_time import duration_minutes, time_corrections, time_edits, too_short

CST = timezone(timedelta(hours=8))
START = datetime(2025, 10, 9, 4, 30, tzinfo=CST)


def _facts(seconds: int, **extra: object) -> VisitFacts:
    fields: dict = dict(
        id="v",
        teacher="t",
        kind=VisitKind.HOME_TEACHING,
        subject_id="S",
        started_at=START,
        ended_at=START + timedelta(seconds=seconds),
        check_in=(30.0, 120.0, 10.0),
        photo_count=1,
    )
    fields.update(extra)
    return VisitFacts(**fields)


def test_duration_is_whole_minutes_never_rounded_up() -> None:
    assert duration_minutes(START, START + timedelta(minutes=96, seconds=59)) == 96
    assert duration_minutes(START, START + timedelta(minutes=97)) == 97
    assert duration_minutes(START, START - timedelta(minutes=1)) == 0


@given(st.integers(0, 24 * 3600), st.sampled_from([30, 45, 60, 90]))
def test_a_visit_shown_short_of_the_minimum_is_the_one_flagged_and_not_counted(
    seconds: int, minimum: int
) -> None:
    policy = PolicyParams(service_min_minutes=minimum)
    visit = _facts(seconds)
    verdict = judge.judge_visit(visit, None, policy, START)
    shown_short = verdict.minutes < minimum
    assert ("short_duration" in verdict.flags) == shown_short
    assert verdict.service_session == (not shown_short)
    assert too_short(visit.kind, visit.started_at, visit.ended_at, policy) == shown_short


def test_an_itinerant_visit_never_counts_toward_the_service_standard() -> None:
    end = START + timedelta(hours=3)
    assert not judge.counts_for_service(VisitKind.ITINERANT, START, end, PolicyParams())


def test_only_deleted_or_rejected_visits_drop_out_of_the_counts() -> None:
    assert judge.in_counts(deleted=False, review_status=ReviewStatus.PENDING)
    assert judge.in_counts(deleted=False, review_status=ReviewStatus.APPROVED)
    assert judge.in_counts(deleted=False, review_status=None)
    assert not judge.in_counts(deleted=False, review_status=ReviewStatus.REJECTED)
    assert not judge.in_counts(deleted=True, review_status=ReviewStatus.APPROVED)


def test_a_time_typed_away_from_its_tap_beyond_the_tolerance_is_flagged() -> None:
    policy = PolicyParams(time_edit_tolerance_minutes=5)
    tapped = datetime(2025, 10, 9, 6, 6, tzinfo=CST)
    edited = _facts(96 * 60, check_in_at=tapped)
    (edit,) = time_edits(edited.started_at, edited.ended_at, tapped, None, policy)
    assert (edit.which, edit.minutes, edit.earlier) == ("check_in", 96, True)
    assert "time_edited" in own_flags(edited, None, policy, START)
    within = _facts(3600, check_in_at=START + timedelta(minutes=5))
    assert "time_edited" not in own_flags(within, None, policy, START)
    later = _facts(3600, check_out_at=START + timedelta(minutes=50))  # typed 10 min later
    (edit,) = time_edits(later.started_at, later.ended_at, None, later.check_out_at, policy)
    assert (edit.which, edit.minutes, edit.earlier) == ("check_out", 10, False)
    assert "time_edited" not in own_flags(_facts(3600), None, policy, START)  # no tap: no flag


def test_every_correction_is_one_the_flag_counts_only_those_beyond_the_tolerance() -> None:
    """One notion of "corrected" (to the minute: 已修改 on the phone, a line in the console) and
    the flag its subset beyond the tolerance."""
    policy = PolicyParams(time_edit_tolerance_minutes=5)
    start, end = START, START + timedelta(hours=1)
    same_minute = START + timedelta(seconds=40)  # typed again unchanged: no correction at all
    assert time_corrections(start, end, same_minute, None) == []
    three = START + timedelta(minutes=3)
    (small,) = time_corrections(start, end, three, None)
    assert (small.which, small.minutes, small.earlier) == ("check_in", 3, True)
    assert not judge.beyond_tolerance(small, policy)
    assert time_edits(start, end, three, None, policy) == []
    nine = end + timedelta(minutes=9)
    assert [e.which for e in time_corrections(start, end, three, nine)] == ["check_in", "check_out"]
    assert [e.which for e in time_edits(start, end, three, nine, policy)] == ["check_out"]


def test_a_month_is_settled_by_the_policy_in_force_on_its_last_day() -> None:
    def version(day: date, cap: int) -> PolicyVersion:
        return PolicyVersion(
            district_code="330127", effective_from=day, params=PolicyParams(monthly_cap_fen=cap)
        )

    versions = [version(date(2025, 9, 1), 100), version(date(2025, 10, 20), 200)]
    assert judge.policy_for_month(versions, "330127", 202509).monthly_cap_fen == 100
    assert judge.policy_for_month(versions, "330127", 202510).monthly_cap_fen == 200
    assert judge.policy_on(versions, "330127", date(2025, 10, 19)).monthly_cap_fen == 100
    term = parse_term("2025-1")
    assert judge.report_day(term, date(2025, 10, 5)) == date(2025, 10, 5)
    assert judge.report_day(term, date(2026, 3, 1)) == term.end


@given(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
def test_month_arithmetic(day: date) -> None:
    first, last = month_bounds(day.year * 100 + day.month)
    assert first == day.replace(day=1) and last == month_end(day)
    assert (last + timedelta(days=1)).day == 1 and last.month == day.month


def test_the_trip_runs_from_the_base_to_the_registered_place_else_the_check_in() -> None:
    policy = PolicyParams(subsidy_mode="per_km", fen_per_km=100)
    common = dict(kind=VisitKind.HOME_TEACHING, policy=policy, teacher="t")
    base, home = (29.70, 119.20), (29.61, 119.04)
    trip = judge.visit_trip(
        travel={"origin": None, "shared_with": []},
        base_place=base,
        registered_place=home,
        check_in={"lat": 0.0, "lon": 0.0},
        **common,
    )
    assert (trip.origin_source, trip.destination_source) == ("base_school", "home")
    # 36.850 km x 1.3 x 100 fen = 4790.5, rounded half up
    assert (trip.distance_m, trip.subsidy_fen) == (36_850, 4_791)
    to_check_in = judge.visit_trip(
        travel={},
        base_place=base,
        registered_place=None,
        check_in={"lat": 29.61, "lon": 119.04},
        **common,
    )
    assert to_check_in.destination_source == "check_in"
    assert to_check_in.distance_m == trip.distance_m
    unclaimed = judge.visit_trip(
        travel=None, base_place=base, registered_place=home, check_in=None, **common
    )
    assert (unclaimed.distance_m, unclaimed.subsidy_fen) == (0, 0)


def test_a_calendar_is_read_once_checked_and_tagged_by_content() -> None:
    text = (
        '{"2025-1": {"start": "2025-09-08", "end": "2026-01-31",'
        ' "teaching_start": "2025-09-08", "teaching_end": "2026-01-20"}}'
    )
    calendar = parse_calendar(text)
    assert parse_term("2025-1", calendar).start == date(2025, 9, 8)
    assert parse_calendar(calendar_json(calendar)) == calendar
    assert calendar_tag(calendar) == calendar_tag(parse_calendar(text)) != calendar_tag({})
    assert parse_calendar("") == {} and parse_calendar(None) == {}
    for bad in (
        '{"2025-3": {}}',
        '{"2025-1": {"start": "2025-09-08"}}',
        text.replace("2026-01-20", "2026-02-20"),  # teaching beyond the term's end
        "[1]",
    ):
        with pytest.raises(ValueError):
            parse_calendar(bad)
