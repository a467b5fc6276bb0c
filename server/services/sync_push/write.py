"""Writing a judged push: the only part of a push that runs under the change-counter lock.

``WritePlan`` holds plain rows, made while judging (with no lock held); ``write`` numbers the
changed visits from the counter and stores everything with a handful of ``executemany``
statements. Numbering and writing happen in the transaction that holds the counter, so changes
become visible in the order of their numbers (server/db.py, ``next_seq``).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from server.db import bulk_insert, next_seq
from server.services import visit_history

_TABLES = SQLModel.metadata.tables


@dataclass
class WritePlan:
    """What a judged batch stores; every visit row lacks only its ``seq``."""

    new_visits: list[dict[str, Any]] = field(default_factory=list)  # INSERT
    changed_visits: list[dict[str, Any]] = field(default_factory=list)  # UPDATE by id
    reflagged: list[dict[str, Any]] = field(default_factory=list)  # id, flags, flagged: UPDATE
    links_gone: list[tuple[str, str]] = field(default_factory=list)  # (visit_id, sha256)
    links_new: list[dict[str, Any]] = field(default_factory=list)
    sync_ops: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.new_visits) + len(self.changed_visits) + len(self.reflagged)


def write(session: Session, plan: WritePlan) -> None:
    """Number and store ``plan`` in ``session``'s transaction (which then holds the counter)."""
    if plan.changes:
        number = next_seq(session, plan.changes)
        for row in (*plan.changed_visits, *plan.reflagged, *plan.new_visits):
            row["seq"] = number
            number += 1
    visit = _TABLES["visit"]
    # The change history (services/visit_history.py): read before the stored visits move.
    history = visit_history.pushed_rows(session, plan.new_visits, plan.changed_visits)
    # Stored visits first, as the unit of work ordered them before.
    _update_by_id(session, visit, plan.changed_visits)
    _update_by_id(session, visit, plan.reflagged)
    bulk_insert(session, visit, plan.new_visits)
    if plan.links_gone:
        link = _TABLES["visit_photo"]
        session.execute(
            sa.delete(link).where(
                link.c.visit_id == sa.bindparam("b_visit"), link.c.sha256 == sa.bindparam("b_sha")
            ),
            [{"b_visit": v, "b_sha": s} for v, s in plan.links_gone],
        )
    bulk_insert(session, _TABLES["visit_photo"], plan.links_new)
    bulk_insert(session, _TABLES["sync_op"], plan.sync_ops)
    bulk_insert(session, _TABLES["visit_version"], history)


def _update_by_id(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """UPDATE every column named in ``rows`` (all with the same keys) WHERE id matches."""
    if not rows:
        return
    names = [k for k in rows[0] if k != "id"]
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values({n: sa.bindparam(f"b_{n}", type_=table.c[n].type) for n in names})
    )
    session.connection().execute(
        statement, [{"b_id": r["id"], **{f"b_{n}": r[n] for n in names}} for r in rows]
    )
