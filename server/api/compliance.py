"""Compliance reports over the districts the caller may see."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from server import errors
from server.deps import ManagerScope, SessionDep
from server.services import compliance
from shared.messages import t

router = APIRouter(tags=["compliance"])
# The formats are documented, not enforced here: the service answers 400 ``invalid_term`` and
# 404 for what does not fit, as it always has.
TERM_PATTERN = r"^20[0-9]{2}-[12]$"  # this century: what a real term id looks like
DISTRICT_PATTERN = r"^[0-9]{6}$"
TermQuery = Annotated[
    str,
    Query(
        max_length=10, description=t("api.doc.term"), json_schema_extra={"pattern": TERM_PATTERN}
    ),
]
DistrictPath = Annotated[
    str, Path(description="6 位行政区划代码", json_schema_extra={"pattern": DISTRICT_PATTERN})
]


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


@router.get(
    "/compliance",
    response_model=ComplianceReports,
    responses=errors.responses(400, 401, 403, 422),
)
def all_districts(term: TermQuery, scope: ManagerScope, session: SessionDep) -> dict[str, Any]:
    return compliance.all_reports(session, scope=scope, term_id=term)


@router.get(
    "/compliance/{district_code}",
    response_model=ComplianceReport,
    responses=errors.responses(400, 401, 403, 404, 422),
)
def one_district(
    district_code: DistrictPath, term: TermQuery, scope: ManagerScope, session: SessionDep
) -> dict[str, Any]:
    return compliance.district_report(
        session, scope=scope, district_code=district_code, term_id=term
    )
