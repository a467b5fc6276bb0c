"""The peer: Kinto's ``/v1/batch`` against our ``/sync/push``, the same 10,000 visit records.

Run: ``.venv/bin/python bench/peer_kinto.py`` (~3-5 min; ``--records 2000`` for a short run)

The records are those of ``bench/sync_push.py`` (home-teaching visits, ~850 bytes each as JSON
on the wire), made once and sent unchanged to both servers, on 127.0.0.1:

- ours: ``songjiao serve`` on a fresh SQLite file and on a fresh PostgreSQL database (the
  roster of sync_push.py written first), ``POST /api/v1/sync/push`` with 500 ops a request
  (our maximum), each push as one teacher, every op ``applied`` or it is an error;
- Kinto (``kinto start``: pyramid on waitress, its default 4 threads) with its memory backend
  and with its PostgreSQL backend (storage, permissions and cache in a fresh database,
  ``kinto migrate``d), basic-auth users (an HMAC of the credentials per request, no bcrypt),
  ``POST /v1/batch`` with ``batch_max_requests`` records a request (the server's own
  setting, read from ``GET /v1/``; default 25), each a ``PUT`` of the record under its own
  id into one collection; a sub-request or batch answered other than 200/201 is counted by
  status, and the whole batch is sent again (at most 10 times), as Kinto's 409 "please
  retry" asks: a 409 aborts the batch's transaction, and the sub-requests answered 201 beside
  it are rolled back with it (seen: retrying only the refused ones left 280 of 1,000 records
  answered 201 missing).

Single client, then 4 concurrent clients taking the requests from one queue (distinct
records; a fresh database or collection each time). Figure: records / seconds from the first
request to the last response. Check: every record stored exactly once (our visit table, Kinto's
collection count), else exit 1. Targets: ours >= 8x Kinto memory and >= 20x Kinto PostgreSQL
single-client (ours on SQLite and on PostgreSQL respectively), and with 4 clients on
PostgreSQL >= 10x with zero conflicts for distinct records.
"""

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests
import sqlalchemy as sa
import sync_push
from _common import Server, free_port, log_errors, machine, verdict

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
KINTO = Path(sys.executable).with_name("kinto")
BUCKET, COLLECTION = "bench", "visits"
AUTH = ("bench", "bench-password")
CLIENTS = (1, 4)
MAX_RETRIES = 10
HTTP_TIMEOUT_S = 120
TARGET_MEMORY, TARGET_PG, TARGET_PG_4 = 8.0, 20.0, 10.0


@dataclass
class Outcome:
    """One run: how long, what was stored, what the server answered on the way."""

    seconds: float = 0.0
    requests: int = 0
    stored: int = 0
    statuses: Counter = field(default_factory=Counter)  # non-success answers, by status
    conflicts: int = 0
    messages: Counter = field(default_factory=Counter)  # the first words of error answers


def run_clients(
    work: list, clients: int, send: Callable[[requests.Session, object], None]
) -> float:
    """Seconds for ``clients`` threads, one keep-alive session each, to ``send`` every item of
    ``work`` (taken from one queue)."""
    todo: queue.Queue = queue.Queue()
    for item in work:
        todo.put(item)
    failures: list[BaseException] = []

    def client() -> None:
        with requests.Session() as http:
            while not failures:
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    send(http, item)
                except BaseException as exc:  # reported below, after the others stop
                    failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if failures:
        raise failures[0]
    return elapsed


# -- PostgreSQL -------------------------------------------------------------------------------


@contextmanager
def pg_database(name: str) -> Iterator[str]:
    """A fresh database on 127.0.0.1:5432 (dropped afterwards); its libpq URL."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- ours -------------------------------------------------------------------------------------


def ours(kind: str, pushes: list[tuple[str, list[dict]]], clients: int, workdir: Path) -> Outcome:
    name = f"sj_bench_peer_ours_{os.getpid()}_{clients}"
    with pg_database(name) if kind == "pg" else _nothing() as pg_url:
        url = (
            f"sqlite:///{workdir / f'ours-{clients}.db'}"
            if kind == "sqlite"
            else str(pg_url).replace("postgresql://", "postgresql+psycopg://")
        )
        sync_push.setup(url)
        with Server(url, workdir) as server:
            tokens = {}
            for teacher in {t for t, _ in pushes}:
                r = requests.post(
                    f"{server.url}/api/v1/auth/login",
                    json={"username": teacher, "password": sync_push.PASSWORD, "device_name": "b"},
                    timeout=HTTP_TIMEOUT_S,
                )
                r.raise_for_status()
                tokens[teacher] = r.json()["token"]
            bodies = [
                (
                    teacher,
                    {
                        "ops": [
                            {"op_id": str(uuid.uuid4()), "type": "visit.upsert", "record": rec}
                            for rec in records
                        ]
                    },
                )
                for teacher, records in pushes
            ]
            out = Outcome()
            lock = threading.Lock()

            def send(http: requests.Session, item: object) -> None:
                teacher, body = item  # type: ignore[misc]
                r = http.post(
                    f"{server.url}/api/v1/sync/push",
                    json=body,
                    headers={"Authorization": f"Bearer {tokens[teacher]}"},
                    timeout=HTTP_TIMEOUT_S,
                )
                with lock:
                    out.requests += 1
                    if r.status_code != 200:
                        out.statuses[str(r.status_code)] += 1
                        out.messages[r.text[:100]] += 1
                        return
                    for res in r.json()["results"]:
                        if res["status"] != "applied":
                            out.statuses[res["status"]] += 1
                            out.conflicts += res["status"] == "conflict"

            out.seconds = run_clients(bodies, clients, send)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            out.stored = conn.execute(sa.text("SELECT count(DISTINCT id) FROM visit")).scalar_one()
        engine.dispose()
    return out


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


# -- Kinto ------------------------------------------------------------------------------------

KINTO_INI = """\
[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = %(http_port)s

[app:main]
use = egg:kinto
kinto.storage_backend = kinto.core.storage.{backend}
kinto.storage_url = {url}
kinto.cache_backend = kinto.core.cache.{backend}
kinto.cache_url = {url}
kinto.permission_backend = kinto.core.permission.{backend}
kinto.permission_url = {url}
kinto.userid_hmac_secret = bench-{pid}
multiauth.policies = basicauth
kinto.bucket_create_principals = system.Authenticated

[loggers]
keys = root, kinto

[handlers]
keys = console

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers = console

[logger_kinto]
level = WARNING
handlers = console
qualname = kinto
propagate = 0

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = plain

[formatter_plain]
format = %%(asctime)s %%(levelname)s %%(name)s %%(message)s
"""


class Kinto:
    """``kinto start`` on 127.0.0.1 as a child process; stopped by its own PID."""

    def __init__(self, backend: str, url: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        ini = workdir / f"kinto-{backend}.ini"
        ini.write_text(KINTO_INI.format(backend=backend, url=url, pid=os.getpid()))
        self.log = workdir / f"kinto-{backend}.log"
        if backend == "postgresql":
            subprocess.run(
                [KINTO, "migrate", "--ini", ini], check=True, capture_output=True, timeout=300
            )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [KINTO, "start", "--ini", ini, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> "Kinto":
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kinto exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("kinto did not answer within 60 s")

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    def batch_max_requests(self) -> int:
        settings = requests.get(f"{self.url}/", timeout=10).json()["settings"]
        return int(settings["batch_max_requests"])


def kinto_run(kinto: Kinto, records: list[dict], clients: int) -> Outcome:
    collection = f"{COLLECTION}{clients}"
    http = requests.Session()
    http.auth = AUTH
    http.put(f"{kinto.url}/buckets/{BUCKET}", json={}, timeout=10).raise_for_status()
    http.put(
        f"{kinto.url}/buckets/{BUCKET}/collections/{collection}", json={}, timeout=10
    ).raise_for_status()
    path = f"/buckets/{BUCKET}/collections/{collection}/records"
    size = kinto.batch_max_requests()
    batches = [
        [
            {"method": "PUT", "path": f"{path}/{rec['id']}", "body": {"data": rec}}
            for rec in records[i : i + size]
        ]
        for i in range(0, len(records), size)
    ]
    out = Outcome()
    lock = threading.Lock()

    def send(client: requests.Session, item: object) -> None:
        todo: list[dict] = item  # type: ignore[assignment]
        for _ in range(1 + MAX_RETRIES):
            r = client.post(
                f"{kinto.url}/batch", json={"requests": todo}, auth=AUTH, timeout=HTTP_TIMEOUT_S
            )
            with lock:
                out.requests += 1
                if r.status_code != 200:  # the whole batch: send it all again
                    out.statuses[f"batch {r.status_code}"] += 1
                    out.conflicts += r.status_code == 409
                    out.messages[r.text[:100]] += 1
                    continue
                refused = [a for a in r.json()["responses"] if a["status"] not in (200, 201)]
                for answer in refused:
                    out.statuses[str(answer["status"])] += 1
                    out.conflicts += answer["status"] == 409
                    out.messages[str(answer.get("body", ""))[:100]] += 1
                # One 409 aborts the batch's transaction: the sub-requests answered 201 beside
                # it are rolled back too (kinto/core/views/batch.py, Kinto issue #624), so
                # the whole batch goes again (PUTs: the same records once).
                if not refused:
                    todo = []
            if not todo:
                return
        raise RuntimeError(f"{len(todo)} Kinto writes still refused after {MAX_RETRIES} retries")

    out.seconds = run_clients(batches, clients, send)
    r = http.head(f"{kinto.url}{path}", timeout=60)
    r.raise_for_status()
    out.stored = int(r.headers.get("Total-Objects") or r.headers.get("Total-Records") or -1)
    http.close()
    return out


# -- report -----------------------------------------------------------------------------------


def line(label: str, n: int, out: Outcome) -> str:
    extra = ", ".join(f"{s}: {c}" for s, c in sorted(out.statuses.items())) or "no errors"
    return (
        f"  {label:<34} {n / out.seconds:>9,.0f} records/s  ({out.seconds:6.2f} s, "
        f"{out.requests} requests; {out.stored:,} stored; {extra})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=sync_push.OPS, help="a multiple of 10")
    args = parser.parse_args()
    if args.records % sync_push.TEACHERS or args.records <= 0:
        parser.error(f"--records: a positive multiple of {sync_push.TEACHERS}")
    sync_push.OPS = args.records  # the record maker reads it
    print(machine())
    caseload = {
        f"teacher{t:02d}": [f"ST{t:02d}{k:03d}" for k in range(sync_push.STUDENTS_PER_TEACHER)]
        for t in range(sync_push.TEACHERS)
    }
    pushes = sync_push.batches(caseload, datetime.now(UTC))
    records = [rec for _, recs in pushes for rec in recs]
    wire = sum(len(json.dumps(r)) for r in records) / len(records)
    n = len(records)
    print(f"{n:,} visit records, {wire:.0f} bytes each on average as JSON; loopback")
    results: dict[tuple[str, int], Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="sj-bench-peer-") as tmp:
        workdir = Path(tmp)
        for clients in CLIENTS:
            for kind in ("sqlite", "pg"):
                out = ours(kind, pushes, clients, workdir)
                results[(f"ours-{kind}", clients)] = out
                label = f"ours {kind}, {clients} client(s), 500/push"
                print(line(label, n, out), flush=True)
        with Kinto("memory", "", workdir) as kinto:
            size = kinto.batch_max_requests()
            for clients in CLIENTS:
                out = kinto_run(kinto, records, clients)
                results[("kinto-memory", clients)] = out
                print(line(f"Kinto memory, {clients} client(s), {size}/batch", n, out), flush=True)
        with pg_database(f"sj_bench_peer_kinto_{os.getpid()}") as url:
            with Kinto("postgresql", url, workdir) as kinto:
                for clients in CLIENTS:
                    out = kinto_run(kinto, records, clients)
                    results[("kinto-pg", clients)] = out
                    print(line(f"Kinto PostgreSQL, {clients} client(s)", n, out), flush=True)
            kinto_log = (workdir / "kinto-postgresql.log").read_text(errors="replace")
        shutil.rmtree(workdir / "media", ignore_errors=True)

    def rate(key: tuple[str, int]) -> float:
        return n / results[key].seconds

    mem = rate(("ours-sqlite", 1)) / rate(("kinto-memory", 1))
    pg1 = rate(("ours-pg", 1)) / rate(("kinto-pg", 1))
    pg4 = rate(("ours-pg", 4)) / rate(("kinto-pg", 4))
    ours_conflicts = sum(o.conflicts for (k, _), o in results.items() if k.startswith("ours"))
    print(f"ratio: ours SQLite / Kinto memory, 1 client:          {mem:5.1f}x")
    print(
        f"ratio: ours SQLite / Kinto memory, 4 clients:         "
        f"{rate(('ours-sqlite', 4)) / rate(('kinto-memory', 4)):5.1f}x"
    )
    print(f"ratio: ours PostgreSQL / Kinto PostgreSQL, 1 client:  {pg1:5.1f}x")
    print(f"ratio: ours PostgreSQL / Kinto PostgreSQL, 4 clients: {pg4:5.1f}x")
    for (key, clients), out in results.items():
        if key.startswith("kinto") and out.messages:
            top = "; ".join(f"{c}x {m!r}" for m, c in out.messages.most_common(2))
            print(f"Kinto {key[6:]}, {clients} client(s) was answered: {top}")
    print(
        f"targets: >= {TARGET_MEMORY:.0f}x Kinto memory {verdict(mem >= TARGET_MEMORY)}; "
        f">= {TARGET_PG:.0f}x Kinto PostgreSQL {verdict(pg1 >= TARGET_PG)}; "
        f"4 clients on PostgreSQL >= {TARGET_PG_4:.0f}x {verdict(pg4 >= TARGET_PG_4)} "
        f"with zero conflicts (ours: {ours_conflicts}) {verdict(ours_conflicts == 0)}"
    )
    for exception, count in log_errors(kinto_log).most_common(3):
        print(f"Kinto's PostgreSQL log, {count}x: {exception}")
    wrong = [
        f"{k} {c}: {o.stored} stored"
        for (k, c), o in results.items()
        if o.stored != n or (k.startswith("ours") and o.statuses)
    ]
    if wrong:
        print(f"FAILED: not every record stored exactly once: {wrong}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
