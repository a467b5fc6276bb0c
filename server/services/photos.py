"""Visit photos: checked, cleaned of metadata, stored on disk, served only to those in scope.

Naming. A photo is addressed by the SHA-256 of the bytes the phone uploaded: the phone computes it
before upload and lists it in its visit records, so the name never changes. An upload must hash to
its name (``hash_mismatch`` otherwise).

Cleaning. The GPS inside a child's photo is a home address, so the stored file carries no metadata:
no EXIF (GPS, camera, times), XMP, IPTC, comments, PNG text chunks, maker segments, second pictures
(MPO, depth maps) or data after the end of the image. The ICC colour profile stays, and the EXIF
orientation is applied to the pixels so the picture still looks right. Cleaning re-encodes the
image, so the stored bytes then no longer hash to the photo's name: by design, the name stays the
hash of the upload. An upload with nothing to remove (judged conservatively, by allowlists of JPEG
segments and PNG chunks) is stored byte for byte, because re-encoding a JPEG costs quality; a
JPEG that must be re-encoded keeps its quantisation tables and chroma subsampling, so it stays about
as sharp and as large. Only JPEG (an MPO keeps its first picture) and PNG are accepted.

Refusals. Not decodable, truncated, or another format: 415 ``not_an_image``. More pixels than
``settings.max_photo_pixels``: 413 ``image_too_large``, decided from the header before any pixel is
decoded, so a 20000 x 20000 PNG that compresses to 50 KB never allocates its 400 MB. It is 413 and
not 415 because the file is a real image: the phone should shrink it, not report it as broken.

Storage. ``media_dir/sha[:2]/sha``, written to a temporary file and renamed into place; the
``Photo`` row is committed after the file exists, so a row always has its file. Storing the same
photo again changes nothing.

Possession. Knowing a photo's name must not be enough to link it to a visit (and so to read it):
a visit may list only photos its teacher uploaded (services/sync_push.py). The first uploader is
``Photo.uploaded_by``; anyone else who later PUTs the same bytes has proved they hold them too,
and that is kept as an ``upload`` row of the append-only audit log (no schema change: the log
is never pruned, and its actor and entity_id columns are indexed). ``holders`` reads both.
"""

import hashlib
import io
import logging
import os
import re
import struct
import tempfile
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, JpegImagePlugin
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from server.limits import megabytes
from server.models import AuditLog, Photo, Visit, VisitPhoto
from server.scope import Scope
from server.services import audit
from server.services.errors import DomainError
from shared.messages import t

log = logging.getLogger("songjiao.photos")

_NAME = re.compile(r"[0-9a-f]{64}")
_FORMATS = ("JPEG", "PNG")
_CONTENT_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
# JPEG segments that say nothing about where, when or with what a picture was taken.
_JFIF_BARE = 14  # "JFIF\0" + version, units, density: no embedded thumbnail
_JPEG_SAFE = (("APP2", b"ICC_PROFILE\0"), ("APP14", b"Adobe"))
# PNG chunks that only describe pixels and colour.
_PNG_SAFE = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"bKGD", b"pHYs",
}  # fmt: skip


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    width: int
    height: int


def check_name(sha256: str) -> None:
    """A photo name is 64 lowercase hex digits; anything else is 400 ``invalid_request``."""
    if not _NAME.fullmatch(sha256):
        raise DomainError("invalid_request", detail=t("photo.bad_name"))


def path_for(media_dir: Path, sha256: str) -> Path:
    return media_dir / sha256[:2] / sha256


def store(
    session: Session,
    *,
    sha256: str,
    data: bytes,
    uploader: str,
    media_dir: Path,
    max_bytes: int,
    max_pixels: int,
) -> tuple[Photo, bool]:
    """Check, clean and keep one upload; returns the row and whether it is new. Commits.

    Raises DomainError: ``photo_too_large`` / ``image_too_large``, ``hash_mismatch``,
    ``not_an_image``.
    """
    check_name(sha256)
    if len(data) > max_bytes:
        raise DomainError("photo_too_large", limit=megabytes(max_bytes))
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DomainError("hash_mismatch")
    path = path_for(media_dir, sha256)
    existing = session.get(Photo, sha256)
    if existing is not None and path.is_file():
        return _possessed(session, existing, uploader), False
    image = clean(data, max_pixels=max_pixels)
    _write_atomically(path, image.data)
    if existing is not None:  # the row outlived its file (restored media?): the file is back
        log.warning("photo %s had a row but no file; rewritten", sha256)
        return _possessed(session, existing, uploader), False
    photo = Photo(
        sha256=sha256,
        size=len(image.data),
        width=image.width,
        height=image.height,
        uploaded_by=uploader,
    )
    session.add(photo)
    try:
        session.commit()
    except IntegrityError:  # the same photo, uploaded at the same moment by another request
        session.rollback()
        stored = session.get(Photo, sha256)
        if stored is None:
            raise
        return _possessed(session, stored, uploader), False
    session.refresh(photo)
    return photo, True


_UPLOAD = "upload"  # audit action: this actor PUT these bytes (see Possession above)


def _possessed(session: Session, photo: Photo, uploader: str) -> Photo:
    """``photo``, once ``uploader``'s possession of its bytes is on record. Commits."""
    if uploader != photo.uploaded_by and not holders(session, uploader, [photo.sha256]):
        audit.record(
            session,
            actor=uploader,
            action=_UPLOAD,
            entity="photo",
            entity_id=photo.sha256,
            detail="already stored",
        )
        session.commit()
    return photo


def holders(session: Session, username: str, hashes: Collection[str]) -> set[str]:
    """The photos among ``hashes`` that ``username`` uploaded, first or again."""
    if not hashes:
        return set()
    first = session.exec(
        select(Photo.sha256).where(col(Photo.sha256).in_(hashes), Photo.uploaded_by == username)
    )
    again = session.exec(
        select(AuditLog.entity_id).where(
            AuditLog.actor == username,
            AuditLog.action == _UPLOAD,
            AuditLog.entity == "photo",
            col(AuditLog.entity_id).in_(hashes),
        )
    )
    return set(first) | set(again)


def clean(data: bytes, *, max_pixels: int) -> CleanImage:
    """The image to store: ``data`` itself when it carries no metadata, else re-encoded without.

    Raises DomainError ``not_an_image`` or ``image_too_large``.
    """
    # Pillow's own bomb warning becomes an error here only. The filter is process-wide state
    # while the block runs, so a concurrent upload may reset it early; safety does not rest on
    # it: whenever max_pixels is below Pillow's threshold (it is by default) the explicit check
    # below refuses the image anyway, still before any pixel is decoded.
    with warnings.catch_warnings(action="error", category=Image.DecompressionBombWarning):
        try:
            with Image.open(io.BytesIO(data), formats=_FORMATS) as probe:
                _check_pixels(probe.size, max_pixels)
                probe.verify()
            im = Image.open(io.BytesIO(data), formats=_FORMATS)  # verify() used up the probe
            im.load()  # decodes every pixel: a truncated file fails here
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = found.group(1) if found else t("photo.over_limit", limit=max_pixels)
            raise DomainError("image_too_large", pixels=pixels) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError):
            raise DomainError("not_an_image") from None
    with im:
        if _is_bare(im, data):
            return CleanImage(data, *im.size)
        return _reencode(im)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise DomainError(
            "image_too_large",
            pixels=t("photo.pixels", width=width, height=height, count=width * height),
        )


def _is_bare(im: Image.Image, data: bytes) -> bool:
    """True when the upload holds nothing but pixels and colour (and needs no rotation)."""
    if im.getexif():
        return False
    if im.format == "PNG":
        return _png_chunks_bare(data)
    if im.format != "JPEG":  # an MPO carries a second picture with its own EXIF
        return False
    assert isinstance(im, JpegImagePlugin.JpegImageFile)
    for segment, content in im.applist:
        jfif = segment == "APP0" and content.startswith(b"JFIF\0") and len(content) == _JFIF_BARE
        safe = any(segment == s and content.startswith(p) for s, p in _JPEG_SAFE)
        if not (jfif or safe):
            return False
    # Phones append depth maps, motion clips and trailers after the end-of-image marker; a
    # marker-like pair inside a colour profile only costs a needless re-encode.
    return data.find(b"\xff\xd9") == len(data) - 2


def _png_chunks_bare(data: bytes) -> bool:
    """Every chunk is in the allowlist and nothing follows IEND (the file is already verified)."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind not in _PNG_SAFE:
            return False
        pos += 12 + length
        if kind == b"IEND":
            return pos == len(data)
    return False


def _reencode(im: Image.Image) -> CleanImage:
    params: dict[str, object] = {}
    if icc := im.info.get("icc_profile"):
        params["icc_profile"] = icc
    if isinstance(im, JpegImagePlugin.JpegImageFile):
        kind = "JPEG"
        if im.quantization:
            params["qtables"] = im.quantization
        if (sampling := JpegImagePlugin.get_sampling(im)) != -1:
            params["subsampling"] = sampling
    else:
        kind = "PNG"
        if (transparency := im.info.get("transparency")) is not None:
            params["transparency"] = transparency
    ImageOps.exif_transpose(im, in_place=True)
    im.info = {}  # Pillow copies some metadata (a JPEG comment) from info when saving
    out = io.BytesIO()
    im.save(out, kind, **params)
    return CleanImage(out.getvalue(), *im.size)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_for(session: Session, *, scope: Scope, sha256: str, media_dir: Path) -> tuple[bytes, str]:
    """The stored image and its content type, for a caller who may see a (live) visit listing
    it, or who uploaded it; 404 ``not_found`` for anyone else, as if absent.

    Adds the audit row (action ``download``) to the session: the caller commits it with the read.
    """
    check_name(sha256)
    photo = session.get(Photo, sha256)
    if photo is None:
        raise DomainError("not_found")
    visit = session.exec(
        select(Visit.id, Visit.district_code)
        .join(VisitPhoto, col(VisitPhoto.visit_id) == col(Visit.id))
        .where(VisitPhoto.sha256 == sha256, col(Visit.deleted).is_(False), scope.visits())
        .order_by(col(Visit.id))
        .limit(1)
    ).first()
    if visit is None and photo.uploaded_by != scope.username:
        raise DomainError("not_found")
    try:
        data = path_for(media_dir, sha256).read_bytes()
    except FileNotFoundError:
        log.error("photo %s has a row but no file in %s", sha256, media_dir)
        raise DomainError("not_found") from None
    audit.record(
        session,
        actor=scope.username,
        action="download",
        entity="photo",
        entity_id=sha256,
        district_code=visit[1] if visit else None,
        detail=f"visit={visit[0]}" if visit else "uploader",
    )
    return data, content_type(data)


def content_type(data: bytes) -> str:
    for magic, kind in _CONTENT_TYPES.items():
        if data.startswith(magic):
            return kind
    return "application/octet-stream"
