"""历史记录 by month with status, flags and money; one record's page, where a conflict is settled
(both versions shown, the teacher chooses) and a rejected record is corrected."""

import asyncio
from typing import Any, Literal

import flet as ft

from mobile.core.judged import flag_labels
from mobile.core.models import LocalVisit, StoreError, VisitState
from mobile.core.store import Store
from mobile.core.sync import SyncReport
from mobile.core.trip import month_subsidy, preview_record, visit_subsidy
from mobile.core.visit_form import corrected_tap
from mobile.ui import format as fmt
from mobile.ui import widgets as w
from mobile.ui.shell import BaseScreen, FieldApp
from mobile.ui.sync_view import SyncBadge
from shared.domain import ReviewStatus, VisitKind
from shared.messages import t
from shared.terms import month_of


def subject_name(store: Store, visit: LocalVisit) -> str:
    sid = visit.subject_id or ""
    subject = store.student(sid) if visit.kind == VisitKind.HOME_TEACHING else store.school(sid)
    return (subject or {}).get("name") or sid


class HistoryScreen(BaseScreen):
    route = "/history"

    def __init__(self, app: FieldApp) -> None:
        super().__init__(app)
        today = app.clock().date()
        self.month = month_of(today)
        self.badge = SyncBadge(app)
        self.title = ft.Text("", size=w.TITLE, weight=ft.FontWeight.BOLD)
        self.money = ft.Column(spacing=2)
        # Full-width cards, as on the home screen, whatever the length of their lines.
        self.items = ft.Column(spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        self.refresh()

    def build(self) -> ft.View:
        return ft.View(
            route=self.route,
            scroll=ft.ScrollMode.AUTO,
            padding=12,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            appbar=ft.AppBar(
                title=ft.Text(t("ui.history.title"), size=w.TITLE), actions=[self.badge.control]
            ),
            controls=[
                ft.Row(
                    [
                        w.icon_button(ft.Icons.CHEVRON_LEFT, t("ui.history.prev"), self._prev),
                        self.title,
                        w.icon_button(ft.Icons.CHEVRON_RIGHT, t("ui.history.next"), self._next),
                    ],
                    alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                ),
                w.card(self.money),
                self.items,
            ],
        )

    def on_sync(self, report: SyncReport | None) -> None:
        self.badge.refresh()
        if report is not None:
            self.refresh()

    def refresh(self) -> None:
        store, month = self.app.store, self.month
        self.badge.refresh()
        self.title.value = t("ui.history.month", year=month // 100, month=month % 100)
        money = month_subsidy(store, month, self.app.clock().date())
        lines: list[ft.Control] = [
            w.text(
                t("ui.history.subsidy", claimed=fmt.money(money.claimed_fen)),
                weight=ft.FontWeight.BOLD,
            ),
            w.note(t("ui.history.approved", approved=fmt.money(money.approved_fen))),
        ]
        if money.cap_fen is not None:
            lines.append(
                w.note(
                    t(
                        "ui.history.cap",
                        cap=fmt.money(money.cap_fen),
                        total=fmt.money(money.uncapped_fen),
                    )
                )
            )
        visits = store.visits(month=month)
        lines.append(w.note(t("ui.history.count", count=len(visits))))
        self.money.controls = lines
        self.items.controls = [self._item(v) for v in visits] or [w.note(t("ui.history.empty"))]

    def _item(self, visit: LocalVisit) -> ft.Control:
        store = self.app.store
        name = subject_name(store, visit)
        title = f"{fmt.day_time(visit.started_at)} {t(f'kind.{visit.kind}')} · {name}"
        status = visit.status_text
        color = _status_color(visit)
        rows: list[ft.Control] = [
            w.text(title),
            ft.Row(
                [
                    w.text(status, color=color, weight=ft.FontWeight.BOLD),
                    w.note(t("ui.history.money", money=fmt.money(visit_subsidy(store, visit)))),
                ],
                wrap=True,
            ),
        ]
        if labels := flag_labels(store, visit, self.app.clock()):
            rows.append(w.note(t("ui.record.flags", flags=t("list.sep").join(labels)), w.WARN))

        async def open_record() -> None:
            await self.app.go(f"/record/{visit.id}")

        return w.card(*rows, on_click=open_record)

    async def _prev(self) -> None:
        year, month = divmod(self.month, 100)
        self.month = (year - 1) * 100 + 12 if month == 1 else self.month - 1
        self.refresh()
        self.app.flush()

    async def _next(self) -> None:
        year, month = divmod(self.month, 100)
        self.month = (year + 1) * 100 + 1 if month == 12 else self.month + 1
        self.refresh()
        self.app.flush()


class RecordScreen(BaseScreen):
    def __init__(self, app: FieldApp, visit_id: str) -> None:
        super().__init__(app)
        self.route = f"/record/{visit_id}"
        self.visit_id = visit_id
        self.body = ft.Column(spacing=10)
        self.refresh()

    def build(self) -> ft.View:
        return ft.View(
            route=self.route,
            scroll=ft.ScrollMode.AUTO,
            padding=12,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            appbar=ft.AppBar(title=ft.Text(t("ui.record.title"), size=w.TITLE)),
            controls=[self.body],
        )

    def refresh(self) -> None:
        store = self.app.store
        visit = store.visit(self.visit_id)
        if visit is None or visit.deleted or visit.record is None:
            self.body.controls = [w.banner(t("ui.visit.missing"), w.WARN)]
            return
        name = subject_name(store, visit)
        rows: list[ft.Control] = [
            ft.Text(f"{t(f'kind.{visit.kind}')} · {name}", size=w.TITLE, weight=ft.FontWeight.BOLD),
            w.text(t("ui.record.status", status=visit.status_text), color=_status_color(visit)),
        ]
        if visit.review_status == ReviewStatus.REJECTED and visit.review_reason:
            rows.append(w.banner(t("ui.record.review_reason", reason=visit.review_reason), w.ERROR))
        if visit.state == VisitState.REJECTED and visit.error:
            rows.append(w.banner(t("ui.record.refused", error=visit.error), w.ERROR))
        if labels := flag_labels(store, visit, self.app.clock()):
            rows.append(w.note(t("ui.record.flags", flags=t("list.sep").join(labels)), w.WARN))
        if visit.state == VisitState.CONFLICT:
            rows += self._conflict(visit)
        else:
            rows += _describe(store, visit.record)
            rows.append(
                w.note(
                    t(
                        "ui.record.trip",
                        km=fmt.km(visit.distance_m or _distance(store, visit)),
                        money=fmt.money(visit_subsidy(store, visit)),
                    )
                )
            )
            rows.append(
                ft.Row(
                    [
                        w.button(t("ui.record.edit"), self._edit, icon=ft.Icons.EDIT),
                        w.button(
                            t("ui.record.delete"), self._delete, icon=ft.Icons.DELETE, filled=False
                        ),
                    ],
                    wrap=True,
                )
            )
        self.body.controls = rows

    def _conflict(self, visit: LocalVisit) -> list[ft.Control]:
        store = self.app.store
        theirs = visit.server_record or {}
        mine_rows = _describe(store, visit.record) if not visit.deleted else []
        if theirs.get("deleted"):
            theirs_rows: list[ft.Control] = [w.text(t("ui.record.theirs_deleted"))]
        else:
            theirs_rows = _describe(store, theirs)
        return [
            w.banner(t("ui.record.conflict_title"), w.WARN),
            w.card(w.heading(t("ui.record.mine")), *mine_rows),
            w.card(w.heading(t("ui.record.theirs")), *theirs_rows),
            ft.Row(
                [
                    w.button(t("ui.record.keep_mine"), self._keep("mine")),
                    w.button(t("ui.record.keep_theirs"), self._keep("server"), filled=False),
                ],
                wrap=True,
            ),
        ]

    def _keep(self, which: Literal["mine", "server"]) -> w.Action:
        async def handler() -> None:
            visit = await asyncio.to_thread(
                self.app.store.visit_repo.resolve_conflict, self.visit_id, which
            )
            self.app.runner.trigger(manual=False)
            if visit.id != self.visit_id:
                await self.app.go(f"/record/{visit.id}")
            else:
                self.refresh()
            self.app.notify(t("ui.record.resolved"))
            self.app.flush()

        return handler

    async def _edit(self) -> None:
        await self.app.go(f"/visit/{self.visit_id}")

    def _delete(self) -> None:
        async def delete() -> None:
            try:
                await asyncio.to_thread(self.app.store.visit_repo.delete_visit, self.visit_id)
            except StoreError as exc:
                self.app.notify(str(exc), error=True)
                return
            self.app.runner.trigger(manual=False)
            await self.app.go("/history")
            self.app.notify(t("ui.record.deleted"))

        self.app.confirm(
            t("ui.record.delete"),
            [t("ui.record.delete_confirm")],
            t("ui.record.delete"),
            delete,
            danger=True,
        )
        self.app.flush()

    def on_sync(self, report: SyncReport | None) -> None:
        if report is not None:
            self.refresh()


def _describe(store: Store, record: dict[str, Any] | None) -> list[ft.Control]:
    """A record's content in a few lines (mine or the server's copy)."""
    rec = record or {}
    minutes = fmt.minutes_between(rec.get("started_at"), rec.get("ended_at"))
    rows: list[ft.Control] = [
        w.text(
            t(
                "ui.record.time",
                start=fmt.day_time(rec.get("started_at")),
                end=fmt.clock_time(rec.get("ended_at")),
                minutes=minutes or 0,
            )
        )
    ]

    for name, position, key in (
        ("started_at", "check_in", "ui.visit.corrected_in"),
        ("ended_at", "check_out", "ui.visit.corrected_out"),
    ):
        value = rec.get(name)
        if tapped := corrected_tap(value, (rec.get(position) or {}).get("at")):
            rows.append(w.note(t(key, time=fmt.time_beside(tapped, value)), w.WARN))

    def line(label_key: str, value: Any) -> None:
        if value:
            rows.append(w.text(t("ui.record.line", label=t(label_key), value=value)))

    if rec.get("kind") == VisitKind.HOME_TEACHING:
        line("mobile.field.iep_goals", t("list.sep").join(rec.get("iep_goals") or []))
        line("mobile.field.content", rec.get("content"))
        line("mobile.field.student_response", rec.get("student_response"))
        line("mobile.field.guardian_guidance", rec.get("guardian_guidance"))
    else:
        purposes = [t(f"purpose.{p}") for p in rec.get("purposes") or []]
        line("mobile.field.purposes", t("list.sep").join(purposes))
        names = [(store.student(s) or {}).get("name", s) for s in rec.get("students_seen") or []]
        line("mobile.field.students_seen", t("list.sep").join(names))
        line("mobile.field.findings", rec.get("findings"))
        recs = rec.get("recommendations")
        if isinstance(recs, list):
            for n, item in enumerate(recs, start=1):
                day = fmt.iso_day(item.get("due_date"))
                label, text = t("ui.visit.recommendation", n=n), item.get("text")
                rows.append(
                    w.text(
                        t(
                            "ui.record.recommendation_due",
                            label=label,
                            text=text,
                            due=t("ui.visit.due_date_shown", date=fmt.long_day(day)),
                        )
                        if day
                        else t("ui.record.line", label=label, value=text)
                    )
                )
        elif recs:
            line("mobile.field.recommendations", recs)
    rows.append(w.note(t("ui.record.photos", count=len(rec.get("photos") or []))))
    return rows


def _distance(store: Store, visit: LocalVisit) -> int:
    return preview_record(store, visit.record).distance_m if visit.record else 0


def _status_color(visit: LocalVisit) -> Any:
    if visit.state in (VisitState.CONFLICT, VisitState.REJECTED):
        return w.ERROR
    if visit.review_status == ReviewStatus.REJECTED:
        return w.ERROR
    if visit.state == VisitState.SYNCED and visit.review_status == ReviewStatus.APPROVED:
        return w.OK
    return w.WARN if visit.state == VisitState.PENDING else w.MUTED
