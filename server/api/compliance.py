"""Compliance reports over the districts the caller may see."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from server import errors
from server.deps import ManagerScope, SessionDep
from server.services import compliance
from shared.messages import t
from shared.protocol import ComplianceReport, ComplianceReports

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
    str, Path(description=t("api.doc.district"), json_schema_extra={"pattern": DISTRICT_PATTERN})
]


@router.get(
    "/compliance",
    response_model=ComplianceReports,
    responses=errors.responses(400, 401, 403, 422),
)
def all_districts(term: TermQuery, scope: ManagerScope, session: SessionDep) -> ComplianceReports:
    return compliance.all_reports(session, scope=scope, term_id=term)


@router.get(
    "/compliance/{district_code}",
    response_model=ComplianceReport,
    responses=errors.responses(400, 401, 403, 404, 422),
)
def one_district(
    district_code: DistrictPath, term: TermQuery, scope: ManagerScope, session: SessionDep
) -> ComplianceReport:
    return compliance.district_report(
        session, scope=scope, district_code=district_code, term_id=term
    )
