"""签到 and 签退: a tap takes the time and the position; the time may be corrected by typing."""

from datetime import datetime
from typing import Any

import flet as ft

from mobile.core.check_in import CheckInVerdict, distance_text, judge_check_in
from mobile.core.devices import LocationResult, LocationStatus
from mobile.ui import format as fmt
from mobile.ui import widgets as w
from mobile.ui.visit.section import FormContext, Section, frame, value_of
from shared.messages import t
from shared.policy import PolicyParams


class _CheckSection(Section):
    """The tap (开始 or 结束), what it recorded, and the time field that shows after it."""

    field_name: str  # the form's time field: started_at | ended_at
    title_key: str
    corrected_key: str  # 已修改，签到时刻 06:06

    def __init__(self, ctx: FormContext, button: ft.Control) -> None:
        super().__init__(ctx)
        self.button = button
        self.info = w.note("")
        self.corrected = w.note("", w.WARN, visible=False)
        self.time_field = w.field(
            t(f"mobile.field.{self.field_name}"),
            fmt.input_text(getattr(self.editor.form, self.field_name)),
            self._time_changed,
            hint=t("ui.visit.time_hint"),
        )

    def frame(self) -> ft.Control:
        return frame(t(self.title_key), self.button, self.info, self.time_field, self.corrected)

    async def _tap(self) -> None:
        tapped = self.app.clock()  # the instant of the tap, not of the fix seconds later
        self.button.disabled = True
        self.info.value, self.info.color, self.info.visible = t("ui.visit.locating"), w.MUTED, True
        self.app.flush()  # "正在定位…" shows during the wait for a fix
        where = await self.app.devices.location.locate()
        await self._record(where, tapped)
        self.button.disabled = False
        self.time_field.value = fmt.input_text(getattr(self.editor.form, self.field_name))
        self.time_field.error = None
        self.ctx.bad_inputs.discard(self.field_name)
        await self.ctx.changed()

    async def _record(self, where: LocationResult, tapped: datetime) -> None:
        raise NotImplementedError

    def derive(self) -> None:
        """The note under a corrected time: the tap's own instant stays on record."""
        form = self.editor.form
        tapped = form.corrected(self.field_name)
        self.corrected.visible = tapped is not None and self.time_field.visible
        if tapped is not None:
            when = fmt.time_beside(tapped, getattr(form, self.field_name))
            self.corrected.value = t(self.corrected_key, time=when)

    async def _time_changed(self, e: ft.Event[ft.TextField]) -> None:
        moment = fmt.parse_input(value_of(e))
        if moment is None:
            self.time_field.error = t("ui.visit.bad_time")
            self.ctx.bad_inputs.add(self.field_name)
        else:
            self.time_field.error = None
            self.ctx.bad_inputs.discard(self.field_name)
            await self.editor.set_value(self.field_name, moment.isoformat())
        await self.ctx.changed()

    def clear_errors(self) -> None:
        self.time_field.error = None

    def show_error(self, name: str, message: str) -> bool:
        if name != self.field_name:
            return False
        self.time_field.error = message if self.time_field.visible else None
        return True


class CheckInSection(_CheckSection):
    field_name = "started_at"
    title_key = "ui.visit.check_in"
    corrected_key = "ui.visit.corrected_in"

    def __init__(self, ctx: FormContext) -> None:
        button = w.button(
            t("ui.visit.start"),
            self._tap,
            icon=ft.Icons.PLAY_ARROW,
            ident="check-in",
        )
        super().__init__(ctx, button)

    async def _record(self, where: LocationResult, tapped: datetime) -> None:
        await self.editor.start(where, tapped=tapped)

    def derive(self) -> None:
        form = self.editor.form
        started = bool(form.started_at)
        self.button.visible = not started
        self.time_field.visible = self.info.visible = started
        if started:
            policy = self.editor.policy
            verdict = judge_check_in(form.kind, form.check_in, self.editor.subject, policy)
            self.info.value, self.info.color = _position_text(verdict, form.check_in_status, policy)
        super().derive()


class CheckOutSection(_CheckSection):
    field_name = "ended_at"
    title_key = "ui.visit.check_out"
    corrected_key = "ui.visit.corrected_out"

    def __init__(self, ctx: FormContext) -> None:
        button = w.button(
            t("ui.visit.end"),
            self._tap,
            icon=ft.Icons.STOP,
            ident="check-out",
        )
        super().__init__(ctx, button)

    async def _record(self, where: LocationResult, tapped: datetime) -> None:
        await self.editor.finish(where, tapped=tapped)

    def derive(self) -> None:
        form = self.editor.form
        started, ended = bool(form.started_at), bool(form.ended_at)
        self.button.visible = started and not ended
        self.button.disabled = not started
        self.time_field.visible = self.info.visible = ended
        if ended:
            minutes = fmt.minutes_between(form.started_at, form.ended_at)
            parts = [t("ui.visit.duration", minutes=minutes)] if minutes is not None else []
            if not form.check_out:
                status = form.check_out_status or LocationStatus.UNAVAILABLE
                parts.append(t("ui.visit.no_position_out", reason=t(f"mobile.location.{status}")))
            self.info.value = t("list.clause_sep").join(parts)
        super().derive()


def _position_text(verdict: CheckInVerdict, status: str, policy: PolicyParams) -> tuple[str, Any]:
    """What the check-in recorded, in the colour of its verdict (any flag: a warning)."""
    if verdict.accuracy_m is None:
        status = status or LocationStatus.UNAVAILABLE
        return t("ui.visit.no_position", reason=t(f"mobile.location.{status}")), w.WARN
    accuracy = round(verdict.accuracy_m)
    parts = [
        t("ui.visit.poor_position", accuracy=accuracy, limit=policy.max_accuracy_m)
        if verdict.low_accuracy
        else t("ui.visit.position", accuracy=accuracy)
    ]
    place = verdict.place_name
    if verdict.distance_m is None:
        parts.append(t("ui.visit.no_place", place=place))
    else:
        key = "ui.visit.outside_geofence" if verdict.outside_geofence else "ui.visit.distance"
        distance = distance_text(verdict.distance_m)
        parts.append(t(key, place=place, distance=distance, limit=policy.geofence_m))
    return t("list.clause_sep").join(parts), w.WARN if verdict.flagged else w.OK
