"""Terms, policy versions and the message catalogue."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shared.messages import CATALOGUES, ZH_CN, describe_validation_errors, t
from shared.policy import DEFAULT_POLICY, PolicyParams, PolicyVersion, policy_in_force
from shared.terms import (
    EARLIEST_TIME,
    END_TIME,
    MonthError,
    TermDates,
    TermError,
    local_month,
    parse_calendar,
    parse_month,
    parse_term,
    term_of,
    time_in_window,
)


def test_default_terms() -> None:
    first, second = parse_term("2025-1"), parse_term("2025-2")
    assert (first.start, first.end) == (date(2025, 9, 1), date(2026, 1, 31))
    assert (second.start, second.end) == (date(2026, 2, 1), date(2026, 8, 31))
    assert first.months() == [202509, 202510, 202511, 202512, 202601]


@pytest.mark.parametrize(
    "bad", ["2025", "2025-3", "25-1", "", "2025-1;drop", "9999-2", "0000-1", "1999-2", "2100-1"]
)
def test_bad_term_ids(bad: str) -> None:
    with pytest.raises(TermError):
        parse_term(bad)


def test_every_term_and_month_of_the_window_parses() -> None:
    assert parse_term("2000-1").start == date(2000, 9, 1)
    assert parse_term("2099-2").end == date(2100, 8, 31)
    assert parse_month("2000-01") == (date(2000, 1, 1), date(2000, 1, 31))
    assert parse_month("2099-12") == (date(2099, 12, 1), date(2099, 12, 31))
    assert term_of(date(2000, 1, 15)).id == "2000-1"  # 1999-1 lies before the window


@pytest.mark.parametrize("bad", ["9999-12", "0000-01", "1999-12", "2100-01", "2025-13", "2025-1"])
def test_bad_months(bad: str) -> None:
    with pytest.raises(MonthError):
        parse_month(bad)


def test_time_window_is_half_open_and_never_overflows() -> None:
    assert time_in_window(EARLIEST_TIME) == EARLIEST_TIME
    for bad in (END_TIME, datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)):
        with pytest.raises(ValueError, match="field.out_of_window"):
            time_in_window(bad)


def test_city_calendar_overrides_dates() -> None:
    calendar = {
        "2025-1": TermDates(
            date(2025, 8, 30), date(2026, 2, 5), date(2025, 9, 1), date(2026, 1, 20)
        )
    }
    assert parse_term("2025-1", calendar).end == date(2026, 2, 5)
    assert term_of(date(2026, 2, 3), calendar).id == "2025-1"
    assert term_of(date(2026, 2, 3)).id == "2025-2"


def test_a_day_in_the_calendars_gap_takes_the_calendars_dates_of_its_term() -> None:
    # Term 2025-1 starts on 2 September in this city; 1 September lies in no term. The default
    # split names it 2025-1, and that id means the city's dates, as it does to the console.
    calendar = parse_calendar(
        {
            "2025-1": {
                "start": "2025-09-02",
                "end": "2026-01-31",
                "teaching_start": "2025-09-07",
                "teaching_end": "2026-01-05",
            }
        }
    )
    term = term_of(date(2025, 9, 1), calendar)
    assert term == parse_term("2025-1", calendar)
    assert term.teaching_start == date(2025, 9, 7)


def test_local_month_is_shanghai() -> None:
    # 31 Oct 20:00 UTC is already 1 Nov in Hangzhou.
    assert local_month(datetime(2025, 10, 31, 20, tzinfo=UTC)) == 202511


def test_policy_in_force_prefers_district_and_latest() -> None:
    general = PolicyVersion(
        district_code=None,
        effective_from=date(2024, 1, 1),
        params=PolicyParams(home_delivery_cap=Decimal("0.08")),
    )
    own_old = PolicyVersion(
        district_code="330127",
        effective_from=date(2024, 9, 1),
        params=PolicyParams(home_delivery_cap=Decimal("0.07")),
    )
    own_new = PolicyVersion(
        district_code="330127",
        effective_from=date(2026, 1, 1),
        params=PolicyParams(home_delivery_cap=Decimal("0.05")),
    )
    versions = [own_new, general, own_old]
    assert policy_in_force(versions, "330127", date(2025, 10, 1)).home_delivery_cap == Decimal(
        "0.07"
    )
    assert policy_in_force(versions, "330127", date(2026, 3, 1)).home_delivery_cap == Decimal(
        "0.05"
    )
    assert policy_in_force(versions, "330102", date(2025, 3, 1)).home_delivery_cap == Decimal(
        "0.08"
    )
    assert policy_in_force(versions, "330102", date(2023, 3, 1)) == DEFAULT_POLICY


def test_defaults_are_domain_md() -> None:
    p = DEFAULT_POLICY
    assert (
        p.home_delivery_cap,
        p.itinerant_visits_per_term,
        p.service_sessions_per_month,
        p.service_min_minutes,
        p.geofence_m,
        p.max_accuracy_m,
        p.road_factor,
    ) == (Decimal("0.05"), 2, 4, 60, 500, 100, Decimal("1.3"))


def test_every_locale_has_every_key() -> None:
    for locale, catalogue in CATALOGUES.items():
        assert set(catalogue) == set(ZH_CN), locale


def test_messages_format_and_fall_back() -> None:
    assert t("too_many_ops", limit=500) == "一次最多提交 500 条操作"
    assert t("no.such.key") == "no.such.key"


def test_validation_errors_in_chinese() -> None:
    text = describe_validation_errors(
        [
            {"type": "missing", "loc": ("record", "started_at")},
            {"type": "int_parsing", "loc": ("grade",)},
        ]
    )
    assert text == "缺少必填字段 record.started_at；字段 grade 类型不正确"


def test_every_policy_parameter_has_a_chinese_label() -> None:
    """The console's policy tables name each parameter by policy.param.<field>: a field added
    without its label showed as the key itself."""
    missing = [f for f in PolicyParams.model_fields if f"policy.param.{f}" not in ZH_CN]
    assert missing == []
