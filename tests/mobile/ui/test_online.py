"""The screens against a real ``songjiao serve``: sign-in, sync results, a revoked token."""

from pathlib import Path

from sqlmodel import select

from mobile.core import revoke
from mobile.core.devices import MemorySecrets
from mobile.core.models import VisitState
from server.models import Visit, VisitPhoto
from shared.messages import t
from tests.factories import PASSWORD, Factory
from tests.live import LiveServer
from tests.mobile.netfaults import FaultyProxy, Network
from tests.mobile.ui.appkit import NOWHERE, Clock, field_app, jpeg, run, store_for
from tests.mobile.ui.conftest import Field
from tests.mobile.ui.harness import FakeClient

SAVE = "保存记录"


async def sign_in(ui: FakeClient, server: str, username: str, password: str = PASSWORD) -> None:
    await ui.type("服务器地址", server)
    await ui.type("用户名", username)
    await ui.type("密码", password)
    await ui.click("登录")


async def record_home_visit(ui: FakeClient, clock: Clock, name: str = "张小明") -> str:
    await ui.click(f"开始送教：{name}")
    visit_id = ui.route().removeprefix("/visit/")
    await ui.click("开始")
    await ui.type("教学内容", "认识颜色：红、黄、蓝")
    await ui.click("拍照")
    clock.advance(70)
    await ui.click("结束")
    await ui.click(SAVE)
    assert ui.route() == "/", ui.texts()
    return visit_id


def server_visits(server: LiveServer, teacher: str) -> list[Visit]:
    factory = Factory(server)
    try:
        with factory.session() as s:
            return list(s.exec(select(Visit).where(Visit.teacher == teacher)))
    finally:
        factory.engine.dispose()


def server_photo_count(server: LiveServer, visit_id: str) -> int:
    factory = Factory(server)
    try:
        with factory.session() as s:
            rows = s.exec(select(VisitPhoto).where(VisitPhoto.visit_id == visit_id))
            return len(list(rows))
    finally:
        factory.engine.dispose()


def test_sign_in_explains_each_failure_then_opens_straight_to_work(
    ui_server: LiveServer, field_world: Field, tmp_path: Path
) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path, None)
        secrets = MemorySecrets()
        async with field_app(store, secrets=secrets) as (ui, app):
            assert ui.route() == "/login"
            await ui.click("登录")
            assert ui.has_text(t("ui.login.empty"))
            await sign_in(ui, "ftp://example", field_world.teacher)
            assert ui.has_text(t("mobile.bad_server_url"))
            await sign_in(ui, NOWHERE, field_world.teacher)
            assert ui.has_text(t("ui.login.unreachable"))
            await sign_in(ui, ui_server.url, field_world.teacher, "wrong password")
            assert ui.has_text(t("bad_credentials"))
            assert ui.route() == "/login" and secrets.values == {}
            await sign_in(ui, ui_server.url, field_world.teacher)
            assert ui.route() == "/"
            await ui.wait_text("张小明")  # the first sync brought the roster
            await ui.wait_text(t("ui.sync.all_done"))
            assert list(secrets.values.values())  # the token went to secure storage
        # Next launch: straight to work, no sign-in, nothing asked of the server.
        async with field_app(store, secrets=secrets) as (ui, app):
            assert ui.route() == "/" and ui.has_text("张小明")
        store.close()

    run(scenario())


def test_sync_failures_are_shown_in_chinese_and_nothing_is_lost(
    ui_server: LiveServer, field_world: Field, tmp_path: Path
) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path, None)
        clock = Clock()
        with FaultyProxy(ui_server.url) as proxy:
            async with field_app(store, clock=clock, photos=[jpeg()]) as (ui, app):
                await sign_in(ui, proxy.url, field_world.teacher)
                await ui.wait_text("张小明")
                await ui.wait_text(t("ui.sync.all_done"))
                proxy.arm("status_500", "GET", "/api/v1/sync/pull")  # the sync after saving
                visit_id = await record_home_visit(ui, clock)
                await ui.wait_text(t("mobile.server_error", status=500))
                await ui.wait_text("待同步：1 条记录、1 张照片")
                proxy.arm("cut_upload", "PUT", "/api/v1/photos/")
                await ui.click("立即同步")
                await ui.wait_text(t("mobile.offline"))
                assert server_visits(ui_server, field_world.teacher) == []
                assert store.visit(visit_id).state == VisitState.PENDING
                await ui.click("立即同步")
                await ui.wait_text("同步完成：上传 1 条记录、1 张照片")
                await ui.wait_text(t("ui.sync.all_done"))
        (stored,) = server_visits(ui_server, field_world.teacher)
        assert str(stored.id) == visit_id and server_photo_count(ui_server, visit_id) == 1
        assert store.visit(visit_id).state == VisitState.SYNCED
        store.close()

    run(scenario())


def test_a_token_revoked_while_offline_asks_to_sign_in_and_loses_nothing(
    ui_server: LiveServer, field_world: Field, tmp_path: Path
) -> None:
    async def scenario() -> None:
        store = store_for(tmp_path, None)
        clock = Clock()
        coordinator = Factory(ui_server).login(field_world.coordinator)
        async with field_app(store, clock=clock, photos=[jpeg()]) as (ui, app):
            await sign_in(ui, ui_server.url, field_world.teacher)
            await ui.wait_text("张小明")
            # Offline in the hills, the coordinator revokes this phone.
            devices = coordinator.get("/devices").json()
            (mine,) = [d for d in devices if d["username"] == field_world.teacher]
            assert coordinator.post(f"/devices/{mine['id']}/revoke").status_code == 200
            visit_id = await record_home_visit(ui, clock)
            await ui.wait_text(t("mobile.signed_out"))
            assert store.visit(visit_id).state == VisitState.PENDING
            await ui.click(t("ui.action.resign_in"))
            assert ui.route() == "/login" and ui.has_text(t("ui.login.expired_note"))
            assert ui.value("用户名") == field_world.teacher
            await ui.type("密码", PASSWORD)
            await ui.click("登录")
            await ui.wait_text(t("ui.sync.all_done"))
        (stored,) = server_visits(ui_server, field_world.teacher)
        assert str(stored.id) == visit_id
        store.close()

    run(scenario())


def test_sign_out_offline_revokes_the_token_once_the_phone_is_back_even_after_a_kill(
    ui_server: LiveServer, field_world: Field, tmp_path: Path
) -> None:
    async def scenario() -> None:
        store, secrets, network = store_for(tmp_path, None), MemorySecrets(), Network()
        coordinator = Factory(ui_server).login(field_world.coordinator)

        def revoked() -> bool:
            devices = coordinator.get("/devices").json()
            (mine,) = [d for d in devices if d["username"] == field_world.teacher]
            return bool(mine["revoked"])

        async with field_app(store, secrets=secrets, client_kw={"http": network}) as (ui, app):
            await sign_in(ui, ui_server.url, field_world.teacher)
            await ui.wait_text(t("ui.sync.all_done"))
            network.up = False  # into the hills
            await ui.click("退出登录")
            await ui.click(t("ui.signout.yes"))
            assert ui.route() == "/login" and store.user() is None
            await ui.wait_for(lambda: app.revoker.failures > 0)  # tried; nothing got out
            assert await revoke.queued(secrets) and not revoked()
        # Killed; next launch, back in town: the revocation goes out by itself, once.
        network.up, network.sent = True, []
        async with field_app(store, secrets=secrets, client_kw={"http": network}) as (ui, app):
            await ui.wait_for(lambda: not app.revoker.active)
            assert ui.route() == "/login" and await revoke.queued(secrets) == []
        assert revoked() and network.sent == [("POST", "/api/v1/auth/logout", 0)]
        store.close()

    run(scenario())
