"""Back-pressure (issue 8): sync work beyond the gate answers 503 server_busy with Retry-After,
never a 500; the rest of the server keeps working; ``serve --workers N`` needs shared state."""

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest
import requests
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from server import errors
from server.admission import SyncGate, retry_after_seconds
from server.models import Visit
from shared.messages import t
from tests.conftest import World
from tests.factories import PASSWORD, Factory, home_visit, upsert
from tests.live import (
    PG_ENV,
    ROOT,
    SHEDDING,
    LiveServer,
    SlotHolder,
    free_port,
    stop_process,
)


def assert_busy(response: requests.Response) -> None:
    """The one shape of a shed request: 503, Retry-After in whole seconds, the error body."""
    assert response.status_code == 503, response.text
    seconds = response.headers["Retry-After"]
    assert seconds.isdigit() and int(seconds) >= 1
    assert response.json() == {
        "error": {"code": "server_busy", "message": t("server_busy", seconds=int(seconds))}
    }


@pytest.fixture(scope="module")
def busy(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second server process on the shared database that runs one sync request at a time,
    queues two for a moment and sheds the rest."""
    live = LiveServer(
        backend=server.backend,
        database_url=server.database_url,
        media_dir=server.media_dir,
        port=free_port(),
        log_path=tmp_path_factory.mktemp("busy-server") / "server.log",
        extra_env={**SHEDDING, "SONGJIAO_SYNC_QUEUE": "2", "SONGJIAO_SYNC_QUEUE_SECONDS": "0.05"},
    )
    live.start()
    yield live
    live.stop()


def test_a_burst_of_sync_gets_only_answers_or_busy_never_a_500(
    world: World, factory: Factory, busy: LiveServer
) -> None:
    token = world.t.token or ""
    auth = {"Authorization": f"Bearer {token}"}
    pushed: list[list[str]] = []
    lock = threading.Lock()

    def call(n: int) -> tuple[str, requests.Response]:
        if n % 10 == 9:  # not sync work: never queued, never shed
            return "me", requests.get(f"{busy.api}/auth/me", headers=auth, timeout=60)
        if n % 2:
            return "pull", requests.get(f"{busy.api}/sync/pull", headers=auth, timeout=60)
        ops = [upsert(home_visit(world.student)) for _ in range(3)]
        response = requests.post(
            f"{busy.api}/sync/push", json={"ops": ops}, headers=auth, timeout=60
        )
        if response.status_code == 200:
            with lock:
                pushed.append([op["record"]["id"] for op in ops])
        return "push", response

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(call, range(60)))
    assert len(answers) == 60
    for kind, response in answers:
        if kind == "me" or response.status_code < 300:
            assert response.status_code == 200, response.text
        else:
            assert_busy(response)
    assert any(kind != "me" and r.status_code == 200 for kind, r in answers)  # not all shed
    ids = [visit_id for batch in pushed for visit_id in batch]
    with factory.session() as s:
        stored = s.exec(select(func.count()).where(col(Visit.id).in_(ids))).one()
    assert stored == len(ids)  # every push that answered 200 was written, once


def test_while_sync_is_saturated_it_is_shed_and_the_rest_still_works(
    world: World, busy: LiveServer
) -> None:
    token = world.t.token or ""
    auth = {"Authorization": f"Bearer {token}"}
    with SlotHolder(busy, token):
        push = requests.post(
            f"{busy.api}/sync/push",
            json={"ops": [upsert(home_visit(world.student))]},
            headers=auth,
            timeout=60,
        )
        assert_busy(push)
        assert_busy(requests.get(f"{busy.api}/sync/pull", headers=auth, timeout=60))
        assert_busy(requests.get(f"{busy.api}/photos/{'cd' * 32}", headers=auth, timeout=60))
        # A photo refused with its body still on the way: the answer arrives all the same.
        photo = requests.put(
            f"{busy.api}/photos/{'ef' * 32}",
            data=b"\xff\xd8" + b"0" * 200_000,
            headers={**auth, "Content-Type": "image/jpeg"},
            timeout=60,
        )
        assert_busy(photo)
        # Sign-in, the teacher's own account and the console are not sync work.
        assert requests.get(f"{busy.api}/auth/me", headers=auth, timeout=60).status_code == 200
        login = requests.post(
            f"{busy.api}/auth/login",
            json={"username": world.teacher, "password": PASSWORD, "device_name": "忙时登录"},
            timeout=60,
        )
        assert login.status_code == 200
        assert requests.get(f"{busy.url}/login", timeout=60).status_code == 200
    assert requests.get(f"{busy.api}/sync/pull", headers=auth, timeout=60).status_code == 200


def test_openapi_documents_503_with_retry_after_on_sync_routes(server: LiveServer) -> None:
    paths = requests.get(f"{server.url}/openapi.json", timeout=60).json()["paths"]
    for path, method in [
        ("/api/v1/sync/push", "post"),
        ("/api/v1/sync/pull", "get"),
        ("/api/v1/photos/{sha256}", "put"),
        ("/api/v1/photos/{sha256}", "get"),
    ]:
        answer = paths[path][method]["responses"]["503"]
        assert answer["headers"]["Retry-After"]["required"] is True
        schema = answer["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}


# -- the gate itself, in one process: exact, no timing ------------------------------------------


class _Held:
    """An ASGI app that answers 200 once ``release`` is set; ``entered`` counts who got in."""

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.entered = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.entered += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _request(app: Any, path: str, method: str = "GET") -> tuple[int, dict[bytes, bytes]]:
    scope = {"type": "http", "path": path, "method": method, "headers": []}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"])


def test_gate_runs_concurrency_queues_a_few_and_sheds_the_rest() -> None:
    async def scenario() -> None:
        inner = _Held()
        gate = SyncGate(inner, concurrency=1, queue=1, queue_seconds=30, retry_after=2)
        results: dict[str, tuple[int, dict[bytes, bytes]]] = {}

        async def run(name: str, path: str) -> None:
            results[name] = await _request(gate, path)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run, "first", "/api/v1/sync/push")
            await anyio.wait_all_tasks_blocked()
            tasks.start_soon(run, "queued", "/api/v1/sync/pull")
            await anyio.wait_all_tasks_blocked()
            assert gate.waiting == 1 and inner.entered == 1
            status, headers = await _request(gate, "/api/v1/photos/" + "a" * 64)
            assert status == 503
            assert headers[b"retry-after"] == str(retry_after_seconds(2, 1, 1)).encode() == b"4"
            # Not sync work: straight through however full the gate is.
            tasks.start_soon(run, "other", "/api/v1/auth/me")
            await anyio.wait_all_tasks_blocked()
            assert inner.entered == 2
            inner.release.set()
        assert {name: r[0] for name, r in results.items()} == {
            "first": 200,
            "queued": 200,
            "other": 200,
        }
        assert gate.waiting == 0

    anyio.run(scenario)


def test_gate_sheds_a_request_that_waited_its_time_out() -> None:
    async def scenario() -> None:
        inner = _Held()
        gate = SyncGate(inner, concurrency=1, queue=5, queue_seconds=0.01, retry_after=1)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_request, gate, "/api/v1/sync/push")
            await anyio.wait_all_tasks_blocked()
            status, headers = await _request(gate, "/api/v1/sync/pull")
            assert status == 503 and headers[b"retry-after"] == b"1"
            inner.release.set()
        assert gate.waiting == 0
        inner.release = anyio.Event()
        inner.release.set()
        assert (await _request(gate, "/api/v1/sync/pull"))[0] == 200  # the slot came back

    anyio.run(scenario)


def test_retry_after_grows_with_the_queue_and_stays_small() -> None:
    assert retry_after_seconds(2, 0, 4) == 2
    assert retry_after_seconds(2, 8, 4) == 6
    assert retry_after_seconds(2, 10_000, 1) == 60


def test_no_connection_within_the_pool_timeout_is_busy_not_500() -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/pool")
    def pool() -> None:
        raise sa.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached")

    @app.get("/locked")
    def locked() -> None:
        raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))

    client = TestClient(app, raise_server_exceptions=False)
    for path in ("/pool", "/locked"):
        assert_busy(client.get(path))  # type: ignore[arg-type]


# -- more than one server process ----------------------------------------------------------------


def _serve(
    env: dict[str, str], *args: str, **kw: Any
) -> subprocess.Popen | subprocess.CompletedProcess:
    command = [sys.executable, "-m", "server.cli", "serve", *args]
    if kw.pop("background", False):
        return subprocess.Popen(command, env=env, cwd=ROOT, **kw)
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_several_workers_refuse_per_process_limits_and_sqlite(
    server: LiveServer, tmp_path: Path
) -> None:
    memory = {**server.env(), "SONGJIAO_RATE_LIMIT_STORAGE": "memory://"}
    done = _serve(memory, "--workers", "2", "--port", str(free_port()))
    assert isinstance(done, subprocess.CompletedProcess)
    assert done.returncode == 2
    assert t("cli.workers_need_shared_limits", workers=2) in done.stderr
    sqlite = {
        **server.env(),
        "SONGJIAO_DATABASE_URL": f"sqlite:///{tmp_path / 'one.db'}",
        "SONGJIAO_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/0",
    }
    done = _serve(sqlite, "--workers", "2", "--port", str(free_port()))
    assert isinstance(done, subprocess.CompletedProcess)
    assert done.returncode == 2
    assert t("cli.workers_need_postgresql", workers=2) in done.stderr
    assert not (tmp_path / "one.db").exists()  # refused before touching the database


def test_two_workers_on_postgresql_serve_the_same_database(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    if server.backend != "postgresql":
        pytest.skip("several processes need PostgreSQL (SQLite is refused, above)")
    assert PG_ENV
    port = free_port()
    env = {
        **server.env(),
        "SONGJIAO_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/0",
        "SONGJIAO_RATE_LIMIT_KEY_PREFIX": f"songjiao-test-{port}",
    }
    log = (tmp_path / "workers.log").open("ab")
    process = _serve(
        env,
        "--workers",
        "2",
        "--port",
        str(port),
        background=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    assert isinstance(process, subprocess.Popen)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "workers.log").read_text()
            try:
                if requests.get(f"{api}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "two workers did not answer within 60 s"
            time.sleep(0.2)
        login = requests.post(
            f"{api}/auth/login",
            json={"username": world.teacher, "password": PASSWORD, "device_name": "多进程"},
            timeout=60,
        )
        assert login.status_code == 200
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        visit = home_visit(world.student)
        pushed = requests.post(
            f"{api}/sync/push", json={"ops": [upsert(visit)]}, headers=auth, timeout=60
        )
        assert pushed.status_code == 200 and pushed.json()["results"][0]["status"] == "applied"
        # The single-process server sees what a worker wrote: one database.
        assert any(c["id"] == visit["id"] for c in world.t.get("/sync/pull").json()["changes"])
    finally:
        stop_process(process)
