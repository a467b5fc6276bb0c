"""The demo's photos: a few small real JPEGs per district (coloured shapes, like teaching
cards), with no metadata at all."""

import hashlib
import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

from server.demo.roster import SEED
from server.demo.rows import DistrictRoster


@dataclass(frozen=True)
class DemoPhoto:
    sha256: str
    data: bytes
    uploader: str


def demo_photos(roster: DistrictRoster, count: int = 4) -> list[DemoPhoto]:
    rng = random.Random(f"{SEED}-{roster.profile.code}-photos")
    uploader = next(iter(roster.caseload), roster.staff[0].username)
    out = []
    for _ in range(count):
        data = _image(rng)
        out.append(DemoPhoto(hashlib.sha256(data).hexdigest(), data, uploader))
    return out


def _image(rng: random.Random) -> bytes:
    background = tuple(rng.randint(215, 245) for _ in range(3))
    image = Image.new("RGB", (480, 360), background)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(4, 8)):
        x, y = rng.randint(0, 400), rng.randint(0, 280)
        box = (x, y, x + rng.randint(40, 140), y + rng.randint(40, 140))
        colour = tuple(rng.randint(40, 220) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
