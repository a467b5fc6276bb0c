"""How long a visit lasted, whether that is long enough, and whether its times were edited.

One rounding rule: a visit lasts the *whole* minutes between check-in and check-out (seconds
dropped). The phone shows it, the console shows it, and "long enough" compares it with the
policy's minimum, so that a visit shown as 59 分钟 is the one flagged short of 60 (with any other
rounding, 59 min 40 s would show 60 分钟 and still be short).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.domain import VisitKind
from shared.policy import PolicyParams


def duration_minutes(started_at: datetime, ended_at: datetime) -> int:
    """Whole minutes from ``started_at`` to ``ended_at`` (never below 0)."""
    return max(0, int((ended_at - started_at).total_seconds() // 60))


def minimum_minutes(kind: str, policy: PolicyParams) -> int:
    """The shortest visit of ``kind`` the policy accepts as a full one."""
    if kind == VisitKind.HOME_TEACHING:
        return policy.service_min_minutes
    return policy.itinerant_min_minutes


def too_short(kind: str, started_at: datetime, ended_at: datetime, policy: PolicyParams) -> bool:
    """Shorter than the policy's minimum for its kind: the ``short_duration`` flag."""
    return duration_minutes(started_at, ended_at) < minimum_minutes(kind, policy)


@dataclass(frozen=True)
class TimeEdit:
    """A visit time typed away from the device's instant at the tap that took it."""

    which: Literal["check_in", "check_out"]
    tapped: datetime  # the device's clock at the tap (Position.at)
    recorded: datetime  # started_at / ended_at as saved
    minutes: int  # |recorded - tapped| in whole minutes (the rounding of duration_minutes)
    earlier: bool  # the recorded time is before the tap


def time_corrected(recorded: datetime, tapped: datetime | None) -> bool:
    """A visit time (``started_at`` / ``ended_at``) differs from the device's instant at the tap
    that took it (``check_in.at`` / ``check_out.at``; None: not known). Compared to the minute:
    the form shows and takes times to the minute, so a time typed again unchanged is no
    correction. The phone marks such a time 已修改 and the console shows it (a fact); only a
    correction beyond the policy's tolerance is the ``time_edited`` flag (``time_edits``)."""
    if tapped is None:
        return False
    return _minute(recorded) != _minute(tapped)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def time_corrections(
    started_at: datetime,
    ended_at: datetime,
    check_in_at: datetime | None,
    check_out_at: datetime | None,
) -> list[TimeEdit]:
    """Each visit time corrected away from its tap (``time_corrected``). A tap instant not
    recorded (older phones, contract clients) is no correction."""
    out: list[TimeEdit] = []
    pairs = (("check_in", check_in_at, started_at), ("check_out", check_out_at, ended_at))
    for which, tapped, recorded in pairs:
        if tapped is None or not time_corrected(recorded, tapped):
            continue
        early = recorded < tapped
        gap = duration_minutes(recorded, tapped) if early else duration_minutes(tapped, recorded)
        out.append(TimeEdit(which, tapped, recorded, gap, early))  # type: ignore[arg-type]
    return out


def beyond_tolerance(edit: TimeEdit, policy: PolicyParams) -> bool:
    return abs(edit.recorded - edit.tapped) > timedelta(minutes=policy.time_edit_tolerance_minutes)


def time_edits(
    started_at: datetime,
    ended_at: datetime,
    check_in_at: datetime | None,
    check_out_at: datetime | None,
    policy: PolicyParams,
) -> list[TimeEdit]:
    """The corrections beyond the policy's tolerance: the ``time_edited`` flag."""
    corrections = time_corrections(started_at, ended_at, check_in_at, check_out_at)
    return [edit for edit in corrections if beyond_tolerance(edit, policy)]
