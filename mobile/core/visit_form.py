"""A visit form: its state (saved as a draft on every change), its check, and the
``VisitRecord`` it becomes on 结束/保存.

The record's own rules (end before start, a visit over 24 hours, field lengths, the subject of
each kind) are ``shared.protocol.VisitRecord``'s, reported here per field in Chinese. This module
adds only what a form needs before that: required fields, and warnings: the judge's own flags
of the record (``shared.evidence.own_flags``: what the server will flag but accept), each in
words, and a phone clock that disagrees with the server's.
"""

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from mobile.core.devices import LocationResult, LocationStatus
from mobile.core.judged import registered_place
from mobile.core.models import LocalVisit
from shared.consent import photographed_children, without_photo_consent
from shared.domain import EvidenceFlag, VisitKind
from shared.evidence import own_flags
from shared.judge import check_in_distance_m, record_facts
from shared.messages import ZH_CN, describe_validation_errors, t
from shared.policy import DEFAULT_POLICY, PolicyParams
from shared.protocol import Tap, VisitRecord, tap_instant
from shared.terms import SHANGHAI, local_date, time_in_window
from shared.travel import LatLon
from shared.visit_time import (
    TimeEdit,
    duration_minutes,
    minimum_minutes,
    time_corrected,
    time_edits,
)

# Fields a teacher types into, by kind (the check tells which are required).
TEXT_FIELDS = {
    VisitKind.HOME_TEACHING: ("content", "student_response", "guardian_guidance"),
    VisitKind.ITINERANT: ("findings",),
}


@dataclass
class VisitForm:
    """Everything the visit screen edits, JSON-friendly (times are ISO strings with offset)."""

    id: str
    kind: str  # VisitKind value
    subject_id: str  # the student (home teaching) or the school (itinerant)
    started_at: str | None = None
    ended_at: str | None = None
    check_in: dict[str, float] | None = None  # {"lat", "lon", "accuracy_m"}
    check_in_status: str = ""  # LocationStatus value once 开始 was tapped
    check_out: dict[str, float] | None = None
    check_out_status: str = ""
    # The device's instants at the taps on 开始 / 结束 (ISO). Never changed by a typed
    # correction of started_at / ended_at: the record carries them as check_in.at /
    # check_out.at, or as check_in_at / check_out_at when the tap found no position.
    check_in_at: str | None = None
    check_out_at: str | None = None
    content: str = ""
    iep_goals: list[str] = field(default_factory=list)
    student_response: str = ""
    guardian_guidance: str = ""
    purposes: list[str] = field(default_factory=list)
    students_seen: list[str] = field(default_factory=list)
    findings: str = ""
    recommendations: list[dict[str, Any]] = field(default_factory=list)  # {"text", "due_date"}
    photos: list[str] = field(default_factory=list)  # SHA-256 of prepared photos
    claim_travel: bool = True
    travel_mode: str = "car"
    origin: dict[str, float] | None = None  # {"lat", "lon"}; None: the base school
    shared_with: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, kind: VisitKind | str, subject_id: str) -> "VisitForm":
        return cls(id=str(uuid.uuid4()), kind=str(kind), subject_id=subject_id)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VisitForm":
        """From a saved draft; keys this version does not know are dropped."""
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_visit(cls, visit: LocalVisit) -> "VisitForm":
        """The form for a stored visit: its draft if an edit is under way, else its record."""
        if visit.draft is not None:
            return cls.from_dict(visit.draft)
        rec = visit.record or {}
        travel = rec.get("travel")
        check_in, check_in_at = _split_tap(rec, "check_in")
        check_out, check_out_at = _split_tap(rec, "check_out")
        data = {
            **{k: v for k, v in rec.items() if k in cls.__dataclass_fields__},
            "kind": visit.kind.value,
            "subject_id": visit.subject_id or "",
            "check_in": check_in,
            "check_in_at": check_in_at,
            "check_in_status": LocationStatus.OK if check_in else "",
            "check_out": check_out,
            "check_out_at": check_out_at,
            "check_out_status": LocationStatus.OK if check_out else "",
            "claim_travel": travel is not None,
            "travel_mode": (travel or {}).get("mode", "car"),
            "origin": (travel or {}).get("origin"),
            "shared_with": (travel or {}).get("shared_with", []),
        }
        if not isinstance(data.get("recommendations"), list):
            data["recommendations"] = [{"text": rec["recommendations"], "due_date": None}]
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def is_blank(self) -> bool:
        """Nothing recorded yet: such a draft is dropped rather than kept as clutter."""
        texts = TEXT_FIELDS[VisitKind(self.kind)]
        return not (
            self.started_at
            or self.ended_at
            or self.photos
            or self.iep_goals
            or self.purposes
            or self.students_seen
            or self.recommendations
            or any(getattr(self, name).strip() for name in texts)
        )

    def start(self, at: datetime, where: LocationResult) -> None:
        """开始: ``at`` is the device's instant at the tap; the position (or why there is none)."""
        self.started_at = self.check_in_at = at.isoformat()
        self.check_in, self.check_in_status = where.position(), where.status

    def finish(self, at: datetime, where: LocationResult) -> None:
        """结束: the tap's instant and the check-out position."""
        self.ended_at = self.check_out_at = at.isoformat()
        self.check_out, self.check_out_status = where.position(), where.status

    def corrected(self, name: str) -> str | None:
        """The tap's instant if ``name`` (started_at | ended_at) was corrected since, else None."""
        tapped = self.check_in_at if name == "started_at" else self.check_out_at
        return corrected_tap(getattr(self, name), tapped)


@dataclass(frozen=True)
class FormCheck:
    """``record`` is set exactly when ``errors`` is empty. ``errors``: field -> Chinese message
    (fields as in ``VisitForm``; ``subject`` for the student or school); ``warnings``: Chinese
    lines to show before saving (the server will flag, not refuse)."""

    record: VisitRecord | None
    errors: dict[str, str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def corrected_tap(value: str | None, tapped: str | None) -> str | None:
    """``tapped`` (the instant of the tap, ISO) if the visit time ``value`` was corrected away
    from it (``shared.visit_time.time_corrected``), else None."""
    if not (value and tapped):
        return None
    return tapped if time_corrected(_time(value), _time(tapped)) else None


StudentLookup = Callable[[str], dict[str, Any] | None]


def without_consent(form: VisitForm, student: StudentLookup) -> list[str]:
    """Children the form's photos may show whose guardian has not agreed to photos (the
    server refuses such a visit): the home-teaching child, or any child ticked as seen."""
    home = form.kind == VisitKind.HOME_TEACHING
    children = photographed_children(
        form.kind, form.subject_id if home else None, form.students_seen
    )
    return without_photo_consent(
        children, lambda sid: bool((student(sid) or {}).get("photo_consent"))
    )


def iep_goal_choices(student: dict[str, Any] | None) -> list[str]:
    """The goals of the child's plan, for the chips."""
    return list((student or {}).get("iep_goals") or [])


def check(
    form: VisitForm,
    *,
    now: datetime,
    subject: dict[str, Any] | None,
    policy: PolicyParams = DEFAULT_POLICY,
    clock_skew_s: float | None = None,
    students: StudentLookup | None = None,
) -> FormCheck:
    """Check ``form``; ``subject`` is the pulled student or school (None: not on this phone),
    ``students`` finds the pulled children an itinerant visit lists as seen."""

    def student(sid: str) -> dict[str, Any] | None:
        if (
            subject is not None
            and subject.get("id") == sid
            and form.kind == VisitKind.HOME_TEACHING
        ):
            return subject
        return students(sid) if students else None

    errors = _required(form, subject, student)
    if errors:
        return FormCheck(None, errors, [])
    try:
        record = VisitRecord.model_validate(_record_dict(form))
    except ValidationError as exc:
        return FormCheck(None, _field_errors(exc), [])
    due = _due_date_errors(record)
    if due:
        return FormCheck(None, due, [])
    return FormCheck(record, {}, _warnings(form, record, now, policy, clock_skew_s, subject))


def _required(
    form: VisitForm, subject: dict[str, Any] | None, student: StudentLookup
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if subject is None:
        errors["subject"] = t("mobile.form.unknown_subject")
    if not form.started_at:
        errors["started_at"] = t("mobile.form.not_checked_in")
    elif not form.ended_at:  # 结束 shows only after 开始: ask for it only then
        errors["ended_at"] = t("mobile.form.not_checked_out")
    needed = ["content"] if form.kind == VisitKind.HOME_TEACHING else ["purposes", "findings"]
    if form.photos and without_consent(form, student):
        errors["photos"] = t("photo_consent_missing")
    for name in needed:
        value = getattr(form, name)
        if not (value.strip() if isinstance(value, str) else value):
            errors[name] = t("mobile.form.required", field=t(f"mobile.field.{name}"))
    for n, rec in enumerate(form.recommendations, start=1):
        if not str(rec.get("text") or "").strip():
            errors["recommendations"] = t("mobile.form.recommendation_empty", n=n)
            break
    return errors


def _due_date_errors(record: VisitRecord) -> dict[str, str]:
    visit_day = local_date(record.started_at)
    recommendations = record.recommendations if isinstance(record.recommendations, list) else []
    for n, rec in enumerate(recommendations, start=1):
        if rec.due_date is not None and rec.due_date < visit_day:
            return {"recommendations": t("mobile.form.due_before_visit", n=n)}
    return {}


def _record_dict(form: VisitForm) -> dict[str, Any]:
    home = form.kind == VisitKind.HOME_TEACHING
    data: dict[str, Any] = {
        "id": form.id,
        "kind": form.kind,
        "student_id": form.subject_id if home else None,
        "school_id": None if home else form.subject_id,
        "started_at": form.started_at,
        "ended_at": form.ended_at,
        **_with_tap("check_in", form.check_in, form.check_in_at),
        **_with_tap("check_out", form.check_out, form.check_out_at),
        "photos": list(dict.fromkeys(form.photos)),
        "travel": {"origin": form.origin, "mode": form.travel_mode, "shared_with": form.shared_with}
        if form.claim_travel
        else None,
    }
    if home:
        fields = ("content", "iep_goals", "student_response", "guardian_guidance")
    else:
        fields = ("purposes", "students_seen", "findings", "recommendations")
    data.update({name: getattr(form, name) for name in fields})
    if not home:
        data["recommendations"] = [
            {"text": str(r.get("text", "")).strip(), "due_date": r.get("due_date") or None}
            for r in form.recommendations
        ]
    return data


def _with_tap(tap: Tap, position: dict[str, Any] | None, tapped: str | None) -> dict[str, Any]:
    """A record's ``check_in`` (or ``check_out``) with the tap's instant: the position's
    ``at``, or with no position the top-level ``check_in_at`` (``shared.protocol.tap_instant``).
    A tap on a clock outside the protocol's window (a phone reset to 1970) is left out: the
    record would be refused, and the teacher could never save the corrected times."""
    if tapped is not None:
        try:
            time_in_window(_time(tapped))
        except ValueError:
            tapped = None
    if position is None:
        return {tap: None, f"{tap}_at": tapped} if tapped else {tap: None}
    return {tap: {**position, "at": tapped} if tapped else position}


def _split_tap(rec: dict[str, Any], tap: Tap) -> tuple[dict[str, Any] | None, str | None]:
    """A record's position as the form keeps it: the place, and the tap's instant apart."""
    position = rec.get(tap)
    place = {k: v for k, v in position.items() if k != "at"} if position else None
    return place, tap_instant(rec, tap)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


_WHOLE_RECORD_FIELD = {
    "field.ended_before_started": "ended_at",
    "field.too_long_visit": "ended_at",
    "field.kind_subject": "subject",
}


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for details in exc.errors():
        err: dict[str, Any] = dict(details)
        loc = err.get("loc") or ()
        if loc:
            name = str(loc[0])
            label = ZH_CN.get(f"mobile.field.{name}", name)
            err["loc"] = (label, *loc[1:])
        else:
            name = _WHOLE_RECORD_FIELD.get(str((err.get("ctx") or {}).get("error")), "subject")
        errors.setdefault(name, describe_validation_errors([err]))
    return errors


def _warnings(
    form: VisitForm,
    record: VisitRecord,
    now: datetime,
    policy: PolicyParams,
    clock_skew_s: float | None,
    subject: dict[str, Any] | None = None,
) -> list[str]:
    """The judge's own flags of ``record`` (``shared.evidence.own_flags``, as the server will
    set them if it arrives now), each told in words; then the phone's clock, which no flag
    covers."""
    place = registered_place(record.kind, subject)
    facts = record_facts(record.model_dump(mode="json"), id=form.id, teacher="")
    flags = own_flags(facts, place, policy, now)
    told = _Told(form, record, now, policy, place)
    out = [line for flag in _FLAG_ORDER if flag in flags for line in told.lines(flag)]
    tolerance = timedelta(minutes=policy.future_tolerance_minutes)
    if clock_skew_s is not None and abs(clock_skew_s) > tolerance.total_seconds():
        out.append(t("mobile.warn.clock", minutes=round(abs(clock_skew_s) / 60)))
    return out


# The order the warnings are read in.
_FLAG_ORDER = (
    EvidenceFlag.NO_GPS,
    EvidenceFlag.LOW_ACCURACY,
    EvidenceFlag.OUTSIDE_GEOFENCE,
    EvidenceFlag.SHORT_DURATION,
    EvidenceFlag.TIME_EDITED,
    EvidenceFlag.NO_PHOTO,
    EvidenceFlag.FUTURE_TIME,
    EvidenceFlag.STALE_TIME,
)


@dataclass(frozen=True)
class _Told:
    """The words for each of the judge's flags on one record."""

    form: VisitForm
    record: VisitRecord
    now: datetime
    policy: PolicyParams
    place: LatLon | None

    def lines(self, flag: str) -> list[str]:
        rec, policy = self.record, self.policy
        if flag == EvidenceFlag.NO_GPS:
            status = self.form.check_in_status or LocationStatus.UNAVAILABLE
            return [t("mobile.warn.no_gps", reason=t(f"mobile.location.{status}"))]
        if flag == EvidenceFlag.LOW_ACCURACY:
            accuracy = round(rec.check_in.accuracy_m) if rec.check_in else 0
            return [t("mobile.warn.low_accuracy", accuracy=accuracy, limit=policy.max_accuracy_m)]
        if flag == EvidenceFlag.OUTSIDE_GEOFENCE:
            return [self._outside_geofence()]
        if flag == EvidenceFlag.SHORT_DURATION:
            minutes = duration_minutes(rec.started_at, rec.ended_at)
            minimum = minimum_minutes(rec.kind, policy)
            key = "short_session" if rec.kind == VisitKind.HOME_TEACHING else "short"
            return [t(f"mobile.warn.{key}", minutes=minutes, minimum=minimum)]
        if flag == EvidenceFlag.TIME_EDITED:
            return [self._time_edited(edit) for edit in self._time_edits()]
        if flag == EvidenceFlag.NO_PHOTO:
            return [t("mobile.warn.no_photo")]
        if flag == EvidenceFlag.FUTURE_TIME:
            return [t("mobile.warn.future")]
        return [t("mobile.warn.stale", days=(self.now - rec.started_at).days)]

    def _outside_geofence(self) -> str:
        position = self.record.check_in.model_dump() if self.record.check_in else None
        metres = check_in_distance_m(position, self.place) or 0
        distance = (
            t("mobile.warn.metres", n=metres)
            if metres < 1000
            else t("mobile.warn.km", n=f"{metres / 1000:.1f}")
        )
        place = t(
            f"mobile.warn.place.{'home' if self.form.kind == VisitKind.HOME_TEACHING else 'school'}"
        )
        return t(
            "mobile.warn.outside_geofence",
            place=place,
            distance=distance,
            limit=self.policy.geofence_m,
        )

    def _time_edits(self) -> list[TimeEdit]:
        rec = self.record
        return time_edits(
            rec.started_at,
            rec.ended_at,
            rec.check_in.at if rec.check_in else None,
            rec.check_out.at if rec.check_out else None,
            self.policy,
        )

    def _time_edited(self, edit: TimeEdit) -> str:
        return t(
            "mobile.warn.time_edited",
            which=t(f"mobile.warn.which.{edit.which}"),
            tapped=edit.tapped.astimezone(SHANGHAI).strftime("%H:%M"),
            minutes=edit.minutes,
        )
