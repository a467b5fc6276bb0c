"""Phones against a server that sheds load (issue 8): they honour Retry-After, back off with
jitter, and every visit still arrives exactly once (SQLite and PostgreSQL)."""

import random
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlmodel import col, func, select

from mobile.core.store import Store
from mobile.core.sync import SyncClient, SyncReport, SyncScheduler, busy_delay, parse_retry_after
from server.models import Visit
from shared.messages import t
from tests.conftest import World
from tests.factories import PASSWORD, Factory
from tests.live import SHEDDING, LiveServer, SlotHolder, free_port
from tests.mobile.test_sync import record_visit

PHONES = 4
VISITS_PER_PHONE = 8


class LoggedSession(requests.Session):
    """A phone's network that logs every answer: (sent at, answered at, status, headers)."""

    def __init__(self, log: list[tuple[float, float, str, int, Mapping[str, str]]]) -> None:
        super().__init__()
        self.log, self._lock = log, threading.Lock()

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
        sent = time.monotonic()
        response = super().send(request, **kw)
        path = urlsplit(request.url).path
        with self._lock:
            self.log.append(
                (sent, time.monotonic(), path, response.status_code, response.headers.copy())
            )
        return response


@pytest.fixture(scope="module")
def shedding(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server process on the shared database that runs one sync request at a time, no queue."""
    live = LiveServer(
        backend=server.backend,
        database_url=server.database_url,
        media_dir=server.media_dir,
        port=free_port(),
        log_path=tmp_path_factory.mktemp("shedding-server") / "server.log",
        extra_env=SHEDDING,
    )
    live.start()
    yield live
    live.stop()


def test_phones_back_off_from_a_busy_server_and_every_visit_arrives_once(
    world: World, factory: Factory, shedding: LiveServer, tmp_path: Path
) -> None:
    logs: list[list[tuple[float, float, str, int, Mapping[str, str]]]] = []
    phones: list[SyncClient] = []
    visit_ids: list[str] = []
    for n in range(PHONES):
        log: list[tuple[float, float, str, int, Mapping[str, str]]] = []
        client = SyncClient(
            Store(tmp_path / f"phone{n}.db"),
            shedding.url,
            http=LoggedSession(log),
            device_name=f"忙时手机{n}",
        )
        client.login(world.teacher, PASSWORD)
        client.pull()
        visit_ids += [
            record_visit(client, "home_teaching", world.student, with_photo=n == 0 and i == 0)
            for i in range(VISITS_PER_PHONE)
        ]
        logs.append(log)
        phones.append(client)
    start = threading.Barrier(PHONES + 1)
    outcomes: list[list[SyncReport]] = [[] for _ in phones]

    def run(n: int) -> None:
        client = phones[n]
        scheduler = SyncScheduler(client.sync, base_s=1.0, max_s=8.0, rng=random.Random(n))
        start.wait(timeout=60)
        for _ in range(40):  # bounded: rounds, each waiting what the scheduler says
            report = client.sync()
            outcomes[n].append(report)
            if report.ok and not client.store.outbox.ops():
                return
            delay = scheduler.delay_after(report)
            assert delay is not None
            time.sleep(delay)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(PHONES)]
    for thread in threads:
        thread.start()
    # Everyone starts while the one slot is taken: each phone's first round is shed.
    with SlotHolder(shedding, world.t.token or ""):
        start.wait(timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            any(r.retry_after_s for r in reports) for reports in outcomes
        ):
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)

    for n, reports in enumerate(outcomes):
        assert reports[-1].ok and not phones[n].store.outbox.ops(), reports[-1].error
        busy = [r for r in reports if not r.ok]
        assert busy, "each phone met the busy server"
        for report in busy:  # the only trouble was the server asking to come back later
            assert report.retry_after_s is not None and report.retry_after_s >= 1
            assert report.error == t("mobile.server_busy", seconds=round(report.retry_after_s))
        for (_, answered, _, status, headers), (sent_next, *_) in zip(
            logs[n], logs[n][1:], strict=False
        ):
            assert 200 <= status < 300 or status == 503, status
            if status == 503:
                assert headers["Retry-After"].isdigit()
                # The phone waited at least as long as the server asked before calling again.
                assert sent_next - answered >= int(headers["Retry-After"])
    assert all(200 <= e[3] < 300 or e[3] == 503 for log in logs for e in log)
    with factory.session() as s:
        rows = s.exec(select(Visit.id, Visit.version).where(col(Visit.id).in_(visit_ids))).all()
        assert s.exec(select(func.count()).where(col(Visit.id).in_(visit_ids))).one() == len(
            visit_ids
        )
    assert sorted(r[0] for r in rows) == sorted(visit_ids)  # each visit once
    assert {r[1] for r in rows} == {1}  # written once: never applied twice


def test_busy_answers_become_a_wait_of_at_least_retry_after_plus_jitter() -> None:
    scheduler = SyncScheduler(lambda: SyncReport(), rng=random.Random(3))
    busy = SyncReport(error="忙", retry_after_s=7.0)
    first = scheduler.delay_after(busy)
    assert first is not None and 7.0 <= first <= 14.0
    assert scheduler.not_before > time.monotonic()
    later = [scheduler.delay_after(busy) for _ in range(6)]
    assert all(d is not None and d >= 7.0 for d in later)
    assert len(set(later)) == len(later)  # jittered, so phones turned away together spread out
    rng = random.Random(5)
    assert {round(busy_delay(0, rng), 3) for _ in range(5)} != {0.0}


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Tue, 01 Dec 2026 08:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 01 Dec 2026 07:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("99999") == 600.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
