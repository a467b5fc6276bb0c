"""The screens, in-process, with the server unreachable and the core's device fakes."""

import asyncio
from datetime import timedelta
from pathlib import Path

from mobile.core import revoke
from mobile.core.devices import (
    TOKEN_KEY,
    FakeLocation,
    LocationResult,
    LocationStatus,
    MemorySecrets,
)
from mobile.core.models import VisitState
from mobile.core.revoke import Revocation
from mobile.core.store import Store
from mobile.core.sync import SyncProgress
from mobile.core.visit_form import VisitForm
from shared.messages import t
from tests.mobile.helpers import ITINERANT, change, result
from tests.mobile.ui.appkit import NOWHERE, Clock, field_app, jpeg, run, store_for
from tests.mobile.ui.harness import FakeClient, label_of

START = "开始：记录签到时间和位置"
END = "结束：记录签退时间和位置"
SAVE = "保存记录"


async def begin_home_visit(ui: FakeClient, name: str = "张小明") -> str:
    await ui.click(f"开始送教：{name}")
    assert ui.route().startswith("/visit/")
    return ui.route().removeprefix("/visit/")


def test_caseload_opens_offline_with_sessions_due_and_the_childs_page(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        async with field_app(store) as (ui, app):
            assert ui.route() == "/"
            assert ui.has_text("我的送教学生")
            for name in ("张小明", "李小红"):
                assert ui.has_text(name)
            assert ui.has_text("本月已送教 0/")
            assert ui.has_text("应在")  # next session due
            assert not ui.has_text("随班生")  # not assigned to this teacher
            await ui.click("详情：张小明")
            assert ui.route() == "/child/ST1"
            for text in ("住址：某村 1 号", "监护人：张父", "能指认三种颜色", "监护人已同意拍照"):
                assert ui.has_text(text), text
            await ui.click("拨打电话 13800000000")
            assert ui.launched == ["tel:13800000000"]
            await ui.back()
            await ui.click("详情：李小红")
            assert ui.has_text("监护人未同意拍照")
        store.close()

    run(scenario())


def test_itinerant_sees_schools_with_this_terms_visits(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path, ITINERANT)
        async with field_app(store) as (ui, app):
            assert ui.has_text("我负责的学校")
            assert ui.has_text("学校SC1") and ui.has_text("学校SC2")
            assert ui.has_text("本学期已指导 0/")
            await ui.click("详情：学校SC1")
            assert ui.has_text("随班生")  # the school's student, by name
        store.close()

    run(scenario())


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
            store.outbox.save_draft(visit_id, form.kind, form.subject_id, form.to_dict())
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
            for key in ("mobile.form.not_checked_in", "mobile.form.not_checked_out"):
                assert ui.has_text(t(key))
            assert ui.has_text("请填写教学内容")
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


def test_a_phone_clock_a_year_off_is_pointed_out(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        store.set_meta("clock_skew_s", str(365 * 24 * 3600))
        clock = Clock()
        async with field_app(store, clock=clock, photos=[jpeg()]) as (ui, app):
            minutes = 365 * 24 * 60
            assert ui.has_text(t("mobile.warn.clock", minutes=minutes))
            await begin_home_visit(ui)
            await ui.click(START)
            await ui.type("教学内容", "认识颜色")
            await ui.click("拍照")
            clock.advance(70)
            await ui.click(END)
            await ui.click(SAVE)
            assert ui.has_text(t("ui.visit.warnings_title"))
            assert ui.has_text(t("mobile.warn.clock", minutes=minutes))
        store.close()

    run(scenario())


def test_an_itinerant_visit_with_recommendations(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path, ITINERANT)
        clock = Clock()
        at_school = FakeLocation.at(29.61, 119.04, 8.0)  # inside the geofence: no warning
        async with field_app(store, clock=clock, photos=[jpeg()], location=at_school) as (ui, app):
            await ui.click("开始巡回指导：学校SC1")
            visit_id = ui.route().removeprefix("/visit/")
            await ui.click(START)
            await ui.click("随堂观察")
            await ui.click("随班生")
            await ui.type("发现的问题 *", "课堂参与度较好")
            await ui.click("添加建议")
            await ui.type("建议 1", "增加视觉提示")
            await ui.type("建议 1 的完成日期", "明天")
            assert ui.has_text(t("ui.visit.bad_date"))
            due = (clock.now.date() + timedelta(days=30)).isoformat()
            await ui.type("建议 1 的完成日期", due)
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


def test_a_conflict_shows_both_versions_and_the_teacher_chooses(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        visit_id = await _saved_home_visit(store, tmp_path)
        (op,) = store.outbox.take_batch()
        theirs = {**op.body, "content": "服务器上改过的内容", "version": 3, "flags": []}
        store.outbox.apply_results(
            [result(op.op_id, "conflict", id=visit_id, server_record=theirs)]
        )
        async with field_app(store) as (ui, app):
            assert ui.has_text("1 条记录需要处理") and ui.has_text("有冲突")
            await ui.click("查看：张小明")
            assert ui.has_text("我的版本") and ui.has_text("服务器上的版本")
            assert ui.has_text("认识颜色：红、黄、蓝") and ui.has_text("服务器上改过的内容")
            await ui.click("保留我的版本")
            assert ui.has_text(t("ui.record.resolved"))
            visit = store.visit(visit_id)
            assert visit.state == VisitState.PENDING
            (again,) = store.outbox.ops()
            assert again.base_version == 3 and again.body["content"] == "认识颜色：红、黄、蓝"
        store.close()

    run(scenario())


def test_a_rejected_visit_shows_the_reason_and_can_be_corrected(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        visit_id = await _saved_home_visit(store, tmp_path)
        (op,) = store.outbox.take_batch()
        store.outbox.apply_results([result(op.op_id, "applied", id=visit_id, version=2)])
        reviewed = {
            **op.body,
            "version": 2,
            "review_status": "rejected",
            "review_reason": "照片看不清，请补充说明",
            "flags": ["no_photo"],
        }
        store.apply_pull([change("visit", reviewed, id=visit_id, version=2)], "c2", complete=True)
        async with field_app(store) as (ui, app):
            assert ui.has_text("已退回")
            await ui.click("查看：张小明")
            assert ui.has_text("退回理由：照片看不清，请补充说明")
            assert ui.has_text("标记：无照片")
            await ui.click("修改记录")
            await ui.type("教学内容 *", "认识颜色：红、黄、蓝（补充：照片见附件）")
            await ui.click(SAVE)
            await ui.click(t("ui.visit.save_anyway"))
            assert store.visit(visit_id).state == VisitState.PENDING
            (again,) = store.outbox.ops()
            assert again.base_version == 2
        store.close()

    run(scenario())


def test_sign_out_warns_about_unsynced_records_and_wipes_the_phone(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        await _saved_home_visit(store, tmp_path)
        secrets = MemorySecrets({TOKEN_KEY: "a-token"})
        async with field_app(store, secrets=secrets) as (ui, app):
            await ui.click("退出登录")
            assert ui.has_text("还有 1 条记录、0 张照片没有同步")
            await ui.click(t("ui.action.cancel"))
            assert store.visits()
            await ui.click("退出登录")
            await ui.click(t("ui.signout.yes"))
            assert ui.route() == "/login"
            assert store.visits() == [] and store.students() == [] and store.user() is None
            # The token is gone; its revocation waits for the server (unreachable here).
            assert TOKEN_KEY not in secrets.values
            assert await revoke.queued(secrets) == [Revocation(NOWHERE, "a-token")]
            assert not app.state.signed_in and not app.runner.active
            assert ui.value("服务器地址")  # the device keeps its server address
        store.close()

    run(scenario())


def test_history_lists_months_and_the_subsidy_total(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        visit_id = await _saved_home_visit(store, tmp_path)
        (op,) = store.outbox.take_batch()
        store.outbox.apply_results([result(op.op_id, "applied", id=visit_id, version=1)])
        approved = {**op.body, "version": 1, "review_status": "approved", "subsidy_fen": 3550}
        store.apply_pull([change("visit", approved, id=visit_id)], "c2", complete=True)
        async with field_app(store) as (ui, app):
            await ui.click("历史记录")
            assert ui.has_text("本月记录 1 条") and ui.has_text("已通过")
            assert ui.has_text("本月交通补贴 35.50 元") and ui.has_text("其中已审核通过 35.50 元")
            await ui.click("上个月")
            assert ui.has_text(t("ui.history.empty"))
            await ui.click("下个月")
            await ui.click("下个月")
            assert ui.has_text(t("ui.history.empty"))
        store.close()

    run(scenario())


def test_sync_progress_is_shown_while_photos_upload(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        async with field_app(store) as (ui, app):
            await ui.wait_for(lambda: not app.runner.status.running)
            app.runner._progress(SyncProgress("photos", 1, 3))  # as the worker thread reports
            await ui.settle()
            assert ui.has_text("正在上传照片 1/3")
            (bar,) = [n for n, _ in ui.visible() if n.get("_c") == "ProgressBar"]
            assert abs(bar["value"] - 1 / 3) < 1e-6
            assert ui.control("立即同步")["__disabled"]  # one round at a time
        store.close()

    run(scenario())


def test_every_control_on_every_screen_has_an_accessible_name(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        visit_id = await _saved_home_visit(store, tmp_path)
        routes = ["/", "/child/ST1", "/history", f"/record/{visit_id}", f"/visit/{visit_id}"]
        for route in routes:
            async with field_app(store, route=route) as (ui, app):
                assert ui.route() == route
                unnamed = [
                    n.get("_c") for n, _ in ui.visible() if _interactive(n) and not label_of(n)
                ]
                assert unnamed == [], (route, unnamed)
        store.close()
        async with field_app(store_for(tmp_path / "x", None), route="/") as (ui, app):
            assert ui.route() == "/login"
            assert all(label_of(n) for n, _ in ui.visible() if _interactive(n))

    run(scenario())


def _interactive(node: dict) -> bool:
    return any(node.get(k) for k in ("on_click", "on_change", "on_select", "url"))


async def _saved_home_visit(store: Store, tmp_path: Path) -> str:
    """A visit recorded through the screens (offline), returning its id."""
    clock = Clock()
    async with field_app(store, clock=clock, photos=[]) as (ui, app):
        visit_id = await begin_home_visit(ui)
        await ui.click(START)
        await ui.type("教学内容", "认识颜色：红、黄、蓝")
        clock.advance(70)
        await ui.click(END)
        await ui.click(SAVE)
        await ui.click(t("ui.visit.save_anyway"))  # no photo
        assert store.visit(visit_id).state == VisitState.PENDING
    await asyncio.sleep(0)
    return visit_id
