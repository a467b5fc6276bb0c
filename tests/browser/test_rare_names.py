"""Children's names with characters beyond GB2312 (李梓玥, 王喆, 张堃…) render in the caseload
and when typed, in the web app with no CDN: every font request answers (no 404), the font the
app loads holds every character of the roster, and what is drawn is the glyph, not a box.

A box is what the app draws for a character no font has: U+E000 (private use) is drawn that
way whatever is installed, so it is the reference. A rare character drawn as a box would be
pixel for pixel that same box; drawn as itself it differs from the box and from every other
character. Screenshots in test-artifacts/ (look at them).
"""

import io
import time
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont
from PIL import Image, ImageChops

from mobile.ui import fonts
from tests.browser.phone import AppProcess, Phone
from tests.browser.test_field_day import HOME, SIGN_IN_MS
from tests.factories import PASSWORD, Factory
from tests.live import LiveServer, free_port

ROSTER = ["李梓玥", "王喆", "张堃", "陈璟", "刘珺", "赵昇", "孙甡", "周犇", "刘䶮", "陈伣"]
# None of them is in GB2312; 䶮 (Extension A) and 伣 are in none of Flutter's fallback slices
# either: only the app's full font draws them.
RARE = "玥喆堃璟珺昇甡犇䶮伣"
BOX = "\ue000"  # no font has it: drawn as the font's box
# Cards as they looked with the GB2312 font (「李梓□」): a child named with the box instead.
TWINS = {"李梓玥": "李梓" + BOX, "刘䶮": "刘" + BOX}
FONT_WAIT_S = 90
DRAW_WAIT_S = 20


def _roster(server: LiveServer) -> tuple[str, dict[str, str]]:
    """A teacher with the rare-name roster (and 李梓玥's boxed twin); the children's ids."""
    factory = Factory(server)
    try:
        district = factory.district("淳安县")
        school = factory.school(district, kind="special", lat=29.60, lon=119.00)
        teacher = factory.user("teacher", district, base_school=school)
        ids = {}
        for name in [*ROSTER, *TWINS.values()]:
            ids[name] = factory.student(
                district, school, name=name, home_lat=29.70, home_lon=119.10
            )
            factory.assign(teacher, student=ids[name], district=district)
        return teacher, ids
    finally:
        factory.engine.dispose()


def _image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def _same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def _name_line(phone: Phone, name: str) -> Image.Image:
    """The top left of the child's card, where the name is: not the buttons below (one under
    the mouse is shaded) nor the right edge (a scroll bar shows there while scrolling)."""
    phone.scroll_to(name)
    card = _image(phone._text(name).first.screenshot())
    return card.crop((0, 0, card.width // 2, card.height // 4))


class FontRequests:
    """Every font the page asked for, with the answer and (for the app's font) the bytes."""

    def __init__(self, page: Any) -> None:
        self.answers: dict[str, int] = {}
        self.app_font: Any = None  # the response that brought the app's font
        page.on("response", self._seen)

    def _seen(self, response: Any) -> None:
        url = response.url
        if "/fonts/" not in url:
            return
        self.answers[url] = response.status
        if url.endswith("/" + fonts.FULL) or url.endswith("/" + fonts.SUBSET):
            self.app_font = response

    def wait_for_app_font(self) -> bytes:
        deadline = time.monotonic() + FONT_WAIT_S
        while self.app_font is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert self.app_font is not None and self.app_font.ok, self.answers
        return bytes(self.app_font.body())


def test_rare_characters_of_childrens_names_render_in_the_caseload_and_when_typed(
    browser, sync_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    teacher, ids = _roster(sync_server)
    app = AppProcess(tmp_path / "phone", sync_server.url, free_port(), tmp_path / "app.log")
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        geolocation=HOME,
        permissions=["geolocation"],
        locale="zh-CN",
    )
    try:
        app.start()
        page = context.new_page()
        requests = FontRequests(page)
        phone = Phone(page, artifacts)
        phone.open(app.url)
        phone.fill("用户名", teacher)
        phone.fill("密码", PASSWORD)
        phone.tap("登录")
        phone.see(ROSTER[0], timeout=SIGN_IN_MS)
        phone.see("全部记录已同步", timeout=SIGN_IN_MS)

        # The app's own font: the one holding every ideograph, and every roster character.
        font = requests.wait_for_app_font()
        assert any(url.endswith("/" + fonts.FULL) for url in requests.answers), requests.answers
        cmap = TTFont(io.BytesIO(font)).getBestCmap()
        assert {c for name in ROSTER for c in name if ord(c) not in cmap} == set()
        phone.shot("caseload-top")

        # Each against its boxed twin: were the rare character a box, the same picture. The
        # font has arrived; it is drawn once the page has read it (a few seconds at most).
        for name, twin in TWINS.items():
            deadline = time.monotonic() + DRAW_WAIT_S
            while True:
                real, boxed = _name_line(phone, name), _name_line(phone, twin)
                if not _same(real, boxed) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            real.save(artifacts / f"name-{name}.png")
            boxed.save(artifacts / f"name-{name}-box.png")
            assert not _same(real, boxed), f"{name} is drawn with a box"
        for name in ROSTER:
            phone.scroll_to(name)
        phone.shot("caseload-bottom")

        # Typed: each rare character alone in 教学内容, the field left (Tab) so no cursor shows.
        phone.scroll_to(ROSTER[0])
        phone.tap_id(f"start-{ids[ROSTER[0]]}")
        phone.tap_id("check-in")
        phone.see("定位精度约 15 米")
        drawn: dict[str, Image.Image] = {}
        for char in BOX + RARE:
            phone.fill("教学内容", char)
            page.keyboard.press("Tab")
            time.sleep(0.5)
            drawn[char] = _image(page.get_by_label("教学内容").first.screenshot())
            drawn[char].save(artifacts / f"typed-U+{ord(char):04X}.png")
        boxes = [c for c in RARE if _same(drawn[c], drawn[BOX])]
        assert boxes == [], f"drawn as boxes: {boxes}"
        pictures = list(drawn.values())
        assert all(not _same(a, b) for i, a in enumerate(pictures) for b in pictures[i + 1 :])
        phone.fill("教学内容", RARE)
        page.keyboard.press("Tab")
        phone.shot("typed-rare")

        failed = {url: status for url, status in requests.answers.items() if status >= 400}
        assert failed == {}  # Flutter's fallback slices are served too
    finally:
        context.close()
        app.stop()
