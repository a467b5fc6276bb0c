"""Photos: upload by SHA-256, download for callers in scope (contract.md, HTTP API)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from server import errors
from server.deps import CurrentUser, ScopeDep, SessionDep, SettingsDep
from server.errors import ApiError
from server.services import photos
from shared.messages import t

router = APIRouter(tags=["photos"])

# Children's photos must not sit in shared or browser caches, nor be sniffed into something else.
PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
# Raw bytes, declared with a binary schema per media type so that client generators (and
# schemathesis) know the body is a file, not JSON.
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_IMAGE_CONTENT = {"image/jpeg": _BINARY, "image/png": _BINARY}
# The name's format, documented only: photos.check_name answers 400 invalid_request, as before.
Sha256Path = Annotated[
    str,
    Path(description=t("api.doc.sha256"), json_schema_extra={"pattern": r"^[0-9a-f]{64}$"}),
]


class PhotoOut(BaseModel):
    sha256: str
    size: int
    width: int
    height: int


@router.put(
    "/photos/{sha256}",
    status_code=201,
    response_model=PhotoOut,
    response_description=t("api.doc.photo_created"),
    responses={
        200: {"model": PhotoOut, "description": t("api.doc.photo_exists")},
        **errors.responses(400, 401, 413, 415, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": t("api.doc.photo_body"),
            # One media type: generators build one raw-body argument per type and trip over
            # two (openapi-python-client 0.29 emits code that does not import). PNG bytes are
            # accepted all the same: the server reads the format from the bytes, not the header.
            "content": {"image/jpeg": _BINARY},
        }
    },
)
async def upload(
    sha256: Sha256Path,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> PhotoOut:
    """Body: the JPEG or PNG bytes, named by their SHA-256. 201 new, 200 already stored."""
    photos.check_name(sha256)
    data = await _read_capped(request, settings.max_photo_bytes)
    # Decoding and re-encoding are CPU work: keep them off the event loop.
    photo, created = await run_in_threadpool(
        photos.store,
        session,
        sha256=sha256,
        data=data,
        uploader=user.username,
        media_dir=settings.media_dir,
        max_bytes=settings.max_photo_bytes,
        max_pixels=settings.max_photo_pixels,
    )
    response.status_code = 201 if created else 200
    return PhotoOut.model_validate(photo, from_attributes=True)


@router.get(
    "/photos/{sha256}",
    response_class=Response,
    responses={
        200: {"content": _IMAGE_CONTENT, "description": t("api.doc.photo")},
        **errors.responses(400, 401, 404, 503),
    },
)
def download(
    sha256: Sha256Path, scope: ScopeDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """The stored (metadata-free) image; every successful read is in the audit log."""
    data, media_type = photos.read_for(
        session, scope=scope, sha256=sha256, media_dir=settings.media_dir
    )
    session.commit()  # the audit row first: no photo leaves unlogged
    return Response(data, media_type=media_type, headers=PRIVATE)


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused past ``limit`` bytes (BodyLimit does this too; no reliance on it)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "photo_too_large", limit=photos.megabytes(limit))
    return bytes(body)
