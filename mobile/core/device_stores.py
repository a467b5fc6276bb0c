"""One local store per device, opened once and shared by everything that uses the device.

A phone is one device: its store is the data directory itself, as it always was. In the web app
(``songjiao app``) each browser is a device of its own: it keeps a random id in its own storage
(``DEVICE_ID_KEY``, the browser's localStorage) and its store lives in
``<data dir>/devices/<id>/``, created on first use. Several users on several browsers at once
therefore never share records, and a brand-new browser starts empty.

Every tab of one browser is the same device and gets the same ``Store`` object: its locks (one
connection, one sync round at a time) then hold across the tabs, which two ``Store`` objects on
one file would not give.
"""

import re
import threading
import uuid
from pathlib import Path

from mobile.core.store import DB_NAME, Store
from shared.messages import t

DEVICE_ID_KEY = "songjiao.device_id"  # the browser's key/value storage
DEVICES_DIR = "devices"
_DEVICE_ID = re.compile(r"[0-9a-f]{32}")


def new_device_id() -> str:
    return uuid.uuid4().hex


def valid_device_id(value: object) -> bool:
    """Only ids this app makes: a value from the browser becomes a directory name."""
    return isinstance(value, str) and _DEVICE_ID.fullmatch(value) is not None


def legacy_store_note(root: Path) -> str | None:
    """A warning for the web app's start when the store every browser used to share is still
    in ``root`` with records never synced: the web app no longer reads it (whose would they
    be?), so they are pointed out, never silently dropped or given to the first browser."""
    if not (root / DB_NAME).exists():
        return None
    with Store(root) as store:
        waiting = store.pending_counts().records
    return t("mobile.web.legacy_store", path=root / DB_NAME, records=waiting) if waiting else None


class DeviceStores:
    """The stores under ``root`` (the app's data directory), one object per device."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stores: dict[str | None, Store] = {}
        self._lock = threading.Lock()

    def phone(self) -> Store:
        """The one device of a phone (or any non-web run): the data directory itself."""
        return self._open(None)

    def browser(self, device_id: str) -> Store:
        """The store of one browser; raises ``ValueError`` for an id this app never made."""
        if not valid_device_id(device_id):
            raise ValueError(f"not a device id: {device_id!r}")
        return self._open(device_id)

    def path(self, device_id: str | None) -> Path:
        return self.root if device_id is None else self.root / DEVICES_DIR / device_id

    def _open(self, device_id: str | None) -> Store:
        with self._lock:  # two tabs opening at once still get one object
            store = self._stores.get(device_id)
            if store is None:
                store = self._stores[device_id] = Store(self.path(device_id))
            return store

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
