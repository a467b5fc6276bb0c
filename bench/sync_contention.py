"""Pulls under concurrent pushes: latency of each, on SQLite or PostgreSQL.

Run: ``.venv/bin/python bench/sync_contention.py [--database postgresql] [--seconds 20]``

The roster of ``bench/sync_push.py`` (one district, 10 teachers with 12 children each). Four
threads push batches of 3 new home-teaching visits as fast as answers come back (teachers
0-3); four threads pull (teachers 4-7), each pull from no cursor, as a phone set up afresh
does, so every pull sends 12 children's records and writes 12 audit rows. Bounded: the given
number of seconds (default 20), at most 10,000 requests per thread. Prints requests/s and
p50/p95/max latency of pushes and pulls. PostgreSQL: a fresh database on 127.0.0.1:5432,
dropped afterwards.
"""

import argparse
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from _common import Server, machine, percentile
from sync_push import PASSWORD, fresh_database, home_record, setup

PUSHERS = PULLERS = 4
BATCH = 3
MAX_REQUESTS = 10_000  # per thread
TIMEOUT_S = 60


def login(url: str, username: str) -> requests.Session:
    http = requests.Session()
    r = http.post(
        f"{url}/api/v1/auth/login",
        json={"username": username, "password": PASSWORD, "device_name": "bench"},
        timeout=TIMEOUT_S,
    )
    r.raise_for_status()
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return http


def run(url: str, caseload: dict[str, list[str]], seconds: float) -> dict[str, list[float]]:
    teachers = list(caseload)
    pushers = [(t, login(url, t)) for t in teachers[:PUSHERS]]
    pullers = [login(url, t) for t in teachers[PUSHERS : PUSHERS + PULLERS]]
    times: dict[str, list[float]] = {"push": [], "pull": []}
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    start_day = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)

    def push_loop(teacher: str, http: requests.Session) -> None:
        students = caseload[teacher]
        for n in range(MAX_REQUESTS):
            if time.monotonic() >= stop_at:
                return
            ops = []
            for k in range(BATCH):
                j = n * BATCH + k
                start = start_day - timedelta(days=1 + j // 4, hours=-(2 * (j % 4)))
                rec = home_record(students[j % len(students)], start, 29.55, 119.0)
                ops.append({"op_id": str(uuid.uuid4()), "type": "visit.upsert", "record": rec})
            t0 = time.perf_counter()
            r = http.post(f"{url}/api/v1/sync/push", json={"ops": ops}, timeout=TIMEOUT_S)
            elapsed = time.perf_counter() - t0
            with lock:
                times["push"].append(elapsed)
                if r.status_code != 200:
                    errors.append(f"push {r.status_code}")

    def pull_loop(http: requests.Session) -> None:
        for _ in range(MAX_REQUESTS):
            if time.monotonic() >= stop_at:
                return
            t0 = time.perf_counter()
            r = http.get(f"{url}/api/v1/sync/pull", params={"limit": 50}, timeout=TIMEOUT_S)
            elapsed = time.perf_counter() - t0
            with lock:
                times["pull"].append(elapsed)
                if r.status_code != 200:
                    errors.append(f"pull {r.status_code}")

    threads = [threading.Thread(target=push_loop, args=p) for p in pushers]
    threads += [threading.Thread(target=pull_loop, args=(h,)) for h in pullers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        print(f"errors: {len(errors)}, first: {errors[:5]}", file=sys.stderr)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="sj-bench-contention-") as tmp:
        workdir = Path(tmp)
        with fresh_database(args.database, workdir) as url:
            caseload = setup(url)
            with Server(url, workdir) as server:
                times = run(server.url, caseload, args.seconds)
            log = server.log.read_text(errors="replace")
    print(f"database: {args.database}; {PUSHERS} pushers (batches of {BATCH}), {PULLERS} pullers")
    for kind, values in times.items():
        if not values:
            continue
        print(
            f"{kind}: {len(values)} in {args.seconds:.0f} s ({len(values) / args.seconds:.1f}/s); "
            f"p50 {percentile(values, 50) * 1000:.1f} ms, p95 {percentile(values, 95) * 1000:.1f}"
            f" ms, max {max(values) * 1000:.1f} ms"
        )
    if "Traceback" in log:
        print(f"server log shows errors:\n{log[-3000:]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
