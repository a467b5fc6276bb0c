"""What one request costs the server: CPU milliseconds per request, by kind, one client.

Run: ``.venv/bin/python bench/request_cost.py`` (SQLite) or ``--database postgresql``;
``--requests 300`` per kind (default).

The demo is loaded into a fresh database and served by ``songjiao serve``; one teacher device
logs in and catches up (untimed). Then, one request at a time (no queueing, so what is measured
is work, not waiting), each kind is sent ``--requests`` times and the server's CPU time (user +
system, from /proc) is read before and after: ``GET /health`` and ``GET /auth/me`` (the floor:
the HTTP stack, and the token check), a pull with nothing new, a push of 3 new visits, and a
pull that brings back 3 visits. The 3 visits of a push fall on past school days of the term,
a few to a day, as a teacher's backlog does. Printed: ms of server CPU per request and the ratio
to ``/health``, measured in the same run; on a shared machine the ratios move less than the ms.
"""

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _common import Server, machine
from devices import Device, enrol, field_accounts, template, visit_record


def spread(record: dict, rng: random.Random, now: datetime) -> dict:
    """Move ``record`` (70 minutes) to a random past weekday morning within 60 days."""
    day = now - timedelta(days=rng.randint(1, 60))
    start = day.replace(hour=1 + rng.randint(0, 6), minute=rng.choice((0, 15, 30, 45)))
    return record | {
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=70)).isoformat(),
    }


async def measure(server: Server, device: Device, requests: int) -> dict[str, float]:
    rng = random.Random(7)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    costs: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=server.url, headers=device.headers()) as client:

        async def pull() -> None:
            params = {"cursor": device.cursor} if device.cursor else {}
            r = await client.get("/api/v1/sync/pull", params=params)
            r.raise_for_status()
            device.cursor = r.json()["cursor"]

        async def push() -> None:
            ops = [
                {
                    "op_id": str(uuid.uuid4()),
                    "type": "visit.upsert",
                    "record": spread(visit_record(device, rng, now), rng, now),
                    "base_version": None,
                }
                for _ in range(3)
            ]
            r = await client.post("/api/v1/sync/push", json={"ops": ops})
            r.raise_for_status()
            assert all(x["status"] == "applied" for x in r.json()["results"]), r.text

        async def health() -> None:
            (await client.get("/api/v1/health")).raise_for_status()

        async def me() -> None:
            (await client.get("/api/v1/auth/me")).raise_for_status()

        async def other_push_then_pull() -> None:
            await push()
            await pull()

        kinds = [
            ("GET /health", health),
            ("GET /auth/me", me),
            ("pull, nothing new", pull),
            ("push 3 visits", push),
            ("push 3 visits + pull them", other_push_then_pull),
        ]
        for name, call in kinds:
            for _ in range(10):  # warm: caches, prepared statements, the pools
                await call()
            before = server.cpu_seconds()
            t0 = time.perf_counter()
            for _ in range(requests):
                await call()
            wall = time.perf_counter() - t0
            costs[name] = (server.cpu_seconds() - before) * 1000 / requests
            wall_ms = wall * 1000 / requests
            print(f"  {name:<28} {costs[name]:6.2f} ms CPU/request   {wall_ms:6.2f} ms wall")
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print(machine())
    kind = "sqlite" if args.database == "sqlite" else "pg"
    with tempfile.TemporaryDirectory() as tmp, template(kind, Path(tmp)) as tmpl:
        username, role = next(a for a in field_accounts(tmpl.url) if a[1] == "teacher")
        device = Device(0, username, role)
        with Server(tmpl.url, Path(tmp)) as server:
            asyncio.run(enrol(server, [device]))
            costs = asyncio.run(measure(server, device, args.requests))
    floor = costs["GET /health"]
    print(f"\n{'request':<28} {'ms CPU':>7} {'× /health':>10}")
    for name, ms in costs.items():
        print(f"{name:<28} {ms:7.2f} {ms / floor:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
