"""Building a VisitRecord from the form, with Chinese errors per field and warnings."""

import asyncio
from datetime import UTC, datetime, timedelta

from mobile.core.devices import FakeLocation, LocationResult, LocationStatus
from mobile.core.models import LocalVisit, VisitState
from mobile.core.visit_form import (
    FormCheck,
    VisitForm,
    _warnings,
    check,
    iep_goal_choices,
    without_consent,
)
from shared.domain import VisitKind
from shared.messages import t
from shared.policy import PolicyParams
from shared.protocol import VisitRecord
from tests.mobile.helpers import home_record, school, student

NOW = datetime(2025, 11, 12, 10, 0, tzinfo=UTC)
HOME = student("ST1")


def filled_home_form(minutes: int = 70, accuracy: float = 12.0) -> VisitForm:
    form = VisitForm.new(VisitKind.HOME_TEACHING, "ST1")
    here = asyncio.run(FakeLocation.at(29.70, 119.10, accuracy).locate())
    form.start(NOW - timedelta(minutes=minutes), here)
    form.finish(NOW, here)
    form.content = "认识颜色"
    form.iep_goals = iep_goal_choices(HOME)[:1]
    form.photos = ["a" * 64]
    return form


def test_complete_home_form_becomes_a_record_without_warnings() -> None:
    result = check(filled_home_form(), now=NOW, subject=HOME)
    assert result.ok and result.warnings == []
    record = result.record
    assert record is not None and record.student_id == "ST1" and record.school_id is None
    assert record.check_in.accuracy_m == 12.0 and record.iep_goals == ["能指认三种颜色"]
    assert record.travel is not None and record.travel.origin is None


def test_empty_required_fields_are_named_in_chinese() -> None:
    form = VisitForm.new(VisitKind.HOME_TEACHING, "ST1")
    result = check(form, now=NOW, subject=HOME)
    assert result.record is None
    assert result.errors == {
        "started_at": t("mobile.form.not_checked_in"),  # 结束 is not on screen yet
        "content": "请填写教学内容",
    }
    form.start(NOW, LocationResult(LocationStatus.UNAVAILABLE))
    assert check(form, now=NOW, subject=HOME).errors["ended_at"] == "请点“结束”记录结束时间"
    itinerant = VisitForm.new(VisitKind.ITINERANT, "SC1")
    itinerant.started_at = itinerant.ended_at = NOW.isoformat()
    errors = check(itinerant, now=NOW, subject=school("SC1")).errors
    assert errors == {"purposes": "请填写指导事项", "findings": "请填写发现的问题"}


def test_visit_ending_before_it_starts_is_an_error_on_the_end_time() -> None:
    form = filled_home_form()
    form.started_at, form.ended_at = form.ended_at, form.started_at
    result = check(form, now=NOW, subject=HOME)
    assert result.errors == {"ended_at": t("field.ended_before_started")}


def test_too_long_text_is_reported_on_its_field() -> None:
    form = filled_home_form()
    form.content = "长" * 5001
    assert check(form, now=NOW, subject=HOME).errors == {"content": "字段 教学内容 过长"}


def test_child_not_on_the_phone_and_photos_without_consent_are_refused() -> None:
    form = filled_home_form()
    assert check(form, now=NOW, subject=None).errors["subject"] == t("mobile.form.unknown_subject")
    no_consent = student("ST2", photo_consent=False)
    form.subject_id = "ST2"
    assert check(form, now=NOW, subject=no_consent).errors == {"photos": t("photo_consent_missing")}
    assert without_consent(form, {"ST2": no_consent}.get) == ["ST2"]
    form.photos = []
    assert check(form, now=NOW, subject=no_consent).ok  # no photo, nothing to consent to


def test_school_visit_photos_need_consent_of_every_child_ticked_as_seen() -> None:
    children = {"A": student("A"), "B": student("B", photo_consent=False)}
    form = VisitForm.new(VisitKind.ITINERANT, "SC1")
    here = asyncio.run(FakeLocation.at(29.61, 119.04, 10).locate())
    form.start(NOW - timedelta(minutes=60), here)
    form.finish(NOW, here)
    form.purposes, form.findings = ["classroom_observation"], "课堂参与度较好"
    form.students_seen, form.photos = ["A"], ["a" * 64]
    assert check(form, now=NOW, subject=school("SC1"), students=children.get).ok
    form.students_seen = ["A", "B"]
    assert without_consent(form, children.get) == ["B"]
    result = check(form, now=NOW, subject=school("SC1"), students=children.get)
    assert result.errors == {"photos": t("photo_consent_missing")}


def test_gps_denied_is_allowed_and_warned() -> None:
    form = filled_home_form()
    form.start(NOW - timedelta(minutes=70), LocationResult(LocationStatus.DENIED))
    result = check(form, now=NOW, subject=HOME)
    assert result.ok and result.record.check_in is None
    assert result.warnings == ["签到时未授权定位，记录会被标记为“签到无定位”"]


def test_five_kilometre_accuracy_is_allowed_and_warned() -> None:
    result = check(filled_home_form(accuracy=5000), now=NOW, subject=HOME)
    assert result.ok
    assert result.warnings == [t("mobile.warn.low_accuracy", accuracy=5000, limit=100)]


def test_a_check_in_far_from_the_registered_home_is_warned_before_saving() -> None:
    form = filled_home_form()
    form.check_in = {"lat": 29.70 + 0.334, "lon": 119.10, "accuracy_m": 15.0}
    result = check(form, now=NOW, subject=HOME)
    assert result.ok
    assert result.warnings == [
        t("mobile.warn.outside_geofence", place="登记住址", distance="37.0 公里", limit=500)
    ]
    # The district's geofence decides, not a number on the phone.
    wide = PolicyParams(geofence_m=50_000)
    assert check(form, now=NOW, subject=HOME, policy=wide).warnings == []
    # A home with no registered place cannot be compared: nothing to warn.
    unplaced = {**HOME, "home_lat": None, "home_lon": None}
    assert check(form, now=NOW, subject=unplaced).warnings == []


def test_short_session_is_warned_that_it_does_not_count() -> None:
    result = check(filled_home_form(minutes=40), now=NOW, subject=HOME)
    assert result.ok
    assert result.warnings == [t("mobile.warn.short_session", minutes=40, minimum=60)]
    strict = PolicyParams(service_min_minutes=30)
    assert check(filled_home_form(minutes=40), now=NOW, subject=HOME, policy=strict).warnings == []


def test_phone_clock_a_year_off_is_allowed_and_warned() -> None:
    form = filled_home_form()
    year = 365 * 24 * 3600
    result = check(form, now=NOW, subject=HOME, clock_skew_s=-year)
    assert result.ok
    assert result.warnings == [t("mobile.warn.clock", minutes=year // 60)]
    # A visit typed in long after the fact, or in the future, is warned too.
    assert "天以前" in check(form, now=NOW + timedelta(days=200), subject=HOME).warnings[0]
    assert check(form, now=NOW - timedelta(days=1), subject=HOME).warnings == [
        t("mobile.warn.future")
    ]


def test_phone_clock_reset_to_1970_is_an_error_on_the_start_time() -> None:
    """The server refuses times outside its window; the form says so before the op is queued."""
    form = filled_home_form()
    epoch = datetime(1970, 1, 1, 8, tzinfo=UTC)
    form.started_at = epoch.isoformat()
    form.ended_at = (epoch + timedelta(hours=1)).isoformat()
    errors = check(form, now=NOW, subject=HOME).errors
    assert set(errors) == {"started_at", "ended_at"}
    assert "开始时间" in errors["started_at"] and "2000-01-01" in errors["started_at"]


def test_itinerant_form_with_recommendations_and_due_dates() -> None:
    form = VisitForm.new(VisitKind.ITINERANT, "SC1")
    form.start(NOW - timedelta(minutes=90), LocationResult(LocationStatus.UNAVAILABLE))
    form.finish(NOW, LocationResult(LocationStatus.UNAVAILABLE))
    form.purposes = ["classroom_observation", "iep_review"]
    form.students_seen = ["ST3"]
    form.findings = "参与度较好"
    form.recommendations = [{"text": "增加视觉提示", "due_date": "2025-12-01"}]
    result = check(form, now=NOW, subject=school("SC1"))
    assert result.ok and result.record.school_id == "SC1"
    assert result.record.recommendations[0].due_date.isoformat() == "2025-12-01"
    assert result.record.content == ""  # home-teaching fields stay empty
    form.recommendations = [{"text": "增加视觉提示", "due_date": "2025-11-01"}]
    assert check(form, now=NOW, subject=school("SC1")).errors == {
        "recommendations": t("mobile.form.due_before_visit", n=1)
    }
    form.recommendations = [{"text": " ", "due_date": None}]
    assert "recommendations" in check(form, now=NOW, subject=school("SC1")).errors
    form.purposes = ["sightseeing"]
    form.recommendations = []
    assert set(check(form, now=NOW, subject=school("SC1")).errors) == {"purposes"}


def test_form_round_trips_through_a_draft_and_a_saved_record() -> None:
    form = filled_home_form()
    again = VisitForm.from_dict({**form.to_dict(), "field_from_a_newer_app": 1})
    assert again == form
    record = home_record()
    visit = LocalVisit(
        id=str(record.id),
        kind=VisitKind.HOME_TEACHING,
        subject_id="ST1",
        state=VisitState.SYNCED,
        deleted=False,
        started_at=record.started_at,
        month=202511,
        record=record.model_dump(mode="json"),
        draft=None,
        server_version=1,
    )
    edited = VisitForm.from_visit(visit)
    assert edited.id == str(record.id) and edited.content == record.content
    rebuilt = check(edited, now=record.ended_at, subject=HOME)
    assert isinstance(rebuilt, FormCheck) and rebuilt.record == record


def _saved(record_json: dict) -> LocalVisit:
    return LocalVisit(
        id=record_json["id"],
        kind=VisitKind.HOME_TEACHING,
        subject_id="ST1",
        state=VisitState.PENDING,
        deleted=False,
        started_at=datetime.fromisoformat(record_json["started_at"]),
        month=202511,
        record=record_json,
        draft=None,
        server_version=None,
    )


def test_a_corrected_time_keeps_the_taps_instant_beside_it() -> None:
    form = filled_home_form(minutes=96)  # 开始 tapped at 08:24, 结束 at 10:00 (UTC)
    tapped_in, tapped_out = form.check_in_at, form.check_out_at
    assert tapped_in == form.started_at and form.corrected("started_at") is None
    form.started_at = (NOW - timedelta(minutes=200)).isoformat()  # typed: 06:40
    assert form.corrected("started_at") == tapped_in and form.check_in_at == tapped_in
    assert form.corrected("ended_at") is None
    record = check(form, now=NOW, subject=HOME).record
    assert record is not None
    assert record.started_at == NOW - timedelta(minutes=200)
    assert record.check_in.at == datetime.fromisoformat(tapped_in)
    assert record.check_out.at == datetime.fromisoformat(tapped_out)
    # Saved, then opened again for an edit (or after the app was killed): both times are there.
    again = VisitForm.from_visit(_saved(record.model_dump(mode="json")))
    assert datetime.fromisoformat(again.check_in_at) == record.check_in.at
    assert again.check_in == {"lat": 29.70, "lon": 119.10, "accuracy_m": 12.0}
    assert again.corrected("started_at") is not None
    assert check(again, now=NOW, subject=HOME).record == record


def test_the_same_minute_typed_again_is_no_correction() -> None:
    form = filled_home_form()
    tapped = datetime.fromisoformat(form.check_in_at).replace(second=37)
    form.check_in_at = tapped.isoformat()
    form.started_at = tapped.replace(second=0).isoformat()  # the field shows minutes only
    assert form.corrected("started_at") is None


def test_a_tap_on_a_clock_outside_the_window_is_left_out_of_the_record() -> None:
    form = filled_home_form()
    form.check_in_at = "1970-01-01T08:00:00+08:00"  # the phone's clock had reset at the tap
    record = check(form, now=NOW, subject=HOME).record
    assert record is not None and record.check_in.at is None  # the corrected times still save
    assert "at" not in record.model_dump(mode="json")["check_in"]


def test_a_record_from_a_contract_client_has_no_tap_instants() -> None:
    record = home_record()
    assert record.check_in is None or record.check_in.at is None
    form = VisitForm.from_visit(_saved(record.model_dump(mode="json")))
    assert form.check_in_at is None and form.corrected("started_at") is None


def test_warnings_are_the_judges_flags_in_words() -> None:
    """A check-in far from the registered home and a start typed 96 minutes before the tap:
    the warnings say what the judge will flag (the same flags the server sets)."""
    form = filled_home_form(minutes=120)
    far = {**HOME, "home_lat": 29.30, "home_lon": 119.10}  # about 44 km south
    tapped = datetime.fromisoformat(form.started_at or "")
    record = check(form, now=NOW, subject=far).record
    assert record is not None
    data = record.model_dump(mode="json")
    data["check_in"]["at"] = tapped.isoformat()
    data["started_at"] = (tapped - timedelta(minutes=96)).isoformat()
    form.started_at = data["started_at"]
    warnings = check(form, now=NOW, subject=far).warnings
    assert any("超出 500 米的范围" in w and "公里" in w for w in warnings), warnings
    # The form keeps the tap's instant (check_in.at), so the correction is told at once.
    assert any("签到时间与点击时的" in w and "相差 96 分钟" in w for w in warnings), warnings
    # The record saved for the same correction says the same.
    edited = VisitRecord.model_validate(data)
    lines = _warnings(form, edited, NOW, PolicyParams(), None, far)
    assert any("签到时间与点击时的" in w and "相差 96 分钟" in w for w in lines), lines


def test_a_tap_without_a_position_keeps_its_instant_at_the_records_top_level() -> None:
    """No fix at 开始 or 结束 (GPS denied, no signal): ``check_in`` is null, and the tap's
    instant goes to ``check_in_at`` / ``check_out_at`` instead of being lost."""
    form = VisitForm.new(VisitKind.HOME_TEACHING, "ST1")
    form.start(NOW - timedelta(minutes=70), LocationResult(LocationStatus.DENIED))
    form.finish(NOW, LocationResult(LocationStatus.UNAVAILABLE))
    form.content = "认识颜色"
    tapped_in = form.check_in_at
    form.started_at = (NOW - timedelta(minutes=90)).isoformat()  # corrected by 20 minutes
    record = check(form, now=NOW, subject=HOME).record
    assert record is not None and record.check_in is None and record.check_out is None
    assert record.check_in_at == datetime.fromisoformat(tapped_in)
    assert record.check_out_at == NOW
    dumped = record.model_dump(mode="json")
    assert dumped["check_in"] is None and "check_in_at" in dumped
    # Saved, then opened again: the instant is the form's tap again, and the correction shows.
    again = VisitForm.from_visit(_saved(dumped))
    assert datetime.fromisoformat(again.check_in_at) == record.check_in_at
    assert again.check_in is None and again.corrected("started_at") is not None
    assert check(again, now=NOW, subject=HOME).record == record


def test_a_tap_with_a_position_stays_on_the_position_alone() -> None:
    dumped = check(filled_home_form(), now=NOW, subject=HOME).record.model_dump(mode="json")
    assert "at" in dumped["check_in"] and "check_in_at" not in dumped
    assert "check_out_at" not in dumped


def test_a_positionless_tap_on_a_clock_outside_the_window_is_left_out() -> None:
    form = filled_home_form()
    form.check_in = None
    form.check_in_at = "1970-01-01T08:00:00+08:00"
    record = check(form, now=NOW, subject=HOME).record
    assert record is not None and record.check_in_at is None
    assert "check_in_at" not in record.model_dump(mode="json")
