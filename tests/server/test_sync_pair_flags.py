"""Pairwise flags kept up push by push equal the flags judged from scratch.

A push re-judges the visits around its own incrementally (a neighbour gains a flag it now shares
with a pushed visit; only one that lost a partner has its pairs recomputed): a random walk of
pushes, edits that move visits and deletes, by two teachers of the same children, must leave
every stored visit with exactly the pairwise flags ``shared.evidence.pair_flags`` gives over all
live visits.
"""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from server.models import Visit
from server.services.visits import facts
from shared.evidence import PAIR_FLAGS, pair_flags
from tests.conftest import World
from tests.factories import Factory, delete, home_visit, upsert

DAY0 = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(days=10)


def _stored_pairs(factory: Factory) -> dict[str, set[str]]:
    with factory.session() as s:
        rows = list(s.exec(select(Visit).where(Visit.deleted == False)))  # noqa: E712
        everyone = [facts(v) for v in rows]
        got = {v.id: set(v.flags) & PAIR_FLAGS for v in rows}
        want = {f.id: pair_flags(f, everyone) for f in everyone}
    assert got == want
    return got


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pair_flags_after_random_pushes_equal_a_fresh_judgement(
    world: World, factory: Factory, seed: int
) -> None:
    rnd = random.Random(seed)
    second_child = factory.student(world.district, world.special_school)
    other = factory.user("teacher", world.district, base_school=world.special_school)
    for child in (world.student, second_child):
        factory.assign(world.teacher, student=child, district=world.district)
        factory.assign(other, student=child, district=world.district)
    devices = {world.teacher: world.t, other: factory.login(other)}
    live: dict[str, tuple[str, dict[str, Any], int]] = {}  # id -> (teacher, record, version)
    flagged_pairs = 0
    for step in range(40):
        ops: dict[str, list[dict[str, Any]]] = {name: [] for name in devices}
        for _ in range(rnd.randint(1, 3)):
            choice = rnd.random()
            start = DAY0 + timedelta(days=rnd.randint(0, 8), minutes=30 * rnd.randint(0, 20))
            mine = [vid for vid, (who, _, _) in live.items()]
            if choice < 0.6 or not mine:
                teacher = rnd.choice(list(devices))
                child = rnd.choice((world.student, second_child))
                record = home_visit(child, start=start, minutes=rnd.choice((45, 70, 120)))
                ops[teacher].append(upsert(record))
            else:
                vid = rnd.choice(mine)
                teacher, record, version = live[vid]
                if any(op["record"]["id"] == vid for op in ops[teacher]):
                    continue  # one op per visit and batch keeps the bookkeeping simple
                if choice < 0.85:
                    moved = {**record, "started_at": start.isoformat()}
                    moved["ended_at"] = (start + timedelta(minutes=70)).isoformat()
                    ops[teacher].append(upsert(moved, base_version=version))
                else:
                    ops[teacher].append(delete(vid, base_version=version))
        for teacher, batch in ops.items():
            if not batch:
                continue
            results = devices[teacher].push(*batch)
            for op, result in zip(batch, results, strict=True):
                assert result["status"] == "applied", result
                if op["type"] == "visit.delete":
                    del live[op["record"]["id"]]
                else:
                    live[op["record"]["id"]] = (teacher, op["record"], result["version"])
        if step % 5 == 4:
            flagged_pairs += sum(1 for pairs in _stored_pairs(factory).values() if pairs)
    assert flagged_pairs > 0  # the walk made overlaps and duplicates to keep up
    _stored_pairs(factory)
