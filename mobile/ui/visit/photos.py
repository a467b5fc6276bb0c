"""照片: tiles of the visit's photos, the camera and the gallery; none without consent."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import flet as ft

from mobile.core.photos import PhotoError, thumbnail
from mobile.ui import widgets as w
from mobile.ui.visit.section import FormContext, Section, frame
from shared.domain import VisitKind
from shared.messages import t

TILE_PX = 96


class PhotoSection(Section):
    def __init__(self, ctx: FormContext) -> None:
        super().__init__(ctx)
        self._thumbs: dict[str, bytes] = {}
        self.title = w.heading("")
        self.consent_note = w.note(t("ui.visit.no_consent"), w.ERROR)
        self.row = ft.Row(wrap=True)
        self.message = w.note("", visible=False)
        self.take_btn = w.button(t("ui.visit.take_photo"), self._take, icon=ft.Icons.CAMERA_ALT)
        self.pick_btn = w.button(
            t("ui.visit.pick_photo"), self._pick, icon=ft.Icons.PHOTO_LIBRARY, filled=False
        )
        self._fill()

    def frame(self) -> ft.Control:
        return frame(
            self.title,
            self.consent_note,
            self.row,
            ft.Row([self.take_btn, self.pick_btn], wrap=True),
            self.message,
        )

    def derive(self) -> None:
        form = self.editor.form
        lacking = self.editor.without_consent()
        self.title.value = t("ui.visit.photos", count=len(form.photos))
        self.consent_note.visible = bool(lacking)
        if lacking and form.kind != VisitKind.HOME_TEACHING:
            self.consent_note.value = t(
                "ui.visit.no_consent_seen", names=t("list.sep").join(lacking)
            )
        self.take_btn.disabled = self.pick_btn.disabled = bool(lacking)

    def show_error(self, name: str, message: str) -> bool:
        if name != "photos":
            return False
        self._say(message, w.ERROR)
        return True

    async def load_thumbs(self) -> None:
        """Thumbnails of the form's photos not shown yet (the first render shows grey tiles)."""
        for sha in self.editor.form.photos:
            if sha not in self._thumbs:
                path = self.app.store.photo_file(sha)
                try:
                    data = await asyncio.to_thread(path.read_bytes)
                    self._thumbs[sha] = await asyncio.to_thread(thumbnail, data)
                except (OSError, PhotoError):
                    continue
        self._fill()

    def _fill(self) -> None:
        tiles: list[ft.Control] = []
        for i, sha in enumerate(self.editor.form.photos):
            thumb = self._thumbs.get(sha)
            image: ft.Control = (
                ft.Image(
                    src=thumb,
                    width=TILE_PX,
                    height=TILE_PX,
                    fit=ft.BoxFit.COVER,
                    semantics_label=t("ui.visit.photo_n", n=i + 1),
                )
                if thumb
                else ft.Container(
                    width=TILE_PX,
                    height=TILE_PX,
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
                            self._remove(i),
                        ),
                    ],
                    spacing=0,
                    horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                )
            )
        self.row.controls = tiles

    async def _take(self) -> None:
        await self._add(self.app.devices.photos.take)

    async def _pick(self) -> None:
        await self._add(self.app.devices.photos.pick)

    async def _add(self, source: Callable[[], Awaitable[bytes | None]]) -> None:
        self.take_btn.disabled = self.pick_btn.disabled = True
        self._say(t("ui.visit.photo_busy"), w.MUTED)
        self.app.flush()
        message, color = "", w.MUTED
        try:
            data = await source()
            if data is not None:
                photo = await self.editor.add_photo(data)
                message, color = t("ui.visit.photo_added", kb=round(len(photo.data) / 1024)), w.OK
        except PhotoError as exc:
            message, color = str(exc), w.ERROR
        await self.load_thumbs()
        self._say(message, color)
        await self.ctx.changed()

    def _say(self, message: str, color: Any) -> None:
        self.message.value, self.message.color = message, color
        self.message.visible = bool(message)

    def _remove(self, index: int) -> w.Action:
        async def handler() -> None:
            await self.editor.remove_photo(index)
            self._fill()
            self._say("", w.MUTED)
            await self.ctx.changed()

        return handler
