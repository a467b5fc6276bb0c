"""The phone's devices through Flet, behind the core's Protocols (``mobile.core.devices``).

GPS: flet-geolocator. Photos: ``ft.FilePicker`` for the gallery (on the web the picked file
is uploaded to this process in the background, never sent whole over the page's socket, and a
file over the pipeline's limit is refused before any byte moves) and flet-camera for the
camera. Token: flet-secure-storage. Network: ``ft.Connectivity`` (only a hint).

None of these raises for an ordinary outcome (denied, no fix, cancelled); a photo that cannot
be had raises ``PhotoError`` with a Chinese message. Every wait has a timeout.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flet as ft
import flet_camera as fc
import flet_geolocator as fg
import flet_secure_storage as fss

from mobile.core.devices import (
    Connectivity,
    Fix,
    Location,
    LocationResult,
    LocationStatus,
    PhotoSource,
    SecretStore,
)
from mobile.core.photos import MAX_INPUT_BYTES, PhotoError
from shared.messages import t

log = logging.getLogger(__name__)

PERMISSION_TIMEOUT_S = 60.0  # the teacher may take a while to answer the prompt
FIX_TIMEOUT_S = 20.0
UPLOAD_TIMEOUT_S = 180.0
UNKNOWN_ACCURACY_M = 10_000.0  # a fix without accuracy counts as a poor one, never a good one


@dataclass
class Devices:
    """What the screens use; tests pass the core's fakes instead."""

    location: Location
    photos: PhotoSource
    secrets: SecretStore
    connectivity: Connectivity | None = None
    keep: tuple[Any, ...] = ()  # Flet services: dropped by Flet when nothing references them


class FletLocation:
    def __init__(self, geolocator: fg.Geolocator) -> None:
        self.geo = geolocator

    async def locate(self) -> LocationResult:
        try:
            status = await asyncio.wait_for(self.geo.request_permission(), PERMISSION_TIMEOUT_S)
        except Exception:  # no location service at all, or no answer
            log.info("location permission unavailable", exc_info=True)
            return LocationResult(LocationStatus.UNAVAILABLE)
        denied = (
            fg.GeolocatorPermissionStatus.DENIED,
            fg.GeolocatorPermissionStatus.DENIED_FOREVER,
        )
        if status in denied:
            return LocationResult(LocationStatus.DENIED)
        config = fg.GeolocatorConfiguration(accuracy=fg.GeolocatorPositionAccuracy.HIGH)
        try:
            position = await asyncio.wait_for(self.geo.get_current_position(config), FIX_TIMEOUT_S)
        except Exception:
            log.info("no position", exc_info=True)
            return LocationResult(LocationStatus.UNAVAILABLE)
        if position.latitude is None or position.longitude is None:
            return LocationResult(LocationStatus.UNAVAILABLE)
        accuracy = position.accuracy if position.accuracy is not None else UNKNOWN_ACCURACY_M
        fix = Fix(float(position.latitude), float(position.longitude), float(accuracy))
        return LocationResult(LocationStatus.OK, fix)


class FletPhotoSource:
    """Gallery through ``FilePicker``, camera through a dialog holding a ``Camera``."""

    def __init__(self, page: ft.Page, upload_dir: Path | None) -> None:
        self.page, self.upload_dir = page, upload_dir
        self._upload: asyncio.Future[str | None] | None = None
        self.picker = ft.FilePicker(on_upload=self._on_upload)

    async def pick(self) -> bytes | None:
        files = await self.picker.pick_files(file_type=ft.FilePickerFileType.IMAGE)
        if not files:
            return None
        picked = files[0]
        if picked.size > MAX_INPUT_BYTES:  # refused before a byte of it moves
            raise PhotoError(
                t("mobile.photo_file_too_large", size=_mb(picked.size), limit=_mb(MAX_INPUT_BYTES))
            )
        if picked.bytes is not None:
            return bytes(picked.bytes)
        if picked.path:  # a phone: the file is right here
            return await asyncio.to_thread(Path(picked.path).read_bytes)
        return await self._fetch_upload(picked)

    async def _fetch_upload(self, picked: ft.FilePickerFile) -> bytes:
        """The web: the browser PUTs the file to this process's upload endpoint."""
        if self.upload_dir is None:
            raise PhotoError(t("ui.visit.upload_failed"))
        name = f"{uuid.uuid4().hex}.bin"
        loop = asyncio.get_running_loop()
        self._upload = loop.create_future()
        target = self.upload_dir / name
        try:
            await self.picker.upload(
                [
                    ft.FilePickerUploadFile(
                        upload_url=self.page.get_upload_url(name, int(UPLOAD_TIMEOUT_S)),
                        id=picked.id,
                    )
                ]
            )
            error = await asyncio.wait_for(self._upload, UPLOAD_TIMEOUT_S)
            if error is not None or not target.exists():
                raise PhotoError(t("ui.visit.upload_failed"))
            return await asyncio.to_thread(target.read_bytes)
        except TimeoutError:
            raise PhotoError(t("ui.visit.upload_failed")) from None
        finally:
            self._upload = None
            with contextlib.suppress(OSError):
                target.unlink()

    def _on_upload(self, e: ft.FilePickerUploadEvent) -> None:
        done = e.error is not None or (e.progress is not None and e.progress >= 1.0)
        if done and self._upload is not None and not self._upload.done():
            self._upload.set_result(e.error)

    async def take(self) -> bytes | None:
        loop = asyncio.get_running_loop()
        shot: asyncio.Future[bytes | None] = loop.create_future()
        camera = fc.Camera(width=300, height=300, preview_enabled=True)

        async def shoot() -> None:
            try:
                data = await asyncio.wait_for(camera.take_picture(), FIX_TIMEOUT_S)
                if not shot.done():
                    shot.set_result(bytes(data))
            except Exception as exc:
                if not shot.done():
                    shot.set_exception(exc)

        def cancel() -> None:
            if not shot.done():
                shot.set_result(None)

        dialog = ft.AlertDialog(
            modal=True,
            title=ft.Text(t("ui.visit.camera_title")),
            content=camera,
            actions=[
                ft.FilledButton(t("ui.visit.camera_shoot"), on_click=shoot, height=52),
                ft.TextButton(t("ui.action.cancel"), on_click=cancel, height=52),
            ],
        )
        self.page.show_dialog(dialog)
        try:
            cameras = await asyncio.wait_for(camera.get_available_cameras(), FIX_TIMEOUT_S)
            if not cameras:
                raise PhotoError(t("ui.visit.camera_unavailable"))
            back = [c for c in cameras if c.lens_direction == fc.CameraLensDirection.BACK]
            await asyncio.wait_for(
                camera.initialize((back or cameras)[0], fc.ResolutionPreset.HIGH, False),
                FIX_TIMEOUT_S,
            )
            return await asyncio.wait_for(shot, 600)
        except PhotoError:
            raise
        except Exception:
            log.info("camera unavailable", exc_info=True)
            raise PhotoError(t("ui.visit.camera_unavailable")) from None
        finally:
            if dialog.open:
                self.page.pop_dialog()


class FletSecrets:
    """flet-secure-storage; if the platform refuses it, the token lives in memory for this run
    (the teacher then signs in again next launch; nothing else depends on it)."""

    def __init__(self, storage: fss.SecureStorage) -> None:
        self.storage = storage
        self._memory: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        if key in self._memory:
            return self._memory[key]
        try:
            value = await asyncio.wait_for(self.storage.get(key), 10)
        except Exception:
            log.warning("secure storage unavailable", exc_info=True)
            return None
        return value or None

    async def set(self, key: str, value: str) -> None:
        try:
            await asyncio.wait_for(self.storage.set(key, value), 10)
            self._memory.pop(key, None)
        except Exception:
            log.warning("secure storage unavailable; token kept in memory", exc_info=True)
            self._memory[key] = value

    async def delete(self, key: str) -> None:
        self._memory.pop(key, None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.storage.remove(key), 10)


class FletConnectivity:
    def __init__(self, on_online: Callable[[], None]) -> None:
        self.on_online = on_online
        self.service = ft.Connectivity(on_change=self._changed)

    async def online(self) -> bool:
        try:
            kinds = await asyncio.wait_for(self.service.get_connectivity(), 5)
        except Exception:
            return True  # unknown: let the sync try (it handles failure)
        return any(k != ft.ConnectivityType.NONE for k in kinds)

    def _changed(self, e: ft.ConnectivityChangeEvent) -> None:
        if any(k != ft.ConnectivityType.NONE for k in e.connectivity):
            self.on_online()


def flet_devices(
    page: ft.Page, *, upload_dir: Path | None, on_online: Callable[[], None]
) -> Devices:
    """The real devices for ``page`` (services register with the page on creation)."""
    geo = fg.Geolocator()
    storage = fss.SecureStorage()
    photos = FletPhotoSource(page, upload_dir)
    connectivity = FletConnectivity(on_online)
    return Devices(
        location=FletLocation(geo),
        photos=photos,
        secrets=FletSecrets(storage),
        connectivity=connectivity,
        keep=(geo, storage, photos.picker, connectivity.service),
    )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
