"""Sync protocol messages shared by phone and server (contract.md, HTTP API)."""

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from shared.domain import ItinerantPurpose, ReviewStatus, TravelMode, VisitKind
from shared.terms import WINDOW_TEXT, date_in_window, time_in_window

MAX_OPS = 500
# No NUL characters anywhere: PostgreSQL text cannot hold them, and no person types one.
NO_NUL = r"^[^\x00]*$"
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Text = Annotated[str, StringConstraints(max_length=5000, pattern=NO_NUL)]
Short = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
# Every time and date a client sends lies in one window (shared/terms.py, docs/api.md): outside
# it the record is refused as invalid_record. A phone clock a year off is inside, kept, flagged.
WindowTime = Annotated[
    AwareDatetime,
    AfterValidator(time_in_window),
    Field(description=f"ISO 8601 with an offset; {WINDOW_TEXT}"),
]
WindowDate = Annotated[
    date,
    AfterValidator(date_in_window),
    Field(description="YYYY-MM-DD; 2000-01-01 <= d <= 2099-12-31"),
]

# Fields the server owns. A phone may echo them back from a pull; they are ignored, never trusted.
SERVER_FIELDS = frozenset(
    {
        "teacher",
        "version",
        "received_at",
        "flags",
        "distance_m",
        "subsidy_fen",
        "review_status",
        "review_reason",
        "district_code",
        "deleted",
        "flag_notes",
    }
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(Strict):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    accuracy_m: float = Field(ge=0, le=1_000_000, allow_inf_nan=False)


class Place(Strict):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class Travel(Strict):
    origin: Place | None = None
    mode: TravelMode = TravelMode.CAR
    shared_with: list[Ident] = Field(default_factory=list, max_length=10)


class Recommendation(Strict):
    text: Text
    due_date: WindowDate | None = None


class VisitRecord(Strict):
    """A visit as the phone pushes it."""

    id: UUID
    kind: VisitKind
    student_id: Ident | None = None
    school_id: Ident | None = None
    started_at: WindowTime
    ended_at: WindowTime
    check_in: Position | None = None
    check_out: Position | None = None
    # home teaching
    content: Text = ""
    iep_goals: list[Short] = Field(default_factory=list, max_length=50)
    student_response: Text = ""
    guardian_guidance: Text = ""
    # itinerant
    purposes: list[ItinerantPurpose] = Field(default_factory=list, max_length=8)
    students_seen: list[Ident] = Field(default_factory=list, max_length=200)
    findings: Text = ""
    recommendations: list[Recommendation] | Text = Field(default_factory=list)
    photos: list[Sha256] = Field(default_factory=list, max_length=20)
    travel: Travel | None = None

    @model_validator(mode="after")
    def _coherent(self) -> "VisitRecord":
        if self.ended_at < self.started_at:
            raise ValueError("field.ended_before_started")
        if self.ended_at - self.started_at > timedelta(hours=24):
            raise ValueError("field.too_long_visit")
        if self.kind == VisitKind.HOME_TEACHING and (not self.student_id or self.school_id):
            raise ValueError("field.kind_subject")
        if self.kind == VisitKind.ITINERANT and (not self.school_id or self.student_id):
            raise ValueError("field.kind_subject")
        return self

    @classmethod
    def from_pushed(cls, raw: Any) -> "VisitRecord":
        """Validate a pushed record, dropping server-owned fields echoed back by the phone."""
        if isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if k not in SERVER_FIELDS}
        return cls.model_validate(raw)


class DeleteRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: UUID


class PushOp(Strict):
    op_id: UUID
    type: Literal["visit.upsert", "visit.delete"]
    record: dict[str, Any]
    base_version: int | None = Field(None, ge=1)


class PushRequest(Strict):
    # Ops are validated one by one, so that one bad op is rejected alone.
    ops: list[Any] = Field(
        max_length=MAX_OPS,
        description=(
            "Each op: {op_id, type, record, base_version} (contract.md). A visit's started_at"
            f" and ended_at: ISO 8601 with an offset, {WINDOW_TEXT}; recommendations[].due_date:"
            " 2000-01-01 <= d <= 2099-12-31. An op outside this window is rejected alone"
            " (invalid_record); a phone clock merely wrong inside it is kept and flagged."
        ),
    )


class ErrorBody(BaseModel):
    code: str
    message: str


class PushResult(BaseModel):
    op_id: str | None
    status: Literal["applied", "duplicate", "conflict", "rejected"]
    id: str | None = None
    version: int | None = None
    error: ErrorBody | None = None
    server_record: dict[str, Any] | None = None


class PushResponse(BaseModel):
    results: list[PushResult]


class Change(BaseModel):
    entity: Literal["school", "student", "assignment", "visit", "policy"]
    id: str
    version: int
    deleted: bool
    record: dict[str, Any] | None


class PullResponse(BaseModel):
    changes: list[Change]
    cursor: str
    has_more: bool


class VisitOut(BaseModel):
    """A visit as the server returns it: the pushed record plus the server's fields."""

    model_config = ConfigDict(extra="allow")
    id: str
    teacher: str
    version: int
    received_at: datetime
    flags: list[str]
    distance_m: int
    subsidy_fen: int
    review_status: ReviewStatus
