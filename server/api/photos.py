"""Photos: upload by SHA-256, download for callers in scope (contract.md, HTTP API)."""

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from server.deps import CurrentUser, ScopeDep, SessionDep, SettingsDep
from server.errors import ApiError
from server.services import photos

router = APIRouter(tags=["photos"])

# Children's photos must not sit in shared or browser caches, nor be sniffed into something else.
PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
_IMAGE = {"content": {"image/jpeg": {}, "image/png": {}}, "description": "照片"}


class PhotoOut(BaseModel):
    sha256: str
    size: int
    width: int
    height: int


@router.put(
    "/photos/{sha256}",
    status_code=201,
    response_model=PhotoOut,
    responses={200: {"model": PhotoOut, "description": "已存在"}},
    openapi_extra={"requestBody": {"required": True, "content": _IMAGE["content"]}},
)
async def upload(
    sha256: str,
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
    responses={200: _IMAGE, 404: {"description": "不存在或无权查看"}},
)
def download(sha256: str, scope: ScopeDep, session: SessionDep, settings: SettingsDep) -> Response:
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
