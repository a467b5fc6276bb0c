"""The field app's entry points.

- ``main(page)``: what ``flet build`` (and ``ft.run``) runs; the store lives in
  ``$FLET_APP_STORAGE_DATA`` on a phone (``SONGJIAO_APP_DATA`` overrides).
- ``serve(server=, port=)``: ``songjiao app`` — the app as a web app on 127.0.0.1 with no CDN
  (the Flutter client and the CJK font come from this process, so it works offline).
- ``python -m mobile.app --server URL --port P``: the same, for tests that must kill it by PID.

One store per process (the web app is one phone): every browser session shares it.
"""

import argparse
import logging
import os
import secrets
import sys
import threading
from pathlib import Path

import flet as ft

from mobile.core.store import Store, data_dir
from mobile.ui.devices import flet_devices
from mobile.ui.shell import FieldApp

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_SERVER = "http://127.0.0.1:8000"
SERVER_ENV = "SONGJIAO_APP_SERVER"  # the sign-in form's default server address

_store: Store | None = None
_store_lock = threading.Lock()
log = logging.getLogger(__name__)


def shared_store() -> Store:
    global _store
    with _store_lock:
        if _store is None:
            _store = Store(data_dir())
        return _store


def upload_dir() -> Path:
    """Where the browser puts a picked photo for a moment (inside the app's data)."""
    path = data_dir() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def main(page: ft.Page) -> None:
    app: FieldApp | None = None

    def online() -> None:
        if app is not None:
            app.runner.trigger(manual=False)

    devices = flet_devices(page, upload_dir=upload_dir() if page.web else None, on_online=online)
    app = FieldApp(
        page,
        store=shared_store(),
        devices=devices,
        default_server=os.environ.get(SERVER_ENV, DEFAULT_SERVER),
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
    shared_store()  # open (and migrate) the store before the first page asks
    print(
        f"送教通 手机端（网页版）：http://{host}:{port}/  数据目录：{data_dir().resolve()}",
        flush=True,
    )
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
    parser = argparse.ArgumentParser(prog="python -m mobile.app", description="送教通 手机端")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--port", type=int, default=8550)
    args = parser.parse_args(argv)
    return serve(server=args.server, port=args.port)


if __name__ == "__main__":
    sys.exit(cli())
