"""Liveness and readiness."""

import sqlalchemy as sa
from fastapi import APIRouter

from server.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}
