"""Real-browser tests: Debian's chromium driven by Playwright against ``python -m mobile.app``.

Never ``playwright install``: the browser is the system one (``scripts/test`` installs it).
Screenshots of every screen go to ``test-artifacts/`` (look at them: Chinese must be Chinese).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import LiveServer, create_database, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A fake camera (a moving test pattern) that needs no prompt: drives flet-camera.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


# Module scope: Playwright's sync API keeps an event loop running in this thread while open,
# which would break asyncio.run() in other test modules sharing the worker.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def sync_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own, which the test stops and starts again (same port and database)."""
    live = LiveServer(
        backend="sqlite",
        database_url=create_database("sqlite", tmp_path),
        media_dir=tmp_path / "media",
        port=free_port(),
        log_path=tmp_path / "server.log",
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS / request.node.name.replace("[", "-").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path
