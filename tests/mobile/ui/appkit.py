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
from mobile.core.models import User, VisitState
from mobile.core.store import Store
from mobile.ui.devices import Devices
from mobile.ui.shell import FieldApp
from mobile.ui.state import china_now
from shared.messages import t
from shared.terms import SHANGHAI
from tests.mobile.helpers import TEACHER, seeded
from tests.mobile.ui.harness import FakeClient, run_app

NOWHERE = "http://127.0.0.1:9"  # nothing listens: the server is unreachable
HOME = (29.70, 119.10)  # ST1's registered home in tests.mobile.helpers
# The visit form's controls, by their accessible names.
START = "开始"
END = "结束"
SAVE = "保存记录"


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


async def begin_home_visit(ui: FakeClient, name: str = "张小明") -> str:
    await ui.click(f"开始送教：{name}")
    assert ui.route().startswith("/visit/")
    return ui.route().removeprefix("/visit/")


async def saved_home_visit(store: Store, tmp_path: Path) -> str:
    """A visit recorded through the screens (offline), returning its id."""
    clock = Clock()
    async with field_app(store, clock=clock, photos=[]) as (ui, app):
        visit_id = await begin_home_visit(ui)
        await ui.click(START)
        await ui.type("教学内容", "认识颜色：红、黄、蓝")
        clock.advance(70)
        await ui.click(END)
        await ui.click(SAVE)
        await ui.click(t("ui.visit.save_anyway"))  # no photo
        assert store.visit(visit_id).state == VisitState.PENDING
    await asyncio.sleep(0)
    return visit_id
