"""Roster upload for coordinators and admins (CSV or XLSX, one file per request)."""

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel

from server import errors
from server.deps import ManagerScope, SessionDep
from server.errors import ApiError
from server.services import roster
from server.services.roster_parse import RosterFileError
from shared.messages import t

router = APIRouter(tags=["roster"])


class RejectedOut(BaseModel):
    row: int
    message: str


class ImportOut(BaseModel):
    kind: str
    added: int
    updated: int
    unchanged: int
    removed: int
    rejected: list[RejectedOut]
    notes: list[str]


@router.post(
    "/roster/import",
    response_model=ImportOut,
    responses=errors.responses(400, 401, 403, 409, 413, 422),
)
def import_roster(
    file: Annotated[UploadFile, File(description=t("api.doc.roster_file"))],
    scope: ManagerScope,
    session: SessionDep,
) -> ImportOut:
    """200 whenever the file could be read, even with rejected rows (listed with reasons);
    400 when it could not (encoding, unknown header, missing columns: nothing written);
    409 when another writer raced it (nothing written; importing again is safe).
    A coordinator's rows of other districts are rejected, row by row."""
    data = file.file.read()  # the body limit has already bounded the size
    try:
        report = roster.import_bytes(session, data, scope=scope, source=file.filename or "")
    except RosterFileError as exc:
        raise ApiError(exc.status, exc.code, **exc.values) from exc
    return ImportOut.model_validate(report.as_json())
