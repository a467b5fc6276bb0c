"""Sync protocol messages shared by phone and server (contract.md, HTTP API)."""

from collections.abc import Mapping
from datetime import date, timedelta
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

from shared.domain import (
    DisabilityCategory,
    ItinerantPurpose,
    Placement,
    ReviewStatus,
    SchoolKind,
    Stage,
    TravelMode,
    VisitKind,
)
from shared.policy import PolicyParams
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
    # The device's clock at the tap that took this position (签到 / 签退). The phone never
    # changes it when the teacher corrects ``started_at`` / ``ended_at``, so a corrected time
    # keeps the tap's beside it. Optional (contract clients send {lat, lon, accuracy_m}); left
    # out of the JSON when unset, so a record without it dumps, stores and hashes as before.
    at: WindowTime | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="The device's clock at the tap (签到 / 签退); kept when a time is corrected",
    )


# The tap's instant of a check-in or check-out that found no position (``check_in`` /
# ``check_out`` null): the record's top level carries it instead, as ``check_in_at`` /
# ``check_out_at``. Optional and left out of the JSON when unset, like ``Position.at``.
TapTime = Annotated[
    WindowTime | None,
    Field(
        exclude_if=lambda value: value is None,
        description=(
            "The device's clock at the tap (签到 / 签退) when no position was had (the"
            " position is then null); with a position the tap is its ``at``"
        ),
    ),
]
Tap = Literal["check_in", "check_out"]


def tap_instant(record: Mapping[str, Any], tap: Tap) -> str | None:
    """The device's instant at the 签到 (``check_in``) or 签退 (``check_out``) tap as a
    record (pushed, stored or pulled JSON) holds it: the position's ``at``, or the top-level
    ``check_in_at`` / ``check_out_at`` when there was no position; None when not sent."""
    position = record.get(tap)
    if isinstance(position, Mapping):
        return position.get("at")
    return record.get(f"{tap}_at")


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
    check_in_at: TapTime = None
    check_out_at: TapTime = None
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
        # One place for each tap's instant: a position's own ``at`` when there is a position.
        if (self.check_in and self.check_in_at) or (self.check_out and self.check_out_at):
            raise ValueError("field.tap_beside_position")
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


class DocumentedOp(BaseModel):
    """An op as the OpenAPI document describes it (``PushRequest.ops``): what a phone should
    send. The server validates each op on its own (``PushOp``, ``VisitRecord.from_pushed``),
    so that an op that does not fit is rejected alone rather than the whole request."""

    op_id: UUID
    type: Literal["visit.upsert", "visit.delete"]
    record: VisitRecord | DeleteRecord
    base_version: int | None = Field(None, ge=1)


class PushRequest(Strict):
    # Ops are validated one by one, so that one bad op is rejected alone; the document still
    # shows their shape (DocumentedOp, added to the components by server/docs.py).
    ops: list[Any] = Field(
        max_length=MAX_OPS,
        description=(
            "Each op: {op_id, type, record, base_version} (contract.md). A visit's started_at"
            f" and ended_at: ISO 8601 with an offset, {WINDOW_TEXT}; recommendations[].due_date:"
            " 2000-01-01 <= d <= 2099-12-31. An op outside this window is rejected alone"
            " (invalid_record); a phone clock merely wrong inside it is kept and flagged."
        ),
        json_schema_extra={"items": {"$ref": "#/components/schemas/DocumentedOp"}},
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


ENTITIES = ("school", "student", "assignment", "visit", "policy")
Entity = Literal["school", "student", "assignment", "visit", "policy"]


class Change(BaseModel):
    """One change as the phone reads it: the record stays a plain dict, so that fields a newer
    server adds pass through to the phone's store (the typed wire form is ``PulledChange``)."""

    entity: Entity
    id: str
    version: int
    deleted: bool
    record: dict[str, Any] | None


class TermRecord(BaseModel):
    """One term of the city's calendar: its span and its teaching period (shared.terms)."""

    id: str
    start: date
    end: date
    teaching_start: date
    teaching_end: date


class CalendarRecord(BaseModel):
    """The city's term calendar as a pull carries it to a phone that asks (docs/api.md)."""

    tag: str = Field(
        description="Send it back as ?calendar= to be sent the calendar only when it changed"
    )
    terms: list[TermRecord]


class PullResponse(BaseModel):
    changes: list[Change]
    cursor: str
    has_more: bool
    calendar: CalendarRecord | None = None  # only when asked for and changed (docs/api.md)


# Timestamps a record carries as the phone pushed them: passed on as sent, not re-formatted.
IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class SchoolRecord(BaseModel):
    id: str
    name: str
    district_code: str
    kind: SchoolKind
    lat: float | None = None
    lon: float | None = None


class StudentRecord(BaseModel):
    """A child as pulled. A field worker gets what the job needs (an itinerant less than a
    home teacher: server/services/sync_pull.py); the other fields are then absent."""

    model_config = ConfigDict(extra="ignore")  # server bookkeeping (``seq``) never leaves
    id: str
    name: str
    school_id: str
    district_code: str
    grade: int | None = None
    placement: Placement | None = None
    disability_category: DisabilityCategory | None = None
    photo_consent: bool = False
    stage: Stage | None = None
    disability_grade: int | None = None
    address: str | None = None
    home_lat: float | None = None
    home_lon: float | None = None
    guardian_name: str | None = None
    guardian_phone: str | None = None
    iep_goals: list[str] | None = None
    certified: bool | None = None
    active: bool | None = None
    version: int | None = None


class AssignmentRecord(BaseModel):
    """Who is assigned to what: a teacher to a child, or an itinerant to a school."""

    username: str
    student_id: str | None = None
    school_id: str | None = None


class PolicyRecord(BaseModel):
    district_code: str | None = Field(description="null: the version for every district")
    effective_from: date
    params: PolicyParams


class VisitOut(BaseModel):
    """A visit as the server returns it: the pushed record plus the server's fields."""

    model_config = ConfigDict(extra="allow")
    id: str
    kind: VisitKind
    student_id: str | None = None
    school_id: str | None = None
    started_at: IsoTime
    ended_at: IsoTime
    check_in: Position | None = None
    check_out: Position | None = None
    check_in_at: IsoTime | None = None  # as pushed (TapTime); absent unless it was sent
    check_out_at: IsoTime | None = None
    content: str | None = None
    iep_goals: list[str] | None = None
    student_response: str | None = None
    guardian_guidance: str | None = None
    purposes: list[str] | None = None
    students_seen: list[str] | None = None
    findings: str | None = None
    recommendations: list[Recommendation] | str | None = None
    photos: list[str] = Field(default_factory=list)
    travel: Travel | None = None
    # the server's fields
    teacher: str
    district_code: str | None = None
    version: int
    received_at: IsoTime
    flags: list[str]
    flag_notes: dict[str, Any] = Field(default_factory=dict)
    distance_m: int
    subsidy_fen: int
    review_status: ReviewStatus
    review_reason: str | None = None
    deleted: bool = False


class _ChangeBase(BaseModel):
    id: str
    version: int
    deleted: bool


class SchoolChange(_ChangeBase):
    entity: Literal["school"]
    record: SchoolRecord | None


class StudentChange(_ChangeBase):
    entity: Literal["student"]
    record: StudentRecord | None


class AssignmentChange(_ChangeBase):
    entity: Literal["assignment"]
    record: AssignmentRecord | None


class VisitChange(_ChangeBase):
    entity: Literal["visit"]
    record: VisitOut | None


class PolicyChange(_ChangeBase):
    entity: Literal["policy"]
    record: PolicyRecord | None


PulledChange = Annotated[
    SchoolChange | StudentChange | AssignmentChange | VisitChange | PolicyChange,
    Field(discriminator="entity"),
]


class PullPage(BaseModel):
    """``GET /sync/pull`` as the server sends it: each change's record typed by its entity
    (``record`` is null when ``deleted``). The phone reads the same JSON as ``PullResponse``."""

    changes: list[PulledChange]
    cursor: str
    has_more: bool
    calendar: CalendarRecord | None = Field(
        None,
        description=(
            "The city's term calendar: present only when the request asked with ?calendar="
            " (the tag the caller holds, empty for none) and the server's differs"
        ),
    )


# -- compliance (GET /compliance, /compliance/{district}: contract.md, HTTP API) ----------------
# What services/compliance.py returns and the API sends; the console and the command line read
# the same objects.


class HomeDeliveryOut(BaseModel):
    count: int
    total: int
    ratio: float
    cap: float
    over_cap: bool
    headroom: int


class InstructorOut(BaseModel):
    username: str
    schools: int
    covered: int


class ItinerantOut(BaseModel):
    schools_in_scope: int
    schools_covered: int
    coverage: float
    required_visits: int
    uncovered_school_ids: list[str]
    instructors: list[InstructorOut]


class ServiceOut(BaseModel):
    students: int
    students_meeting_standard: int
    required_sessions_per_month: int
    min_minutes: int
    underserved_student_ids: list[str]
    required_by_month: dict[str, int]  # month ("202509", ...) -> sessions owed each child
    # month -> sessions (of at least the minimum length) the children got, summed
    sessions_by_month: dict[str, int]
    students_meeting_by_month: dict[str, int]  # month -> children who got what it owed


class KindTotalsOut(BaseModel):
    total: int
    flagged: int


class VisitTotalsOut(BaseModel):
    total: int
    flagged: int
    by_kind: dict[str, KindTotalsOut]  # visit kind (home_teaching, itinerant) -> its totals


class SubsidyOut(BaseModel):
    claimed_fen: int
    approved_fen: int


class ComplianceReport(BaseModel):
    """One district's report (contract.md, HTTP API), as of ``as_of``."""

    district_code: str
    district_name: str
    term: str
    as_of: date
    home_delivery: HomeDeliveryOut
    itinerant: ItinerantOut
    service: ServiceOut
    visits: VisitTotalsOut
    subsidy: SubsidyOut


class ComplianceReports(BaseModel):
    term: str
    districts: list[ComplianceReport]
