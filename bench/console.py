"""Console pages against the compliance API: server time to render the dashboard, a district
page and the visit log, on the demo and on the 1,000,000-visit province.

Run: ``.venv/bin/python bench/console.py`` (``--requests N`` per page on the demo, default 40;
``--province-requests N`` on the province, default 10; ``--skip-province``; ``--database
postgresql`` for PostgreSQL at 127.0.0.1:5432, a scratch database made and dropped per dataset).

Each dataset is served by ``songjiao serve`` (a child process) and asked one request at
a time over a kept-alive local connection, so a request's wall time is the server's time plus
a local round trip (well under a millisecond here). After 3 warm-up requests each page is
asked N times; printed: p50 and p95 (nearest rank) per page and viewer, and the ratio of each
page's p95 to that of the compliance API it shows (``GET /api/v1/compliance?term=`` for the
dashboard and the visit log, ``GET /api/v1/compliance/{code}?term=`` for the district page),
measured in the same run on the same data.

- demo: ``songjiao demo --today 2026-02-01`` (term 2025-1 in full: 13 districts, about 2,000
  visits) into a fresh file; the coordinator of 淳安县 (330127) and the city admin.
- province: the dataset of ``bench/compliance.py`` (90 districts, 60,000 students, 1,000,000
  visits; built there and cached under var/bench/), copied to a scratch file with a city admin
  and one district's coordinator added.

Targets: p95 under 300 ms on the demo, under 1.5 s on the province.
"""

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
import sqlalchemy as sa
from _common import ROOT, Server, fresh_database, machine, percentile, verdict
from compliance import TERM, build, dataset_path, postgres_copy

from server.security import hash_password

PASSWORD = "songjiao2025"  # the demo's (server/demo/roster.py); given to the province's users
DEMO_TODAY = "2026-02-01"
DEMO_DISTRICT = "330127"
PROVINCE_DISTRICT = "339045"  # one of bench/compliance.py's districts, mid-way in size
TARGETS = {"demo": 0.300, "province": 1.5}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Viewer:
    """One person's console session and API token on a server."""

    def __init__(self, server: Server, username: str) -> None:
        self.base = server.url
        self.console = requests.Session()
        page = self.console.get(f"{self.base}/login", timeout=60)
        token = CSRF.search(page.text)
        assert token, page.text[:500]
        signed = self.console.post(
            f"{self.base}/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
            timeout=60,
        )
        assert signed.ok and "/login" not in signed.url, f"console sign-in failed: {signed.url}"
        self.api = requests.Session()
        login = self.api.post(
            f"{self.base}/api/v1/auth/login",
            json={"username": username, "password": PASSWORD, "device_name": "bench"},
            timeout=60,
        )
        login.raise_for_status()
        self.api.headers["Authorization"] = f"Bearer {login.json()['token']}"

    def getter(self, path: str) -> Callable[[], None]:
        http = self.api if path.startswith("/api/") else self.console

        def get() -> None:
            r = http.get(self.base + path, timeout=600, allow_redirects=False)
            if r.status_code != 200:
                raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")

        return get


def timings(get: Callable[[], None], n: int) -> list[float]:
    for _ in range(3):  # warm: caches, compiled statements, the connection
        get()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        get()
        out.append(time.perf_counter() - t0)
    return out


def run(label: str, url: str, workdir: Path, viewers: dict[str, str], code: str, n: int) -> bool:
    """Measure every page for every viewer; print the table; True when all met the target."""
    target = TARGETS[label]
    q = f"term={TERM}"
    api_all, api_one = f"/api/v1/compliance?{q}", f"/api/v1/compliance/{code}?{q}"
    pages = [
        ("dashboard", f"/dashboard?{q}", api_all),
        ("district page", f"/districts/{code}?{q}", api_one),
        ("visit log", f"/visits?{q}", api_all),
        ("visit log, one district", f"/visits?{q}&district={code}", api_one),
    ]
    ok = True
    print(f"\n{label}: p95 target {target * 1000:.0f} ms; {n} requests each")
    print(
        f"  {'viewer':<12} {'page':<24} {'p50 ms':>7} {'p95 ms':>7}  {'API p50':>7} {'API p95':>7}"
        f"  {'ratio p50':>9} {'p95':>6}"
    )
    with Server(url, workdir) as server:
        for who, username in viewers.items():
            viewer = Viewer(server, username)
            api = {path: timings(viewer.getter(path), n) for path in (api_all, api_one)}
            for name, path, api_path in pages:
                times = timings(viewer.getter(path), n)
                p50, p95 = percentile(times, 50), percentile(times, 95)
                a50, a95 = percentile(api[api_path], 50), percentile(api[api_path], 95)
                ok &= p95 < target
                print(
                    f"  {who:<12} {name:<24} {p50 * 1000:7.0f} {p95 * 1000:7.0f}  "
                    f"{a50 * 1000:7.0f} {a95 * 1000:7.0f}  {p50 / a50:8.2f}x {p95 / a95:5.2f}x"
                    f"  {verdict(p95 < target)}"
                )
        print(f"  (API: {api_all} for the dashboard and the visit log, {api_one} otherwise)")
    return ok


def demo(workdir: Path, n: int, database: str) -> bool:
    with fresh_database(database, workdir, "demo") as url:
        return _demo(workdir, n, url)


def _demo(workdir: Path, n: int, url: str) -> bool:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "server.cli", "demo", "--today", DEMO_TODAY],
        env={
            **os.environ,
            "SONGJIAO_DATABASE_URL": url,
            "SONGJIAO_MEDIA_DIR": str(workdir / "media"),
        },
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=900,
    )
    print(f"demo loaded (--today {DEMO_TODAY}) in {time.perf_counter() - t0:.0f} s")
    viewers = {"coordinator": f"c_{DEMO_DISTRICT}", "admin": "admin"}
    return run("demo", url, workdir, viewers, DEMO_DISTRICT, n)


def province(workdir: Path, n: int, database: str) -> bool:
    source = dataset_path()
    if not source.exists():
        t0 = time.perf_counter()
        build(source)
        print(f"built {source.relative_to(ROOT)} in {time.perf_counter() - t0:.0f} s")
    digest = hash_password(PASSWORD)
    users = [
        {"u": "bench-admin", "n": "基准管理员", "r": "admin", "d": None, "h": digest},
        {"u": f"c_{PROVINCE_DISTRICT}", "n": "基准协调员", "r": "coordinator"}
        | {"d": PROVINCE_DISTRICT, "h": digest},
    ]
    # As each backend stores a time: SQLite as SQLAlchemy writes it, PostgreSQL timestamptz.
    stamp = "2025-09-01 00:00:00" + ("+00" if database == "postgresql" else ".000000")
    add_users = sa.text(
        "INSERT INTO app_user (username, name, role, district_code, password_hash, active, "
        f"created_at) VALUES (:u, :n, :r, :d, :h, true, '{stamp}')"
    )
    viewers = {"coordinator": f"c_{PROVINCE_DISTRICT}", "admin": "bench-admin"}
    with contextlib.ExitStack() as stack:
        if database == "postgresql":
            url = stack.enter_context(postgres_copy(source))
        else:
            copy = workdir / "province.db"
            shutil.copyfile(source, copy)
            url = f"sqlite:///{copy}"
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(add_users, users)
        engine.dispose()
        print(f"province: {source.relative_to(ROOT)} on {database}, with 2 users")
        return run("province", url, workdir, viewers, PROVINCE_DISTRICT, n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--province-requests", type=int, default=10)
    parser.add_argument("--skip-province", action="store_true")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(machine())
    print(f"database: {args.database}")
    met = True
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as tmp:
        met &= demo(Path(tmp), args.requests, args.database)
        if not args.skip_province:
            met &= province(Path(tmp), args.province_requests, args.database)
    print(f"\nall targets: {verdict(met)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
