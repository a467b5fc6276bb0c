"""Compliance reports over the districts the caller may see."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from server.deps import ManagerScope, SessionDep
from server.services import compliance

router = APIRouter(tags=["compliance"])
TermQuery = Annotated[str, Query(max_length=10, description="学期，如 2025-1（年份 2000 至 2099）")]


@router.get("/compliance")
def all_districts(term: TermQuery, scope: ManagerScope, session: SessionDep) -> dict[str, Any]:
    return compliance.all_reports(session, scope=scope, term_id=term)


@router.get("/compliance/{district_code}")
def one_district(
    district_code: str, term: TermQuery, scope: ManagerScope, session: SessionDep
) -> dict[str, Any]:
    return compliance.district_report(
        session, scope=scope, district_code=district_code, term_id=term
    )
