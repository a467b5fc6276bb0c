"""The device fakes behave like the devices the views will wrap."""

import asyncio

from mobile.core.devices import (
    TOKEN_KEY,
    FakeConnectivity,
    FakeLocation,
    FakePhotoSource,
    Fix,
    LocationResult,
    LocationStatus,
    MemorySecrets,
)
from shared.messages import t


def test_location_outcomes_carry_a_position_or_a_reason() -> None:
    denied = LocationResult(LocationStatus.DENIED)
    fixed = LocationResult(LocationStatus.OK, Fix(29.6, 119.0, 5000))
    location = FakeLocation(denied, fixed)

    async def twice() -> list[LocationResult]:
        return [await location.locate() for _ in range(3)]

    first, second, third = asyncio.run(twice())
    assert first.position() is None and first.reason == t("mobile.location.denied")
    assert second.position() == {"lat": 29.6, "lon": 119.0, "accuracy_m": 5000}
    assert second.reason == "" and third == second
    assert asyncio.run(FakeLocation().locate()).status == LocationStatus.UNAVAILABLE


def test_photo_source_secrets_and_connectivity_fakes() -> None:
    source = FakePhotoSource([b"one"])
    assert asyncio.run(source.take()) == b"one"
    assert asyncio.run(source.pick()) is None  # cancelled
    secrets = MemorySecrets()
    asyncio.run(secrets.set(TOKEN_KEY, "tok"))
    assert asyncio.run(secrets.get(TOKEN_KEY)) == "tok"
    asyncio.run(secrets.delete(TOKEN_KEY))
    assert asyncio.run(secrets.get(TOKEN_KEY)) is None
    assert asyncio.run(FakeConnectivity(online=False).online()) is False
