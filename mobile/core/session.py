"""Sign-in across launches: the user and server address in the store, the token in secure
storage (``devices.SecretStore``). Coroutines, for the views; the blocking work runs in a thread.

A returning user works offline at once (``resume``); ``client.token is None`` or
``store.needs_sign_in()`` means: show 登录 again, without wiping anything.

Signing out queues the token's revocation on the server (``mobile.core.revoke``) before wiping.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

from mobile.core import revoke
from mobile.core.devices import TOKEN_KEY, SecretStore
from mobile.core.models import LocalVisit, VisitState
from mobile.core.store import Store
from mobile.core.sync import SyncClient, token_fingerprint
from mobile.core.visit_form import VisitForm


async def resume(store: Store, secrets: SecretStore, **client_kw: Any) -> SyncClient | None:
    """The client for the user signed in on this phone; None when nobody is.

    Without the token in this device's secure storage nobody is: the records stay in the store,
    but their children's names are shown only after a sign-in (the same user keeps them, another
    one is refused while they wait to sync). A token the server refused is still a sign-in: the
    teacher works on offline and signs in again when told.
    """
    url = store.server_url()
    token = await secrets.get(TOKEN_KEY)
    if token and await revoke.is_queued(secrets, token):
        await _finish_sign_out(store, secrets)  # the app was killed mid sign-out
        return None
    if store.user() is None or url is None or not token:
        return None
    known = store.token_fingerprint()
    if known is None:  # a store from before fingerprints: its token is the one in secure storage
        await asyncio.to_thread(store.set_token_fingerprint, token_fingerprint(token))
    elif known != token_fingerprint(token):
        return None  # not the token this store's data belongs to: sign in (nothing is wiped)
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


@dataclass(frozen=True)
class SignOutLoss:
    """What signing out would destroy: the confirmation says it before anything is wiped."""

    unsynced: list[LocalVisit]  # saved here, and the server does not hold them as they are
    drafts: list[LocalVisit]  # begun or edited and never saved (blank forms left out)
    photos: int  # photos those visits still have to upload

    @property
    def nothing(self) -> bool:
        return not (self.unsynced or self.drafts or self.photos)


_NOT_ON_SERVER = (VisitState.PENDING, VisitState.CONFLICT, VisitState.REJECTED)


def sign_out_loss(store: Store) -> SignOutLoss:
    unsynced = [v for v in store.visits(include_deleted=True) if v.state in _NOT_ON_SERVER]
    drafts = [
        v
        for v in store.drafts()
        if v.draft is not None and not VisitForm.from_dict(v.draft).is_blank()
    ]
    return SignOutLoss(unsynced, drafts, store.pending_counts().photos)


async def sign_out(store: Store, secrets: SecretStore) -> None:
    """Queue the token's revocation, wipe the user's local data (check ``pending_counts()``
    first), forget the token; then let a ``Revoker`` send the revocation.

    In this order, a kill at any step leaves the token queued, and ``resume`` finishes the job.
    """
    token, url = await secrets.get(TOKEN_KEY), store.server_url()
    if token and url:
        await revoke.queue(secrets, url, token)
    await _finish_sign_out(store, secrets)


async def _finish_sign_out(store: Store, secrets: SecretStore) -> None:
    await revoke.while_holding(store.sign_out)  # the caller may hold the store's sync lock
    await secrets.delete(TOKEN_KEY)
