"""Opening the field app on the in-process client with the core's device fakes."""

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from mobile.core.devices import TOKEN_KEY, FakeLocation, FakePhotoSource, Location, MemorySecrets
from mobile.core.models import User
from mobile.core.store import Store
from mobile.ui.devices import Devices
from mobile.ui.shell import FieldApp
from mobile.ui.state import china_now
from shared.terms import SHANGHAI
from tests.mobile.helpers import TEACHER, seeded
from tests.mobile.ui.harness import FakeClient, run_app

NOWHERE = "http://127.0.0.1:9"  # nothing listens: the server is unreachable
HOME = (29.70, 119.10)  # ST1's registered home in tests.mobile.helpers


def run(coro: Coroutine[Any, Any, Any], timeout: float = 90) -> Any:
    """Run one scenario with a bound on its whole length."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def store_for(path: Path, user: User | None = TEACHER, *, server: str = NOWHERE) -> Store:
    store = seeded(path, user) if user is not None else Store(path)
    store.set_server_url(server)
    return store


@contextlib.asynccontextmanager
async def field_app(
    store: Store,
    *,
    location: Location | None = None,
    photos: Iterable[bytes] = (),
    secrets: MemorySecrets | None = None,
    clock: Callable[[], datetime] = china_now,
    route: str = "/",
    server: str = NOWHERE,
    client_kw: dict | None = None,
) -> AsyncIterator[tuple[FakeClient, FieldApp]]:
    devices = Devices(
        location=location or FakeLocation.at(*HOME, 12.0),
        photos=FakePhotoSource(photos),
        secrets=secrets if secrets is not None else MemorySecrets({TOKEN_KEY: "a-token"}),
    )

    async def make(page):
        app = FieldApp(
            page,
            store=store,
            devices=devices,
            default_server=server,
            clock=clock,
            client_kw=client_kw,
            scheduler_kw={"base_s": 30.0},
        )
        await app.start()
        return app

    client, app = await run_app(make, route=route)
    try:
        yield client, app
    finally:
        await app.runner.stop()
        await client.close()


class Clock:
    """The phone's clock, moved by the test (China time)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(SHANGHAI).replace(second=0, microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


def jpeg(width: int = 800, height: int = 600) -> bytes:
    image = Image.merge("RGB", [Image.effect_noise((width, height), 40) for _ in range(3)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()
