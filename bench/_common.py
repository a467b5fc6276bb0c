"""Helpers shared by the benchmarks: the machine, a server process, timing, visit rows.

Benchmarks are scripts, not tests: they print figures and always exit 0 unless something is
broken (a failed sanity check exits 1, because a benchmark that silently fails is worthless).
"""

import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `python bench/x.py` finds the project packages

from shared.terms import local_month  # noqa: E402

# The visit table's columns in schema order (server/models.py: Visit).
VISIT_COLUMNS = (
    "id",
    "kind",
    "teacher",
    "student_id",
    "school_id",
    "district_code",
    "started_at",
    "ended_at",
    "local_month",
    "duration_s",
    "record",
    "flags",
    "flag_notes",
    "flagged",
    "distance_m",
    "subsidy_fen",
    "review_status",
    "review_reason",
    "reviewed_by",
    "reviewed_at",
    "counted",
    "deleted",
    "version",
    "received_at",
    "seq",
)
INSERT_VISIT = (
    f"INSERT INTO visit ({', '.join(VISIT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in VISIT_COLUMNS)})"
)


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return (
        f"machine: {os.cpu_count()} CPU ({cpu}), RAM {ram}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def sqlite_stamp(moment: datetime) -> str:
    """A UTC instant as SQLAlchemy stores DateTime on SQLite (naive, microseconds)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def visit_row(
    record: dict[str, Any],
    *,
    teacher: str,
    district_code: str,
    seq: int,
    received_at: datetime,
    flags: list[str],
    subsidy_fen: int = 0,
    review_status: str = "pending",
    deleted: bool = False,
) -> tuple:
    """One visit-table row (VISIT_COLUMNS order) for a pushed-style record.

    ``counted`` follows the server's rule: neither deleted nor rejected in review.
    """
    counted = not deleted and review_status != "rejected"
    start = datetime.fromisoformat(record["started_at"])
    end = datetime.fromisoformat(record["ended_at"])
    return (
        record["id"],
        record["kind"],
        teacher,
        record.get("student_id"),
        record.get("school_id"),
        district_code,
        sqlite_stamp(start),
        sqlite_stamp(end),
        local_month(start),
        int((end - start).total_seconds()),
        json.dumps(record, ensure_ascii=False, separators=(",", ":")),
        json.dumps(flags),
        "{}",
        int(bool(flags)),
        0,
        subsidy_fen,
        review_status,
        "",
        None,
        None,
        int(counted),
        int(deleted),
        1,
        sqlite_stamp(received_at),
        seq,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``songjiao serve`` on 127.0.0.1 as a child process; stopped by its own PID."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        env = {
            **os.environ,
            "SONGJIAO_DATABASE_URL": database_url,
            "SONGJIAO_MEDIA_DIR": str(workdir / "media"),
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1"]
                + ["--port", str(self.port)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout_s} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    def __enter__(self) -> "Server":
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(fastest wall time in seconds, last result) over ``repeat`` calls."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"
