"""Devices' last-use marks: kept in memory, written together, only ever forward (SQLite and
PostgreSQL)."""

import logging
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from server.last_used import LastUsedMarks
from server.models import DeviceToken, utcnow
from server.security import token_hash
from tests.conftest import World
from tests.factories import Factory


def _device(factory: Factory, token: str) -> DeviceToken:
    with factory.session() as s:
        return s.exec(select(DeviceToken).where(DeviceToken.token_hash == token_hash(token))).one()


def test_marks_are_written_together_first_mark_wins_and_never_backwards(
    world: World, factory: Factory
) -> None:
    a = _device(factory, factory.login(world.teacher, device="甲").token or "")
    b = _device(factory, factory.login(world.itinerant, device="乙").token or "")
    assert a.id is not None and b.id is not None
    marks, now = LastUsedMarks(), utcnow()
    marks.mark(a.id, now - timedelta(seconds=30))
    marks.mark(a.id, now)  # later in the same interval: the first one is kept
    marks.mark(b.id, now)
    assert marks.pending() == 2
    assert marks.flush(factory.engine) == 2 and marks.pending() == 0
    assert _last_used(factory, a.id) == now - timedelta(seconds=30)
    assert _last_used(factory, b.id) == now
    marks.mark(b.id, now - timedelta(minutes=5))  # an old mark never moves the time back
    marks.flush(factory.engine)
    assert _last_used(factory, b.id) == now
    assert marks.flush(factory.engine) == 0  # nothing pending: no transaction at all


def _last_used(factory: Factory, device_id: int) -> datetime | None:
    with factory.session() as s:
        row = s.get(DeviceToken, device_id)
        assert row is not None
        return row.last_used_at


def test_a_failed_write_drops_the_marks_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    marks = LastUsedMarks()
    marks.mark(1, utcnow())
    broken = sa.create_engine("sqlite:///file:nowhere?mode=ro&uri=true")  # no such table
    with caplog.at_level(logging.WARNING, logger="songjiao"):
        assert marks.flush(broken) == 1
    assert marks.pending() == 0  # best effort: a "last seen" time is not worth a retry queue
    assert "last-use" in caplog.text
