"""Sign-in across launches: the user and server address in the store, the token in secure
storage (``devices.SecretStore``). Coroutines, for the views; the blocking work runs in a thread.

A returning user works offline at once (``resume``); ``client.token is None`` or
``store.needs_sign_in()`` means: show 登录 again, without wiping anything.
"""

import asyncio
from typing import Any

from mobile.core.devices import TOKEN_KEY, SecretStore
from mobile.core.store import Store
from mobile.core.sync import SyncClient


async def resume(store: Store, secrets: SecretStore, **client_kw: Any) -> SyncClient | None:
    """The client for the user signed in on this phone; None when nobody is.

    Without the token in this device's secure storage nobody is: the records stay in the store,
    but their children's names are shown only after a sign-in (the same user keeps them, another
    one is refused while they wait to sync). A token the server refused is still a sign-in: the
    teacher works on offline and signs in again when told.
    """
    url = store.server_url()
    token = await secrets.get(TOKEN_KEY)
    if store.user() is None or url is None or not token:
        return None
    return SyncClient(store, url, token, **client_kw)


async def sign_in(
    store: Store,
    secrets: SecretStore,
    server_url: str,
    username: str,
    password: str,
    **client_kw: Any,
) -> SyncClient:
    """Sign in (raises ``SyncError`` with a Chinese message) and keep the token securely."""
    client = SyncClient(store, server_url, **client_kw)
    token = await asyncio.to_thread(client.login, username, password)
    await secrets.set(TOKEN_KEY, token)
    return client


async def sign_out(store: Store, secrets: SecretStore) -> None:
    """Forget the token and wipe the user's local data (check ``pending_counts()`` first)."""
    await secrets.delete(TOKEN_KEY)
    await asyncio.to_thread(store.sign_out)
