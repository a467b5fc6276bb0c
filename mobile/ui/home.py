"""我的工作: the caseload, unfinished drafts, records needing attention, sync status."""

import flet as ft

from mobile.core.caseload import ChildLoad, SchoolLoad, itinerant_caseload, teacher_caseload
from mobile.core.editor import VisitEditor
from mobile.core.models import LocalVisit, VisitState
from mobile.core.session import sign_out_loss
from mobile.core.sync import SyncReport
from mobile.ui import format as fmt
from mobile.ui import widgets as w
from mobile.ui.shell import BaseScreen, FieldApp
from mobile.ui.sync_view import SyncBadge, SyncPanel
from shared.domain import ReviewStatus, Role, VisitKind
from shared.messages import t


class HomeScreen(BaseScreen):
    route = "/"

    def __init__(self, app: FieldApp) -> None:
        super().__init__(app)
        self.badge = SyncBadge(app)
        self.panel = SyncPanel(app)
        self.body = ft.Column(spacing=10, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        self.refresh()

    def build(self) -> ft.View:
        return ft.View(
            route=self.route,
            scroll=ft.ScrollMode.AUTO,
            padding=12,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            appbar=ft.AppBar(
                title=ft.Text(t("ui.app_title"), size=w.TITLE + 2),
                automatically_imply_leading=False,
                actions=[
                    self.badge.control,
                    w.icon_button(ft.Icons.HISTORY, t("ui.action.history"), self._history),
                    w.icon_button(ft.Icons.LOGOUT, t("ui.action.sign_out"), self._sign_out),
                ],
            ),
            controls=[self.panel.control, self.body],
        )

    def on_sync(self, report: SyncReport | None) -> None:
        self.badge.refresh()
        self.panel.refresh()
        # A round that failed and changed nothing (offline, every few minutes) leaves the cards
        # alone: a rebuild replaces every button, and a tap landing at that moment would reach
        # a button no longer there and be lost. A round that went through refreshes even when
        # it pulled nothing: another tab of this browser may have pulled into the shared store.
        changed = report is not None and (
            report.ok or report.pulled or report.synced or report.conflicts or report.rejected
        )
        if changed:
            self.refresh()

    def refresh(self) -> None:
        self.badge.refresh()
        self.panel.refresh()
        user = self.app.state.user
        if user is None:
            self.body.controls = []
            return
        role = t(f"role.{user.role}")
        rows: list[ft.Control] = [w.note(t("ui.home.signed_in_as", name=user.name, role=role))]
        rows += self._drafts()
        rows += self._attention()
        today = self.app.clock().date()
        if user.role == Role.TEACHER:
            rows.append(w.heading(t("ui.home.my_children")))
            loads = teacher_caseload(self.app.store, today)
            rows += [self._child(load) for load in loads] or [w.note(t("ui.home.empty_teacher"))]
        elif user.role == Role.ITINERANT:
            rows.append(w.heading(t("ui.home.my_schools")))
            schools = itinerant_caseload(self.app.store, today)
            rows += [self._school(load) for load in schools] or [
                w.note(t("ui.home.empty_itinerant"))
            ]
        else:
            rows.append(w.banner(t("ui.home.role_unsupported"), w.WARN))
        self.body.controls = rows

    # -- sections ---------------------------------------------------------------------------

    def _drafts(self) -> list[ft.Control]:
        drafts = self.app.store.drafts()
        if not drafts:
            return []
        rows: list[ft.Control] = [w.heading(t("ui.home.drafts"))]
        for visit in drafts:
            name = self._subject_name(visit)
            form = visit.draft or {}
            when = fmt.day_time(form.get("started_at")) or t("ui.home.not_started")
            rows.append(
                w.card(
                    w.text(f"{t(f'kind.{visit.kind}')} · {name}"),
                    w.note(when),
                    w.button(
                        t("ui.home.continue", subject=name),
                        self._open(f"/visit/{visit.id}"),
                        icon=ft.Icons.EDIT,
                    ),
                )
            )
        return rows

    def _attention(self) -> list[ft.Control]:
        visits = [v for v in self.app.store.visits() if _needs_attention(v)]
        if not visits:
            return []
        rows: list[ft.Control] = [w.heading(t("ui.home.attention"))]
        for visit in visits:
            name = self._subject_name(visit)
            rows.append(
                w.card(
                    w.text(
                        t(
                            "ui.home.attention_item",
                            status=visit.status_text,
                            kind=t(f"kind.{visit.kind}"),
                            name=name,
                        ),
                        color=w.ERROR,
                    ),
                    w.note(fmt.day_time(visit.started_at)),
                    w.button(
                        t("ui.home.open_record", subject=name),
                        self._open(f"/record/{visit.id}"),
                        filled=False,
                    ),
                )
            )
        return rows

    def _child(self, load: ChildLoad) -> ft.Control:
        student = load.student
        name = student["name"]
        lines: list[ft.Control] = [ft.Text(name, size=w.TITLE, weight=ft.FontWeight.BOLD)]
        if load.required <= 0:
            lines.append(w.text(t("ui.load.no_sessions")))
        else:
            lines.append(
                w.text(t("ui.load.sessions", delivered=load.delivered, required=load.required))
            )
        if load.met and load.required > 0:
            lines.append(w.note(t("ui.load.met"), w.OK))
        elif load.next_due is not None:
            key = "ui.load.overdue" if load.next_due.overdue else "ui.load.next_due"
            color = w.ERROR if load.next_due.overdue else w.MUTED
            lines.append(w.note(t(key, date=fmt.day(load.next_due.day)), color))
        lines.append(
            ft.Row(
                [
                    w.button(
                        t("ui.action.start_home_short"),
                        self._start(VisitKind.HOME_TEACHING, student["id"]),
                        icon=ft.Icons.PLAY_ARROW,
                        expand=True,
                        name=t("ui.action.start_home", name=name),
                        ident=f"start-{student['id']}",
                    ),
                    w.button(
                        t("ui.action.details_short"),
                        self._open(f"/child/{student['id']}"),
                        filled=False,
                        name=t("ui.action.details", name=name),
                    ),
                ]
            )
        )
        return w.card(*lines)

    def _school(self, load: SchoolLoad) -> ft.Control:
        school = load.school
        name = school["name"]
        covered = t("ui.load.covered") if load.covered else t("ui.load.not_covered")
        return w.card(
            ft.Text(name, size=w.TITLE, weight=ft.FontWeight.BOLD),
            w.text(t("ui.load.visits", visits=load.visits, required=load.required)),
            w.note(covered, w.OK if load.covered else w.WARN),
            ft.Row(
                [
                    w.button(
                        t("ui.action.start_itinerant_short"),
                        self._start(VisitKind.ITINERANT, school["id"]),
                        icon=ft.Icons.PLAY_ARROW,
                        expand=True,
                        name=t("ui.action.start_itinerant", name=name),
                        ident=f"start-{school['id']}",
                    ),
                    w.button(
                        t("ui.action.details_short"),
                        self._open(f"/school/{school['id']}"),
                        filled=False,
                        name=t("ui.action.details", name=name),
                    ),
                ]
            ),
        )

    def _subject_name(self, visit: LocalVisit) -> str:
        store = self.app.store
        subject_id = visit.subject_id or ""
        if visit.kind == VisitKind.HOME_TEACHING:
            subject = store.student(subject_id)
        else:
            subject = store.school(subject_id)
        return (subject or {}).get("name") or subject_id

    # -- actions ----------------------------------------------------------------------------

    def _open(self, route: str) -> w.Action:
        async def handler() -> None:
            await self.app.go(route)

        return handler

    def _start(self, kind: VisitKind, subject_id: str) -> w.Action:
        async def handler() -> None:
            editor = await VisitEditor.start_for(
                self.app.store, kind, subject_id, clock=self.app.clock
            )
            await self.app.go(f"/visit/{editor.form.id}")

        return handler

    async def _history(self) -> None:
        await self.app.go("/history")

    def _sign_out(self) -> None:
        loss = sign_out_loss(self.app.store)
        lines = [t("ui.signout.body")]
        if loss.unsynced or loss.photos:
            lines.append(t("ui.signout.pending", records=len(loss.unsynced), photos=loss.photos))
        if loss.unsynced:
            lines.append(t("ui.signout.unsynced_items", items=self._items(loss.unsynced)))
        if loss.drafts:
            items = self._items(loss.drafts)
            lines.append(t("ui.signout.drafts", count=len(loss.drafts), items=items))
        self.app.confirm(
            t("ui.signout.title"), lines, t("ui.signout.yes"), self._do_sign_out, danger=True
        )
        self.app.flush()

    def _items(self, visits: list[LocalVisit], most: int = 5) -> str:
        """送教上门 · 张小明（11月12日 09:30）、… for the sign-out question."""
        items = []
        for visit in visits[:most]:
            started = visit.started_at or (visit.draft or {}).get("started_at")
            items.append(
                t(
                    "ui.signout.item",
                    kind=t(f"kind.{visit.kind}"),
                    name=self._subject_name(visit),
                    when=fmt.day_time(started) or t("ui.home.not_started"),
                )
            )
        if len(visits) > most:
            items.append(t("ui.signout.more", count=len(visits)))
        return t("list.sep").join(items)

    async def _do_sign_out(self) -> None:
        await self.app.sign_out()
        await self.app.go("/login")
        self.app.notify(t("ui.signout.done"))


def _needs_attention(visit: LocalVisit) -> bool:
    if visit.state in (VisitState.CONFLICT, VisitState.REJECTED):
        return True
    return visit.state == VisitState.SYNCED and visit.review_status == ReviewStatus.REJECTED
