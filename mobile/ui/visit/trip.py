"""交通: whether a subsidy is claimed, how the teacher travelled, from where, and what it earns
(``mobile.core.trip``: the server's rule on this phone's roster and policy)."""

import flet as ft

from mobile.ui import format as fmt
from mobile.ui import widgets as w
from mobile.ui.visit.section import FormContext, Section, frame, selected
from shared.domain import TravelMode
from shared.messages import t
from shared.policy import SubsidyMode
from shared.travel import SubsidyTerms


class TripSection(Section):
    def __init__(self, ctx: FormContext) -> None:
        super().__init__(ctx)
        form = self.editor.form
        self.claim = ft.Switch(
            label=t("ui.visit.claim"), value=form.claim_travel, on_change=self._claim_changed
        )
        self.mode_chips = {
            mode: w.chip(t(f"mode.{mode}"), mode == form.travel_mode, self._mode(mode))
            for mode in TravelMode
        }
        self.origin_line = w.note("")
        self.origin_here = w.button(
            t("ui.visit.origin_here"), self._origin_here, icon=ft.Icons.MY_LOCATION, filled=False
        )
        self.origin_reset = w.button(
            t("ui.visit.origin_reset"), self._origin_reset, icon=ft.Icons.SCHOOL, filled=False
        )
        self.destination_line = w.note("")
        self.trip_line = w.text("")
        self.rule_lines = ft.Column(spacing=2)

    def frame(self) -> ft.Control:
        return frame(
            t("ui.visit.trip"),
            self.claim,
            ft.Row(list(self.mode_chips.values()), wrap=True),
            self.origin_line,
            ft.Row([self.origin_here, self.origin_reset], wrap=True),
            self.destination_line,
            self.trip_line,
            self.rule_lines,
        )

    def derive(self) -> None:
        form = self.editor.form
        claim = form.claim_travel
        for mode, chip in self.mode_chips.items():
            chip.selected = mode == form.travel_mode
            chip.disabled = not claim
        preview = self.editor.trip()
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
        terms = preview.terms if claim else None
        self.rule_lines.controls = [w.note(line) for line in rule_lines(terms)] if terms else []

    def _mode(self, mode: str) -> w.Action:
        async def handler() -> None:
            await self.editor.set_value("travel_mode", mode)
            await self.ctx.changed()

        return handler

    async def _claim_changed(self, e: ft.Event[ft.Switch]) -> None:
        await self.editor.set_value("claim_travel", selected(e, attr="value"))
        await self.ctx.changed()

    async def _origin_here(self) -> None:
        where = await self.app.devices.location.locate()
        if where.fix is None:
            self.app.notify(where.reason, error=True)
            self.app.flush()
            return
        await self.editor.set_origin(where)
        await self.ctx.changed()

    async def _origin_reset(self) -> None:
        await self.editor.set_origin(None)
        await self.ctx.changed()


def rule_lines(terms: SubsidyTerms) -> list[str]:
    """The rule ``shared.travel.subsidy_terms`` applied, in the words of the policy."""
    if terms.mode == SubsidyMode.PER_KM:
        lines = [
            t(
                "ui.visit.rule_per_km",
                km=f"{terms.trip_m / 1000:.2f}",
                factor=f"{terms.road_factor.normalize():f}",
                rate=fmt.money(terms.fen_per_km),
                money=fmt.money(terms.trip_fen),
            )
        ]
    else:
        lines = [t("ui.visit.rule_flat", money=fmt.money(terms.flat_fen_per_visit))]
    if terms.party > 1 and terms.paid_each:
        lines.append(t("ui.visit.rule_shared_each", party=terms.party))
    elif terms.party > 1:
        lines.append(
            t("ui.visit.rule_shared", party=terms.party, money=fmt.money(terms.amount_fen))
        )
    if terms.monthly_cap_fen is not None:
        lines.append(t("ui.visit.rule_cap", cap=fmt.money(terms.monthly_cap_fen)))
    return lines
