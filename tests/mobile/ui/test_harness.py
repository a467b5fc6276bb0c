"""The in-process client itself, and the Flet device adapters it lets us drive."""

import datetime as dt

import flet as ft
import flet_geolocator as fg
import flet_secure_storage as fss
import pytest

from mobile.core.devices import LocationStatus
from mobile.core.photos import PhotoError
from mobile.ui.devices import FletLocation, FletPhotoSource, FletSecrets
from tests.mobile.ui.appkit import jpeg, run
from tests.mobile.ui.harness import FakeClient, UiError


async def _counter_page(trap: bool) -> FakeClient:
    async def main(page: ft.Page) -> None:
        label = ft.Text("0 次")

        def clicked(e: ft.ControlEvent) -> None:
            if trap:
                page.update()  # the handler trap: Flet now skips its own update
            label.value = "1 次"

        page.add(ft.Column([label, ft.FilledButton("加一", on_click=clicked)]))

    client = FakeClient()
    await client.open(main)
    return client


def test_a_change_that_reaches_the_client_is_seen() -> None:
    async def scenario() -> None:
        client = await _counter_page(trap=False)
        await client.click("加一")
        assert client.has_text("1 次") and not client.has_text("0 次")
        await client.close()

    run(scenario())


def test_state_never_sent_to_the_client_fails_the_test() -> None:
    async def scenario() -> None:
        client = await _counter_page(trap=True)
        with pytest.raises(UiError, match="never sent"):
            await client.click("加一")
        await client.close()

    run(scenario())


def test_disabled_and_missing_controls_cannot_be_used() -> None:
    async def scenario() -> None:
        async def main(page: ft.Page) -> None:
            page.add(ft.FilledButton("保存", disabled=True, on_click=lambda e: None))

        client = FakeClient()
        await client.open(main)
        with pytest.raises(UiError, match="disabled"):
            await client.click("保存")
        with pytest.raises(UiError, match="no control"):
            await client.click("删除")
        await client.close()

    run(scenario())


async def _with_services(client: FakeClient) -> dict:
    made: dict = {}

    async def main(page: ft.Page) -> None:
        made["geo"] = fg.Geolocator()
        made["storage"] = fss.SecureStorage()
        made["photos"] = FletPhotoSource(page, upload_dir=None)
        page.data = made
        page.add(ft.Text("设备"))

    await client.open(main)
    return made


def test_location_adapter_reports_fix_denied_and_unavailable() -> None:
    async def scenario() -> None:
        client = FakeClient()
        made = await _with_services(client)
        location = FletLocation(made["geo"])
        client.answers[("Geolocator", "request_permission")] = lambda c, a: "whileInUse"
        client.answers[("Geolocator", "get_current_position")] = lambda c, a: {
            "latitude": 29.7,
            "longitude": 119.1,
            "accuracy": 5000.0,
            "timestamp": dt.datetime.now(dt.UTC),
        }
        found = await location.locate()
        assert found.status == LocationStatus.OK and found.fix.accuracy_m == 5000.0
        client.answers[("Geolocator", "request_permission")] = lambda c, a: "deniedForever"
        assert (await location.locate()).status == LocationStatus.DENIED

        def no_fix(c, a):
            raise RuntimeError("Location services are disabled")

        client.answers[("Geolocator", "request_permission")] = lambda c, a: "whileInUse"
        client.answers[("Geolocator", "get_current_position")] = no_fix
        assert (await location.locate()).status == LocationStatus.UNAVAILABLE
        await client.close()

    run(scenario())


def test_secrets_adapter_keeps_the_token_in_secure_storage() -> None:
    async def scenario() -> None:
        client = FakeClient()
        made = await _with_services(client)
        secrets = FletSecrets(made["storage"])
        await secrets.set("k", "令牌")
        assert client.secure == {"k": "令牌"} and await secrets.get("k") == "令牌"
        await secrets.delete("k")
        assert client.secure == {} and await secrets.get("k") is None
        await client.close()

    run(scenario())


def test_photo_adapter_refuses_a_huge_file_before_reading_it() -> None:
    async def scenario() -> None:
        client = FakeClient()
        made = await _with_services(client)
        photos: FletPhotoSource = made["photos"]
        picture = jpeg()
        client.answers[("FilePicker", "pick_files")] = lambda c, a: [
            {"id": 1, "name": "a.jpg", "size": len(picture), "bytes": picture}
        ]
        assert await photos.pick() == picture
        client.answers[("FilePicker", "pick_files")] = lambda c, a: [
            {"id": 2, "name": "big.jpg", "size": 50 * 1024 * 1024}
        ]
        with pytest.raises(PhotoError, match="照片文件过大"):
            await photos.pick()
        assert not [call for call in client.calls if call[1] == "upload"]
        client.answers[("FilePicker", "pick_files")] = lambda c, a: []
        assert await photos.pick() is None  # cancelled
        await client.close()

    run(scenario())
