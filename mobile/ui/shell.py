"""The app around the screens: routes, the view stack, messages, and the sync that runs itself.

Routes: ``/login``; ``/`` (my caseload); ``/child/<id>``, ``/school/<id>``; ``/visit/<id>`` (the
form, for a new visit or an edit); ``/history``; ``/record/<id>``. Each route shows a stack of
screens (back goes one down). A screen object lives as long as its route stays in the stack, so
the visit form's fields are updated in place, never rebuilt under the teacher's fingers.

Handlers end by calling ``flush()`` (``page.update()``): Flet skips its own update after a
handler that called ``update()`` itself, and ``show_dialog`` does, so relying on the automatic
update would leave changes unsent.
"""

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol

import flet as ft

from mobile.core.editor import discard_blank_drafts
from mobile.core.revoke import Revoker
from mobile.core.store import Store
from mobile.core.sync import SyncReport
from mobile.ui import widgets as w
from mobile.ui.devices import Devices
from mobile.ui.locale import apply_locale
from mobile.ui.state import AppState, Clock, SyncRunner, china_now
from shared.messages import t

log = logging.getLogger(__name__)

# The app sessions open on each store. In the web app the tabs of one browser share its store:
# signing out in one tab ends the others' sessions at once, not at their next sync round.
_sessions: "weakref.WeakKeyDictionary[Store, weakref.WeakSet[FieldApp]]" = (
    weakref.WeakKeyDictionary()
)


def sessions_on(store: Store) -> "weakref.WeakSet[FieldApp]":
    return _sessions.setdefault(store, weakref.WeakSet())


class Screen(Protocol):
    route: str

    def view(self) -> ft.View: ...

    def refresh(self) -> None:
        """Re-read the store and re-render (never called on the visit form mid-typing)."""

    def on_sync(self, report: SyncReport | None) -> None:
        """Sync progress (None) or a finished round (its report)."""

    async def on_leave(self) -> None: ...


class BaseScreen:
    """Defaults for screens: the view is built once and kept."""

    route = "/"

    def __init__(self, app: "FieldApp") -> None:
        self.app = app
        self._view: ft.View | None = None

    def build(self) -> ft.View:
        raise NotImplementedError

    def view(self) -> ft.View:
        if self._view is None:
            self._view = self.build()
        return self._view

    def refresh(self) -> None:
        pass

    def on_sync(self, report: SyncReport | None) -> None:
        if report is not None and (report.pulled or report.synced):
            self.refresh()

    async def on_leave(self) -> None:
        pass


class FieldApp:
    """One app session on one page."""

    def __init__(
        self,
        page: ft.Page,
        *,
        store: Store,
        devices: Devices,
        default_server: str,
        clock: Clock = china_now,
        client_kw: dict | None = None,
        scheduler_kw: dict | None = None,
    ) -> None:
        self.page, self.store, self.devices, self.clock = page, store, devices, clock
        self.state = AppState(
            store, devices.secrets, default_server=default_server, clock=clock, client_kw=client_kw
        )
        self.runner = SyncRunner(self.state, self._on_sync, **(scheduler_kw or {}))
        self.revoker = Revoker(
            devices.secrets, store.sync_lock, http=(client_kw or {}).get("http"), base_s=5.0
        )
        self.screens: list[Screen] = []
        self._routing = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        w.apply_theme(self.page)
        apply_locale(self.page)
        self.page.on_route_change = self._route_changed
        self.page.on_view_pop = self._view_popped
        self.page.on_close = self._closed
        sessions_on(self.store).add(self)
        await self.state.resume()
        await asyncio.to_thread(discard_blank_drafts, self.store)  # left by a killed app
        self.runner.start()
        self.revoker.start()  # a sign-out whose revocation has not reached the server yet
        await self.show(self.page.route or "/")

    async def _closed(self) -> None:
        sessions_on(self.store).discard(self)
        await self.runner.stop()
        await self.revoker.stop()

    def network_back(self) -> None:
        """The network came back: sync, and send a queued revocation, now."""
        self.runner.trigger(manual=False)
        self.revoker.trigger()

    async def sign_out(self) -> None:
        """Stop syncing, queue the token's revocation, wipe this device's data, send it."""
        await self.runner.stop()
        await self.state.sign_out()
        self.revoker.trigger()
        self.end_stale_sessions()

    def end_stale_sessions(self) -> None:
        """After this tab signed out or in: the other tabs of this browser, whose token is no
        longer the store's, follow at once (not at their next sync round, minutes later)."""
        for other in list(sessions_on(self.store)):
            if other is not self and not other.state.signed_in:
                # In the other tab's own session; a copied context, because run_task sets the
                # current page in the caller's context (it would point this tab at the other).
                contextvars.copy_context().run(other.page.run_task, other.follow_other_tab)

    async def follow_other_tab(self) -> None:
        """Another tab of this browser signed out, or signed in anew: this session takes up
        the browser's token if it is the store's (a sign-in), else shows 登录."""
        await self.runner.stop()
        await self.state.resume()
        if self.state.user is None:
            await self.go("/login")
            return
        route = self.screens[-1].route if self.screens else "/"
        gone, self.screens = self.screens, []  # maybe another user now: nothing old stays
        for screen in gone:
            try:
                await screen.on_leave()  # e.g. a blank visit form drops its empty draft
            except Exception:
                log.exception("leaving %s", screen.route)
        self.runner.start()
        await self.show(route)

    # -- navigation -------------------------------------------------------------------------

    async def go(self, route: str) -> None:
        """Show ``route`` now. (Not ``push_route``: the client raises no route change for the
        route it believes it is on, and ``show`` may have redirected, e.g. to ``/login``.)"""
        await self.show(route)

    async def _route_changed(self, e: ft.RouteChangeEvent) -> None:
        """The browser's address bar, back and forward buttons, or a deep link."""
        if not self.screens or e.route != self.screens[-1].route:
            await self.show(e.route)

    async def _view_popped(self, e: ft.ViewPopEvent) -> None:
        await self.back()

    async def back(self) -> None:
        if len(self.screens) > 1:
            await self.go(self.screens[-2].route)

    async def show(self, route: str) -> None:
        """Build the screen stack for ``route`` (reusing screens still in it) and show it."""
        from mobile.ui.routes import stack_for  # the screens import this module

        async with self._routing:
            wanted = stack_for(self, route)
            kept = {s.route: s for s in self.screens}
            stack: list[Screen] = []
            for screen_route, make in wanted:
                screen = kept.pop(screen_route, None)
                if screen is None:
                    screen = make()
                    prepare = getattr(screen, "prepare", None)
                    if prepare is not None:
                        await prepare()
                stack.append(screen)
            for gone in kept.values():
                try:
                    await gone.on_leave()
                except Exception:
                    log.exception("leaving %s", gone.route)
            top = stack[-1]
            if self.screens and top is not self.screens[-1] and top in self.screens:
                top.refresh()  # back on a kept screen: what it shows may have changed meanwhile
            self.screens = stack
            self.page.views[:] = [s.view() for s in stack]
            if self.page.route != stack[-1].route:
                self.page.route = stack[-1].route
            self.flush()

    def rebuild(self) -> None:
        """Re-render every screen from the store (after sign-in, a sync that changed data)."""
        for screen in self.screens:
            screen.refresh()
        self.flush()

    # -- feedback ---------------------------------------------------------------------------

    def flush(self) -> None:
        self.page.update()

    def notify(self, message: str, *, error: bool = False) -> None:
        self.page.show_dialog(w.snack(message, error=error))

    def confirm(
        self,
        title: str,
        lines: list[str],
        yes: str,
        on_yes: Callable[[], Awaitable[None]],
        *,
        no: str | None = None,
        danger: bool = False,
    ) -> None:
        """A modal question; ``on_yes`` runs after the dialog closed."""

        async def accept() -> None:
            self.page.pop_dialog()
            await on_yes()
            self.flush()

        def decline() -> None:
            self.page.pop_dialog()

        self.page.show_dialog(
            ft.AlertDialog(
                modal=True,
                title=ft.Text(title, size=w.TITLE),
                content=ft.Column(
                    [ft.Text(line, size=w.TEXT) for line in lines], tight=True, spacing=8
                ),
                actions=[
                    w.text_button(no or t("ui.action.cancel"), decline),
                    w.button(yes, accept, color=w.ERROR if danger else None),
                ],
            )
        )

    # -- sync -------------------------------------------------------------------------------

    def sync_now(self) -> None:
        if not self.runner.trigger(manual=True):
            self.notify(t("mobile.signed_out"), error=True)
        self._on_sync(None)

    def _on_sync(self, report: SyncReport | None) -> None:
        for screen in self.screens:
            try:
                screen.on_sync(report)
            except Exception:
                log.exception("refreshing %s", screen.route)
        if report is not None and report.needs_sign_in and self.state.user is None:
            # Signed out from another tab of this browser: this one stops showing its data.
            task = asyncio.get_running_loop().create_task(self.go("/login"))
            self._tasks.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._tasks.discard)
        if report is not None:
            manual = self.runner.status.manual
            if not report.ok and (manual or report.needs_sign_in):
                self.notify(report.summary(), error=True)
            elif report.ok and (manual or report.synced or report.conflicts or report.rejected):
                self.notify(report.summary(), error=bool(report.conflicts or report.rejected))
        self.flush()
