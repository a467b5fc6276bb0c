"""A roster file between the console's preview and its confirmation.

The upload is read and every row checked without writing anything (``roster.dry_run``); the
file's bytes and each row's outcome are kept in ``roster_upload`` / ``roster_upload_row``,
under a random id, bound to the user who uploaded it, for ``LIFETIME``. Confirming reads the
same bytes again and imports them in one transaction only if every row still comes out as
previewed (``roster_changed`` otherwise: nothing written, the caller shows a fresh preview).
The staging rows go in the same transaction as the import, so a confirmed upload cannot be
confirmed twice. Callers commit ``stage`` and ``cancel``; ``confirm`` commits itself.
"""

import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from server.db import bulk_insert
from server.models import RosterUpload, RosterUploadRow, User, utcnow
from server.scope import Scope
from server.services import roster
from server.services.errors import DomainError
from server.services.roster_parse import read_table

LIFETIME = timedelta(hours=2)  # a working session: long enough to check a big file, not days
PAGE_SIZE = 100
OUTCOMES = ("added", "updated", "unchanged", "removed", "rejected")


def stage(
    session: Session,
    *,
    user: User,
    scope: Scope,
    data: bytes,
    filename: str,
    district: str | None = None,
) -> RosterUpload:
    """Check ``data`` as an import by ``scope`` for ``district`` (an admin's pick: the rows are
    held to it; None: each row's own district) would, and keep it for confirmation, which
    imports for the same district.

    Raises ``RosterFileError`` when the file as a whole is unusable (nothing is kept)."""
    assert user.id is not None
    user_id = user.id
    table = read_table(data, filename)
    report = roster.dry_run(session, table, scope=scope, district=district)
    _purge(session, user_id)
    upload = RosterUpload(
        id=secrets.token_hex(16),
        user_id=user_id,
        filename=(filename or "upload")[-200:],
        kind=table.kind,
        district_code=district,
        data=data,
        digest=report.digest,
        counts={
            o: len(report.rejected) if o == "rejected" else getattr(report, o) for o in OUTCOMES
        },
        notes=report.notes,
        expires_at=utcnow() + LIFETIME,
    )
    session.add(upload)
    session.flush()
    bulk_insert(
        session,
        RosterUploadRow.__table__,  # type: ignore[attr-defined]
        [
            {
                "upload_id": upload.id,
                "row": r.row,
                "outcome": r.outcome,
                "label": r.label,
                "message": r.message[:1000],
            }
            for r in report.rows or []
        ],
    )
    return upload


def _counts(report: roster.ImportReport) -> dict[str, int]:
    return {o: len(report.rejected) if o == "rejected" else getattr(report, o) for o in OUTCOMES}


def find(session: Session, *, upload_id: str, user: User) -> RosterUpload:
    """The user's own unexpired upload; 404 ``roster.upload_gone`` for anything else (another
    user's id included: it is not theirs to see)."""
    upload = session.get(RosterUpload, upload_id[:32]) if upload_id else None
    if upload is None or upload.user_id != user.id or upload.expires_at <= utcnow():
        raise DomainError("roster.upload_gone")
    return upload


def page(
    session: Session, upload: RosterUpload, *, outcome: str | None, number: int
) -> tuple[list[RosterUploadRow], int]:
    """Rows of page ``number`` (from 1), only those of ``outcome`` if given; and the page count."""
    where = [col(RosterUploadRow.upload_id) == upload.id]
    if outcome in OUTCOMES:
        where.append(col(RosterUploadRow.outcome) == outcome)
    total = session.exec(select(func.count()).select_from(RosterUploadRow).where(*where)).one()
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(1, number), pages)
    rows = session.exec(
        select(RosterUploadRow)
        .where(*where)
        .order_by(col(RosterUploadRow.row))
        .offset((number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return list(rows), pages


def confirm(session: Session, upload: RosterUpload, *, scope: Scope) -> roster.ImportReport:
    """Import the staged file as previewed, all or nothing (see the module docstring).

    Raises ``RosterFileError`` (``roster_changed``, ``roster_write_failed``) when nothing was
    written; the upload is then still there."""
    table = read_table(upload.data, upload.filename)
    _delete(session, upload.id)
    return roster.import_table(
        session,
        table,
        scope=scope,
        source=upload.filename,
        expect=upload.digest,
        district=upload.district_code,
    )


def cancel(session: Session, upload: RosterUpload) -> None:
    _delete(session, upload.id)


def _delete(session: Session, upload_id: str) -> None:
    session.execute(sa.delete(RosterUploadRow).where(col(RosterUploadRow.upload_id) == upload_id))
    session.execute(sa.delete(RosterUpload).where(col(RosterUpload.id) == upload_id))


def _purge(session: Session, user_id: int) -> None:
    """Expired uploads (anyone's), and this user's earlier ones: one open preview each."""
    stale = select(RosterUpload.id).where(
        sa.or_(col(RosterUpload.expires_at) <= utcnow(), col(RosterUpload.user_id) == user_id)
    )
    for upload_id in session.exec(stale).all():
        _delete(session, upload_id)
