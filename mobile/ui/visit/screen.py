"""Recording a visit: 开始 (time + GPS), the content, photos, 结束, the trip, 保存.

Every change is saved as a draft at once (``VisitEditor``). The sections (``mobile.ui.visit``)
build their controls once and change them in place, so a field being typed into is never
replaced. What cannot be saved is said in Chinese next to its field and in one line above 保存;
what the server will flag but accept is listed in a dialog before saving.
"""

import flet as ft

from mobile.core.editor import VisitEditor
from mobile.core.models import StoreError
from mobile.core.sync import SyncReport
from mobile.ui import widgets as w
from mobile.ui.shell import BaseScreen, FieldApp
from mobile.ui.visit.checks import CheckInSection, CheckOutSection
from mobile.ui.visit.content import HomeContent, ItinerantContent
from mobile.ui.visit.photos import PhotoSection
from mobile.ui.visit.section import FormContext, Section
from mobile.ui.visit.trip import TripSection
from shared.messages import t
from shared.protocol import VisitRecord


class VisitScreen(BaseScreen):
    def __init__(self, app: FieldApp, visit_id: str) -> None:
        super().__init__(app)
        self.route = f"/visit/{visit_id}"
        self.editor = VisitEditor.load(app.store, visit_id, clock=app.clock)
        self.sections: list[Section] = []
        if self.editor is not None:
            self._make_sections(self.editor)

    def _make_sections(self, editor: VisitEditor) -> None:
        self.ctx = FormContext(self.app, editor, changed=self._changed, derive_all=self._derive)
        content = HomeContent if editor.home else ItinerantContent
        self.check_in = CheckInSection(self.ctx)
        self.content = content(self.ctx)
        self.photos = PhotoSection(self.ctx)
        self.check_out = CheckOutSection(self.ctx)
        self.trip = TripSection(self.ctx)
        self.sections = [self.check_in, self.content, self.photos, self.check_out, self.trip]
        self.summary = w.note("", w.ERROR, visible=False)
        self.save_btn = w.button(
            t("ui.visit.save"),
            self._save,
            icon=ft.Icons.SAVE,
            expand=True,
            ident="save-visit",
        )
        discard = "ui.visit.discard_edit" if editor.saved else "ui.visit.discard"
        self.discard_btn = w.text_button(t(discard), self._discard)
        self._derive()

    def build(self) -> ft.View:
        editor = self.editor
        if editor is None:
            return ft.View(
                route=self.route,
                appbar=ft.AppBar(title=ft.Text(t("ui.visit.missing"))),
                controls=[w.banner(t("ui.visit.missing"), w.WARN)],
            )
        key = "ui.visit.title_home" if editor.home else "ui.visit.title_itinerant"
        return ft.View(
            route=self.route,
            scroll=ft.ScrollMode.AUTO,
            padding=12,
            spacing=14,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            appbar=ft.AppBar(title=ft.Text(t(key, name=editor.subject_name), size=w.TITLE)),
            controls=[
                *(section.frame() for section in self.sections),
                self.summary,
                ft.Row([self.save_btn]),
                w.note(t("ui.visit.draft_note")),
                self.discard_btn,
            ],
        )

    # -- what follows from the form (never the text the teacher is typing) ------------------

    def _derive(self) -> None:
        for section in self.sections:
            section.derive()

    async def _changed(self) -> None:
        self._derive()
        self.app.flush()

    # -- saving -----------------------------------------------------------------------------

    async def _save(self) -> None:
        editor = self.editor
        assert editor is not None
        self._clear_errors()
        if self.ctx.bad_inputs:
            self._show_summary([t("ui.visit.bad_time")])
            self.app.flush()
            return
        result = editor.check()
        if not result.ok:
            self._show_errors(result.errors)
            self.app.flush()
            return
        assert result.record is not None
        record = result.record
        if result.warnings:

            async def save_anyway() -> None:
                await self._store(record)

            self.app.confirm(
                t("ui.visit.warnings_title"),
                result.warnings,
                t("ui.visit.save_anyway"),
                save_anyway,
                no=t("ui.visit.go_back_edit"),
            )
            self.app.flush()
            return
        await self._store(record)

    async def _store(self, record: VisitRecord) -> None:
        assert self.editor is not None
        try:
            await self.editor.save(record)
        except StoreError as exc:
            self._show_summary([str(exc)])
            self.app.flush()
            return
        self.app.runner.trigger(manual=False)
        await self.app.go("/")
        self.app.notify(t("ui.visit.saved"))
        self.app.flush()

    def _clear_errors(self) -> None:
        for section in self.sections:
            section.clear_errors()
        self.summary.visible = False

    def _show_errors(self, errors: dict[str, str]) -> None:
        for name, message in errors.items():
            for section in self.sections:
                if section.show_error(name, message):
                    break
        self._show_summary(list(dict.fromkeys(errors.values())))

    def _show_summary(self, messages: list[str]) -> None:
        self.summary.value = t("ui.visit.fix_first", errors=t("list.clause_sep").join(messages))
        self.summary.visible = True

    async def _discard(self) -> None:
        async def discard() -> None:
            assert self.editor is not None
            await self.editor.discard()
            self.editor = None  # nothing left to keep on leaving
            await self.app.go("/")
            self.app.notify(t("ui.visit.discarded"))

        self.app.confirm(
            t("ui.visit.discard"),
            [t("ui.visit.discard_confirm")],
            t("ui.visit.discard_yes"),
            discard,
            danger=True,
        )
        self.app.flush()

    # -- screen protocol --------------------------------------------------------------------

    def on_sync(self, report: SyncReport | None) -> None:
        pass  # never rebuild under the teacher's fingers

    async def on_leave(self) -> None:
        editor = self.editor
        if editor is not None and not editor.saved and editor.is_blank():
            await editor.discard()

    async def prepare(self) -> None:
        """Thumbnails of photos already on the form (the first render shows grey tiles)."""
        if self.editor is not None and self.editor.form.photos:
            await self.photos.load_thumbs()
