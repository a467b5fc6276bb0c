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


def time_edits(
    started_at: datetime,
    ended_at: datetime,
    check_in_at: datetime | None,
    check_out_at: datetime | None,
    policy: PolicyParams,
) -> list[TimeEdit]:
    """The times that differ from their tap by more than the policy's tolerance: the
    ``time_edited`` flag. A tap instant not recorded (older phones, contract clients) is no
    edit."""
    out: list[TimeEdit] = []
    tolerance = timedelta(minutes=policy.time_edit_tolerance_minutes)
    pairs = (("check_in", check_in_at, started_at), ("check_out", check_out_at, ended_at))
    for which, tapped, recorded in pairs:
        if tapped is None or abs(recorded - tapped) <= tolerance:
            continue
        early = recorded < tapped
        gap = duration_minutes(recorded, tapped) if early else duration_minutes(tapped, recorded)
        out.append(TimeEdit(which, tapped, recorded, gap, early))  # type: ignore[arg-type]
    return out
