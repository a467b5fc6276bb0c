"""Applying pushed ops: idempotent by op_id, optimistic by version, one bad op alone rejected.

A push runs in three phases (docs/sync.md says why), one module each (``parse``, ``batch``,
``write``; ``rows`` holds the shapes they pass on); this module runs them in turn:

1. parse: each op and its record validated, dumped and hashed, with no database at all;
2. judge: the batch checked in memory against rows fetched with a handful of set queries, with
   no lock and no write (on SQLite no write transaction is open, so pulls' audit rows, reviews
   and other pushes go on meanwhile); it yields the results and a ``WritePlan`` of plain rows,
   and remembers what the judgement rested on (``Seen``); the read transaction then ends;
3. write: the change counter is locked (``lock_changes``), what the judgement rested on is read
   again, and if nothing moved the plan is numbered and written (``write``).
   If anything moved (the same op_id applied meanwhile by a concurrent retry, a visit of the
   batch or one of its flag neighbours changed, the roster, assignments or policies changed,
   the photos held), the batch is judged again under the lock: the rare slow path, exactly
   the old behaviour.

Only numbering and writing hold the lock, so concurrent pushes overlap in everything else.
Should the write still fail, each op is retried alone so that the others land.

Visits new to the server are written as plain rows with one multi-row INSERT, and sync ops
likewise; stored visits are UPDATEd by id with one ``executemany``: building ORM objects and
flushing them through the unit of work cost more than everything else a push does.
"""

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from server.db import lock_changes
from server.scope import Scope
from server.services.sync_push.batch import Batch
from server.services.sync_push.parse import Parsed, op_id_of, parse_op, rejected
from server.services.sync_push.write import write
from shared.messages import t
from shared.protocol import PushResult

log = logging.getLogger("songjiao.sync")


def push(session: Session, *, scope: Scope, raw_ops: list[Any], now: datetime) -> list[PushResult]:
    """Results for ``raw_ops``, one per op, in order; committed.

    ``session`` must hold no uncommitted writes: judging ends its read transaction.
    """
    ops = [parse_op(raw) for raw in raw_ops]
    try:
        results = _judge_and_write(session, scope, now, ops)
        session.commit()
        return results
    except SQLAlchemyError:
        session.rollback()
        log.exception("batch write failed; retrying op by op")
    results = []
    for op in ops:
        try:
            (result,) = _judge_and_write(session, scope, now, [op])
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            log.exception("op failed alone")
            detail = t("internal_error")
            result = rejected(op_id_of(op.raw), None, "invalid_record", detail=detail)
        results.append(result)
    return results


def _judge_and_write(
    session: Session, scope: Scope, now: datetime, ops: list["Parsed"]
) -> list[PushResult]:
    """Judge ``ops`` with no lock, then write under the lock; judged again if anything moved."""
    batch = Batch(session, scope, now)
    results = batch.judge(ops)
    plan = batch.plan()
    seen = batch.seen
    session.rollback()  # ends the reads (nothing was written); the ORM rows are let go
    counter = lock_changes(session)  # from here to the commit: numbering and writing only
    # Nothing numbered committed since judging began: nothing the judgement read has moved.
    moved = seen.judged_rows and counter != seen.counter
    if moved and seen != batch.read_seen():
        log.info("push judged on rows that moved meanwhile; judging again under the lock")
        batch = Batch(session, scope, now)
        results = batch.judge(ops)
        plan = batch.plan()
    write(session, plan)
    return results


__all__ = ["push"]
