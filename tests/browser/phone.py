"""The app as a process, and a browser tab that uses it the way a teacher does."""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.live import stop_process

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 20_000


class AppProcess:
    """``python -m mobile.app`` with its own data directory; killed by PID."""

    def __init__(self, data_dir: Path, server_url: str, port: int, log_path: Path) -> None:
        self.data_dir, self.server_url, self.port, self.log_path = (
            data_dir,
            server_url,
            port,
            log_path,
        )
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "AppProcess":
        env = {**os.environ, "SONGJIAO_APP_DATA": str(self.data_dir)}
        env.pop("FLET_APP_STORAGE_DATA", None)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mobile.app",
                "--server",
                self.server_url,
                "--port",
                str(self.port),
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url, timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the app did not answer within 60 s")

    def kill(self) -> None:
        """As when the phone kills the app: no chance to tidy up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


class Phone:
    """One browser tab at 360×740 with GPS granted; finds controls by their accessible names."""

    def __init__(self, page: Any, artifacts: Path) -> None:
        self.page, self.artifacts = page, artifacts
        self.shots = 0

    def open(self, url: str) -> None:
        self.page.goto(url, timeout=WAIT_MS)
        self._accessibility_on()

    def reload(self) -> None:
        self.page.reload(timeout=WAIT_MS)
        self._accessibility_on()

    def _accessibility_on(self) -> None:
        # Flutter builds its accessibility tree (what the locators below read) on request.
        placeholder = self.page.locator("flt-semantics-placeholder")
        placeholder.wait_for(state="attached", timeout=WAIT_MS)
        placeholder.evaluate("e => e.click()")

    def _text(self, text: str) -> Any:
        # Flutter merges the texts of a card into its label: look at both.
        return self.page.get_by_text(text, exact=False).or_(self.page.get_by_label(text))

    def see(self, text: str, timeout: int = WAIT_MS) -> None:
        try:
            self._text(text).first.wait_for(timeout=timeout)
        except Exception:
            with contextlib.suppress(Exception):  # the timeout is the error to report
                self.page.screenshot(path=str(self.artifacts / "failed-waiting.png"), timeout=5000)
                # What the accessibility tree holds, and the screen scrolled to its top: tells
                # a screen not drawn from one drawn but scrolled out of sight.
                labels = self.page.locator("flt-semantics").all_inner_texts()
                (self.artifacts / "failed-waiting.txt").write_text("\n".join(labels))
                self.page.mouse.move(180, 370)
                self.page.mouse.wheel(0, -5000)
                time.sleep(1)
                self.page.screenshot(path=str(self.artifacts / "failed-scrolled.png"), timeout=5000)
            raise

    def scroll_to(self, text: str) -> None:
        target = self._text(text).first
        target.wait_for(timeout=WAIT_MS)
        target.scroll_into_view_if_needed(timeout=WAIT_MS)

    def sees(self, text: str) -> bool:
        return self._text(text).count() > 0

    def tap_id(self, identifier: str) -> None:
        """A control given ``ft.Semantics(identifier=...)`` in the app."""
        target = self.page.locator(f'[flt-semantics-identifier="{identifier}"]').first
        target.wait_for(timeout=WAIT_MS)
        target.scroll_into_view_if_needed(timeout=WAIT_MS)
        target.click(timeout=WAIT_MS)

    def control(self, name: str, role: str = "button") -> Any:
        """By role and name, or by label: Flutter puts a tooltip's text on a wrapper around
        the button, and a click there reaches the button."""
        return self.page.get_by_role(role, name=name).or_(self.page.get_by_label(name)).first

    def tap(self, name: str, role: str = "button") -> None:
        target = self.control(name, role)
        target.wait_for(timeout=WAIT_MS)
        target.scroll_into_view_if_needed(timeout=WAIT_MS)
        target.click(timeout=WAIT_MS)

    def back(self) -> None:
        """The app bar's back arrow (Flutter names it from the app's locale: 返回)."""
        self.tap("返回")

    def fill(self, label: str, value: str) -> None:
        field = self.page.get_by_label(label).first
        field.wait_for(timeout=WAIT_MS)
        field.scroll_into_view_if_needed(timeout=WAIT_MS)
        field.click(timeout=WAIT_MS)
        time.sleep(0.3)  # the editable element appears after the focus
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(value)
        time.sleep(0.5)  # the last keystrokes reach the app before the next tap

    def field_text(self, label: str) -> str:
        """What a text field holds. Flutter writes it into the DOM only while the field has the
        focus (its editing element), so focus it first; this is the text the field shows."""
        field = self.page.get_by_label(label).first
        field.wait_for(timeout=WAIT_MS)
        field.scroll_into_view_if_needed(timeout=WAIT_MS)
        field.click(timeout=WAIT_MS)
        time.sleep(0.3)  # the editing element appears after the focus
        return str(self.page.evaluate("() => document.activeElement.value ?? ''"))

    def is_checked(self, name: str) -> bool:
        """A chip or switch (Flutter marks it as a checkbox in the accessibility tree)."""
        box = self.page.get_by_role("checkbox", name=name).first
        box.wait_for(timeout=WAIT_MS)
        return box.is_checked()

    def pick_file(self, button: str, path: Path) -> None:
        with self.page.expect_file_chooser(timeout=WAIT_MS) as chooser:
            self.tap(button)
        chooser.value.set_files(str(path))

    def shot(self, name: str) -> Path:
        # Let Flutter paint the current state (two animation frames), then the font settle.
        self.page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        time.sleep(0.8)
        self.shots += 1
        path = self.artifacts / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path))
        return path
