"""Device features behind small interfaces, with in-memory fakes.

The Flet-backed implementations (flet-geolocator, flet-camera / FilePicker, flet-secure-storage,
``ft.Connectivity``) live with the views; the core and its tests use only these Protocols. All
methods are coroutines because Flet's are. None of them raises for an ordinary outcome: a denied
permission, no fix, a cancelled picker are results.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from shared.messages import t

TOKEN_KEY = "songjiao.token"  # the bearer token's key in secure storage


class LocationStatus(StrEnum):
    OK = "ok"
    DENIED = "denied"  # the user refused the permission
    UNAVAILABLE = "unavailable"  # no fix (indoors, GPS off, timeout)


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    accuracy_m: float


@dataclass(frozen=True)
class LocationResult:
    status: LocationStatus
    fix: Fix | None = None

    def position(self) -> dict[str, float] | None:
        """The ``check_in`` / ``check_out`` value of a ``VisitRecord``."""
        if self.fix is None:
            return None
        return {"lat": self.fix.lat, "lon": self.fix.lon, "accuracy_m": self.fix.accuracy_m}

    @property
    def reason(self) -> str:
        """Chinese: why there is no position ('' when there is one)."""
        return "" if self.fix else t(f"mobile.location.{self.status}")


class Location(Protocol):
    async def locate(self) -> LocationResult:
        """The current position with its accuracy, or why there is none."""
        ...


class PhotoSource(Protocol):
    async def take(self) -> bytes | None:
        """A camera shot's bytes; None when the teacher cancelled."""
        ...

    async def pick(self) -> bytes | None:
        """A gallery picture's bytes; None when the teacher cancelled."""
        ...


class SecretStore(Protocol):
    """Secure key/value storage (the token lives here, never in the SQLite store)."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def delete(self, key: str) -> None: ...


class Connectivity(Protocol):
    async def online(self) -> bool:
        """A network is up. Only a hint: the server may still not answer."""
        ...


# -- fakes ----------------------------------------------------------------------------------


class FakeLocation:
    """Answers the given results in turn, then repeats the last one."""

    def __init__(self, *results: LocationResult) -> None:
        self._results = deque(results or [LocationResult(LocationStatus.UNAVAILABLE)])

    @classmethod
    def at(cls, lat: float, lon: float, accuracy_m: float = 10.0) -> "FakeLocation":
        return cls(LocationResult(LocationStatus.OK, Fix(lat, lon, accuracy_m)))

    async def locate(self) -> LocationResult:
        return self._results.popleft() if len(self._results) > 1 else self._results[0]


class FakePhotoSource:
    """Hands out the given pictures in turn; None once they run out (as if cancelled)."""

    def __init__(self, photos: Iterable[bytes] = ()) -> None:
        self._photos = deque(photos)

    async def take(self) -> bytes | None:
        return self._photos.popleft() if self._photos else None

    async def pick(self) -> bytes | None:
        return await self.take()


class MemorySecrets:
    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self.values: dict[str, Any] = dict(initial or {})

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)


class FakeConnectivity:
    def __init__(self, online: bool = True) -> None:
        self.is_online = online

    async def online(self) -> bool:
        return self.is_online
