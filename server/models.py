"""Tables. Every synced table carries ``seq``: a number from one server-side counter, bumped on
every change, which is what pull cursors compare (never a device clock)."""

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC out, on SQLite (which keeps no offset) and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _dt(nullable: bool = False, index: bool = False, now: bool = False) -> Any:
    column: sa.Column[datetime] = sa.Column(UTCDateTime(), nullable=nullable, index=index)
    if now:
        return Field(default_factory=utcnow, sa_column=column)
    return Field(default=None, sa_column=column) if nullable else Field(sa_column=column)


def _json() -> Any:
    return Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))


class SeqCounter(SQLModel, table=True):
    __tablename__ = "seq_counter"
    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class District(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=6)
    name: str = Field(max_length=64)


class School(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128)
    district_code: str = Field(foreign_key="district.code", index=True, max_length=6)
    kind: str = Field(max_length=16)
    lat: float | None = None
    lon: float | None = None
    version: int = 1
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))


class Student(SQLModel, table=True):
    __table_args__ = (
        # Covering indexes for the compliance report's roster counts (migration 0002).
        sa.Index("ix_student_cap", "active", "stage", "district_code", "placement", "certified"),
        sa.Index("ix_student_placement", "active", "placement", "school_id", "district_code", "id"),
    )
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=64)
    district_code: str = Field(foreign_key="district.code", index=True, max_length=6)
    school_id: str = Field(foreign_key="school.id", index=True, max_length=64)
    stage: str = Field(max_length=16)
    grade: int
    placement: str = Field(max_length=16)
    disability_category: str = Field(max_length=16)
    disability_grade: int
    certified: bool
    home_lat: float | None = None
    home_lon: float | None = None
    address: str = Field(default="", max_length=256)
    guardian_name: str = Field(default="", max_length=64)
    guardian_phone: str = Field(default="", max_length=32)
    photo_consent: bool = False
    active: bool = True
    iep_goals: list[str] = _json()
    version: int = 1
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    name: str = Field(default="", max_length=64)
    role: str = Field(max_length=16)
    district_code: str | None = Field(default=None, foreign_key="district.code", max_length=6)
    base_school_id: str | None = Field(default=None, foreign_key="school.id", max_length=64)
    password_hash: str | None = Field(default=None, max_length=256)
    active: bool = True
    created_at: datetime = _dt(now=True)


class DeviceToken(SQLModel, table=True):
    __tablename__ = "device_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    device_name: str = Field(max_length=128)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = _dt(now=True)
    last_used_at: datetime | None = _dt(nullable=True)
    revoked_at: datetime | None = _dt(nullable=True)


class ConsoleSession(SQLModel, table=True):
    """A console sign-in, so that it can be ended on the server (logout, a password change,
    an admin's "sign out everywhere") and expire when idle. The browser's signed cookie holds
    the random session id; only its SHA-256 is stored, as for device tokens."""

    __tablename__ = "console_session"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    session_hash: str = Field(unique=True, index=True, max_length=64)
    address: str | None = Field(default=None, max_length=64)
    created_at: datetime = _dt(now=True)
    last_seen_at: datetime = _dt(now=True)
    ended_at: datetime | None = _dt(nullable=True)


class Assignment(SQLModel, table=True):
    """A teacher to a student, or an itinerant instructor to a school. Removed = tombstone."""

    id: str = Field(primary_key=True, max_length=200)  # "username|student|school"
    username: str = Field(index=True, max_length=64)
    student_id: str | None = Field(default=None, foreign_key="student.id", index=True)
    school_id: str | None = Field(default=None, foreign_key="school.id", index=True)
    district_code: str = Field(index=True, max_length=6)
    deleted: bool = False
    version: int = 1
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))


class Policy(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("district_code", "effective_from"),)
    id: int | None = Field(default=None, primary_key=True)
    district_code: str | None = Field(default=None, foreign_key="district.code", index=True)
    effective_from: date
    params: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    version: int = 1
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))


class Visit(SQLModel, table=True):
    """A home-teaching session or school visit. ``record`` is the phone's record as validated;
    the other columns are the server's, or copies of record fields kept for queries."""

    __table_args__ = (
        # The compliance report reads these covering indexes rather than the table.
        sa.Index("ix_visit_report", "district_code", "started_at", "kind", "counted"),
        sa.Index("ix_visit_school_term", "school_id", "started_at", "counted"),
        sa.Index("ix_visit_student_month", "student_id", "local_month", "duration_s", "counted"),
        sa.Index("ix_visit_teacher_time", "teacher", "started_at"),
        # A pull reads one teacher's (or one district's) visits after a cursor, in seq order.
        sa.Index("ix_visit_teacher_seq", "teacher", "seq"),
        sa.Index("ix_visit_district_seq", "district_code", "seq"),
        # The dashboard's count of visits awaiting review reads only these (0009_console_indexes).
        sa.Index(
            "ix_visit_pending",
            "district_code",
            "started_at",
            sqlite_where=sa.text("review_status = 'pending' AND counted = 1"),
            postgresql_where=sa.text("review_status = 'pending' AND counted = true"),
        ),
        # The visit log over every district: its count and newest-first page (0009_console_indexes).
        sa.Index("ix_visit_log", "started_at", "id", "deleted"),
    )
    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=16)
    teacher: str = Field(max_length=64)
    student_id: str | None = Field(default=None, max_length=64)
    school_id: str | None = Field(default=None, max_length=64)
    district_code: str = Field(max_length=6)
    started_at: datetime = _dt()
    ended_at: datetime = _dt()
    local_month: int  # YYYYMM in Asia/Shanghai
    duration_s: int
    record: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    flags: list[str] = _json()
    flag_notes: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    flagged: bool = False
    distance_m: int = 0
    subsidy_fen: int = 0
    review_status: str = Field(default="pending", max_length=16)
    review_reason: str = Field(default="", max_length=500)
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = _dt(nullable=True)
    counted: bool = True  # neither deleted nor rejected in review (shared.judge.in_counts)
    # A session toward the service standard under the policy of its day, as the judge decides
    # (shared.judge.counts_for_service): what visit_tally sums (migration 0010_service_session).
    service_session: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    deleted: bool = False
    version: int = 1
    received_at: datetime = _dt(now=True)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))


class VisitTally(SQLModel, table=True):
    """Counted visits summed per kind, month, district, subject and teacher: what the
    compliance report reads instead of the visits themselves.

    Kept by database triggers on ``visit`` (migrations 0003, 0006), so every writer (push, review,
    demo data, a bulk load) keeps it right in the same transaction. ``subject_id`` is the
    student for home teaching and the school for an itinerant visit. A row whose visits were
    all deleted or rejected stays, with zeros.
    """

    __tablename__ = "visit_tally"
    kind: str = Field(primary_key=True, max_length=16)
    local_month: int = Field(primary_key=True)  # YYYYMM in Asia/Shanghai
    district_code: str = Field(primary_key=True, max_length=6)
    subject_id: str = Field(primary_key=True, max_length=64)
    teacher: str = Field(primary_key=True, max_length=64)
    visits: int = 0
    flagged: int = 0
    # Sessions toward the service standard: the judge's ``visit.service_session``, summed.
    sessions: int = 0
    fen: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))
    approved_fen: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))


class VisitPhoto(SQLModel, table=True):
    __tablename__ = "visit_photo"
    visit_id: str = Field(foreign_key="visit.id", primary_key=True, max_length=36)
    sha256: str = Field(primary_key=True, index=True, max_length=64)


class Photo(SQLModel, table=True):
    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    width: int
    height: int
    uploaded_by: str = Field(max_length=64)
    created_at: datetime = _dt(now=True)


class SyncOp(SQLModel, table=True):
    """Every applied op, so that a replay returns the first result and changes nothing."""

    __tablename__ = "sync_op"
    op_id: str = Field(primary_key=True, max_length=36)
    username: str = Field(max_length=64)
    body_hash: str = Field(max_length=64)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    created_at: datetime = _dt(now=True)


class AuditLog(SQLModel, table=True):
    """Who read, exported or changed what, and when (未成年人网络保护条例 Art. 36); sign-ins
    and their failures too. ``device_id`` is the caller's device token (API calls);
    ``address`` the client address the request came from."""

    __tablename__ = "audit_log"
    # The console's audit page lists one district's rows newest first (0006_subsidy_approval).
    __table_args__ = (sa.Index("ix_audit_log_district_at", "district_code", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _dt(index=True, now=True)
    actor: str = Field(index=True, max_length=64)
    action: str = Field(max_length=32)
    entity: str = Field(max_length=32)
    entity_id: str = Field(index=True, max_length=200)
    district_code: str | None = Field(default=None, max_length=6)
    detail: str = Field(default="", max_length=500)
    # No foreign key: the log outlives what it names, and a row must never fail to be written.
    device_id: int | None = Field(default=None)
    address: str | None = Field(default=None, max_length=64)


class RosterUpload(SQLModel, table=True):
    """A roster file between its preview and its confirmation (the console's upload).

    Keyed by a random id, bound to the user who uploaded it and gone after ``expires_at``, after
    the confirmation, or when the user cancels. ``digest`` is the preview's row outcomes
    (services.roster.dry_run): the confirmation writes only if the file still comes out so.
    """

    __tablename__ = "roster_upload"
    id: str = Field(primary_key=True, max_length=32)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    filename: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    # The one district the upload is for (an admin's pick, migration 0011_roster_upload_district);
    # None: the city, each row's own district.
    district_code: str | None = Field(default=None, max_length=6)
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    digest: str = Field(max_length=64)
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    notes: list[str] = _json()
    created_at: datetime = _dt(now=True)
    expires_at: datetime = _dt(index=True)


class RosterUploadRow(SQLModel, table=True):
    """One row of a staged upload with the outcome the preview found (paged with SQL)."""

    __tablename__ = "roster_upload_row"
    __table_args__ = (sa.Index("ix_roster_upload_row_outcome", "upload_id", "outcome", "row"),)
    upload_id: str = Field(
        sa_column=sa.Column(
            sa.String(32),
            sa.ForeignKey("roster_upload.id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    row: int = Field(primary_key=True)
    outcome: str = Field(max_length=16)
    label: str = Field(default="", max_length=200)
    message: str = Field(default="", max_length=1000)


# -- subsidy approvals (issue 10, the coordinator's desk: /subsidies) ---------------------------


class SubsidyApproval(SQLModel, table=True):
    """A coordinator's approval of one teacher's travel subsidy for one month, with the figures
    it approved (so a later change of that month's visits shows as stale instead of moving the
    approved amount). Taken back by setting ``revoked_*``; rows are never deleted, so the
    history of a month's approvals stays. At most one live (not taken back) row per teacher
    and month: a partial unique index (migration 0006_subsidy_approval) refuses a second one."""

    __tablename__ = "subsidy_approval"
    __table_args__ = (
        sa.Index(
            "ux_subsidy_approval_live",
            "teacher",
            "month",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
        sa.Index("ix_subsidy_approval_district_month", "district_code", "month"),
    )
    id: int | None = Field(default=None, primary_key=True)
    district_code: str = Field(max_length=6)
    teacher: str = Field(max_length=64)
    month: int  # YYYYMM in Asia/Shanghai
    visits: int
    approved_visits: int
    distance_m: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    claimed_fen: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    cap_fen: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    payable_fen: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    amount_fen: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    approved_by: str = Field(max_length=64)
    approved_at: datetime = _dt()
    revoked_by: str | None = Field(default=None, max_length=64)
    revoked_at: datetime | None = _dt(nullable=True)
    revoke_reason: str = Field(default="", max_length=500)


# -- Visit change history (console desk: /visits/{id}) ---------------------------------------


class VisitVersion(SQLModel, table=True):
    """One entry of a visit's change history; rows are only ever added.

    A push that applies an upsert or a delete adds the version it makes (``upsert`` /
    ``delete``, with ``snapshot`` holding what that version says: the record and the server's
    judgement of it), written with the visit itself (services/sync_push/write.py). A coordinator's
    review or flag note adds a ``review`` / ``resolve_flag`` entry for the version it was made
    on (services/review.py). Visits stored before this table existed have no entries for their
    earlier versions.
    """

    __tablename__ = "visit_version"
    __table_args__ = (sa.Index("ix_visit_version_visit", "visit_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    visit_id: str = Field(max_length=36)
    version: int
    action: str = Field(max_length=16)
    actor: str = Field(max_length=64)
    at: datetime = _dt()
    device_id: int | None = Field(default=None)  # the pushing device's token, as in audit_log
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))


# -- Re-judging stored visits after a policy change (issue 10) -------------


class RejudgeJob(SQLModel, table=True):
    """The re-judging of stored visits that saving a policy version asked for, run a page at a
    time (services/rejudge_jobs.py). Progress and ``cursor`` (the last visit id judged: pages
    go in id order) are committed with each page, so a job stopped anywhere resumes there.

    ``owner`` and ``heartbeat_at`` are the lease: a runner claims a queued job, or a running
    one whose heartbeat is older than the lease, with one conditional UPDATE, and writes each
    page only while it still holds the lease, so two runners never judge the same job.
    """

    __tablename__ = "rejudge_job"
    __table_args__ = (sa.Index("ix_rejudge_job_status", "status", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    policy_id: int = Field(foreign_key="policy.id", index=True)
    policy_version: int
    district_code: str | None = Field(default=None, max_length=6)  # None: city-wide
    effective_from: date
    requested_by: str = Field(max_length=64)
    status: str = Field(max_length=16)  # queued | running | done | failed
    total: int = 0  # live visits in range when the job was made (pushes may add some)
    judged: int = 0
    changed: int = 0
    gained: dict[str, int] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    lost: dict[str, int] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    cursor: str = Field(default="", max_length=64)
    owner: str | None = Field(default=None, max_length=64)
    attempts: int = 0  # times a page failed; past a few the job is failed
    created_at: datetime = _dt(now=True)
    started_at: datetime | None = _dt(nullable=True)
    finished_at: datetime | None = _dt(nullable=True)
    heartbeat_at: datetime | None = _dt(nullable=True)
    error: str = Field(default="", max_length=1000)
