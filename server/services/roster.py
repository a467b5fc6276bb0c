"""Roster import: districts, schools, students, staff and assignments from CSV or XLSX.

Each row is checked on its own; a bad row is rejected with a Chinese reason and its row number
(as Excel shows it) while the good rows beside it are written. Writes go through
``services.registry``, which moves ``seq`` only on a real change, so re-importing a file
reports everything unchanged. One file is one transaction, committed at its end.

``dry_run`` tells what an import would do, row by row, and writes nothing (the console's
preview); its ``digest`` of every row's outcome lets a later import check that it does exactly
what was previewed.
"""

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from server.scope import Scope
from server.services import audit, registry
from server.services.roster_cells import Cells
from server.services.roster_parse import KINDS, RosterFileError, Table, peek_kind, read_table
from server.services.roster_rows import IMPORTERS, ROW_KEYS, RowContext
from shared.domain import Role
from shared.messages import t

log = logging.getLogger("songjiao")
CLI_SCOPE = Scope(username="cli", role=Role.ADMIN, district_code=None)


@dataclass
class RejectedRow:
    row: int
    message: str


@dataclass
class RowOutcome:
    row: int
    outcome: str  # added, updated, unchanged, removed or rejected
    label: str  # the row's id (and name) as written
    message: str = ""  # why it was rejected


# The other rows a file's rows refer to, read ahead in a few queries: (kind, column).
PRELOADS: dict[str, tuple[tuple[str, str], ...]] = {
    "districts": (),
    "schools": (("schools", "school_id"),),
    "students": (("students", "student_id"), ("schools", "school_id")),
    "staff": (("schools", "base_school_id"),),
    "assignments": (("students", "student_id"), ("schools", "school_id")),
}


@dataclass
class ImportReport:
    kind: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # the whole file could not be read; nothing was written
    digest: str = ""  # SHA-256 of every row's number and outcome, in order
    rows: list[RowOutcome] | None = None  # each row's outcome, when asked for

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.rejected)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def describe(self, path: str | Path) -> str:
        """Chinese text for the CLI: counts, notes, then one line per rejected row."""
        if self.error is not None:
            return t("roster.summary_failed", path=path, message=self.error)
        head = t(
            "roster.summary",
            path=path,
            kind=t(f"roster.kind.{self.kind}"),
            added=self.added,
            updated=self.updated,
            unchanged=self.unchanged,
            rejected=len(self.rejected),
        )
        if self.removed:
            head += t("roster.summary_removed", removed=self.removed)
        lines = [head, *(f"  {t('roster.note', note=n)}" for n in self.notes)]
        return "\n".join(lines + [f"  {r.message}" for r in self.rejected])

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "rejected": [{"row": r.row, "message": r.message} for r in self.rejected],
            "notes": list(self.notes),
        }


def import_file(session: Session, path: str | Path, *, scope: Scope = CLI_SCOPE) -> ImportReport:
    """Import one file; a file that cannot be read comes back as ``report.error``."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ImportReport(error=t("roster_unreadable", detail=t("roster.detail.not_found")))
    try:
        return import_bytes(session, data, scope=scope, source=str(path))
    except RosterFileError as exc:
        return ImportReport(error=exc.message)


def in_dependency_order(paths: Sequence[str]) -> list[str]:
    """Districts before schools before students before staff before assignments, whatever the
    order given; files that cannot be read come last, where they harm nothing."""

    def rank(path: str) -> int:
        try:
            kind = peek_kind(Path(path).read_bytes(), str(path))
        except OSError:
            kind = None
        return KINDS.index(kind) if kind else len(KINDS)

    return sorted(paths, key=rank)


def import_bytes(session: Session, data: bytes, *, scope: Scope, source: str = "") -> ImportReport:
    """Import a file's bytes as ``scope`` may (a coordinator: rows of their own district).

    Raises ``RosterFileError`` when the file as a whole is unusable or could not be saved (then
    nothing is written).
    """
    table = read_table(data, source)
    return import_table(session, table, scope=scope, source=source)


def import_table(
    session: Session,
    table: Table,
    *,
    scope: Scope,
    source: str,
    expect: str | None = None,
    district: str | None = None,
) -> ImportReport:
    """Write ``table``'s good rows, audit and commit: all of it or, on ``RosterFileError``,
    nothing. With ``expect`` (a dry run's digest), a file whose rows would now come out
    otherwise than that is not written either (``roster_changed``). ``district``: the one
    district the upload is for (an admin's pick; see ``RowContext``)."""
    try:
        report = check_rows(
            session, table, scope=scope, seq=registry.SeqBlock(session), district=district
        )
        if expect is not None and report.digest != expect:
            session.rollback()
            raise RosterFileError("roster_changed", status=409)
        _audit(session, report, scope=scope, source=source, district=district)
        session.commit()
    except DBAPIError as exc:
        # Rows are checked before they are written, so this is a race with another writer
        # (two imports of the same new id at once): nothing of the file is kept.
        session.rollback()
        log.warning("roster import of %s not saved", source, exc_info=exc)
        raise RosterFileError("roster_write_failed", status=409) from exc
    return report


def dry_run(
    session: Session, table: Table, *, scope: Scope, district: str | None = None
) -> ImportReport:
    """What importing ``table`` would do, each row's outcome included; writes nothing.

    The rows go through the same checks and registry calls as an import, in a session that
    never flushes (no write, so no lock on SQLite) and is rolled back at the end.
    """
    try:
        with session.no_autoflush:
            return check_rows(
                session,
                table,
                scope=scope,
                seq=lambda: 0,
                keep_rows=True,
                district=district,
                dry=True,
            )
    finally:
        session.rollback()


def check_rows(
    session: Session,
    table: Table,
    *,
    scope: Scope,
    seq: registry.Numbers,
    keep_rows: bool = False,
    district: str | None = None,
    dry: bool = False,
) -> ImportReport:
    """Check every row of ``table`` and hand the good ones to the registry, in ``session``
    (not committed, not audited); ``dry`` (a preview): the outcomes only (``RowContext``)."""
    report = ImportReport(kind=table.kind, notes=list(table.notes))
    report.rows = [] if keep_rows else None
    digest = hashlib.sha256()
    context = RowContext(session, scope, seq=seq, district=district, dry=dry)
    for kind, column in PRELOADS[table.kind]:
        context.preload(kind, (values.get(column, "") for _, values in table.rows))
    importer = IMPORTERS[table.kind]
    first_seen: dict[tuple[str, ...], int] = {}
    for number, values in table.rows:
        key = tuple(values.get(c, "") for c in ROW_KEYS[table.kind])
        message = ""
        if key[0] and key in first_seen:
            shown = " / ".join(filter(None, key))
            message = t("roster.duplicate_id", row=number, id=shown, first=first_seen[key])
            outcome = "rejected"
        else:
            first_seen.setdefault(key, number)
            cells = Cells(number, values)
            written = importer(context, cells)
            if cells.errors or written is None:
                detail = t("list.clause_sep").join(dict.fromkeys(cells.errors))
                message = t("roster.row_invalid", row=number, detail=detail)
                outcome = "rejected"
            else:
                outcome = written
        if outcome == "rejected":
            report.rejected.append(RejectedRow(number, message))
        else:
            report.count(outcome)
        digest.update(f"{number}:{outcome};".encode())
        if report.rows is not None:
            label = " ".join(filter(None, (*key, values.get("name", ""))))
            report.rows.append(RowOutcome(number, outcome, label[:200], message))
    if table.kind == "staff" and report.added:
        report.notes.append(t("roster.note_no_password"))
    report.digest = digest.hexdigest()
    return report


def _audit(
    session: Session, report: ImportReport, *, scope: Scope, source: str, district: str | None
) -> None:
    audit.record(
        session,
        actor=scope.username,
        action="import",
        entity=f"roster_{report.kind}",
        entity_id=Path(source).name or "upload",
        district_code=district or scope.district_code,
        detail=f"added={report.added} updated={report.updated} unchanged={report.unchanged} "
        f"removed={report.removed} rejected={len(report.rejected)}",
    )
