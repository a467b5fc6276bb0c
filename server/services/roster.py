"""Roster import: districts, schools, students, staff and assignments from CSV or XLSX.

Each row is checked on its own; a bad row is rejected with a Chinese reason and its row number
(as Excel shows it) while the good rows beside it are written. Writes go through
``services.registry``, which moves ``seq`` only on a real change, so re-importing a file
reports everything unchanged. One file is one transaction, committed at its end.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from server.scope import Scope
from server.services import audit
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
class ImportReport:
    kind: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # the whole file could not be read; nothing was written

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
    try:
        return _import_rows(session, table, scope=scope, source=source)
    except DBAPIError as exc:
        # Rows are checked before they are written, so this is a race with another writer
        # (two imports of the same new id at once): nothing of the file is kept.
        session.rollback()
        log.warning("roster import of %s not saved", source, exc_info=exc)
        raise RosterFileError("roster_write_failed", status=409) from exc


def _import_rows(session: Session, table: Table, *, scope: Scope, source: str) -> ImportReport:
    report = ImportReport(kind=table.kind, notes=list(table.notes))
    context = RowContext(session, scope)
    importer = IMPORTERS[table.kind]
    first_seen: dict[tuple[str, ...], int] = {}
    for number, values in table.rows:
        key = tuple(values.get(c, "") for c in ROW_KEYS[table.kind])
        if key[0] and key in first_seen:
            shown = " / ".join(filter(None, key))
            message = t("roster.duplicate_id", row=number, id=shown, first=first_seen[key])
            report.rejected.append(RejectedRow(number, message))
            continue
        first_seen.setdefault(key, number)
        cells = Cells(number, values)
        outcome = importer(context, cells)
        if cells.errors or outcome is None:
            detail = "；".join(dict.fromkeys(cells.errors))
            message = t("roster.row_invalid", row=number, detail=detail)
            report.rejected.append(RejectedRow(number, message))
        else:
            report.count(outcome)
    if table.kind == "staff" and report.added:
        report.notes.append(t("roster.note_no_password"))
    audit.record(
        session,
        actor=scope.username,
        action="import",
        entity=f"roster_{table.kind}",
        entity_id=Path(source).name or "upload",
        district_code=scope.district_code,
        detail=f"added={report.added} updated={report.updated} unchanged={report.unchanged} "
        f"removed={report.removed} rejected={len(report.rejected)}",
    )
    session.commit()
    return report
