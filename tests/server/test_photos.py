"""Photos over real HTTP: upload checks, metadata removal, who may read, the audit log."""

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import ExifTags, Image, PngImagePlugin
from sqlmodel import col, select

from server.models import AuditLog, VisitPhoto
from tests.conftest import World
from tests.factories import Factory, delete, home_visit, itinerant_visit, upsert
from tests.live import Client, LiveServer


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["message"]


def jpeg(size: tuple[int, int] = (48, 32), **save: object) -> bytes:
    """A JPEG of random pixels: every call is a new photo."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", **save)
    return out.getvalue()


def png(size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: object) -> bytes:
    bands = len(mode) if mode != "1" else 1
    if mode == "1":
        image = Image.new("1", size)  # compresses to almost nothing, whatever the size
    else:
        image = Image.frombytes(mode, size, os.urandom(size[0] * size[1] * bands))
    out = io.BytesIO()
    image.save(out, "PNG", **save)
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(client: Client, data: bytes, name: str | None = None):
    return client.put(
        f"/photos/{name or sha(data)}", data=data, headers={"Content-Type": "image/jpeg"}
    )


def stored_file(server: LiveServer, name: str) -> bytes:
    return (server.media_dir / name[:2] / name).read_bytes()


def gps_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (29.0, 36.0, 36.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (119.0, 2.0, 24.0),
    }
    return exif.tobytes()


def audit_rows(factory: Factory, name: str) -> list[AuditLog]:
    with factory.session() as s:
        return list(
            s.exec(
                select(AuditLog)
                .where(AuditLog.entity_id == name, AuditLog.entity == "photo")
                .order_by(col(AuditLog.id))
            )
        )


def listed_in_visit(world: World) -> tuple[str, dict]:
    """A photo uploaded by the world's teacher and listed in a visit they pushed."""
    data = jpeg()
    assert put(world.t, data).status_code == 201
    record = home_visit(world.student, photos=[sha(data)])
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied", result
    return sha(data), record


# -- upload -------------------------------------------------------------------------------------


def test_upload_is_201_then_200_and_kept_byte_for_byte(world: World, server: LiveServer) -> None:
    data = jpeg((48, 32))
    first = put(world.t, data)
    assert first.status_code == 201, first.text
    assert first.json() == {"sha256": sha(data), "size": len(data), "width": 48, "height": 32}
    again = put(world.t, data)
    assert again.status_code == 200 and again.json()["sha256"] == sha(data)
    # Nothing to remove: no needless re-encode.
    assert stored_file(server, sha(data)) == data


def test_upload_under_another_name_is_hash_mismatch(world: World) -> None:
    data = jpeg()
    _error(put(world.t, data, name=sha(b"something else")), 400, "hash_mismatch")
    assert world.t.get(f"/photos/{sha(b'something else')}").status_code == 404


def test_bytes_that_are_no_image_are_415(world: World) -> None:
    for data in (b"%PDF-1.4 not a photo", b"", "送教记录".encode()):
        _error(put(world.t, data), 415, "not_an_image")


def test_truncated_jpeg_is_415(world: World) -> None:
    data = jpeg((200, 150))
    cut = data[: len(data) // 2]
    _error(put(world.t, cut), 415, "not_an_image")
    assert world.t.get(f"/photos/{sha(cut)}").status_code == 404


def test_other_image_formats_are_415(world: World) -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    _error(put(world.t, out.getvalue()), 415, "not_an_image")


def test_decompression_bomb_png_is_413_without_decoding(world: World) -> None:
    bomb = png((20000, 20000), mode="1")  # 400 million pixels in a few tens of KB
    assert len(bomb) < 200_000
    message = _error(put(world.t, bomb), 413, "image_too_large")
    assert "400000000" in message
    assert world.t.get("/health").status_code == 200  # the server is still there


def test_image_just_over_the_pixel_setting_is_413_with_its_size(world: World) -> None:
    # 49 million pixels: under Pillow's own alarm, over the server's 40 million.
    message = _error(put(world.t, png((7000, 7000), mode="1")), 413, "image_too_large")
    assert "7000×7000" in message and "49000000" in message


def test_body_over_the_photo_limit_is_413(world: World) -> None:
    data = b"\xff\xd8\xff" + os.urandom(5 * 1024 * 1024)
    _error(put(world.t, data), 413, "photo_too_large")


@pytest.mark.parametrize("name", ["ABC", "A" * 64, "g" * 64, "0" * 63, "0" * 65])
def test_malformed_photo_name_is_400(world: World, name: str) -> None:
    _error(put(world.t, jpeg(), name=name), 400, "invalid_request")
    _error(world.t.get(f"/photos/{name}"), 400, "invalid_request")


def test_no_token_is_401(world: World, server: LiveServer) -> None:
    data = jpeg()
    anonymous = Client(server)
    _error(put(anonymous, data), 401, "unauthorized")
    assert put(world.t, data).status_code == 201
    _error(anonymous.get(f"/photos/{sha(data)}"), 401, "unauthorized")
    bad = Client(server, token="not-a-token")
    _error(bad.get(f"/photos/{sha(data)}"), 401, "unauthorized")


def test_identical_uploads_at_once_store_one_photo(world: World, server: LiveServer) -> None:
    data = jpeg((300, 200), quality=95)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: put(world.t, data), range(4)))
    assert statuses == [200, 200, 200, 201]
    assert stored_file(server, sha(data)) == data


# -- metadata -----------------------------------------------------------------------------------


def test_gps_and_comments_are_removed_and_orientation_applied(
    world: World, server: LiveServer
) -> None:
    data = jpeg((60, 20), exif=gps_exif(orientation=6), comment=b"Zhang's home")
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    response = put(world.t, data)
    assert response.status_code == 201
    # Rotated by the EXIF orientation, so the stored picture stands upright.
    assert (response.json()["width"], response.json()["height"]) == (20, 60)
    for stored in (stored_file(server, sha(data)), world.t.get(f"/photos/{sha(data)}").content):
        image = Image.open(io.BytesIO(stored))
        assert not image.getexif()
        assert image.size == (20, 60)
        assert "comment" not in image.info and "exif" not in image.info
        assert b"Zhang" not in stored and b"PhoneMaker" not in stored
    # Still addressed by the hash of what the phone sent, not of the cleaned file.
    assert sha(stored) != sha(data)


def test_png_text_and_exif_are_removed(world: World, server: LiveServer) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 某村 1 号")
    data = png(pnginfo=info, exif=gps_exif())
    assert put(world.t, data).status_code == 201
    response = world.t.get(f"/photos/{sha(data)}")
    assert response.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert not image.getexif() and "Comment" not in image.info
    assert response.content == stored_file(server, sha(data)) != data


def test_bare_png_is_kept_byte_for_byte(world: World, server: LiveServer) -> None:
    data = png()
    assert put(world.t, data).status_code == 201
    assert stored_file(server, sha(data)) == data


# -- download: scope and audit ------------------------------------------------------------------


def test_download_serves_image_privately(world: World) -> None:
    name, _ = listed_in_visit(world)
    response = world.t.get(f"/photos/{name}")
    assert response.status_code == 200
    assert sha(response.content) == name  # a bare JPEG is served as uploaded
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_who_may_read_a_photo(world: World, factory: Factory) -> None:
    name, _ = listed_in_visit(world)
    other_district = factory.district()
    other_coordinator = factory.login(factory.user("coordinator", other_district))
    unrelated_teacher = factory.login(factory.user("teacher", world.district))
    admin = factory.login(factory.user("admin", None))
    for reader in (world.t, world.c, admin):
        assert reader.get(f"/photos/{name}").status_code == 200
    absent = world.c.get(f"/photos/{sha(b'never uploaded')}")
    for stranger in (other_coordinator, unrelated_teacher, world.i):
        response = stranger.get(f"/photos/{name}")
        assert response.status_code == 404
        assert response.json() == absent.json()  # indistinguishable from a missing photo


def test_uploader_reads_before_the_visit_is_pushed_others_do_not(world: World) -> None:
    data = jpeg()
    assert put(world.i, data).status_code == 201
    assert world.i.get(f"/photos/{sha(data)}").status_code == 200
    assert world.c.get(f"/photos/{sha(data)}").status_code == 404
    assert world.t.get(f"/photos/{sha(data)}").status_code == 404


def test_deleted_visit_no_longer_shows_its_photos(world: World) -> None:
    name, record = listed_in_visit(world)
    assert world.c.get(f"/photos/{name}").status_code == 200
    (result,) = world.t.push(delete(record["id"], base_version=1))
    assert result["status"] == "applied"
    assert world.c.get(f"/photos/{name}").status_code == 404
    assert world.t.get(f"/photos/{name}").status_code == 200  # they took it


def test_every_successful_read_is_audited(world: World, factory: Factory) -> None:
    name, record = listed_in_visit(world)
    assert audit_rows(factory, name) == []
    assert world.t.get(f"/photos/{name}").status_code == 200
    assert world.c.get(f"/photos/{name}").status_code == 200
    outsider = factory.login(factory.user("coordinator", factory.district()))
    assert outsider.get(f"/photos/{name}").status_code == 404
    rows = audit_rows(factory, name)
    assert [(r.actor, r.action, r.district_code) for r in rows] == [
        (world.teacher, "download", world.district),
        (world.coordinator, "download", world.district),
    ]
    assert all(record["id"] in r.detail for r in rows)


# -- visits that list photos (checked by sync push) --------------------------------------------


def test_visit_listing_a_photo_not_uploaded_is_rejected(world: World) -> None:
    missing = sha(jpeg())
    (result,) = world.t.push(upsert(home_visit(world.student, photos=[missing])))
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "photo_not_uploaded"
    assert missing in result["error"]["message"]


def test_photos_of_a_child_without_consent_are_rejected(world: World, factory: Factory) -> None:
    child = factory.student(world.district, world.special_school, photo_consent=False)
    factory.assign(world.teacher, student=child, district=world.district)
    data = jpeg()
    assert put(world.t, data).status_code == 201
    (refused, allowed) = world.t.push(
        upsert(home_visit(child, photos=[sha(data)])), upsert(home_visit(child))
    )
    assert refused["status"] == "rejected"
    assert refused["error"]["code"] == "photo_consent_missing"
    assert allowed["status"] == "applied"


def test_school_visit_photos_need_consent_of_every_child_seen(
    world: World, factory: Factory
) -> None:
    """A classroom photo may show any child the visit lists as seen."""
    agreed = factory.student(world.district, world.school, placement="regular_class")
    refused = factory.student(
        world.district, world.school, placement="regular_class", photo_consent=False
    )
    data = jpeg()
    assert put(world.i, data).status_code == 201
    photo = [sha(data)]
    results = world.i.push(
        upsert(itinerant_visit(world.school, photos=photo, students_seen=[agreed, refused])),
        upsert(itinerant_visit(world.school, photos=photo, students_seen=[agreed])),
        upsert(itinerant_visit(world.school, students_seen=[agreed, refused])),
    )
    assert [r["status"] for r in results] == ["rejected", "applied", "applied"]
    assert results[0]["error"]["code"] == "photo_consent_missing"
    assert results[0]["error"]["message"] == "监护人未同意拍照，不能上传该学生的照片"


# -- who may list a photo -----------------------------------------------------------------------


def _second_teacher(world: World, factory: Factory) -> tuple[Client, str]:
    """Another teacher of the district and a child of their own (photo consent given)."""
    teacher = factory.user("teacher", world.district, base_school=world.special_school)
    child = factory.student(world.district, world.special_school)
    factory.assign(teacher, student=child, district=world.district)
    return factory.login(teacher), child


def test_knowing_a_photos_name_is_not_enough_to_link_or_read_it(
    world: World, factory: Factory
) -> None:
    other, child = _second_teacher(world, factory)
    data = jpeg()
    assert put(other, data).status_code == 201
    (result,) = other.push(upsert(home_visit(child, photos=[sha(data)])))
    assert result["status"] == "applied"
    absent = world.t.get(f"/photos/{sha(b'never uploaded')}").json()
    assert world.t.get(f"/photos/{sha(data)}").status_code == 404
    guessed = home_visit(world.student, photos=[sha(data)])
    (result,) = world.t.push(upsert(guessed))
    # As if the photo were not on the server: no oracle of which names exist.
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "photo_not_uploaded"
    response = world.t.get(f"/photos/{sha(data)}")
    assert response.status_code == 404 and response.json() == absent
    ids = {c["id"] for c in world.t.get("/sync/pull").json()["changes"]}
    assert guessed["id"] not in ids


def test_a_teacher_who_holds_the_same_bytes_may_list_them(world: World, factory: Factory) -> None:
    other, _ = _second_teacher(world, factory)
    data = jpeg()
    assert put(other, data).status_code == 201
    record = home_visit(world.student, photos=[sha(data)])
    (first,) = world.t.push(upsert(record))
    assert first["error"]["code"] == "photo_not_uploaded"
    # The phone uploads the picture it took (already stored: 200) and resends the op.
    assert put(world.t, data).status_code == 200
    assert put(world.t, data).status_code == 200
    (again,) = world.t.push(upsert(record))
    assert again["status"] == "applied", again
    assert world.t.get(f"/photos/{sha(data)}").status_code == 200
    uploads = [r for r in audit_rows(factory, sha(data)) if r.action == "upload"]
    assert [r.actor for r in uploads] == [world.teacher]  # possession is recorded once


def test_a_photo_already_linked_to_the_visit_may_stay_listed(
    world: World, factory: Factory
) -> None:
    """A link made before the rule (or by the first uploader's visit) is not undone by an edit."""
    other, _ = _second_teacher(world, factory)
    data = jpeg()
    assert put(other, data).status_code == 201
    record = home_visit(world.student)
    assert world.t.push(upsert(record))[0]["status"] == "applied"
    with factory.session() as s:
        s.add(VisitPhoto(visit_id=record["id"], sha256=sha(data)))
        s.commit()
    edited = {**record, "photos": [sha(data)], "content": "第二版"}
    (result,) = world.t.push(upsert(edited, base_version=1))
    assert result["status"] == "applied", result
