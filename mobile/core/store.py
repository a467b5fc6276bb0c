"""The phone's local store: one SQLite file, so that nothing recorded depends on a signal.

Where: ``$SONGJIAO_APP_DATA/songjiao.db``, else ``$FLET_APP_STORAGE_DATA``, else ``./var/app``;
photos beside it in ``photos/<sha256>.jpg``. The file itself (transactions, schema, threads):
``mobile.core.db``.

This module holds the account, the pulled roster and policy, and the photo files. The visits
are ``store.visit_repo`` (``mobile.core.visits``: drafts, saves, deletes, the server's copies);
their push queue is ``store.outbox`` (``mobile.core.outbox``).
"""

__all__ = ["DB_NAME", "PHOTO_DIR", "Store", "StoreError", "data_dir"]

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from mobile.core.db import LocalDb
from mobile.core.models import (
    LocalVisit,
    PendingCounts,
    StoredPhoto,
    StoreError,
    User,
    now_iso,
)
from mobile.core.outbox import VisitOutbox
from mobile.core.visits import VisitRepository
from shared.domain import Role
from shared.policy import PolicyParams, PolicyVersion, policy_in_force
from shared.protocol import CalendarRecord, Change
from shared.terms import TermCalendar, TermDates

DB_NAME = "songjiao.db"
PHOTO_DIR = "photos"


def data_dir() -> Path:
    """The app's data directory (see the module docstring)."""
    for var in ("SONGJIAO_APP_DATA", "FLET_APP_STORAGE_DATA"):
        if value := os.environ.get(var):
            return Path(value)
    return Path("var/app")


class Store(LocalDb):
    """The local store. ``Store()`` opens (creating or migrating) the file in ``data_dir()``."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self._calendar: tuple[str, TermCalendar] = ("", {})  # (as stored, parsed)
        self.dir = Path(directory) if directory is not None else data_dir()
        self.photo_dir = self.dir / PHOTO_DIR
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(self.dir / DB_NAME)
        self.sync_lock = threading.Lock()  # one sync round at a time, whoever starts it
        self._sweep_photo_files()
        self.outbox = VisitOutbox(self)
        self.visit_repo = VisitRepository(self, self.outbox)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the account ----------------------------------------------------------------------

    def user(self) -> User | None:
        """The signed-in user, kept across launches so the app opens offline."""
        raw = self.meta("user")
        return User(**json.loads(raw)) if raw else None

    def set_user(self, user: User) -> None:
        """Record a sign-in. A different user's local data is wiped first (see ``sign_out``);
        callers check ``pending_counts()`` before letting that happen."""
        current = self.user()
        if current is not None and current.username != user.username:
            self.sign_out()
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('user', ?)",
                (json.dumps(user.__dict__, ensure_ascii=False),),
            )
            db.execute("DELETE FROM meta WHERE key = 'needs_sign_in'")

    def needs_sign_in(self) -> bool:
        """The server refused the token (revoked or expired): sign in again; nothing is lost."""
        return self.meta("needs_sign_in") == "1"

    def set_needs_sign_in(self, flag: bool) -> None:
        self.set_meta("needs_sign_in", "1" if flag else None)

    def token_fingerprint(self) -> str | None:
        """SHA-256 of the token this store's data belongs to (the token itself stays in secure
        storage). A client holding another token (a tab left open across a sign-out, another
        user's sign-in) must not sync this store: ``SyncClient.holds_current_token``."""
        return self.meta("token_sha256")

    def set_token_fingerprint(self, fingerprint: str) -> None:
        self.set_meta("token_sha256", fingerprint)

    def server_url(self) -> str | None:
        return self.meta("server_url")

    def set_server_url(self, url: str) -> None:
        self.set_meta("server_url", url)

    def clock_skew_s(self) -> float | None:
        """Phone clock minus server clock at the last sync, in seconds (None: never synced)."""
        raw = self.meta("clock_skew_s")
        return float(raw) if raw is not None else None

    def sign_out(self) -> None:
        """Wipe everything of the signed-in user: rows, then photo files, then the WAL."""
        with self.transaction() as db:
            for table in ("entity", "visit", "outbox", "photo"):
                db.execute(f"DELETE FROM {table}")
            # The server address belongs to the device, not to the user.
            db.execute("DELETE FROM meta WHERE key != 'server_url'")
        for path in self.photo_dir.iterdir():
            path.unlink(missing_ok=True)
        self.checkpoint()

    # -- the city's term calendar, pulled (docs/api.md) -----------------------------------

    def calendar_tag(self) -> str:
        """The tag of the calendar held ("" before the first pull): sent with every pull."""
        raw = self.meta("calendar")
        return str(json.loads(raw)["tag"]) if raw else ""

    def set_calendar(self, calendar: CalendarRecord) -> None:
        self.set_meta("calendar", calendar.model_dump_json())

    def calendar(self) -> TermCalendar:
        """The pulled calendar (empty before the first pull: the default term dates), parsed
        once for each calendar received."""
        raw = self.meta("calendar") or ""
        if self._calendar[0] != raw:
            terms = CalendarRecord.model_validate_json(raw).terms if raw else []
            self._calendar = (raw, {t.id: TermDates(**t.model_dump(exclude={"id"})) for t in terms})
        return self._calendar[1]

    # -- pulled entities ------------------------------------------------------------------

    def cursor(self) -> str | None:
        """The server's pull cursor (opaque); None before the first pull."""
        return self.meta("cursor")

    def apply_pull(self, changes: Sequence[Change], cursor: str, *, complete: bool) -> None:
        """Apply one pull page and its cursor together. ``complete``: this was the last page,
        so children and schools no longer in the user's scope are dropped from the phone."""
        with self.transaction() as db:
            for change in changes:
                if change.entity == "visit":
                    self.visit_repo.apply_pulled(db, change)
                elif change.deleted or change.record is None:
                    db.execute(
                        "DELETE FROM entity WHERE kind = ? AND id = ?", (change.entity, change.id)
                    )
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO entity (kind, id, version, record) "
                        "VALUES (?, ?, ?, ?)",
                        (
                            change.entity,
                            change.id,
                            change.version,
                            json.dumps(change.record, ensure_ascii=False),
                        ),
                    )
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?)", (cursor,))
            if complete:
                self._prune(db)

    def _prune(self, db: sqlite3.Connection) -> None:
        """Keep only what the job needs: a child whose assignment ended leaves the phone."""
        user = self.user()
        if user is None or user.role not in (Role.TEACHER, Role.ITINERANT):
            return
        mine = [a for a in self._entities("assignment") if a.get("username") == user.username]
        if user.role == Role.TEACHER:
            keep = {a["student_id"] for a in mine if a.get("student_id")}
            gone = [s["id"] for s in self._entities("student") if s["id"] not in keep]
        else:
            schools = {a["school_id"] for a in mine if a.get("school_id")}
            gone = [s["id"] for s in self._entities("student") if s.get("school_id") not in schools]
        db.executemany(
            "DELETE FROM entity WHERE kind = 'student' AND id = ?", [(sid,) for sid in gone]
        )

    def _entities(self, kind: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT record FROM entity WHERE kind = ? ORDER BY id", (kind,))
        return [json.loads(r["record"]) for r in rows]

    def _entity(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT record FROM entity WHERE kind = ? AND id = ?", (kind, entity_id))
        return json.loads(rows[0]["record"]) if rows else None

    def student(self, student_id: str) -> dict[str, Any] | None:
        """A child as pulled: name, address, guardian, iep_goals, photo_consent... (no ID)."""
        return self._entity("student", student_id)

    def school(self, school_id: str) -> dict[str, Any] | None:
        return self._entity("school", school_id)

    def schools(self) -> list[dict[str, Any]]:
        return self._entities("school")

    def students(self) -> list[dict[str, Any]]:
        return self._entities("student")

    def assignments(self) -> list[dict[str, Any]]:
        return self._entities("assignment")

    def my_students(self) -> list[dict[str, Any]]:
        """The signed-in teacher's assigned children, by name."""
        return self._assigned("student_id", self.students())

    def my_schools(self) -> list[dict[str, Any]]:
        """The signed-in itinerant instructor's assigned schools, by name."""
        return self._assigned("school_id", self.schools())

    def _assigned(self, column: str, pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
        user = self.user()
        name = user.username if user else None
        ids = {a[column] for a in self.assignments() if a.get("username") == name and a[column]}
        return sorted((e for e in pool if e["id"] in ids), key=lambda e: (e["name"], e["id"]))

    def students_at(self, school_id: str) -> list[dict[str, Any]]:
        return sorted(
            (s for s in self.students() if s.get("school_id") == school_id),
            key=lambda s: (s["name"], s["id"]),
        )

    def policies(self) -> list[PolicyVersion]:
        """Pulled policy versions; parameters this app does not know are ignored."""
        known = PolicyParams.model_fields
        return [
            PolicyVersion(
                district_code=p.get("district_code"),
                effective_from=date.fromisoformat(p["effective_from"]),
                params=PolicyParams.model_validate(
                    {k: v for k, v in (p.get("params") or {}).items() if k in known}
                ),
            )
            for p in self._entities("policy")
        ]

    def policy(self, district_code: str | None, on: date) -> PolicyParams:
        """The parameters in force in ``district_code`` (default: the user's) on ``on``."""
        if district_code is None:
            user = self.user()
            district_code = user.district_code if user else None
        return policy_in_force(self.policies(), district_code or "", on)

    # -- visits (the screens' and the counts' reads; writes: ``self.visit_repo``) ---------

    def visit(self, visit_id: str) -> LocalVisit | None:
        return self.visit_repo.get(visit_id)

    def visits(
        self, *, month: int | None = None, include_deleted: bool = False
    ) -> list[LocalVisit]:
        """See ``VisitRepository.all``."""
        return self.visit_repo.all(month=month, include_deleted=include_deleted)

    def drafts(self) -> list[LocalVisit]:
        return self.visit_repo.drafts()

    # -- photos ---------------------------------------------------------------------------

    def add_photo(self, sha256: str, data: bytes) -> StoredPhoto:
        """Keep a prepared photo (see ``mobile.core.photos``); the same photo is stored once."""
        name = f"{sha256}.jpg"
        target = self.photo_dir / name
        if not target.exists():
            tmp = self.photo_dir / f".{uuid.uuid4().hex}.tmp"
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO photo (sha256, path, bytes, created_at) VALUES (?, ?, ?, ?)",
                (sha256, name, len(data), now_iso()),
            )
        photo = self.photo(sha256)
        assert photo is not None
        return photo

    def photo(self, sha256: str) -> StoredPhoto | None:
        rows = self.query("SELECT * FROM photo WHERE sha256 = ?", (sha256,))
        return _photo(rows[0]) if rows else None

    def photo_file(self, sha256: str) -> Path:
        """Where the photo's bytes are (for showing it, and for upload)."""
        return self.photo_dir / f"{sha256}.jpg"

    def photos_to_upload(self) -> list[StoredPhoto]:
        """Photos listed by a queued op and not yet accepted by the server, oldest first."""
        wanted = self.outbox.photos_referenced()
        rows = self.query("SELECT * FROM photo WHERE uploaded = 0 ORDER BY created_at, sha256")
        return [_photo(r) for r in rows if r["sha256"] in wanted]

    def mark_photo_uploaded(self, sha256: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE photo SET uploaded = 1, last_error = '' WHERE sha256 = ?", (sha256,))

    def mark_photo_error(self, sha256: str, message: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE photo SET last_error = ? WHERE sha256 = ?", (message, sha256))

    def pending_counts(self) -> PendingCounts:
        """For the badge: visits with a queued op, and photos those ops still need to send."""
        return PendingCounts(
            records=self.outbox.visits_queued(), photos=len(self.photos_to_upload())
        )

    def _sweep_photo_files(self) -> None:
        """Remove files a killed process left behind: temp files and photos with no row."""
        known = {r["path"] for r in self.query("SELECT path FROM photo")}
        for path in self.photo_dir.iterdir():
            if path.name not in known:
                path.unlink(missing_ok=True)


def _photo(row: sqlite3.Row) -> StoredPhoto:
    return StoredPhoto(
        sha256=row["sha256"],
        path=row["path"],
        bytes=row["bytes"],
        uploaded=bool(row["uploaded"]),
        last_error=row["last_error"],
    )
