"""A real server process on a real database, for tests that speak HTTP."""

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_ENV = "SONGJIAO_TEST_POSTGRES_URL"
# `songjiao demo` loads the term in progress on the day it runs (server/demo/calendar.py). The
# tests of the demo were written for the whole of term 2025-1, which is what this day (in the
# winter vacation after it) gives; tests of other days pass `songjiao demo --today`.
DEMO_TODAY = "2026-02-01"


def stop_process(process: subprocess.Popen | None) -> None:
    """Terminate a process this test run started, killing it after 10 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(backend: str, workdir: Path) -> str:
    """A new empty database for one test session; returns its SQLAlchemy URL."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'songjiao.db'}"
    admin_url = os.environ[PG_ENV]
    name = f"sj_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    admin_url, name = os.environ[PG_ENV], url.rsplit("/", 1)[1]
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@dataclass
class LiveServer:
    backend: str
    database_url: str
    media_dir: Path
    port: int
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SONGJIAO_DATABASE_URL": self.database_url,
            "SONGJIAO_MEDIA_DIR": str(self.media_dir),
            # The whole suite signs in from 127.0.0.1 and sends wrong passwords on purpose (the
            # fuzz test most of all): the shared servers must never lock anyone out. Tests of
            # throttling start their own server with tight limits in ``extra_env``.
            "SONGJIAO_LOGIN_FAILURES_PER_ACCOUNT": "1000000/15 minutes",
            "SONGJIAO_LOGIN_FAILURES_PER_ADDRESS": "1000000/15 minutes",
            # Devices' last-use marks are written in batches (server.last_used); tests that read
            # them wait for the write, which on the test servers comes soon.
            "SONGJIAO_LAST_USED_FLUSH_SECONDS": "0.5",
            "SONGJIAO_DEMO_TODAY": DEMO_TODAY,
            **self.extra_env,
        }

    def cli(self, *args: str, stdin: str = "", check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "songjiao", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=ROOT,
            check=check,
            timeout=300,
        )

    def start(self) -> "LiveServer":
        assert self.log_path is not None
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "songjiao", "serve", "--port", str(self.port)],
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # Generous: on a 2-core machine shared with benchmarks a start (migrations included)
        # has been seen to take over a minute; a slow answer is waited for, not a failure.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.api}/health", timeout=5).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.1)
        self.stop()  # never leave behind a server that no fixture will stop
        raise RuntimeError(
            f"server did not answer within 180 s: {self.log_path.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


class Client:
    """requests with the server's base URL and a bearer token."""

    def __init__(self, server: LiveServer, token: str | None = None) -> None:
        self.server, self.token = server, token
        self.http = requests.Session()

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        kw.setdefault("timeout", 60)
        return self.http.request(method, self.server.api + path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def push(self, *ops: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.post("/sync/push", json={"ops": list(ops)})
        assert response.status_code == 200, response.text
        return response.json()["results"]


# What a LiveServer sheds load with: one sync request at a time and no queue, so that a second
# one at the same moment answers 503 server_busy (server.admission).
SHEDDING = {
    "SONGJIAO_SYNC_CONCURRENCY": "1",
    "SONGJIAO_SYNC_QUEUE": "0",
    "SONGJIAO_SYNC_RETRY_AFTER": "1",
}


class SlotHolder:
    """Holds one of a server's sync slots for as long as the ``with`` block lasts: a photo
    upload that sends its first bytes and then waits (bounded: 60 s) before sending the rest.
    With ``SHEDDING`` every other sync request meanwhile answers 503; the upload itself ends
    in a 4xx (its bytes are no photo), which is not the point. Nothing else may use the
    server's sync slot while it starts (its own probe could take the slot first)."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.server, self.token = server, token
        self.release = threading.Event()
        self.sending = threading.Event()
        self.thread: threading.Thread | None = None

    def _body(self) -> Any:
        self.sending.set()  # the headers are out: the server decides on admission now
        yield b"\xff\xd8" + b"0" * 64
        self.release.wait(timeout=60)
        yield b"1" * 64

    def _upload(self) -> None:
        requests.put(
            f"{self.server.api}/photos/{'ab' * 32}",
            data=self._body(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "image/jpeg"},
            timeout=90,
        )

    def _start(self) -> bool:
        self.release, self.sending = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._upload, daemon=True)
        self.thread.start()
        assert self.sending.wait(timeout=30), "the upload never started"
        headers = {"Authorization": f"Bearer {self.token}"}
        for _ in range(10):
            time.sleep(0.3)
            probe = requests.get(f"{self.server.api}/sync/pull", headers=headers, timeout=30)
            if probe.status_code == 503:
                return True
        self._stop()
        return False

    def _stop(self) -> None:
        self.release.set()
        if self.thread is not None:
            self.thread.join(timeout=90)

    def __enter__(self) -> "SlotHolder":
        for _ in range(3):  # bounded: a start may lose the slot to its own probe
            if self._start():
                return self
        raise AssertionError("the upload never held the sync slot")

    def __exit__(self, *_: object) -> None:
        self._stop()
