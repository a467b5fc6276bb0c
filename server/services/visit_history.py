"""A visit's change history (table ``visit_version``): written by pushes and reviews, read by
the console's visit page as entries that say who changed what, and when.

Writing. A push adds one entry per version it makes (``pushed_rows``, called by
services/sync_push/write.py under the change-counter lock, with the visit rows it writes); a review
or a flag note adds one for the version it was made on (``record_review``). Entries are only
ever added, in the transaction of the change they describe, so a change is never stored
without its entry.

Reading. ``entries`` pairs each pushed version with the one before it and lists the fields that
differ (``shared/messages.py`` gives their Chinese labels; services/visit_fields.py formats
their values).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from server.models import DeviceToken, Visit, VisitVersion, utcnow
from server.services import audit
from server.services.visit_fields import FIELDS, label, shown

UPSERT, DELETE, REVIEW, RESOLVE_FLAG = "upsert", "delete", "review", "resolve_flag"
PUSHED = (UPSERT, DELETE)
# What a pushed version says beyond its record: the server's judgement of it.
_JUDGED = ("flags", "distance_m", "subsidy_fen", "deleted")


def snapshot(row: Mapping[str, Any] | Visit) -> dict[str, Any]:
    """What version ``row`` says (a visit row dict as a push writes it, or a stored Visit)."""
    get = row.get if isinstance(row, Mapping) else lambda k: getattr(row, k)
    return {"record": dict(get("record") or {}), **{k: get(k) for k in _JUDGED}}


def pushed_rows(
    session: Session,
    new_visits: Sequence[Mapping[str, Any]],
    changed_visits: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """History rows for the visits a push is about to write: every new visit, and every stored
    one whose version the push moves (a stored visit can also be rewritten only because a
    neighbour's flags changed: that is no new version). Reads the stored versions, so it must
    run before the visits are updated."""
    stored: dict[str, int] = {}
    if changed_visits:
        table = SQLModel.metadata.tables["visit"]
        ids = [r["id"] for r in changed_visits]
        query = sa.select(table.c.id, table.c.version).where(table.c.id.in_(ids))
        stored = {vid: version for vid, version in session.connection().execute(query)}
    device = session.info.get(audit.DEVICE_KEY)
    return [
        {
            "visit_id": r["id"],
            "version": r["version"],
            "action": DELETE if r["deleted"] else UPSERT,
            "actor": r["teacher"],
            "at": r["received_at"],
            "device_id": device,
            "snapshot": snapshot(r),
        }
        for r in (*new_visits, *changed_visits)
        if stored.get(r["id"]) != r["version"]
    ]


def record_review(
    session: Session,
    visit: Visit,
    *,
    actor: str,
    action: str,
    detail: dict[str, Any],
    now: datetime | None = None,
) -> None:
    """Add a review (``REVIEW``) or flag-note (``RESOLVE_FLAG``) entry for ``visit``'s current
    version; the caller commits it with the change."""
    session.add(
        VisitVersion(
            visit_id=visit.id,
            version=visit.version,
            action=action,
            actor=actor,
            at=now or utcnow(),
            snapshot=detail,
        )
    )


@dataclass
class Entry:
    """One line of the history as the console shows it, newest first."""

    version: int
    action: str  # UPSERT (first upload or edit), "restore", DELETE, REVIEW, RESOLVE_FLAG
    actor: str
    at: datetime
    device: str = ""
    first: bool = False  # the first version on record
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # label, before, after
    detail: dict[str, Any] = field(default_factory=dict)  # of a review or flag note


@dataclass
class History:
    entries: list[Entry]
    earlier_untracked: bool  # versions before the first entry were never recorded


def entries(session: Session, visit: Visit, names: Mapping[str, str]) -> History:
    """The history of ``visit`` (already checked visible), newest first.

    ``names``: display names of students and schools by id, for the fields that hold ids.
    """
    rows = list(
        session.exec(
            select(VisitVersion)
            .where(VisitVersion.visit_id == visit.id)
            .order_by(col(VisitVersion.id))
            .limit(1000)  # a visit edited a thousand times is shown from its first thousand
        )
    )
    devices = _device_names(session, {r.device_id for r in rows if r.device_id})
    pushed = [r for r in rows if r.action in PUSHED]
    out: list[Entry] = []
    before: dict[str, Any] | None = None
    for row in rows:
        entry = Entry(row.version, row.action, row.actor, row.at, devices.get(row.device_id, ""))
        if row.action in PUSHED:
            after = row.snapshot or {}
            if before is None:
                entry.first = True
            else:
                entry.changes = diff(before, after, names)
                if before.get("deleted") and not after.get("deleted"):
                    entry.action = "restore"
            before = after
        else:
            entry.detail = dict(row.snapshot or {})
        out.append(entry)
    if not pushed or pushed[-1].version != visit.version:
        # Stored by a loader (demo data) or before history was kept: the current version is
        # still shown, as the last one known.
        out.append(
            Entry(
                visit.version,
                DELETE if visit.deleted else UPSERT,
                visit.teacher,
                visit.received_at,
                first=not pushed,
            )
        )
        if pushed:
            out[-1].changes = diff(pushed[-1].snapshot or {}, snapshot(visit), names)
    # Newest first; entries of one moment in the order they were written.
    order = {id(e): n for n, e in enumerate(out)}
    out.sort(key=lambda e: (e.at, order[id(e)]), reverse=True)
    first_known = min((r.version for r in pushed), default=visit.version)
    return History(out, earlier_untracked=first_known > 1)


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any], names: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(label, before, after) for every field that differs, in the order of ``FIELDS``."""
    changes = []
    for name, where in FIELDS:
        old = _value(before, name, where)
        new = _value(after, name, where)
        if old != new:
            changes.append((label(name), shown(name, old, names), shown(name, new, names)))
    return changes


def _value(snap: Mapping[str, Any], name: str, where: str) -> Any:
    source = snap.get("record") or {} if where == "record" else snap
    return source.get(name)


def _device_names(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = session.exec(
        select(DeviceToken.id, DeviceToken.device_name).where(col(DeviceToken.id).in_(wanted))
    )
    return {i: name for i, name in rows}
