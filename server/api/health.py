"""Liveness and readiness."""

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel

from server.deps import SessionDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str


@router.get("/health", response_model=HealthOut)
def health(session: SessionDep) -> dict[str, str]:
    session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}
