"""One visit being recorded or edited (no flet): the form, its draft saves, photos and the save.

Every change is written as a draft at once (``persist``), serialised by a lock so that the last
state always wins, so that a visit half recorded survives the app being killed. SQLite and
Pillow work runs in a worker thread; the event loop never blocks on it.
"""

import asyncio
from datetime import date, datetime
from typing import Any

from mobile.core.devices import LocationResult
from mobile.core.due_date import DueDateChoice, due_date_choice
from mobile.core.models import Clock, LocalVisit, VisitState
from mobile.core.photos import PhotoError, PreparedPhoto, save_photo
from mobile.core.store import Store
from mobile.core.trip import TripPreview, preview_form
from mobile.core.visit_form import FormCheck, VisitForm, check, without_consent
from shared.domain import VisitKind
from shared.messages import t
from shared.policy import PolicyParams
from shared.protocol import VisitRecord
from shared.terms import local_date


class VisitEditor:
    def __init__(self, store: Store, form: VisitForm, *, clock: Clock, saved: bool) -> None:
        self.store, self.form, self.clock = store, form, clock
        self.saved = saved  # the visit has a saved record (this is an edit)
        self._lock = asyncio.Lock()

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    async def create(
        cls, store: Store, kind: VisitKind | str, subject_id: str, *, clock: Clock
    ) -> "VisitEditor":
        """A new visit, kept as a draft from the first moment (it shows under 未完成的记录)."""
        editor = cls(store, VisitForm.new(kind, subject_id), clock=clock, saved=False)
        await editor.persist()
        return editor

    @classmethod
    async def start_for(
        cls, store: Store, kind: VisitKind | str, subject_id: str, *, clock: Clock
    ) -> "VisitEditor":
        """开始送教 / 开始指导: the child's (or school's) open draft if there is one, continued,
        else a new visit. One open draft per child or school: a second tap never starts a
        second half-recorded visit beside the first."""
        found = await asyncio.to_thread(open_draft, store, kind, subject_id)
        if found is not None:
            editor = cls.load(store, found.id, clock=clock)
            if editor is not None:
                return editor
        return await cls.create(store, kind, subject_id, clock=clock)

    @classmethod
    def load(cls, store: Store, visit_id: str, *, clock: Clock) -> "VisitEditor | None":
        """The editor for a stored visit (its draft if an edit is under way); None when the
        visit is gone, deleted or in conflict (resolve that first)."""
        visit = store.visit(visit_id)
        if visit is None or visit.deleted or visit.state == VisitState.CONFLICT:
            return None
        if visit.draft is None and visit.record is None:
            return None
        return cls(store, VisitForm.from_visit(visit), clock=clock, saved=visit.record is not None)

    # -- what the screen shows --------------------------------------------------------------

    @property
    def kind(self) -> VisitKind:
        return VisitKind(self.form.kind)

    @property
    def home(self) -> bool:
        return self.kind == VisitKind.HOME_TEACHING

    @property
    def subject(self) -> dict[str, Any] | None:
        if self.home:
            return self.store.student(self.form.subject_id)
        return self.store.school(self.form.subject_id)

    @property
    def subject_name(self) -> str:
        return (self.subject or {}).get("name") or self.form.subject_id

    @property
    def policy(self) -> PolicyParams:
        on = self.started_day() or self.clock().date()
        return self.store.policy((self.subject or {}).get("district_code"), on)

    def started_day(self) -> date | None:
        if not self.form.started_at:
            return None
        return local_date(datetime.fromisoformat(self.form.started_at))

    @property
    def photos_allowed(self) -> bool:
        return not self.without_consent()

    def without_consent(self) -> list[str]:
        """Names of the children the photos may show whose guardian said no to photos."""
        ids = without_consent(self.form, self.store.student)
        return [(self.store.student(sid) or {}).get("name", sid) for sid in ids]

    def trip(self) -> TripPreview:
        return preview_form(self.store, self.form)

    def check(self) -> FormCheck:
        return check(
            self.form,
            now=self.clock(),
            subject=self.subject,
            policy=self.policy,
            clock_skew_s=self.store.clock_skew_s(),
            students=self.store.student,
        )

    def is_blank(self) -> bool:
        """Nothing recorded yet: leaving the screen drops the draft rather than keep clutter."""
        return self.form.is_blank()

    # -- changes ----------------------------------------------------------------------------

    async def persist(self) -> None:
        """Write the current form as the visit's draft (call after every change)."""
        async with self._lock:
            snapshot = self.form.to_dict()
            await asyncio.to_thread(
                self.store.visit_repo.save_draft,
                self.form.id,
                self.form.kind,
                self.form.subject_id,
                snapshot,
            )

    async def start(self, where: LocationResult, *, tapped: datetime | None = None) -> None:
        """开始 at ``tapped`` (the device's instant at the tap, before the wait for a fix)."""
        self.form.start(tapped or self.clock(), where)
        await self.persist()

    async def finish(self, where: LocationResult, *, tapped: datetime | None = None) -> None:
        self.form.finish(tapped or self.clock(), where)
        await self.persist()

    async def set_value(self, name: str, value: Any) -> None:
        setattr(self.form, name, value)
        await self.persist()

    async def toggle(self, name: str, item: str, on: bool) -> None:
        """Add or remove ``item`` in a list field (iep_goals, purposes, students_seen)."""
        items: list[str] = getattr(self.form, name)
        if on and item not in items:
            items.append(item)
        elif not on and item in items:
            items.remove(item)
        await self.persist()

    async def add_recommendation(self) -> None:
        self.form.recommendations.append({"text": "", "due_date": None})
        await self.persist()

    async def set_recommendation(self, index: int, key: str, value: str | None) -> None:
        if 0 <= index < len(self.form.recommendations):
            self.form.recommendations[index][key] = value
            await self.persist()

    def due_date(self, index: int) -> date | None:
        """Recommendation ``index``'s due date (None: not set, or a draft's unreadable text)."""
        raw = self.form.recommendations[index].get("due_date")
        try:
            return date.fromisoformat(raw) if raw else None
        except ValueError:
            return None

    def due_date_choice(self, index: int) -> DueDateChoice:
        """What the date picker for recommendation ``index`` offers and opens on."""
        return due_date_choice(
            self.due_date(index), visit_day=self.started_day(), today=local_date(self.clock())
        )

    async def set_due_date(self, index: int, day: date | None) -> None:
        """The day picked for recommendation ``index``; None clears it (it is optional)."""
        await self.set_recommendation(index, "due_date", day.isoformat() if day else None)

    async def remove_recommendation(self, index: int) -> None:
        if 0 <= index < len(self.form.recommendations):
            del self.form.recommendations[index]
            await self.persist()

    async def add_photo(self, data: bytes) -> PreparedPhoto:
        """Shrink, strip and keep a photo, then list it. Raises ``PhotoError`` (Chinese)."""
        if not self.photos_allowed:
            raise PhotoError(t("ui.visit.no_consent"))
        photo = await asyncio.to_thread(save_photo, self.store, data)
        if photo.sha256 not in self.form.photos:
            self.form.photos.append(photo.sha256)
        await self.persist()
        return photo

    async def remove_photo(self, index: int) -> None:
        if 0 <= index < len(self.form.photos):
            del self.form.photos[index]
            await self.persist()

    async def set_origin(self, where: LocationResult | None) -> None:
        """The trip starts here (a fix) or, with None, at the base school."""
        fix = where.fix if where else None
        self.form.origin = {"lat": fix.lat, "lon": fix.lon} if fix else None
        await self.persist()

    # -- ending -----------------------------------------------------------------------------

    async def save(self, record: VisitRecord) -> LocalVisit:
        """结束/保存: the record and its sync op in one transaction (``StoreError`` on refusal)."""
        async with self._lock:
            visit = await asyncio.to_thread(self.store.visit_repo.save_visit, record)
        self.saved = True
        return visit

    async def discard(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self.store.visit_repo.discard_draft, self.form.id)


def open_draft(store: Store, kind: VisitKind | str, subject_id: str) -> LocalVisit | None:
    """The visit of ``kind`` for ``subject_id`` begun on this phone and never saved (the first,
    should an older app version have left several)."""
    drafts = [
        v
        for v in store.drafts()
        if v.state == VisitState.DRAFT and v.kind == kind and v.subject_id == subject_id
    ]
    return drafts[0] if drafts else None


def discard_blank_drafts(store: Store) -> int:
    """Drop never-saved drafts holding nothing (a form opened and the app killed before
    anything was entered); how many. A form still open elsewhere writes its draft again on its
    next change."""
    blank = [
        v.id
        for v in store.drafts()
        if v.state == VisitState.DRAFT and v.draft is not None
        if VisitForm.from_dict(v.draft).is_blank()
    ]
    for visit_id in blank:
        store.visit_repo.discard_draft(visit_id)
    return len(blank)
