"""Helpers shared by the benchmarks: the machine, a server process, timing, visit rows,
synthetic photographs, and counting the bytes an HTTP session sends.

Benchmarks are scripts, not tests: they print figures and always exit 0 unless something is
broken (a failed sanity check exits 1, because a benchmark that silently fails is worthless).
"""

import contextlib
import io
import json
import math
import os
import platform
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from PIL import ExifTags, Image, ImageChops, ImageDraw
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `python bench/x.py` finds the project packages

from shared.judge import counts_for_service, in_counts  # noqa: E402
from shared.policy import DEFAULT_POLICY  # noqa: E402
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
    "service_session",
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

    ``counted`` and ``service_session`` are the judge's (``shared.judge``), under the default
    policy.
    """
    counted = in_counts(deleted=deleted, review_status=review_status)
    start = datetime.fromisoformat(record["started_at"])
    end = datetime.fromisoformat(record["ended_at"])
    session = counts_for_service(record["kind"], start, end, DEFAULT_POLICY)
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
        int(session),
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

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        """``workers`` > 1 runs ``uvicorn --workers`` on the app factory (``songjiao serve``
        has no such flag; the database must then be migrated already). ``env`` adds to the
        server's environment."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        environment = {
            **os.environ,
            "SONGJIAO_DATABASE_URL": database_url,
            "SONGJIAO_MEDIA_DIR": str(workdir / "media"),
            **(env or {}),
        }
        if workers == 1:
            command = [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1"]
            command += ["--port", str(self.port)]
        else:
            command = [sys.executable, "-m", "uvicorn", "server.main:create_app", "--factory"]
            command += ["--workers", str(workers), "--host", "127.0.0.1"]
            command += ["--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=environment,
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
                if requests.get(f"{self.url}/api/v1/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or slow on a busy machine
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

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and its children (uvicorn workers)
        so far, from /proc; 0 where /proc cannot be read."""
        tick = os.sysconf("SC_CLK_TCK")

        def tree(pid: int) -> float:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total = (int(fields[11]) + int(fields[12])) / tick
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except (OSError, IndexError, ValueError):
                return 0.0
            return total + sum(tree(int(kid)) for kid in kids)

        return tree(self.process.pid)

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


def log_errors(log: str) -> Counter:
    """The last line of each traceback in a server's log (the exception), counted."""
    found: Counter = Counter()
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                j += 1
            k = j + 1
            while k < len(lines) and not lines[k].strip():
                k += 1
            chained = k < len(lines) and lines[k].startswith(("The above", "During handling"))
            if j < len(lines) and not chained:  # a chain counts once, by its last exception
                found[lines[j][:160]] += 1
    return found


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100): a value that was actually measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# -- photographs ------------------------------------------------------------------------------


def photo_texture(size: tuple[int, int]) -> Image.Image:
    """Grey detail like foliage, walls and cloth, plus a little sensor grain (the costly part of
    a synthetic photo: make it once and crop it for many pictures)."""
    w, h = size
    detail = Image.effect_noise((w // 4, h // 4), 12).resize(size, Image.Resampling.BICUBIC)
    return ImageChops.add(detail, Image.effect_noise(size, 3), scale=1, offset=-128)


def photo_like(size: tuple[int, int], seed: int, texture: Image.Image) -> Image.Image:
    """An RGB picture that compresses like a phone photo, not like a flat colour: smooth colour
    fields and gradients (from a 32x24 grid, upscaled), a window of ``texture`` (at least
    ``size``), and 40 outlined shapes for hard edges. Different ``seed``, different picture."""
    rng = random.Random(seed)
    w, h = size
    base = [rng.randint(60, 190) for _ in range(3)]
    grid = Image.new("RGB", (32, 24))
    grid.putdata(
        [
            tuple(
                max(0, min(255, base[c] + (y - 12) * 4 * (c - 1) + rng.randint(-40, 40)))
                for c in range(3)
            )
            for y in range(24)
            for _ in range(32)
        ]
    )
    x0, y0 = rng.randrange(texture.width - w + 1), rng.randrange(texture.height - h + 1)
    grain = texture.crop((x0, y0, x0 + w, y0 + h))
    scene = grid.resize(size, Image.Resampling.BICUBIC)
    picture = ImageChops.add(scene, Image.merge("RGB", (grain,) * 3), scale=1, offset=-128)
    draw = ImageDraw.Draw(picture)
    for _ in range(40):
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randint(w // 60, w // 8)
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=rng.randint(2, 12))
    return picture


def camera_jpegs(size: tuple[int, int], count: int, quality: int = 92) -> list[bytes]:
    """``count`` different camera JPEGs of ``size`` with a phone's EXIF (GPS included)."""
    texture = photo_texture((max(size[0], 4000), max(size[1], 3000)))
    out = []
    for seed in range(count):
        buffer = io.BytesIO()
        photo_like(size, seed, texture).save(buffer, "JPEG", quality=quality, exif=camera_exif())
        out.append(buffer.getvalue())
    return out


def camera_exif(lat: float = 29.61, lon: float = 119.04) -> Image.Exif:
    """EXIF as a phone writes it: maker, model, time, and the GPS position of the child's home."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Field 12"
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.Base.DateTime] = "2026:11:20 10:15:00"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (float(int(lat)), float(int(lat % 1 * 60)), 0.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (float(int(lon)), float(int(lon % 1 * 60)), 0.0),
    }
    return exif


# -- HTTP byte counting -----------------------------------------------------------------------


@dataclass
class WireCount:
    """What a ``counting_session`` sent: bytes written to its sockets (request lines, headers
    and bodies as they left), and each request's method, path and body length."""

    wire_bytes: int = 0
    requests: list[tuple[str, str, int]] = field(default_factory=list)

    def bodies(self, method: str, path_prefix: str) -> list[tuple[str, int]]:
        return [(p, n) for m, p, n in self.requests if m == method and p.startswith(path_prefix)]

    def take(self) -> "WireCount":
        """What was counted so far; counting starts again from zero."""
        taken = WireCount(self.wire_bytes, self.requests)
        self.wire_bytes, self.requests = 0, []
        return taken


def counting_session(count: WireCount) -> requests.Session:
    """A ``requests.Session`` for plain HTTP whose connections add every ``send`` to ``count``."""

    class CountingConnection(HTTPConnection):
        def send(self, data: Any) -> None:  # headers and every body chunk pass through here
            count.wire_bytes += len(data)
            super().send(data)

    class CountingPool(HTTPConnectionPool):
        ConnectionCls = CountingConnection

    class CountingAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": CountingPool}

        def send(
            self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
        ) -> requests.Response:
            body = request.body.encode() if isinstance(request.body, str) else request.body
            size = len(body) if isinstance(body, bytes) else 0  # no streamed bodies here
            count.requests.append((request.method or "", urlsplit(request.url or "").path, size))
            return super().send(request, *args, **kwargs)

    session = requests.Session()
    session.mount("http://", CountingAdapter())
    return session


# The local PostgreSQL, through its maintenance database (scratch databases are made there).
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def fresh_database(backend: str, workdir: Path, name: str = "server") -> Iterator[str]:
    """The URL of a new empty database (a file in ``workdir``, or one on the local PostgreSQL
    that is dropped on leaving)."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / name}.db"
        return
    db = f"sj_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + "/" + db
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
