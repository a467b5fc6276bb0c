"""The web app (``songjiao app``): each browser is a device with its own store; the tabs of one
browser share it; signing out in one tab ends every tab's session on that browser."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mobile.app as web
from mobile.core import revoke
from mobile.core.device_stores import (
    DEVICE_ID_KEY,
    DeviceStores,
    legacy_store_note,
    valid_device_id,
)
from mobile.ui.shell import FieldApp
from shared.messages import t
from tests.live import LiveServer
from tests.mobile.helpers import home_record, seeded
from tests.mobile.ui.appkit import run
from tests.mobile.ui.conftest import Field
from tests.mobile.ui.harness import FakeClient
from tests.mobile.ui.test_online import sign_in


@pytest.fixture
def app_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SONGJIAO_APP_DATA", str(tmp_path))
    monkeypatch.setattr(web, "_stores", None)
    yield tmp_path
    if web._stores is not None:
        web._stores.close()


class Browser:
    """One browser: its own localStorage (prefs) and secure storage, shared by its tabs."""

    def __init__(self) -> None:
        self.prefs: dict[str, Any] = {}
        self.secure: dict[str, Any] = {}

    async def tab(self) -> tuple[FakeClient, FieldApp]:
        client = FakeClient()
        client.prefs, client.secure = self.prefs, self.secure
        page = await client.open(web.main)
        assert isinstance(page.data, FieldApp)
        return client, page.data


def test_each_browser_is_a_device_with_its_own_store(
    ui_server: LiveServer, field_world: Field, app_data: Path
) -> None:
    async def scenario() -> None:
        teacher_browser, itinerant_browser = Browser(), Browser()
        t_ui, t_app = await teacher_browser.tab()
        i_ui, i_app = await itinerant_browser.tab()
        try:
            await sign_in(t_ui, ui_server.url, field_world.teacher)
            await sign_in(i_ui, ui_server.url, field_world.itinerant)
            await t_ui.wait_text("张小明")
            await i_ui.wait_text("千岛湖小学")
            await t_ui.wait_text(t("ui.sync.all_done"))
            await i_ui.wait_text(t("ui.sync.all_done"))
            assert not t_ui.has_text("千岛湖小学") and not i_ui.has_text("张小明")

            t_id, i_id = (
                teacher_browser.prefs[DEVICE_ID_KEY],
                itinerant_browser.prefs[DEVICE_ID_KEY],
            )
            assert valid_device_id(t_id) and valid_device_id(i_id) and t_id != i_id
            assert t_app.store is not i_app.store
            assert t_app.store.dir == app_data / "devices" / t_id
            assert {a["username"] for a in t_app.store.assignments()} == {field_world.teacher}
            assert {a["username"] for a in i_app.store.assignments()} == {field_world.itinerant}

            await t_ui.click(t("ui.action.sign_out"))
            await t_ui.click(t("ui.signout.yes"))
            assert t_ui.route() == "/login" and t_app.store.user() is None
            await t_ui.wait_for(lambda: not t_app.revoker.active)  # revoked at once (online)
            assert await revoke.queued(t_app.devices.secrets) == []
            # The other browser is untouched and still syncs.
            assert i_app.store.user() is not None and i_app.store.assignments()
            await i_ui.click("立即同步")
            await i_ui.wait_text(t("mobile.sync.done", records=0, photos=0, changes=0))
        finally:
            await t_ui.close()
            await i_ui.close()

        # A brand-new browser: its own empty device, asking for a sign-in with no name filled in.
        new_ui, new_app = await Browser().tab()
        try:
            assert new_ui.route() == "/login"
            assert new_ui.value(t("ui.login.username")) == ""
            assert not new_ui.has_text(t("ui.login.expired_note"))
            assert new_app.store.user() is None
        finally:
            await new_ui.close()

    run(scenario())


def test_tabs_of_one_browser_share_its_store_and_its_sign_out(
    ui_server: LiveServer, field_world: Field, app_data: Path
) -> None:
    async def scenario() -> None:
        browser = Browser()
        first_ui, first = await browser.tab()
        try:
            await sign_in(first_ui, ui_server.url, field_world.teacher)
            await first_ui.wait_text("张小明")
            await first_ui.wait_text(t("ui.sync.all_done"))
            second_ui, second = await browser.tab()
            try:
                assert second.store is first.store  # one object: its locks hold across tabs
                assert second_ui.route() == "/"
                await second_ui.wait_text("张小明")
                await first_ui.click(t("ui.action.sign_out"))
                await first_ui.click(t("ui.signout.yes"))
                # The second tab's session ended with the first's: it syncs no more.
                await second_ui.wait_for(lambda: second_ui.route() == "/login")
                assert not second.runner.active and second.state.client is None
                assert not second_ui.has_text("张小明")
                assert not second.runner.trigger()
                # Signed in again in the first tab: the second takes up the new sign-in.
                await sign_in(first_ui, ui_server.url, field_world.teacher)
                await second_ui.wait_for(lambda: second_ui.route() == "/")
                await second_ui.wait_text("张小明")
                assert second.state.signed_in and second.runner.active
            finally:
                await second_ui.close()
        finally:
            await first_ui.close()

    run(scenario())


def test_device_ids_from_the_browser_are_checked_before_they_name_a_directory(
    tmp_path: Path,
) -> None:
    stores = DeviceStores(tmp_path)
    try:
        assert stores.phone().dir == tmp_path  # a phone is one device, where it always was
        with pytest.raises(ValueError):
            stores.browser("../../etc")
        device = "0123456789abcdef0123456789abcdef"
        assert stores.browser(device) is stores.browser(device)
    finally:
        stores.close()


def test_a_device_id_that_could_not_be_read_is_never_replaced(app_data: Path) -> None:
    """A read that fails (a busy or reconnecting page) is tried again; the browser keeps its
    id, so its store (and any unsynced record in it) stays its own."""
    device = "0123456789abcdef0123456789abcdef"

    async def scenario() -> None:
        browser = Browser()
        browser.prefs[DEVICE_ID_KEY] = device
        client = FakeClient()
        client.prefs, client.secure = browser.prefs, browser.secure
        failures = iter([True])

        def flaky_get(c: FakeClient, args: dict[str, Any]) -> Any:
            if next(failures, False):
                raise RuntimeError("no answer")
            return c.prefs.get(args["key"])

        client.answers[("SharedPreferences", "get")] = flaky_get
        page = await client.open(web.main)
        try:
            assert browser.prefs[DEVICE_ID_KEY] == device
            assert page.data.store.dir == app_data / "devices" / device
        finally:
            await client.close()

        never = FakeClient()
        never.prefs = browser.prefs

        def dead(c: FakeClient, args: dict[str, Any]) -> Any:
            raise RuntimeError("no answer")

        never.answers[("SharedPreferences", "get")] = dead
        page = await never.open(web.main)
        try:  # a device for this page only; the browser's id untouched
            assert browser.prefs[DEVICE_ID_KEY] == device
            assert page.data.store.dir != app_data / "devices" / device
        finally:
            await never.close()

    run(scenario())


def test_the_old_shared_store_with_unsynced_records_is_pointed_out_not_taken(
    tmp_path: Path,
) -> None:
    assert legacy_store_note(tmp_path) is None  # a fresh install
    store = seeded(tmp_path)
    assert legacy_store_note(tmp_path) is None  # nothing waiting: nothing to say
    store.visit_repo.save_visit(home_record("ST1"))
    store.close()
    note = legacy_store_note(tmp_path)
    assert note is not None and "1 条记录尚未同步" in note
