"""The HTTP stack's per-request cost (issue 8, point 2): requests a second for one small
authenticated call, uvicorn with h11 + asyncio against httptools + uvloop.

    .venv/bin/python bench/http_stack.py [--requests 3000] [--concurrency 20]

Each variant: a fresh SQLite database, one user, one token, then a bounded loop of
``GET /api/v1/auth/me`` from an asyncio + httpx client (``--concurrency`` in flight), and the
same for ``GET /api/v1/sync/pull`` (through the admission gate). Only 127.0.0.1.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import requests

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"
SERVE = (
    "import sys, uvicorn; uvicorn.run('server.main:create_served_app', factory=True, "
    "host='127.0.0.1', port=int(sys.argv[1]), http=sys.argv[2], loop=sys.argv[3], "
    "log_level='warning', access_log=False)"
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _loop(url: str, token: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    todo = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for _ in todo:
                start = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - start)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await client.get(url)  # warm
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    if set(statuses) != {200}:
        print(f"  statuses {statuses}")
    return total / elapsed, latencies


def run_variant(http: str, loop: str, total: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SONGJIAO_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "SONGJIAO_MEDIA_DIR": f"{tmp}/media",
            "SONGJIAO_SYNC_QUEUE": "1000",  # measure the stack, not the shedding
        }
        cli = [sys.executable, "-m", "server.cli"]
        subprocess.run(
            [*cli, "user", "add", "bench", "--role", "admin", "--district", "330100"],
            input=PASSWORD,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port), http, loop], env=env, cwd=ROOT
        )
        try:
            base = f"http://127.0.0.1:{port}/api/v1"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            token = requests.post(
                f"{base}/auth/login",
                json={"username": "bench", "password": PASSWORD, "device_name": "bench"},
                timeout=30,
            ).json()["token"]
            out: dict[str, float] = {}
            for name, path in (("me", "/auth/me"), ("pull", "/sync/pull")):
                rate, latencies = asyncio.run(_loop(base + path, token, total, concurrency))
                cuts = statistics.quantiles(latencies, n=20)
                out[f"{name}_rps"] = rate
                out[f"{name}_p50_ms"] = statistics.median(latencies) * 1000
                out[f"{name}_p95_ms"] = cuts[18] * 1000
            return out
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for http, loop in (("h11", "asyncio"), ("httptools", "uvloop")) * args.repeat:
        figures = run_variant(http, loop, min(args.requests, 20_000), args.concurrency)
        shown = "  ".join(f"{k} {v:.0f}" for k, v in figures.items())
        print(f"{http:9s} + {loop:7s}: {shown}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
