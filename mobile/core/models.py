"""Plain records the store hands out. Reading one never touches the database again."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain import ReviewStatus, VisitKind
from shared.judge import in_counts
from shared.messages import t

Clock = Callable[[], datetime]  # the phone's clock (China time); tests pass their own


class StoreError(Exception):
    """A store operation refused; ``str(error)`` is the Chinese message for the teacher."""


def now_iso() -> str:
    """The phone's local time, ISO 8601 with its offset (bookkeeping only, never sync order)."""
    return datetime.now().astimezone().isoformat()


class VisitState(StrEnum):
    """Where a visit stands between this phone and the server.

    ``draft``: never saved (only form state); ``pending``: saved, an op waits in the outbox;
    ``synced``: the server holds what this phone holds; ``conflict``: the server holds another
    version (both kept, the teacher chooses); ``rejected``: the server refused the last save
    (``error`` says why). A coordinator's review is separate: ``LocalVisit.review_status``.
    """

    DRAFT = "draft"
    PENDING = "pending"
    SYNCED = "synced"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True)
class User:
    """The signed-in field worker. The token is not here: it lives in secure storage."""

    username: str
    name: str
    role: str
    district_code: str | None
    base_school_id: str | None = None


@dataclass(frozen=True)
class LocalVisit:
    """A visit on this phone.

    ``record`` is the ``VisitRecord`` as the phone pushes it (JSON form; None for a draft never
    saved); ``draft`` the unsaved form state, if an edit is under way; ``server_record`` the
    server's copy when in conflict. Server fields (flags, review, money) come from the last pull.
    """

    id: str
    kind: VisitKind
    subject_id: str | None
    state: VisitState
    deleted: bool
    started_at: datetime | None
    month: int | None  # YYYYMM, Asia/Shanghai
    record: dict[str, Any] | None
    draft: dict[str, Any] | None
    server_version: int | None
    flags: list[str] = field(default_factory=list)
    review_status: ReviewStatus | None = None
    review_reason: str = ""
    subsidy_fen: int | None = None
    distance_m: int | None = None
    server_record: dict[str, Any] | None = None
    error: str = ""  # Chinese: why the server refused the last save

    @property
    def counted(self) -> bool:
        """Counts toward sessions and subsidy: saved and not refused by the server (the phone's
        own states), then as the judge counts a stored visit (not deleted, not rejected)."""
        return (
            self.record is not None
            and self.state not in (VisitState.DRAFT, VisitState.REJECTED)
            and in_counts(deleted=self.deleted, review_status=self.review_status)
        )

    @property
    def flag_labels(self) -> list[str]:
        """The server's evidence flags in Chinese (e.g. 无照片), for the history list."""
        return [t(f"flag.{code}") for code in self.flags]

    @property
    def status_text(self) -> str:
        """One Chinese word for the history list: sync state, else the review result."""
        if self.deleted:
            return t("mobile.state.deleted")
        if self.state == VisitState.SYNCED and self.review_status:
            return t(f"review.{self.review_status}")
        return t(f"mobile.state.{self.state}")


@dataclass(frozen=True)
class OutboxOp:
    """One queued push op. ``sent``: it may have reached the server, so it never changes."""

    seq: int
    op_id: str
    visit_id: str
    type: str  # visit.upsert | visit.delete
    body: dict[str, Any]  # the record as pushed
    base_version: int | None
    base_pending: bool  # base_version comes from the result of the op before it
    sent: bool
    attempts: int
    last_error: str
    created_at: str

    def wire(self) -> dict[str, Any]:
        """The op as ``POST /sync/push`` takes it."""
        return {
            "op_id": self.op_id,
            "type": self.type,
            "record": self.body,
            "base_version": self.base_version,
        }


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str
    path: str  # relative to the store's photo directory
    bytes: int
    uploaded: bool
    last_error: str = ""


@dataclass(frozen=True)
class PendingCounts:
    """For the sync badge: visits and photos waiting to reach the server."""

    records: int
    photos: int

    @property
    def total(self) -> int:
        return self.records + self.photos
