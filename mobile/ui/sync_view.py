"""The sync badge (app bar) and the sync status panel: what waits, what runs, what failed."""

import flet as ft

from mobile.core.sync import SyncProgress
from mobile.ui import format as fmt
from mobile.ui import widgets as w
from mobile.ui.shell import FieldApp
from shared.messages import t


class SyncBadge:
    """The 同步 button with the number of records and photos waiting."""

    def __init__(self, app: FieldApp) -> None:
        self.app = app
        self.control = ft.IconButton(
            icon=ft.Icons.SYNC, icon_size=28, on_click=self._clicked, badge=None
        )
        self.refresh()

    def refresh(self) -> None:
        waiting = self.app.state.pending().total
        self.control.tooltip = w.icon_tip(t("ui.sync.button", count=waiting))
        self.control.badge = ft.Badge(label=str(waiting)) if waiting else None
        self.control.disabled = self.app.runner.status.running
        self.control.icon = ft.Icons.SYNC_PROBLEM if self.app.state.needs_sign_in else ft.Icons.SYNC

    def _clicked(self) -> None:
        self.app.sync_now()


class SyncPanel:
    """A line or two under the app bar: waiting counts, progress, the last error, sign-in."""

    def __init__(self, app: FieldApp) -> None:
        self.app = app
        self.line = w.note("")
        self.error = w.note("", w.ERROR, visible=False)
        self.bar = ft.ProgressBar(visible=False)
        self.resign = w.button(t("ui.action.resign_in"), self._resign, icon=ft.Icons.LOGIN)
        self.expired = w.banner(t("mobile.signed_out"), w.ERROR, self.resign)
        self.clock = w.note("", w.WARN, visible=False)
        self.control = ft.Column(
            [self.expired, self.line, self.bar, self.error, self.clock], spacing=4
        )
        self.refresh()

    def refresh(self) -> None:
        state, status = self.app.state, self.app.runner.status
        pending = state.pending()
        self.expired.visible = state.needs_sign_in
        if status.running:
            self.line.value = _stage(status.progress)
            self.bar.visible = True
            p = status.progress
            self.bar.value = p.done / p.total if p and p.total and p.stage != "pull" else None
        else:
            self.bar.visible = False
            stuck = state.store.query(
                "SELECT COUNT(*) AS n FROM visit WHERE state IN ('conflict', 'rejected')"
            )[0]["n"]
            if pending.total:
                self.line.value = t(
                    "ui.sync.waiting", records=pending.records, photos=pending.photos
                )
            elif stuck:
                self.line.value = t("ui.sync.needs_attention", count=stuck)
            else:
                self.line.value = t("ui.sync.all_done")
            if status.last_ok_at:
                self.line.value = t(
                    "ui.sync.done_and_last_ok",
                    done=self.line.value,
                    last_ok=t("ui.sync.last_ok", time=fmt.day_time(status.last_ok_at)),
                )
        last = status.last
        show_error = bool(last and not last.ok and last.error and not state.needs_sign_in)
        self.error.visible = show_error and not status.running
        self.error.value = last.error if show_error and last else ""
        skew = state.store.clock_skew_s()
        self.clock.visible = skew is not None and abs(skew) > 10 * 60
        if self.clock.visible and skew is not None:
            self.clock.value = t("mobile.warn.clock", minutes=round(abs(skew) / 60))

    async def _resign(self) -> None:
        await self.app.go("/login")


def _stage(progress: SyncProgress | None) -> str:
    if progress is None:
        return t("ui.sync.running")
    return t(f"ui.sync.stage.{progress.stage}", done=progress.done, total=progress.total)
