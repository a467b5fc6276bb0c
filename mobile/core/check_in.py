"""What a check-in earns, told at the tap: the shared judge's check-in flags
(``shared.evidence.check_in_flags``: no fix, poor accuracy, outside the geofence) and the
distance from the registered home (home teaching) or school (itinerant).
"""

from dataclasses import dataclass
from typing import Any

from shared.domain import EvidenceFlag, VisitKind
from shared.evidence import check_in_flags
from shared.messages import t
from shared.policy import PolicyParams
from shared.travel import LatLon, distance_m


@dataclass(frozen=True)
class CheckInVerdict:
    flags: frozenset[str]  # EvidenceFlag values the server will set for this position
    accuracy_m: float | None  # None: no fix
    distance_m: int | None  # from the registered place; None without a fix or a place
    place: str  # "home" | "school": what the distance is measured from

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    @property
    def place_name(self) -> str:
        """登记住址 or 学校."""
        return t(f"ui.visit.place.{self.place}")

    @property
    def outside_geofence(self) -> bool:
        return EvidenceFlag.OUTSIDE_GEOFENCE in self.flags

    @property
    def low_accuracy(self) -> bool:
        return EvidenceFlag.LOW_ACCURACY in self.flags


def registered_place(kind: str, subject: dict[str, Any] | None) -> LatLon | None:
    """The child's registered home (home teaching) or the school's place, as pulled."""
    keys = ("home_lat", "home_lon") if kind == VisitKind.HOME_TEACHING else ("lat", "lon")
    lat, lon = ((subject or {}).get(k) for k in keys)
    return (lat, lon) if lat is not None and lon is not None else None


def position_tuple(check_in: dict[str, Any] | None) -> tuple[float, float, float] | None:
    """A record's or form's ``check_in`` as the judge takes it."""
    if not check_in:
        return None
    return (check_in["lat"], check_in["lon"], check_in["accuracy_m"])


def judge_check_in(
    kind: str, check_in: dict[str, Any] | None, subject: dict[str, Any] | None, policy: PolicyParams
) -> CheckInVerdict:
    """The verdict on ``check_in`` ({lat, lon, accuracy_m} or None) for a visit of ``kind`` to
    ``subject`` (the pulled student or school) under ``policy``."""
    position = position_tuple(check_in)
    place = registered_place(kind, subject)
    flags = check_in_flags(position, place, policy)
    far = distance_m(position[:2], place) if position and place else None
    return CheckInVerdict(
        flags=frozenset(flags),
        accuracy_m=position[2] if position else None,
        distance_m=far,
        place="home" if kind == VisitKind.HOME_TEACHING else "school",
    )


def distance_text(metres: int) -> str:
    """120 米 below a kilometre, else 37.0 公里."""
    if metres < 1000:
        return t("ui.unit.metres", n=metres)
    return t("ui.unit.km", n=f"{metres / 1000:.1f}")
