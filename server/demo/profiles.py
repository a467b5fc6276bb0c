"""The thirteen Hangzhou districts of the demo and how each one's data is shaped.

District codes, names and centroids are those of domain.md; the rest (how many schools and
children, how far apart things are, how well guidance reaches schools) is invented, so that the
demo holds urban districts within the 5% cap and rural counties over it, well and poorly
covered schools, and weak evidence where signal is poor.
"""

from dataclasses import dataclass
from decimal import Decimal

from shared.policy import PolicyParams, SubsidyMode


@dataclass(frozen=True)
class DistrictProfile:
    code: str
    name: str
    lat: float
    lon: float
    area: str  # "urban" | "suburban" | "hills" | "county": how far apart things are
    schools: int  # ordinary schools
    children: int  # compulsory-stage disabled children on roll
    home_share: float  # share placed in 送教上门; 0.05 or less stays within the default cap
    coverage: str  # "full" | "mixed" | "poor": how well itinerant guidance reaches schools
    reviewing: bool  # whether the coordinator has started reviewing this term's visits


DISTRICTS = (
    DistrictProfile("330102", "上城区", 30.24, 120.17, "urban", 16, 140, 0.035, "full", True),
    DistrictProfile("330105", "拱墅区", 30.32, 120.14, "urban", 18, 165, 0.04, "mixed", True),
    DistrictProfile("330106", "西湖区", 30.26, 120.13, "urban", 18, 150, 0.045, "mixed", True),
    DistrictProfile("330108", "滨江区", 30.21, 120.21, "urban", 12, 95, 0.04, "full", True),
    DistrictProfile("330109", "萧山区", 30.18, 120.26, "suburban", 20, 200, 0.05, "mixed", True),
    DistrictProfile("330110", "余杭区", 30.40, 119.98, "suburban", 18, 175, 0.04, "mixed", True),
    DistrictProfile("330111", "富阳区", 30.05, 119.96, "suburban", 12, 120, 0.05, "mixed", True),
    DistrictProfile("330112", "临安区", 30.23, 119.72, "hills", 10, 105, 0.075, "poor", True),
    DistrictProfile("330113", "临平区", 30.42, 120.30, "suburban", 14, 130, 0.04, "mixed", True),
    DistrictProfile("330114", "钱塘区", 30.30, 120.45, "suburban", 12, 100, 0.05, "mixed", False),
    DistrictProfile("330122", "桐庐县", 29.80, 119.69, "county", 9, 85, 0.05, "mixed", True),
    DistrictProfile("330127", "淳安县", 29.61, 119.04, "county", 10, 115, 0.11, "poor", False),
    DistrictProfile("330182", "建德市", 29.47, 119.28, "county", 9, 95, 0.09, "poor", True),
)

# km from the district centroid: (ordinary schools, homes of children taught at home)
SPREAD_KM = {
    "urban": ((0.5, 5.0), (1.0, 7.0)),
    "suburban": ((1.0, 12.0), (2.0, 15.0)),
    "hills": ((2.0, 25.0), (5.0, 28.0)),
    "county": ((15.0, 40.0), (10.0, 40.0)),  # plus two schools in the county seat
}
# Chance per visit of weak evidence: (check-in 1-3 km away, no GPS, accuracy ~300 m)
WEAK_EVIDENCE = {
    "urban": (0.015, 0.015, 0.02),
    "suburban": (0.02, 0.03, 0.03),
    "hills": (0.03, 0.06, 0.04),
    "county": (0.04, 0.09, 0.05),
}
# How often a child taught at home gets the standard: (meets, weekly, sparse)
SERVICE_PROFILES = {
    "urban": (0.6, 0.3, 0.1),
    "suburban": (0.5, 0.35, 0.15),
    "hills": (0.4, 0.35, 0.25),
    "county": (0.35, 0.35, 0.3),
}
# Share of an instructor's schools visited 0, 1, 2, 3 times this term (the first two by quota)
ITINERANT_VISITS = {
    "full": (0.0, 0.0, 0.65, 0.35),
    "mixed": (0.05, 0.15, 0.55, 0.25),
    "poor": (0.15, 0.35, 0.4, 0.1),
}
UNASSIGNED_SCHOOLS = {"full": 0, "mixed": 1, "poor": 2}

# 淳安县 pays its teachers by the kilometre, with a monthly cap; the rest keep the flat default.
PER_KM_DISTRICT = "330127"
PER_KM_POLICY = PolicyParams(
    subsidy_mode=SubsidyMode.PER_KM,
    fen_per_km=80,
    road_factor=Decimal("1.3"),
    monthly_cap_fen=150_000,
)
