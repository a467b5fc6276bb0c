"""登录: once per phone. The server address is kept; the token goes to secure storage."""

import flet as ft

from mobile.core.sync import SyncError
from mobile.ui import widgets as w
from mobile.ui.shell import BaseScreen, FieldApp
from shared.messages import t


class LoginScreen(BaseScreen):
    route = "/login"

    def __init__(self, app: FieldApp) -> None:
        super().__init__(app)
        state = app.state
        user = app.store.user()
        self.server = w.field(t("ui.login.server"), state.server_address(), None)
        self.server.keyboard_type = ft.KeyboardType.URL
        self.username = w.field(t("ui.login.username"), user.username if user else "", None)
        self.password = w.field(t("ui.login.password"), "", None, password=True)
        self.password.on_submit = self._submit
        self.error = w.note("", w.ERROR, visible=False)
        self.submit = w.button(t("ui.login.submit"), self._submit, icon=ft.Icons.LOGIN, expand=True)
        self.expired = w.banner(t("ui.login.expired_note"), w.WARN)
        self.expired.visible = user is not None

    def build(self) -> ft.View:
        return ft.View(
            route=self.route,
            scroll=ft.ScrollMode.AUTO,
            padding=20,
            spacing=16,
            controls=[
                ft.Text(t("ui.app_title"), size=32, weight=ft.FontWeight.BOLD),
                w.text(t("ui.login.title"), size=w.TITLE),
                w.note(t("ui.login.hint")),
                self.expired,
                self.server,
                self.username,
                self.password,
                self.error,
                ft.Row([self.submit]),
            ],
        )

    async def _submit(self) -> None:
        username = (self.username.value or "").strip()
        password = self.password.value or ""
        if not username or not password:
            self._fail(t("ui.login.empty"))
            self.app.flush()
            return
        self.error.visible = False
        self.submit.disabled = True
        self.submit.content = ft.Text(t("ui.login.busy"), size=w.TEXT)
        self.app.flush()  # "正在登录…" reaches the screen before the network wait
        try:
            user = await self.app.state.sign_in(self.server.value or "", username, password)
        except SyncError as exc:
            message = str(exc)
            if message in (t("mobile.offline"), t("mobile.timeout")):
                message = t("ui.login.unreachable")
            self._fail(message)
            return
        finally:
            self.submit.disabled = False
            self.submit.content = ft.Text(t("ui.login.submit"), size=w.TEXT)
            self.app.flush()
        self.password.value = ""
        self.app.end_stale_sessions()  # this browser's other tabs take up the new sign-in
        await self.app.go("/")
        self.app.notify(t("ui.login.welcome", name=user.name or user.username))
        self.app.flush()
        # The first round (the roster) once the home screen is on its way to the browser: its
        # progress updates then never race the switch of views (a home drawn blank was seen,
        # rarely, under load, with the round started before).
        self.app.runner.start()

    def _fail(self, message: str) -> None:
        self.error.value = message
        self.error.visible = True
