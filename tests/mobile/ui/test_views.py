"""The screens around the visit form, in-process, with the server unreachable and the core's
device fakes (the form itself: ``test_visit.py``)."""

from pathlib import Path

from mobile.core import revoke
from mobile.core.devices import TOKEN_KEY, MemorySecrets
from mobile.core.models import VisitState
from mobile.core.revoke import Revocation
from mobile.core.sync import SyncProgress
from shared.messages import t
from tests.mobile.helpers import ITINERANT, change, result
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
    saved_home_visit,
    store_for,
)
from tests.mobile.ui.harness import label_of


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


def test_a_conflict_shows_both_versions_and_the_teacher_chooses(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        visit_id = await saved_home_visit(store, tmp_path)
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
        visit_id = await saved_home_visit(store, tmp_path)
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
        await saved_home_visit(store, tmp_path)
        secrets = MemorySecrets({TOKEN_KEY: "a-token"})
        async with field_app(store, secrets=secrets) as (ui, app):
            await ui.click("退出登录")
            assert ui.has_text("还有 1 条记录、0 张照片没有同步")
            assert ui.has_text("没有同步的记录：送教上门 · 张小明（")
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


def test_sign_out_names_the_drafts_it_would_delete(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        async with field_app(store) as (ui, app):
            await begin_home_visit(ui)  # opened and left blank: nothing to lose
            await ui.back()
            await ui.click("退出登录")
            assert not ui.has_text("没有同步") and not ui.has_text("未完成的记录没有保存")
            await ui.click(t("ui.action.cancel"))
            await begin_home_visit(ui)
            await ui.type("教学内容", "认识颜色")
            await ui.back()
            await ui.click("退出登录")
            assert ui.has_text(
                "还有 1 份未完成的记录没有保存，退出后将被删除：送教上门 · 张小明（未开始）"
            )
            await ui.click(t("ui.action.cancel"))
            assert store.drafts()
        store.close()

    run(scenario())


def test_history_lists_months_and_the_subsidy_total(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path)
        visit_id = await saved_home_visit(store, tmp_path)
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
        visit_id = await saved_home_visit(store, tmp_path)
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
