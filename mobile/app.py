"""The field app's entry points.

- ``main(page)``: what ``flet build`` (and ``ft.run``) runs; the store lives in
  ``$FLET_APP_STORAGE_DATA`` on a phone (``SONGJIAO_APP_DATA`` overrides).
- ``serve(server=, port=)``: ``songjiao app`` — the app as a web app on 127.0.0.1 with no CDN
  (the Flutter client and the CJK font come from this process, so it works offline).
- ``python -m mobile.app --server URL --port P``: the same, for tests that must kill it by PID.

A phone is one device with one store. In the web app each browser is a device of its own, with
its own store (``mobile.core.device_stores``), keyed by an id kept in that browser's storage; the
tabs of one browser share that device's store.
"""

import argparse
import asyncio
import logging
import os
import secrets
import sys
import threading
from pathlib import Path

import flet as ft

from mobile import webclient
from mobile.core.device_stores import (
    DEVICE_ID_KEY,
    DeviceStores,
    legacy_store_note,
    new_device_id,
    valid_device_id,
)
from mobile.core.store import Store, data_dir
from mobile.ui import fonts
from mobile.ui import widgets as w
from mobile.ui.devices import flet_devices
from mobile.ui.shell import FieldApp
from shared.messages import t

ASSETS = fonts.ASSETS
DEFAULT_SERVER = "http://127.0.0.1:8000"
SERVER_ENV = "SONGJIAO_APP_SERVER"  # the sign-in form's default server address

_stores: DeviceStores | None = None
_stores_lock = threading.Lock()
log = logging.getLogger(__name__)


def device_stores() -> DeviceStores:
    """This process's stores (one per device), under the data directory."""
    global _stores
    with _stores_lock:
        if _stores is None:
            _stores = DeviceStores(data_dir())
        return _stores


DEVICE_ID_TRIES = 3
DEVICE_ID_TIMEOUT_S = 15.0


async def browser_device_id(prefs: ft.SharedPreferences) -> str:
    """This browser's device id, made and kept in its storage on the first visit.

    Only an answer "no id here" makes a new one: a read that failed or timed out (a busy or
    reconnecting page) is tried again and never overwrites the id, which would orphan the
    browser's store with its unsynced records. Storage that never answers: this page load is
    a device of its own, and nothing is written.
    """
    for _ in range(DEVICE_ID_TRIES):
        try:
            value = await asyncio.wait_for(prefs.get(DEVICE_ID_KEY), DEVICE_ID_TIMEOUT_S)
        except Exception:
            log.warning("browser storage did not answer", exc_info=True)
            continue
        if valid_device_id(value):
            assert isinstance(value, str)
            return value
        device_id = new_device_id()  # none yet (or not one of ours): this browser's first visit
        try:
            await asyncio.wait_for(prefs.set(DEVICE_ID_KEY, device_id), DEVICE_ID_TIMEOUT_S)
        except Exception:
            log.warning("browser storage unavailable; device id kept for this page only")
        return device_id
    return new_device_id()


async def device_store(page: ft.Page) -> tuple[Store, dict, tuple]:
    """The store of the device ``page`` runs on, the sign-in's client settings, and what must
    stay referenced (Flet drops services nobody holds)."""
    stores = device_stores()
    if not page.web:
        return await asyncio.to_thread(stores.phone), {}, ()
    prefs = ft.SharedPreferences()
    device_id = await browser_device_id(prefs)
    store = await asyncio.to_thread(stores.browser, device_id)
    # The console's device list tells the browsers apart.
    client_kw = {"device_name": t("mobile.device_name.web", device=device_id[:6])}
    return store, client_kw, (prefs,)


def upload_dir() -> Path:
    """Where the browser puts a picked photo for a moment (inside the app's data)."""
    path = data_dir() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def main(page: ft.Page) -> None:
    app: FieldApp | None = None

    def online() -> None:
        if app is not None:
            app.network_back()

    # Something Chinese on screen at once: until the first update the web client shows Flet's
    # own boot screen ("Working...", fixed in flet-web), and finding this browser's store may
    # wait for its storage.
    w.apply_theme(page)
    page.add(w.loading(t("ui.loading")))
    page.update()
    store, client_kw, keep = await device_store(page)
    devices = flet_devices(page, upload_dir=upload_dir() if page.web else None, on_online=online)
    devices.keep = (*devices.keep, *keep)
    app = FieldApp(
        page,
        store=store,
        devices=devices,
        default_server=os.environ.get(SERVER_ENV, DEFAULT_SERVER),
        client_kw=client_kw,
    )
    page.data = app  # keeps the app (and its device services) alive with the page
    await app.start()


def serve(*, server: str, port: int, host: str = "127.0.0.1") -> int:
    os.environ[SERVER_ENV] = server
    os.environ["FLET_WEB_NO_CDN"] = "1"
    os.environ.setdefault("FLET_FORCE_WEB_SERVER", "1")  # never try to open a desktop window
    # Signs this run's photo upload URLs; a fresh one each start is enough.
    os.environ.setdefault("FLET_SECRET_KEY", secrets.token_hex(16))
    os.environ.setdefault("FLET_MAX_UPLOAD_SIZE", str(32 * 1024 * 1024))
    print(
        t("cli.app.serving", url=f"http://{host}:{port}/", data=data_dir().resolve()),
        flush=True,
    )
    if note := legacy_store_note(data_dir()):
        print(note, flush=True)
    if fonts.asset(ASSETS) != fonts.FULL:
        print(t("fonts.subset_only", hint=t("fonts.hint")), flush=True)
    if "FLET_WEB_PATH" not in os.environ:
        try:  # the boot screen in Chinese (mobile/webclient.py)
            os.environ["FLET_WEB_PATH"] = str(webclient.ensure())
        except (OSError, ValueError):  # a flet-web whose strings moved: its own client
            logging.getLogger("songjiao.app").exception("web client not patched")
    ft.run(
        main,
        view=ft.AppView.WEB_BROWSER,
        host=host,
        port=port,
        assets_dir=str(ASSETS),
        upload_dir=str(upload_dir()),
        no_cdn=True,
    )
    return 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mobile.app", description=t("cli.app.description")
    )
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--port", type=int, default=8550)
    args = parser.parse_args(argv)
    return serve(server=args.server, port=args.port)


if __name__ == "__main__":
    sys.exit(cli())
