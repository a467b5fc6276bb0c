"""Flet's own boot screen, shown while the page connects to the app and whenever the connection
drops, speaks Chinese: the web app serves a copy of the Flet client with those compiled strings
replaced (mobile/webclient.py). Chromium runs the WebAssembly build, so this also proves the
rewritten module still loads."""

from pathlib import Path

from shared.messages import t
from tests.browser.phone import AppProcess, Phone
from tests.browser.test_field_day import SIGN_IN_MS
from tests.live import free_port


def test_a_dropped_connection_says_so_in_chinese_and_the_page_comes_back(
    browser, artifacts: Path, tmp_path: Path
) -> None:
    # No sync server is needed for the sign-in screen: the address answers nothing.
    app = AppProcess(tmp_path / "data", "http://127.0.0.1:9", free_port(), tmp_path / "app.log")
    app.start()
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        phone = Phone(context.new_page(), artifacts)
        phone.open(app.url)
        phone.see("登录送教通", timeout=SIGN_IN_MS)
        assert phone.page.evaluate("() => typeof window._flutter_skwasmInstance") == "object"

        app.kill()  # the connection drops, as on a phone losing the app's process
        phone.see(t("ui.boot.connecting"))
        assert not phone.sees("Working")
        phone.shot("connection-dropped")

        app.start()  # Flet reconnects by itself: no reload
        phone.see("登录送教通", timeout=SIGN_IN_MS)
        phone.shot("back-again")
    finally:
        context.close()
        app.stop()
