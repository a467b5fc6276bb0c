"""内容: what was taught and how the child took it (home teaching), or what the instructor
looked at, found and recommends (itinerant)."""

import flet as ft

from mobile.core.due_date import picked_day
from mobile.ui import format as fmt
from mobile.ui import widgets as w
from mobile.ui.visit.section import FormContext, Section, frame, selected, value_of
from shared.domain import ItinerantPurpose
from shared.messages import t
from shared.terms import local_date


class _ContentSection(Section):
    def __init__(self, ctx: FormContext) -> None:
        super().__init__(ctx)
        self.texts: dict[str, ft.TextField] = {}
        self.controls: list[ft.Control] = []

    def frame(self) -> ft.Control:
        return frame(t("ui.visit.content"), *self.controls)

    def _text_field(self, name: str, *, required: bool) -> ft.TextField:
        self.texts[name] = w.field(
            t(f"mobile.field.{name}") + (" *" if required else ""),
            getattr(self.editor.form, name),
            self._text_changed(name),
            multiline=True,
        )
        return self.texts[name]

    def _text_changed(self, name: str) -> w.OnChange:
        async def handler(e: ft.Event[ft.TextField]) -> None:
            await self.editor.set_value(name, value_of(e))
            if self.texts[name].error:
                self.texts[name].error = None
            self.app.flush()

        return handler

    def _toggle(self, name: str, item: str) -> w.OnSelect:
        async def handler(e: ft.Event[ft.Chip]) -> None:
            on = selected(e)
            e.control.selected = on
            await self.editor.toggle(name, item, on)
            self._toggled(name)
            self.ctx.derive_all()  # a child ticked as seen may forbid photos
            self.app.flush()

        return handler

    def _toggled(self, name: str) -> None:
        pass

    def clear_errors(self) -> None:
        for control in self.texts.values():
            control.error = None

    def show_error(self, name: str, message: str) -> bool:
        if name in self.texts:
            self.texts[name].error = message
            return True
        return False


class HomeContent(_ContentSection):
    """The plan's goals as chips, then what was taught, the child's response, the guidance."""

    def __init__(self, ctx: FormContext) -> None:
        super().__init__(ctx)
        form = self.editor.form
        goals = (self.editor.subject or {}).get("iep_goals") or []
        self.goal_chips = ft.Row(
            [w.chip(g, g in form.iep_goals, self._toggle("iep_goals", g)) for g in goals]
            or [w.note(t("ui.visit.no_goals"))],
            wrap=True,
        )
        self.controls = [
            w.note(t("ui.visit.iep_chips")),
            self.goal_chips,
            self._text_field("content", required=True),
            self._text_field("student_response", required=False),
            self._text_field("guardian_guidance", required=False),
        ]


class ItinerantContent(_ContentSection):
    """Purposes and the students seen as chips, the findings, and dated recommendations."""

    def __init__(self, ctx: FormContext) -> None:
        super().__init__(ctx)
        form = self.editor.form
        self.purpose_note = w.note(t("ui.visit.purposes_chips") + " *")
        self.purpose_chips = ft.Row(
            [
                w.chip(t(f"purpose.{p}"), p in form.purposes, self._toggle("purposes", p))
                for p in ItinerantPurpose
            ],
            wrap=True,
        )
        students = self.app.store.students_at(form.subject_id)
        self.student_chips = ft.Row(
            [
                w.chip(
                    s["name"], s["id"] in form.students_seen, self._toggle("students_seen", s["id"])
                )
                for s in students
            ]
            or [w.note(t("ui.school.no_students"))],
            wrap=True,
        )
        self.rec_column = ft.Column(spacing=8)
        self.rec_note = w.note("", w.ERROR, visible=False)
        self._fill_recommendations()
        self.controls = [
            self.purpose_note,
            self.purpose_chips,
            w.note(t("ui.visit.students_chips")),
            self.student_chips,
            self._text_field("findings", required=True),
            self.rec_column,
            self.rec_note,
            w.button(
                t("ui.visit.add_recommendation"), self._add_rec, icon=ft.Icons.ADD, filled=False
            ),
        ]

    def _toggled(self, name: str) -> None:
        if name == "purposes":
            self.purpose_note.color = w.MUTED

    def clear_errors(self) -> None:
        super().clear_errors()
        self.purpose_note.color = w.MUTED
        self.rec_note.visible = False

    def show_error(self, name: str, message: str) -> bool:
        if name == "purposes":
            self.purpose_note.color = w.ERROR
            return True
        if name == "recommendations":
            self.rec_note.value, self.rec_note.visible = message, True
            return True
        return super().show_error(name, message)

    # -- recommendations -------------------------------------------------------------------

    def _fill_recommendations(self) -> None:
        self.due_labels: list[ft.Text] = []
        self.due_clears: list[ft.IconButton] = []
        rows: list[ft.Control] = []
        for i, rec in enumerate(self.editor.form.recommendations):
            n = i + 1
            pick = w.button("", self._pick_due(i), icon=ft.Icons.EVENT, filled=False)
            assert isinstance(pick.content, ft.Text)
            clear = w.icon_button(
                ft.Icons.EVENT_BUSY, t("ui.visit.due_date_clear", n=n), self._clear_due(i)
            )
            self.due_labels.append(pick.content)
            self.due_clears.append(clear)
            self._show_due(i)
            rows.append(
                ft.Column(
                    [
                        ft.Row(
                            [
                                ft.Container(
                                    w.field(
                                        t("ui.visit.recommendation", n=n),
                                        rec.get("text") or "",
                                        self._rec_text(i),
                                        multiline=True,
                                    ),
                                    expand=True,
                                ),
                                w.icon_button(
                                    ft.Icons.DELETE_OUTLINE,
                                    t("ui.visit.remove_recommendation", n=n),
                                    self._remove_rec(i),
                                ),
                            ]
                        ),
                        ft.Row([ft.Container(pick, expand=True), clear]),
                    ],
                    spacing=4,
                )
            )
        self.rec_column.controls = rows

    def _show_due(self, index: int) -> None:
        """The due-date button's text (the day set, or that none is), its name for screen
        readers (which recommendation's), and the clear button."""
        day, n = self.editor.due_date(index), index + 1
        label = self.due_labels[index]
        if day is None:
            label.value = t("ui.visit.due_date_unset")
            label.semantics_label = t("ui.visit.due_date_none", n=n)
        else:
            today = local_date(self.app.clock())
            label.value = t("ui.visit.due_date_shown", date=fmt.day_near(day, today))
            label.semantics_label = t("ui.visit.due_date_set", n=n, date=fmt.long_day(day))
        self.due_clears[index].visible = day is not None

    async def _add_rec(self) -> None:
        await self.editor.add_recommendation()
        self._fill_recommendations()
        self.app.flush()

    def _remove_rec(self, index: int) -> w.Action:
        async def handler() -> None:
            await self.editor.remove_recommendation(index)
            self._fill_recommendations()
            self.app.flush()

        return handler

    def _rec_text(self, index: int) -> w.OnChange:
        async def handler(e: ft.Event[ft.TextField]) -> None:
            await self.editor.set_recommendation(index, "text", value_of(e))

        return handler

    def _pick_due(self, index: int) -> w.Action:
        """Open the date picker on the day set, or two weeks from today for a new one."""

        async def picked(e: ft.Event[ft.DatePicker]) -> None:
            value = e.control.value
            if value is not None:
                await self.editor.set_due_date(index, picked_day(value))
                self._show_due(index)
            self.app.flush()

        def handler() -> None:
            choice = self.editor.due_date_choice(index)
            self.app.page.show_dialog(
                ft.DatePicker(
                    value=choice.shown,
                    first_date=choice.first,
                    last_date=choice.last,
                    current_date=choice.today,
                    help_text=t("ui.date_picker.help", n=index + 1),
                    confirm_text=t("ui.date_picker.confirm"),
                    cancel_text=t("ui.date_picker.cancel"),
                    field_label_text=t("ui.date_picker.field_label"),
                    field_hint_text=t("ui.date_picker.field_hint"),
                    error_format_text=t("ui.date_picker.bad_format"),
                    error_invalid_text=t("ui.date_picker.out_of_range"),
                    on_change=picked,
                )
            )
            self.app.flush()

        return handler

    def _clear_due(self, index: int) -> w.Action:
        async def handler() -> None:
            await self.editor.set_due_date(index, None)
            self._show_due(index)
            self.app.flush()

        return handler
