"""Recording a visit: 开始 (time + GPS), the content, photos, 结束, the trip, 保存.

Every change is saved as a draft at once (``VisitEditor``). Controls are built once and changed
in place, so a field being typed into is never replaced. What cannot be saved is said in Chinese
next to its field and in one line above 保存; what the server will flag but accept is listed in
a dialog before saving.
"""

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import flet as ft
from PIL import Image

from mobile.core.devices import LocationStatus
from mobile.core.models import StoreError
from mobile.core.photos import PhotoError
from mobile.core.sync import SyncReport
from mobile.ui import format as fmt
from mobile.ui import widgets as w
from mobile.ui.editor import VisitEditor
from mobile.ui.shell import BaseScreen, FieldApp
from shared.domain import ItinerantPurpose, TravelMode, VisitKind
from shared.messages import t
from shared.protocol import VisitRecord

THUMB_PX = 160


class VisitScreen(BaseScreen):
    def __init__(self, app: FieldApp, visit_id: str) -> None:
        super().__init__(app)
        self.route = f"/visit/{visit_id}"
        self.editor = VisitEditor.load(app.store, visit_id, clock=app.clock)
        self.bad_inputs: set[str] = set()  # fields whose text is not a valid time/date
        self._thumbs: dict[str, bytes] = {}
        if self.editor is not None:
            self._make_controls()

    # -- building ---------------------------------------------------------------------------

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
                self._section(
                    t("ui.visit.check_in"), self.start_btn, self.start_info, self.start_field
                ),
                self._section(t("ui.visit.content"), *self.content_controls),
                self._section(
                    self.photo_title,
                    self.photo_note,
                    self.photo_row,
                    ft.Row([self.take_btn, self.pick_btn], wrap=True),
                    self.photo_msg,
                ),
                self._section(t("ui.visit.check_out"), self.end_btn, self.end_info, self.end_field),
                self._section(
                    t("ui.visit.trip"),
                    self.claim,
                    self.mode_row,
                    self.origin_line,
                    ft.Row([self.origin_here, self.origin_reset], wrap=True),
                    self.destination_line,
                    self.trip_line,
                ),
                self.summary,
                ft.Row([self.save_btn]),
                w.note(t("ui.visit.draft_note")),
                self.discard_btn,
            ],
        )

    def _section(self, title: Any, *controls: ft.Control) -> ft.Control:
        head = title if isinstance(title, ft.Control) else w.heading(title)
        return ft.Container(
            content=ft.Column([head, *controls], spacing=8),
            padding=12,
            border=ft.Border.all(1, ft.Colors.BLUE_GREY_100),
            border_radius=10,
        )

    def _make_controls(self) -> None:
        editor = self.editor
        assert editor is not None
        form = editor.form
        self.start_btn = w.button(
            t("ui.visit.start"),
            self._start,
            icon=ft.Icons.PLAY_ARROW,
            tooltip=t("ui.visit.start_tip"),
            ident="check-in",
        )
        self.start_info = w.note("")
        self.start_field = w.field(
            t("mobile.field.started_at"),
            fmt.input_text(form.started_at),
            self._time_changed("started_at"),
            hint=t("ui.visit.time_hint"),
        )
        self.end_btn = w.button(
            t("ui.visit.end"),
            self._finish,
            icon=ft.Icons.STOP,
            tooltip=t("ui.visit.end_tip"),
            ident="check-out",
        )
        self.end_info = w.note("")
        self.end_field = w.field(
            t("mobile.field.ended_at"),
            fmt.input_text(form.ended_at),
            self._time_changed("ended_at"),
            hint=t("ui.visit.time_hint"),
        )
        self.texts: dict[str, ft.TextField] = {}
        if editor.home:
            self.goal_note = w.note(t("ui.visit.iep_chips"))
            goals = (editor.subject or {}).get("iep_goals") or []
            self.goal_chips = ft.Row(
                [w.chip(g, g in form.iep_goals, self._toggle("iep_goals", g)) for g in goals]
                or [w.note(t("ui.visit.no_goals"))],
                wrap=True,
            )
            for name in ("content", "student_response", "guardian_guidance"):
                self.texts[name] = w.field(
                    t(f"mobile.field.{name}") + (" *" if name == "content" else ""),
                    getattr(form, name),
                    self._text_changed(name),
                    multiline=True,
                )
            self.content_controls = [self.goal_note, self.goal_chips, *self.texts.values()]
        else:
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
                        s["name"],
                        s["id"] in form.students_seen,
                        self._toggle("students_seen", s["id"]),
                    )
                    for s in students
                ]
                or [w.note(t("ui.school.no_students"))],
                wrap=True,
            )
            self.texts["findings"] = w.field(
                t("mobile.field.findings") + " *",
                form.findings,
                self._text_changed("findings"),
                multiline=True,
            )
            self.rec_column = ft.Column(spacing=8)
            self.rec_note = w.note("", w.ERROR, visible=False)
            self._fill_recommendations()
            self.content_controls = [
                self.purpose_note,
                self.purpose_chips,
                w.note(t("ui.visit.students_chips")),
                self.student_chips,
                self.texts["findings"],
                self.rec_column,
                self.rec_note,
                w.button(
                    t("ui.visit.add_recommendation"), self._add_rec, icon=ft.Icons.ADD, filled=False
                ),
            ]
        self.photo_title = w.heading("")
        self.photo_note = w.note(t("ui.visit.no_consent"), w.ERROR)
        self.photo_row = ft.Row(wrap=True)
        self.photo_msg = w.note("", visible=False)
        self.take_btn = w.button(t("ui.visit.take_photo"), self._take, icon=ft.Icons.CAMERA_ALT)
        self.pick_btn = w.button(
            t("ui.visit.pick_photo"), self._pick, icon=ft.Icons.PHOTO_LIBRARY, filled=False
        )
        self.claim = ft.Switch(
            label=t("ui.visit.claim"), value=form.claim_travel, on_change=self._claim_changed
        )
        self.mode_chips = {
            mode: w.chip(t(f"mode.{mode}"), mode == form.travel_mode, self._mode(mode))
            for mode in TravelMode
        }
        self.mode_row = ft.Row(list(self.mode_chips.values()), wrap=True)
        self.origin_line = w.note("")
        self.origin_here = w.button(
            t("ui.visit.origin_here"), self._origin_here, icon=ft.Icons.MY_LOCATION, filled=False
        )
        self.origin_reset = w.button(
            t("ui.visit.origin_reset"), self._origin_reset, icon=ft.Icons.SCHOOL, filled=False
        )
        self.destination_line = w.note("")
        self.trip_line = w.text("")
        self.summary = w.note("", w.ERROR, visible=False)
        self.save_btn = w.button(
            t("ui.visit.save"),
            self._save,
            icon=ft.Icons.SAVE,
            expand=True,
            tooltip=t("ui.visit.save"),
            ident="save-visit",
        )
        discard = "ui.visit.discard_edit" if editor.saved else "ui.visit.discard"
        self.discard_btn = w.text_button(t(discard), self._discard)
        self._fill_photos()
        self._derive()

    def _fill_recommendations(self) -> None:
        assert self.editor is not None
        rows: list[ft.Control] = []
        for i, rec in enumerate(self.editor.form.recommendations):
            n = i + 1
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
                        w.field(
                            t("ui.visit.due_date", n=n), rec.get("due_date") or "", self._rec_due(i)
                        ),
                    ],
                    spacing=4,
                )
            )
        self.rec_column.controls = rows

    def _fill_photos(self) -> None:
        editor = self.editor
        assert editor is not None
        tiles: list[ft.Control] = []
        for i, sha in enumerate(editor.form.photos):
            thumb = self._thumbs.get(sha)
            image: ft.Control = (
                ft.Image(
                    src=thumb,
                    width=96,
                    height=96,
                    fit=ft.BoxFit.COVER,
                    semantics_label=t("ui.visit.photo_n", n=i + 1),
                )
                if thumb
                else ft.Container(
                    width=96,
                    height=96,
                    bgcolor=ft.Colors.BLUE_GREY_100,
                    tooltip=t("ui.visit.photo_n", n=i + 1),
                )
            )
            tiles.append(
                ft.Column(
                    [
                        image,
                        w.icon_button(
                            ft.Icons.DELETE_OUTLINE,
                            t("ui.visit.remove_photo", n=i + 1),
                            self._remove_photo(i),
                        ),
                    ],
                    spacing=0,
                    horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                )
            )
        self.photo_row.controls = tiles

    async def _load_thumbs(self) -> None:
        assert self.editor is not None
        for sha in self.editor.form.photos:
            if sha not in self._thumbs:
                path = self.app.store.photo_file(sha)
                try:
                    self._thumbs[sha] = await asyncio.to_thread(_thumbnail, path.read_bytes)
                except (OSError, ValueError):
                    continue

    # -- what follows from the form (never the text the teacher is typing) ------------------

    def _derive(self) -> None:
        editor = self.editor
        assert editor is not None
        form, policy = editor.form, editor.policy
        started, ended = bool(form.started_at), bool(form.ended_at)
        self.start_btn.visible = not started
        self.start_field.visible = started
        self.start_info.visible = started
        if started:
            where = _position_text(form.check_in, form.check_in_status, policy.max_accuracy_m)
            self.start_info.value, self.start_info.color = where
        self.end_btn.visible = started and not ended
        self.end_btn.disabled = not started
        self.end_field.visible = ended
        self.end_info.visible = ended
        if ended:
            minutes = fmt.minutes_between(form.started_at, form.ended_at)
            parts = [t("ui.visit.duration", minutes=minutes)] if minutes is not None else []
            if not form.check_out:
                status = form.check_out_status or LocationStatus.UNAVAILABLE
                parts.append(t("ui.visit.no_position_out", reason=t(f"mobile.location.{status}")))
            self.end_info.value = "；".join(parts)
        lacking = editor.without_consent()
        allowed = not lacking
        self.photo_title.value = t("ui.visit.photos", count=len(form.photos))
        self.photo_note.visible = not allowed
        if lacking and form.kind != VisitKind.HOME_TEACHING:
            self.photo_note.value = t("ui.visit.no_consent_seen", names="、".join(lacking))
        self.take_btn.disabled = self.pick_btn.disabled = not allowed
        claim = form.claim_travel
        for mode, chip in self.mode_chips.items():
            chip.selected = mode == form.travel_mode
            chip.disabled = not claim
        preview = editor.trip()
        self.origin_here.visible = claim and form.origin is None
        self.origin_reset.visible = claim and form.origin is not None
        self.origin_line.visible = self.destination_line.visible = claim
        if preview.origin_source == "custom" and preview.origin:
            self.origin_line.value = t(
                "ui.visit.origin_custom", lat=preview.origin[0], lon=preview.origin[1]
            )
        elif preview.origin_source == "base_school":
            user = self.app.store.user()
            base = self.app.store.school(user.base_school_id or "") if user else None
            self.origin_line.value = t("ui.visit.origin_base", name=(base or {}).get("name", ""))
        else:
            self.origin_line.value = t("ui.visit.origin_unknown")
        self.destination_line.value = (
            t(f"ui.visit.destination.{preview.destination_source}")
            if preview.destination_source
            else ""
        )
        if not claim:
            self.trip_line.value = t("ui.visit.trip_none")
        elif preview.origin is None or preview.destination is None:
            self.trip_line.value = t("ui.visit.trip_unknown")
        else:
            self.trip_line.value = t(
                "ui.visit.trip_preview",
                km=fmt.km(preview.distance_m),
                money=fmt.money(preview.subsidy_fen),
            )

    async def _changed(self) -> None:
        self._derive()
        self.app.flush()

    # -- handlers ---------------------------------------------------------------------------

    async def _start(self) -> None:
        await self._locating(self.start_btn, self.start_info)
        where = await self.app.devices.location.locate()
        assert self.editor is not None
        await self.editor.start(where)
        self.start_btn.disabled = False
        self.start_field.value = fmt.input_text(self.editor.form.started_at)
        self.start_field.error = None
        self.bad_inputs.discard("started_at")
        await self._changed()

    async def _finish(self) -> None:
        await self._locating(self.end_btn, self.end_info)
        where = await self.app.devices.location.locate()
        assert self.editor is not None
        await self.editor.finish(where)
        self.end_btn.disabled = False
        self.end_field.value = fmt.input_text(self.editor.form.ended_at)
        self.end_field.error = None
        self.bad_inputs.discard("ended_at")
        await self._changed()

    async def _locating(self, btn: ft.Control, info: ft.Text) -> None:
        btn.disabled = True
        info.value, info.color, info.visible = t("ui.visit.locating"), w.MUTED, True
        self.app.flush()  # "正在定位…" shows during the wait for a fix

    def _time_changed(self, name: str) -> w.OnChange:
        async def handler(e: ft.Event[ft.TextField]) -> None:
            target = self.start_field if name == "started_at" else self.end_field
            moment = fmt.parse_input(_value(e))
            if moment is None:
                target.error = t("ui.visit.bad_time")
                self.bad_inputs.add(name)
            else:
                target.error = None
                self.bad_inputs.discard(name)
                assert self.editor is not None
                await self.editor.set_value(name, moment.isoformat())
            await self._changed()

        return handler

    def _text_changed(self, name: str) -> w.OnChange:
        async def handler(e: ft.Event[ft.TextField]) -> None:
            assert self.editor is not None
            await self.editor.set_value(name, _value(e))
            if self.texts[name].error:
                self.texts[name].error = None
            self.app.flush()

        return handler

    def _toggle(self, name: str, item: str) -> w.OnSelect:
        async def handler(e: ft.Event[ft.Chip]) -> None:
            assert self.editor is not None
            on = _selected(e)
            e.control.selected = on
            await self.editor.toggle(name, item, on)
            if name == "purposes":
                self.purpose_note.color = w.MUTED
            self._derive()  # a child ticked as seen may forbid photos
            self.app.flush()

        return handler

    def _mode(self, mode: str) -> w.Action:
        async def handler() -> None:
            assert self.editor is not None
            await self.editor.set_value("travel_mode", mode)
            await self._changed()

        return handler

    async def _claim_changed(self, e: ft.Event[ft.Switch]) -> None:
        assert self.editor is not None
        on = _selected(e, attr="value")
        await self.editor.set_value("claim_travel", on)
        await self._changed()

    async def _origin_here(self) -> None:
        where = await self.app.devices.location.locate()
        if where.fix is None:
            self.app.notify(where.reason, error=True)
            self.app.flush()
            return
        assert self.editor is not None
        await self.editor.set_origin(where)
        await self._changed()

    async def _origin_reset(self) -> None:
        assert self.editor is not None
        await self.editor.set_origin(None)
        await self._changed()

    # recommendations (itinerant)

    async def _add_rec(self) -> None:
        assert self.editor is not None
        await self.editor.add_recommendation()
        self._fill_recommendations()
        self.app.flush()

    def _remove_rec(self, index: int) -> w.Action:
        async def handler() -> None:
            assert self.editor is not None
            await self.editor.remove_recommendation(index)
            self.bad_inputs = {b for b in self.bad_inputs if not b.startswith("due")}
            self._fill_recommendations()
            self.app.flush()

        return handler

    def _rec_text(self, index: int) -> w.OnChange:
        async def handler(e: ft.Event[ft.TextField]) -> None:
            assert self.editor is not None
            await self.editor.set_recommendation(index, "text", _value(e))

        return handler

    def _rec_due(self, index: int) -> w.OnChange:
        async def handler(e: ft.Event[ft.TextField]) -> None:
            assert self.editor is not None
            raw = _value(e).strip()
            day = fmt.parse_date(raw) if raw else None
            bad = bool(raw) and day is None
            e.control.error = t("ui.visit.bad_date") if bad else None
            (self.bad_inputs.add if bad else self.bad_inputs.discard)(f"due{index}")
            if not bad:
                await self.editor.set_recommendation(
                    index, "due_date", day.isoformat() if day else None
                )
            self.app.flush()

        return handler

    # photos

    async def _take(self) -> None:
        await self._add_photo(self.app.devices.photos.take)

    async def _pick(self) -> None:
        await self._add_photo(self.app.devices.photos.pick)

    async def _add_photo(self, source: Callable[[], Awaitable[bytes | None]]) -> None:
        editor = self.editor
        assert editor is not None
        self.take_btn.disabled = self.pick_btn.disabled = True
        self._photo_message(t("ui.visit.photo_busy"), w.MUTED)
        self.app.flush()
        message, color = "", w.MUTED
        try:
            data = await source()
            if data is not None:
                photo = await editor.add_photo(data)
                message, color = t("ui.visit.photo_added", kb=round(len(photo.data) / 1024)), w.OK
        except PhotoError as exc:
            message, color = str(exc), w.ERROR
        await self._load_thumbs()
        self._fill_photos()
        self._photo_message(message, color)
        await self._changed()

    def _photo_message(self, message: str, color: Any) -> None:
        self.photo_msg.value, self.photo_msg.color = message, color
        self.photo_msg.visible = bool(message)

    def _remove_photo(self, index: int) -> w.Action:
        async def handler() -> None:
            assert self.editor is not None
            await self.editor.remove_photo(index)
            self._fill_photos()
            self._photo_message("", w.MUTED)
            await self._changed()

        return handler

    # saving

    async def _save(self) -> None:
        editor = self.editor
        assert editor is not None
        self._clear_errors()
        if self.bad_inputs:
            bad_time = bool({"started_at", "ended_at"} & self.bad_inputs)
            self._show_summary([t("ui.visit.bad_time" if bad_time else "ui.visit.bad_date")])
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
        for control in (self.start_field, self.end_field, *self.texts.values()):
            control.error = None
        self.summary.visible = False
        self.start_info.color = self.end_info.color = w.MUTED
        if self.editor is not None and not self.editor.home:
            self.purpose_note.color = w.MUTED
            self.rec_note.visible = False

    def _show_errors(self, errors: dict[str, str]) -> None:
        for name, message in errors.items():
            if name in self.texts:
                self.texts[name].error = message
            elif name == "started_at":
                self.start_field.error = message if self.start_field.visible else None
            elif name == "ended_at":
                self.end_field.error = message if self.end_field.visible else None
            elif name == "purposes":
                self.purpose_note.color = w.ERROR
            elif name == "recommendations":
                self.rec_note.value, self.rec_note.visible = message, True
            elif name == "photos":
                self._photo_message(message, w.ERROR)
        self._show_summary(list(dict.fromkeys(errors.values())))

    def _show_summary(self, messages: list[str]) -> None:
        self.summary.value = t("ui.visit.fix_first", errors="；".join(messages))
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
            await self._load_thumbs()
            self._fill_photos()


def _position_text(position: dict[str, Any] | None, status: str, limit: float) -> tuple[str, Any]:
    if position:
        accuracy = round(position["accuracy_m"])
        if accuracy > limit:
            return t("ui.visit.poor_position", accuracy=accuracy, limit=round(limit)), w.WARN
        return t("ui.visit.position", accuracy=accuracy), w.OK
    status = status or LocationStatus.UNAVAILABLE
    return t("ui.visit.no_position", reason=t(f"mobile.location.{status}")), w.WARN


def _value(e: ft.Event[ft.TextField]) -> str:
    if isinstance(e.data, str):
        return e.data
    return e.control.value or ""


def _selected(e: ft.Event[ft.Chip] | ft.Event[ft.Switch], attr: str = "selected") -> bool:
    if isinstance(e.data, bool):
        return e.data
    if isinstance(e.data, str) and e.data.lower() in ("true", "false"):
        return e.data.lower() == "true"
    return bool(getattr(e.control, attr, False))


def _thumbnail(read: Callable[[], bytes]) -> bytes:
    with Image.open(io.BytesIO(read())) as image:
        image.thumbnail((THUMB_PX, THUMB_PX))
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=70)
        return out.getvalue()
