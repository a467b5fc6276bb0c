"""The visit form (``mobile.ui.visit``), in-process, with the server unreachable and the core's
device fakes: check-in and check-out, content, photos, the trip, saving and drafts."""

from datetime import date, datetime, timedelta
from pathlib import Path

import flet as ft
import pytest

from mobile.core.devices import FakeLocation, LocationResult, LocationStatus
from mobile.core.models import VisitState
from mobile.core.store import Store
from mobile.core.visit_form import VisitForm
from mobile.ui import format as fmt
from shared.messages import t
from shared.terms import SHANGHAI
from tests.mobile.helpers import ITINERANT, seeded
from tests.mobile.ui.appkit import (
    END,
    NOWHERE,
    SAVE,
    START,
    Clock,
    begin_home_visit,
    field_app,
    jpeg,
    run,
    store_for,
)
from tests.mobile.ui.harness import UiError


def test_recording_a_home_visit_offline_queues_it_with_its_photo(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        clock = Clock()
        async with field_app(store, clock=clock, photos=[jpeg()]) as (ui, app):
            visit_id = await begin_home_visit(ui)
            await ui.click(START)
            assert ui.has_text("定位精度约 12 米")
            await ui.click("能指认三种颜色")
            await ui.type("教学内容", "认识颜色：红、黄、蓝")
            await ui.type("学生反应", "能指认红色")
            await ui.type("家长指导", "每天练习 10 分钟")
            await ui.click("从相册选择")
            assert ui.has_text("已添加照片") and ui.has_text("照片（1 张）")
            clock.advance(70)
            await ui.click(END)
            assert ui.has_text("时长 70 分钟")
            assert ui.has_text("出发地：所属学校（学校SPECIAL）")
            assert ui.has_text("往返") and ui.has_text("本次补贴")
            await ui.click("公共交通")
            await ui.click(SAVE)
            assert ui.route() == "/"
            assert ui.has_text(t("ui.visit.saved"))
            await ui.wait_text("待同步：1 条记录、1 张照片")
            visit = store.visit(visit_id)
            assert visit is not None and visit.state == VisitState.PENDING
            record = visit.record or {}
            assert record["iep_goals"] == ["能指认三种颜色"]
            assert record["student_response"] == "能指认红色"
            assert record["travel"]["mode"] == "public_transport"
            assert len(record["photos"]) == 1 and record["check_in"]["accuracy_m"] == 12.0
            assert store.pending_counts().photos == 1
            assert visit.draft is None
            await ui.click("历史记录")
            assert ui.has_text("待同步") and ui.has_text("本月交通补贴")
            await ui.click("送教上门 · 张小明")
            assert ui.has_text("认识颜色：红、黄、蓝") and ui.has_text("照片 1 张")
        store.close()

    run(scenario())


def test_photos_are_refused_for_a_child_without_consent(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        async with field_app(store, photos=[jpeg()]) as (ui, app):
            visit_id = await begin_home_visit(ui, "李小红")
            assert ui.has_text(t("ui.visit.no_consent"))
            assert not ui.enabled("拍照") and not ui.enabled("从相册选择")
            # A photo on the form anyway (an older app version, a changed consent): not saved.
            form = VisitForm.from_dict(store.visit(visit_id).draft)
            form.photos = ["0" * 64]
            store.visit_repo.save_draft(visit_id, form.kind, form.subject_id, form.to_dict())
        async with field_app(store, route=f"/visit/{visit_id}") as (ui, app):
            await ui.click(START)
            await ui.click(END)
            await ui.type("教学内容", "认识颜色")
            await ui.click(SAVE)
            assert ui.has_text(t("photo_consent_missing"))
            assert store.visit(visit_id).record is None
        store.close()

    run(scenario())


def test_bad_photos_get_a_chinese_message_and_lose_nothing(tmp_path: Path) -> None:
    huge = b"\xff\xd8" + b"\0" * (50 * 1024 * 1024)

    async def scenario() -> None:
        store = store_for(tmp_path)
        pictures = [huge, b"%PDF-1.4 not a picture", jpeg()]
        async with field_app(store, photos=pictures) as (ui, app):
            await begin_home_visit(ui)
            await ui.type("教学内容", "认识颜色")
            await ui.click("从相册选择")
            assert ui.has_text("照片文件过大（50 MB")
            await ui.click("从相册选择")
            assert ui.has_text(t("not_an_image"))
            await ui.click("拍照")
            assert ui.has_text("照片（1 张）")
            assert ui.value("教学内容 *") == "认识颜色"
            await ui.click("删除照片 1")
            assert ui.has_text("照片（0 张）")
        store.close()

    run(scenario())


def test_saving_with_empty_required_fields_names_them(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        async with field_app(store) as (ui, app):
            visit_id = await begin_home_visit(ui)
            await ui.click(SAVE)
            assert ui.has_text(t("mobile.form.not_checked_in"))
            # No 结束 button is on screen before 开始: the message does not ask for it.
            assert not ui.find(END) and not ui.has_text("结束")
            assert ui.has_text("请填写教学内容")
            await ui.click(START)
            await ui.click(SAVE)
            assert ui.find(END) and ui.has_text(t("mobile.form.not_checked_out"))
            assert ui.route() == f"/visit/{visit_id}"
            assert store.visit(visit_id).record is None
        store.close()
        store = store_for(tmp_path / "itinerant", ITINERANT)
        async with field_app(store) as (ui, app):
            await ui.click("开始巡回指导：学校SC1")
            await ui.click(START)
            await ui.click(END)
            await ui.click("添加建议")
            await ui.click(SAVE)
            assert ui.has_text("请填写指导事项") and ui.has_text("请填写发现的问题")
            assert ui.has_text(t("mobile.form.recommendation_empty", n=1))
        store.close()

    run(scenario())


def test_a_visit_that_ends_before_it_starts_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        clock = Clock()
        async with field_app(store, clock=clock) as (ui, app):
            visit_id = await begin_home_visit(ui)
            await ui.click(START)
            clock.advance(-90)  # the phone's clock was set back during the visit
            await ui.click(END)
            await ui.type("教学内容", "认识颜色")
            await ui.click(SAVE)
            assert ui.has_text(t("field.ended_before_started"))
            assert store.visit(visit_id).record is None
            await ui.type("结束时间", "昨天")
            assert ui.has_text(t("ui.visit.bad_time"))
            end = (clock.now + timedelta(minutes=160)).strftime("%Y-%m-%d %H:%M")
            await ui.type("结束时间", end)
            assert not ui.has_text(t("ui.visit.bad_time"))
            await ui.click(SAVE)
            assert ui.has_text(t("ui.visit.warnings_title"))  # no photo
            await ui.click(t("ui.visit.save_anyway"))
            assert store.visit(visit_id).state == VisitState.PENDING
        store.close()

    run(scenario())


def test_gps_5_km_accuracy_is_warned_flagged_and_allowed(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        clock = Clock()
        far = FakeLocation.at(29.70, 119.10, 5000.0)
        async with field_app(store, clock=clock, location=far, photos=[jpeg()]) as (ui, app):
            visit_id = await begin_home_visit(ui)
            await ui.click(START)
            assert ui.has_text("定位精度约 5000 米，超过 100 米")
            await ui.type("教学内容", "认识颜色")
            await ui.click("拍照")
            clock.advance(65)
            await ui.click(END)
            await ui.click(SAVE)
            warning = t("mobile.warn.low_accuracy", accuracy=5000, limit=100)
            assert ui.has_text(warning)
            await ui.click(t("ui.visit.go_back_edit"))
            assert store.visit(visit_id).record is None
            await ui.click(SAVE)
            await ui.click(t("ui.visit.save_anyway"))
            visit = store.visit(visit_id)
            assert visit.state == VisitState.PENDING
            assert visit.record["check_in"]["accuracy_m"] == 5000.0
        store.close()

    run(scenario())


def test_a_check_in_37_km_from_the_childs_home_warns_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        clock = Clock()
        far = FakeLocation.at(29.70 + 0.334, 119.10, 15.0)  # 37 km north of ST1's home
        async with field_app(store, clock=clock, location=far, photos=[jpeg()]) as (ui, app):
            await begin_home_visit(ui)
            await ui.click(START)
            where = "距登记住址约 37.0 公里，超出 500 米的范围，记录会被标记为“签到位置超出范围”"
            assert ui.has_text("定位精度约 15 米") and ui.has_text(where)
            assert ui.text_node(where)["color"] == ft.Colors.ORANGE_900.value  # not green
            await ui.type("教学内容", "认识颜色")
            await ui.click("拍照")
            clock.advance(70)
            await ui.click(END)
            await ui.click(SAVE)  # and the save says it again, among its warnings
            assert ui.has_text("签到位置距登记住址约 37.0 公里，超出 500 米的范围")
        store.close()
        near = store_for(tmp_path / "near")
        async with field_app(near) as (ui, app):
            await begin_home_visit(ui)
            await ui.click(START)
            assert ui.has_text("定位精度约 12 米；距登记住址约 0 米")
            assert ui.text_node("距登记住址约 0 米")["color"] == ft.Colors.GREEN_800.value
        near.close()

    run(scenario())


class SlowFix:
    """GPS that takes a minute of the test's clock to answer, as indoors."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.inner = clock, FakeLocation.at(29.70, 119.10, 12.0)

    async def locate(self) -> LocationResult:
        self.clock.advance(1)
        return await self.inner.locate()


def test_a_corrected_time_keeps_the_tap_through_save_and_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        clock = Clock(datetime(2025, 11, 12, 6, 6, tzinfo=SHANGHAI))
        async with field_app(store, clock=clock, location=SlowFix(clock)) as (ui, app):
            visit_id = await begin_home_visit(ui)
            await ui.click(START)
            assert ui.value("开始时间") == "2025-11-12 06:06"  # the tap, not the fix a minute on
            assert not ui.has_text("已修改")
            await ui.type("开始时间", "2025-11-12 04:30")
            assert ui.has_text("已修改，签到时刻 06:06")
            await ui.type("教学内容", "认识颜色")
            clock.advance(60)
            await ui.click(END)
            assert ui.has_text("时长 157 分钟") and not ui.has_text("已修改，签退时刻")
            await ui.click(SAVE)
            await ui.click(t("ui.visit.save_anyway"))  # no photo
            record = store.visit(visit_id).record
            assert record["started_at"].startswith("2025-11-12T04:30")
            assert datetime.fromisoformat(record["check_in"]["at"]) == datetime(
                2025, 11, 12, 6, 6, tzinfo=SHANGHAI
            )
        # The app killed and started again: the record and its edit still show the correction.
        reopened = Store(tmp_path)
        async with field_app(reopened, clock=clock, route=f"/record/{visit_id}") as (ui, app):
            assert ui.has_text("已修改，签到时刻 06:06")
            await ui.click("修改记录")
            assert ui.has_text("已修改，签到时刻 06:06")
            await ui.type("开始时间", "2025-11-12 06:06")  # put back: no correction any more
            assert not ui.has_text("已修改")
        reopened.close()
        store.close()

    run(scenario())


def test_denied_gps_is_marked_and_allowed(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        denied = FakeLocation(LocationResult(LocationStatus.DENIED))
        clock = Clock()
        async with field_app(store, clock=clock, location=denied) as (ui, app):
            visit_id = await begin_home_visit(ui)
            await ui.click(START)
            assert ui.has_text("未授权定位：记录会被标记为“签到无定位”")
            await ui.type("教学内容", "认识颜色")
            clock.advance(61)
            await ui.click(END)
            await ui.click(SAVE)
            assert ui.has_text(t("mobile.warn.no_gps", reason=t("mobile.location.denied")))
            await ui.click(t("ui.visit.save_anyway"))
            assert store.visit(visit_id).record["check_in"] is None
        store.close()

    run(scenario())


def test_a_half_finished_visit_survives_the_app_being_restarted(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        async with field_app(store, photos=[jpeg()]) as (ui, app):
            visit_id = await begin_home_visit(ui)
            await ui.click(START)
            await ui.type("教学内容", "认识颜色：红")
            await ui.click("能独立进食")
            await ui.click("拍照")
        # A new process on the same files: nothing was "saved", every change was kept.
        reopened = Store(tmp_path)
        async with field_app(reopened) as (ui, app):
            assert ui.has_text("未完成的记录")
            await ui.click("继续填写：张小明")
            assert ui.route() == f"/visit/{visit_id}"
            assert ui.value("教学内容 *") == "认识颜色：红"
            assert ui.has_text("定位精度约 12 米") and ui.has_text("照片（1 张）")
            assert ui.control("能独立进食")["selected"] is True
        reopened.close()
        store.close()

    run(scenario())


def test_a_visit_left_untouched_leaves_no_draft(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        async with field_app(store) as (ui, app):
            await begin_home_visit(ui)
            await ui.back()
            assert ui.route() == "/" and not ui.has_text("未完成的记录")
            assert store.drafts() == []
        store.close()

    run(scenario())


def test_starting_a_child_with_a_draft_continues_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        async with field_app(store) as (ui, app):
            visit_id = await begin_home_visit(ui)
            await ui.type("教学内容", "认识颜色：红")
            await ui.back()
            assert ui.has_text("未完成的记录")
            assert await begin_home_visit(ui) == visit_id  # 开始送教 again: the same visit
            assert ui.value("教学内容 *") == "认识颜色：红"
            await ui.back()
            await ui.click("详情：张小明")
            await ui.click("开始送教：张小明")  # from the child's page too
            assert ui.route() == f"/visit/{visit_id}"
            assert len(store.drafts()) == 1
        store.close()

    run(scenario())


def test_the_subsidy_line_shows_the_rule_it_applied(tmp_path: Path) -> None:
    async def scenario() -> None:
        per_km = {
            "subsidy_mode": "per_km",
            "fen_per_km": 80,
            "road_factor": "1.3",
            "monthly_cap_fen": 30_000,
        }
        store = seeded(tmp_path, **per_km)
        store.set_server_url(NOWHERE)
        async with field_app(store) as (ui, app):
            await begin_home_visit(ui)
            await ui.click(START)  # base school to ST1's home: 29.44 km there and back
            assert ui.has_text("往返 29.4 公里，本次补贴 30.61 元")
            assert ui.has_text("计算：往返 29.44 公里 × 路程系数 1.3 × 每公里 0.80 元 = 30.61 元")
            assert ui.has_text("每月上限 300.00 元：本月合计超出的部分不补贴")
            await ui.click("申报交通补贴")
            assert ui.has_text("不申报交通补贴") and not ui.has_text("计算：")
        store.close()
        flat = store_for(tmp_path / "flat")
        async with field_app(flat) as (ui, app):
            await begin_home_visit(ui)
            assert ui.has_text("计算：每次定额 120.00 元，与路程远近无关")
        flat.close()

    run(scenario())


def test_an_itinerant_visit_with_recommendations(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path, ITINERANT)
        clock = Clock()
        at_school = FakeLocation.at(29.61, 119.04, 12.0)  # SC1
        async with field_app(store, clock=clock, location=at_school, photos=[jpeg()]) as (
            ui,
            app,
        ):
            await ui.click("开始巡回指导：学校SC1")
            visit_id = ui.route().removeprefix("/visit/")
            await ui.click(START)
            await ui.click("随堂观察")
            await ui.click("随班生")
            await ui.type("发现的问题 *", "课堂参与度较好")
            await ui.click("添加建议")
            await ui.type("建议 1", "增加视觉提示")
            unset = t("ui.visit.due_date_none", n=1)
            clear = t("ui.visit.due_date_clear", n=1)
            assert ui.find(unset) and ui.has_text("完成日期：未定") and not ui.find(clear)
            today = clock.now.date()
            # The picker opens two weeks ahead, offers the days from the visit's on, in Chinese.
            await ui.click(unset)
            picker = ui.dialog("DatePicker")
            assert picker["value"].date() == today + timedelta(days=14)
            assert picker["first_date"].date() == today
            assert picker["last_date"].date() == date(2099, 12, 31)
            assert (picker["help_text"], picker["confirm_text"]) == (
                "选择建议 1 的完成日期",
                "确定",
            )
            with pytest.raises(UiError, match="not offered"):
                await ui.pick_date(today - timedelta(days=1))
            await ui.cancel_date()  # nothing picked: still none
            assert ui.find(unset) and not ui.find(clear)
            await ui.click(unset)
            picked = today + timedelta(days=30)
            await ui.pick_date(picked)
            named = t("ui.visit.due_date_set", n=1, date=fmt.long_day(picked))
            assert ui.find(named) and ui.has_text(f"完成日期：{fmt.day_near(picked, today)}")
            assert ui.find(clear)
            draft = store.visit(visit_id).draft  # kept at once, as every change
            assert draft["recommendations"][0]["due_date"] == picked.isoformat()
            await ui.click(clear)  # optional: it can be taken back
            assert ui.find(unset) and not ui.find(clear)
            assert store.visit(visit_id).draft["recommendations"][0]["due_date"] is None
            await ui.click(unset)
            assert ui.dialog("DatePicker")["value"].date() == today + timedelta(days=14)
            await ui.pick_date(picked)
            due = picked.isoformat()
            await ui.click("拍照")
            clock.advance(95)
            await ui.click(END)
            await ui.click(SAVE)
            assert ui.route() == "/"
            record = store.visit(visit_id).record
            assert record["purposes"] == ["classroom_observation"]
            assert record["students_seen"] == ["ST3"]
            assert record["recommendations"] == [{"text": "增加视觉提示", "due_date": due}]
            assert ui.has_text("本学期已指导 1/")
        store.close()

    run(scenario())


def test_ticking_a_child_without_photo_consent_stops_school_visit_photos(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path, ITINERANT)
        async with field_app(store, photos=[jpeg()]) as (ui, app):
            await ui.click("开始巡回指导：学校SC1")
            await ui.click(START)
            await ui.click("随班生")
            assert ui.enabled("拍照")
            await ui.click("随班生乙")
            assert ui.has_text(t("ui.visit.no_consent_seen", names="随班生乙"))
            assert not ui.enabled("拍照") and not ui.enabled("从相册选择")
            await ui.click("随班生乙")  # not seen after all
            assert ui.enabled("拍照")
        store.close()

    run(scenario())


def test_a_due_date_shows_its_year_only_when_it_is_not_this_years() -> None:
    today = date(2026, 12, 2)
    assert fmt.day_near(date(2026, 12, 17), today) == "12月17日"
    assert fmt.day_near(date(2027, 1, 5), today) == "2027年1月5日"
