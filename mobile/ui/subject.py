"""A child's or a school's page: only what the job needs (never an ID or certificate number)."""

import flet as ft

from mobile.core.caseload import itinerant_caseload, teacher_caseload
from mobile.core.editor import VisitEditor
from mobile.ui import widgets as w
from mobile.ui.shell import BaseScreen, FieldApp
from shared.domain import VisitKind
from shared.messages import t


class _SubjectScreen(BaseScreen):
    kind: VisitKind

    def __init__(self, app: FieldApp, subject_id: str) -> None:
        super().__init__(app)
        self.subject_id = subject_id
        self.body = ft.Column(spacing=12)
        self.title = ft.Text("", size=w.TITLE)
        self.refresh()

    def build(self) -> ft.View:
        return ft.View(
            route=self.route,
            scroll=ft.ScrollMode.AUTO,
            padding=14,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            appbar=ft.AppBar(title=self.title),
            controls=[self.body],
        )

    async def _start(self) -> None:
        editor = await VisitEditor.start_for(
            self.app.store, self.kind, self.subject_id, clock=self.app.clock
        )
        await self.app.go(f"/visit/{editor.form.id}")


class ChildScreen(_SubjectScreen):
    kind = VisitKind.HOME_TEACHING

    def __init__(self, app: FieldApp, student_id: str) -> None:
        self.route = f"/child/{student_id}"
        super().__init__(app, student_id)

    def refresh(self) -> None:
        student = self.app.store.student(self.subject_id)
        if student is None:
            self.title.value = ""
            self.body.controls = [w.banner(t("ui.child.missing"), w.WARN)]
            return
        name = student.get("name") or ""
        self.title.value = name
        rows: list[ft.Control] = [ft.Text(name, size=26, weight=ft.FontWeight.BOLD)]
        load = next(
            (
                c
                for c in teacher_caseload(self.app.store, self.app.clock().date())
                if c.student["id"] == self.subject_id
            ),
            None,
        )
        if load is not None and load.required > 0:
            rows.append(
                w.text(t("ui.load.sessions", delivered=load.delivered, required=load.required))
            )
            rows.append(w.note(t("ui.child.min_minutes", minutes=load.min_minutes)))
        if student.get("address"):
            rows.append(w.text(t("ui.child.address", address=student["address"])))
        rows.append(w.text(t("ui.child.guardian", name=student.get("guardian_name") or "—")))
        phone = (student.get("guardian_phone") or "").strip()
        if phone:
            rows.append(
                w.button(
                    t("ui.child.call", phone=phone), None, icon=ft.Icons.PHONE, url=f"tel:{phone}"
                )
            )
        else:
            rows.append(w.note(t("ui.child.no_phone")))
        consent = bool(student.get("photo_consent"))
        rows.append(
            w.note(
                t("ui.child.consent_yes") if consent else t("ui.child.consent_no"),
                w.OK if consent else w.ERROR,
            )
        )
        rows.append(w.heading(t("ui.child.iep")))
        goals = student.get("iep_goals") or []
        rows += [w.text(f"· {goal}") for goal in goals] or [w.note(t("ui.child.no_iep"))]
        rows.append(
            w.button(t("ui.action.start_home", name=name), self._start, icon=ft.Icons.PLAY_ARROW)
        )
        self.body.controls = rows


class SchoolScreen(_SubjectScreen):
    kind = VisitKind.ITINERANT

    def __init__(self, app: FieldApp, school_id: str) -> None:
        self.route = f"/school/{school_id}"
        super().__init__(app, school_id)

    def refresh(self) -> None:
        store = self.app.store
        school = store.school(self.subject_id)
        if school is None:
            self.title.value = ""
            self.body.controls = [w.banner(t("ui.school.missing"), w.WARN)]
            return
        name = school.get("name") or ""
        self.title.value = name
        rows: list[ft.Control] = [ft.Text(name, size=26, weight=ft.FontWeight.BOLD)]
        if school.get("kind"):
            rows.append(w.note(t(f"ui.school.kind.{school['kind']}")))
        load = next(
            (
                s
                for s in itinerant_caseload(store, self.app.clock().date())
                if s.school["id"] == self.subject_id
            ),
            None,
        )
        if load is not None:
            rows.append(w.text(t("ui.load.visits", visits=load.visits, required=load.required)))
        students = store.students_at(self.subject_id)
        if students:
            rows.append(w.heading(t("ui.school.students", count=len(students))))
            rows += [w.text(f"· {s.get('name')}") for s in students]
        else:
            rows.append(w.note(t("ui.school.no_students")))
        rows.append(
            w.button(
                t("ui.action.start_itinerant", name=name), self._start, icon=ft.Icons.PLAY_ARROW
            )
        )
        self.body.controls = rows
