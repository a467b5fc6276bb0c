"""The photo pipeline on real images made with Pillow."""

import hashlib
import io
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from mobile.core.photos import (
    MAX_OUTPUT_BYTES,
    MAX_SIDE,
    THUMB_PX,
    PhotoError,
    prepare,
    prepare_file,
    save_photo,
    thumbnail,
)
from mobile.core.store import Store
from shared.messages import t


def gps_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (29.0, 36.0, 36.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (119.0, 2.0, 24.0),
    }
    return exif


@pytest.fixture(scope="module")
def camera_jpeg() -> bytes:
    """A 12-megapixel 4000x3000 camera-like JPEG, taken on its side (orientation 6), with GPS."""
    size = (4000, 3000)
    noise = Image.effect_noise(size, 60)
    ramp = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (noise, ramp, ramp.transpose(Image.Transpose.ROTATE_180)))
    image.paste((255, 0, 0), (0, 0, 400, 300))  # a red mark at the stored top-left corner
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=gps_exif(6))
    return out.getvalue()


def test_twelve_megapixel_photo_comes_out_small_upright_and_clean(camera_jpeg: bytes) -> None:
    assert len(camera_jpeg) > 2 * 1024 * 1024
    photo = prepare(camera_jpeg)
    assert len(photo.data) <= MAX_OUTPUT_BYTES
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()
    image = Image.open(io.BytesIO(photo.data))
    assert image.format == "JPEG"
    assert max(image.size) <= MAX_SIDE
    assert (photo.width, photo.height) == image.size == (1200, 1600)  # turned upright
    # Orientation 6 means "rotate 90 clockwise to view": the red corner ends top-right.
    r, g, b = image.convert("RGB").getpixel((image.width - 20, 20))
    assert r > 200 and g < 80
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"Exif" not in photo.data and b"PhoneMaker" not in photo.data


def test_same_input_gives_the_same_file_and_is_stored_once(
    camera_jpeg: bytes, tmp_path: Path
) -> None:
    store = Store(tmp_path)
    first = save_photo(store, camera_jpeg)
    second = save_photo(store, camera_jpeg)
    assert first.sha256 == second.sha256
    assert [p.name for p in store.photo_dir.iterdir()] == [f"{first.sha256}.jpg"]
    assert store.photo_file(first.sha256).read_bytes() == first.data


def test_a_fifty_megabyte_file_is_refused_before_decoding(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    with big.open("wb") as f:
        f.write(b"\xff\xd8\xff\xe0")
        f.seek(50 * 1024 * 1024)
        f.write(b"\xff\xd9")
    with pytest.raises(PhotoError) as caught:
        prepare_file(big)
    assert "照片文件过大" in str(caught.value) and "50 MB" in str(caught.value)
    with pytest.raises(PhotoError, match="照片文件过大"):
        prepare(big.read_bytes())


def test_a_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    for data in (b"%PDF-1.7 not a photo", b"", b"\xff\xd8\xff\xe0 truncated jpeg"):
        with pytest.raises(PhotoError) as caught:
            prepare(data)
        assert str(caught.value) == t("not_an_image")
    with pytest.raises(PhotoError, match=t("not_an_image")):
        prepare_file(tmp_path / "missing.jpg")


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    image = Image.new("1", (12_000, 10_000))  # 120 MP that compresses to almost nothing
    out = io.BytesIO()
    image.save(out, "PNG")
    assert len(out.getvalue()) < 1024 * 1024
    with pytest.raises(PhotoError, match="图片像素过多"):
        prepare(out.getvalue())


def test_an_unsupported_format_is_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "GIF")
    with pytest.raises(PhotoError, match=t("not_an_image")):
        prepare(out.getvalue())


def test_transparent_png_becomes_a_jpeg_on_white() -> None:
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    photo = prepare(out.getvalue())
    result = Image.open(io.BytesIO(photo.data))
    assert result.format == "JPEG" and result.size == (300, 200)
    assert min(result.convert("RGB").getpixel((150, 100))) > 240


def test_an_incompressible_photo_is_shrunk_until_it_fits() -> None:
    noise = Image.merge("RGB", [Image.effect_noise((1600, 1600), 120) for _ in range(3)])
    out = io.BytesIO()
    noise.save(out, "PNG")
    photo = prepare(out.getvalue())
    assert len(photo.data) <= MAX_OUTPUT_BYTES
    assert photo.width < 1600


def test_a_thumbnail_is_a_small_jpeg_of_the_stored_photo(camera_jpeg: bytes) -> None:
    stored = prepare(camera_jpeg)
    thumb = thumbnail(stored.data)
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "JPEG" and max(image.size) == THUMB_PX
        assert image.size[1] > image.size[0]  # upright, as stored
    assert len(thumb) < len(stored.data) / 5


def test_a_thumbnail_of_a_damaged_file_is_refused_in_chinese() -> None:
    with pytest.raises(PhotoError, match=t("not_an_image")):
        thumbnail(b"\xff\xd8 not a whole jpeg")
