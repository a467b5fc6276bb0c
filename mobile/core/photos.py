"""The photo pipeline: what a camera or gallery gives becomes a small, clean JPEG before any of
it is stored.

A child's photo carries the family's home in its EXIF GPS, so nothing of the original file is
kept: the pixels are decoded, turned upright (EXIF orientation), shrunk so the longest side is at
most 1600 px, and encoded as a fresh JPEG with no EXIF, XMP, ICC or comments, at most 400 KB
(quality lowered stepwise, then the picture shrunk further). The file is named by the SHA-256 of
those final bytes, which is also the name the server knows it by: the same photo is stored and
uploaded once.

Refusals (``PhotoError``, Chinese message): a file over 30 MB, more than 100 megapixels (a
decompression bomb, decided from the header before decoding), anything Pillow cannot decode as
JPEG, PNG or WebP.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from mobile.core.store import Store
from shared.messages import t

MAX_INPUT_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 100_000_000  # a 108 MP camera passes; a crafted 20000 x 20000 PNG does not
MAX_SIDE = 1600
MAX_OUTPUT_BYTES = 400 * 1024
QUALITIES = (85, 78, 70, 62, 54, 46)
SHRINK = 0.8  # when even the lowest quality is too big
_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}


class PhotoError(ValueError):
    """A photo refused; ``str(error)`` is the Chinese message for the teacher."""


@dataclass(frozen=True)
class PreparedPhoto:
    sha256: str
    data: bytes  # the JPEG as stored and uploaded
    width: int
    height: int


def prepare(data: bytes) -> PreparedPhoto:
    """The cleaned JPEG for ``data`` (see the module docstring). Raises ``PhotoError``."""
    if len(data) > MAX_INPUT_BYTES:
        raise PhotoError(
            t("mobile.photo_file_too_large", size=_mb(len(data)), limit=_mb(MAX_INPUT_BYTES))
        )
    image = _open(data)
    out = _encode_within_limit(image)
    return PreparedPhoto(hashlib.sha256(out).hexdigest(), out, *Image.open(io.BytesIO(out)).size)


def prepare_file(path: Path | str) -> PreparedPhoto:
    """``prepare`` for a file, refusing an oversized one before reading it into memory."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise PhotoError(
                t("mobile.photo_file_too_large", size=_mb(size), limit=_mb(MAX_INPUT_BYTES))
            )
        data = path.read_bytes()
    except OSError:
        raise PhotoError(t("not_an_image")) from None
    return prepare(data)


def save_photo(store: Store, data: bytes) -> PreparedPhoto:
    """Prepare ``data`` and keep it in ``store``; list ``.sha256`` in the visit's photos."""
    photo = prepare(data)
    store.add_photo(photo.sha256, photo.data)
    return photo


def _open(data: bytes) -> Image.Image:
    """Decoded, upright, RGB, at most MAX_SIDE px: the only copy of the pixels we keep."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we decide below
        try:
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PhotoError(t("image_too_large", pixels=f"{width}×{height}"))
            if image.format not in _FORMATS:
                raise PhotoError(t("not_an_image"))
            if image.format in ("JPEG", "MPO"):
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 12 MP photo never fills memory.
                scale = MAX_SIDE / max(width, height)
                if scale < 1:
                    image.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))
            image.load()
        except PhotoError:
            raise
        except Image.DecompressionBombError:
            raise PhotoError(t("image_too_large", pixels=f"> {MAX_PIXELS}")) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise PhotoError(t("not_an_image")) from None
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a corrupt EXIF block must not cost the photo: keep it as decoded
        upright = image
    if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
        canvas = Image.new("RGB", upright.size, "white")  # JPEG has no alpha: paper-white
        rgba = upright.convert("RGBA")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        upright = canvas
    elif upright.mode != "RGB":
        upright = upright.convert("RGB")
    upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return upright


def _encode_within_limit(image: Image.Image) -> bytes:
    for _ in range(12):  # 0.8^12: a 1600 px side ends near 110 px, always small enough
        for quality in QUALITIES:
            buffer = io.BytesIO()
            # No exif=, icc_profile= or comment=: Pillow then writes none of them.
            image.save(buffer, "JPEG", quality=quality)
            if buffer.tell() <= MAX_OUTPUT_BYTES:
                return buffer.getvalue()
        size = (max(1, int(image.width * SHRINK)), max(1, int(image.height * SHRINK)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    raise PhotoError(t("not_an_image"))  # unreachable for real pictures


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


THUMB_PX = 160  # a tile on the visit form is 96 px: twice that for sharp screens, less for speed


def thumbnail(data: bytes, size: int = THUMB_PX) -> bytes:
    """A small JPEG of a stored photo for the form's tiles (at most ``size`` px a side).
    Raises ``PhotoError`` for bytes that are no picture."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((size, size))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=70)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        raise PhotoError(t("not_an_image")) from None
