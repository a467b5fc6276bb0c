"""What the demo's field workers' phones send: their photos, then their visits through
``sync_push.push``, so that the server computes flags, distances and subsidies exactly as it
does for a phone.

Op ids derive from the records, so a second run finds every op already applied (pushing it
again would only answer ``duplicate``, so it is not sent); a visit whose planned content
changed since an earlier run (the demo's code was edited) is pushed as an edit of the stored
one.
"""

import hashlib
import json
import uuid
from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from server.demo.plan import Plan
from server.demo.planner import NAMESPACE, PlannedVisit
from server.demo.summary import Tally
from server.models import SyncOp, User
from server.scope import Scope
from server.services import photos, sync_push
from server.settings import get_settings
from shared.protocol import MAX_OPS
from shared.terms import SHANGHAI


def upload_photos(session: Session, plan: Plan, tally: Tally) -> None:
    """Every worker whose visits list a demo photo uploads it, as their phone would: a visit may
    list only photos its own teacher uploaded (services/photos.py, Possession)."""
    settings = get_settings()
    listers: dict[str, set[str]] = {p.sha256: {p.uploader} for p in plan.photos}
    for visit in plan.visits:
        for sha in visit.record.get("photos", []):
            listers.setdefault(sha, set()).add(visit.username)
    for photo in plan.photos:
        for uploader in sorted(listers[photo.sha256], key=lambda u: u != photo.uploader):
            _, new = photos.store(
                session,
                sha256=photo.sha256,
                data=photo.data,
                uploader=uploader,
                media_dir=settings.media_dir,
                max_bytes=settings.max_photo_bytes,
                max_pixels=settings.max_photo_pixels,
            )
            tally.new_photos += int(new)


def push_visits(session: Session, plan: Plan, tally: Tally) -> None:
    """Each field worker syncs once a week, in the evening after their last visit of the week."""
    names = sorted({v.username for v in plan.visits})
    users = {u.username: u for u in session.exec(select(User).where(col(User.username).in_(names)))}
    weeks: dict[tuple[str, int, int], list[PlannedVisit]] = defaultdict(list)
    for v in plan.visits:
        year, week, _ = v.day.isocalendar()
        weeks[(v.username, year, week)].append(v)
    done = _applied_ops(session, plan.visits)
    for (username, _, _), batch in sorted(weeks.items()):
        # An op this user already applied would only come back "duplicate": skip the round trip.
        todo = [v for v in batch if not any((username, op) in done for op in _op_ids(v))]
        tally.visits["duplicate"] += len(batch) - len(todo)
        scope = Scope.of(users[username])
        for i in range(0, len(todo), MAX_OPS):
            _push(session, scope, todo[i : i + MAX_OPS], tally)


def _applied_ops(session: Session, visits: list[PlannedVisit]) -> set[tuple[str, str]]:
    op_ids = [op for v in visits for op in _op_ids(v)]
    done: set[tuple[str, str]] = set()
    for i in range(0, len(op_ids), 500):
        rows = session.exec(
            select(SyncOp.username, SyncOp.op_id).where(col(SyncOp.op_id).in_(op_ids[i : i + 500]))
        )
        done.update((username, op_id) for username, op_id in rows)
    return done


def _push(session: Session, scope: Scope, batch: list[PlannedVisit], tally: Tally) -> None:
    now = _received_at(batch)
    results = sync_push.push(
        session, scope=scope, raw_ops=[visit_op(v, None) for v in batch], now=now
    )
    retry: list[tuple[PlannedVisit, int]] = []
    for v, result in zip(batch, results, strict=True):
        if result.status == "conflict" and result.version is not None:
            retry.append((v, result.version))  # the demo's record changed since the last run
            continue
        tally.visits[result.status] += 1
        if result.status == "rejected" and result.error is not None:
            tally.rejected.append(f"{v.key}：{result.error.code}")
    if not retry:
        return
    again = sync_push.push(
        session, scope=scope, raw_ops=[visit_op(v, version) for v, version in retry], now=now
    )
    for (v, _), result in zip(retry, again, strict=True):
        tally.visits["replaced" if result.status == "applied" else result.status] += 1
        if result.error is not None:
            tally.rejected.append(f"{v.key}：{result.error.code}")


def visit_op(v: PlannedVisit, base_version: int | None) -> dict[str, Any]:
    """An upsert whose op_id names this exact record: a replay is a duplicate."""
    return {
        "op_id": _op_id(v, replacing=base_version is not None),
        "type": "visit.upsert",
        "record": v.record,
        "base_version": base_version,
    }


def _op_id(v: PlannedVisit, *, replacing: bool) -> str:
    """The first push of a record, or the edit replacing an older demo's version of it (whose
    version the plan cannot know, so it is not part of the name)."""
    body = json.dumps(v.record, sort_keys=True, ensure_ascii=False).encode()
    name = f"op:{v.key}:{hashlib.sha256(body).hexdigest()[:16]}:{'edit' if replacing else 'new'}"
    return str(uuid.uuid5(NAMESPACE, name))


def _op_ids(v: PlannedVisit) -> tuple[str, str]:
    return _op_id(v, replacing=False), _op_id(v, replacing=True)


def _received_at(batch: list[PlannedVisit]) -> datetime:
    last = max(datetime.fromisoformat(v.record["ended_at"]) for v in batch)
    evening = datetime.combine(last.date(), time(21, 0), SHANGHAI)
    return max(evening, last + timedelta(minutes=30))
