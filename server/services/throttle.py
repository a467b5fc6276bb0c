"""Login throttling per account and per client address, with the ``limits`` library.

Only failures are counted, in a moving window: after ``per_account`` failures for one username
(or ``per_address`` from one address) within the window, every attempt answers "too many"
until the oldest failure leaves the window, even one with the right password (otherwise the
lock would only slow a guesser down by the time it takes to try the next password). A success
clears the account's count but not the address's: one known password must not reset the count
of an address that is guessing at other accounts.

The counts live in the storage named by ``storage_uri``: ``memory://`` keeps them in this
process; with several server processes they must share one, e.g. ``redis://host:6379/0``.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from server.errors import LoginUnavailable

_F = TypeVar("_F", bound=Callable[..., Any])


def _store_reached(method: _F) -> _F:
    """A store that cannot be reached answers 503 ``login_unavailable``, never a 500."""

    @wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except StorageError as exc:
            raise LoginUnavailable() from exc

    return guarded  # type: ignore[return-value]


@dataclass(frozen=True)
class Verdict:
    """``locked``: refuse the attempt; ``retry_after``: seconds until one more is allowed;
    ``by``: what is locked (``account``, ``address`` or both)."""

    locked: bool
    retry_after: int = 0
    by: tuple[str, ...] = ()

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


class LoginThrottle:
    def __init__(
        self, *, per_account: str, per_address: str, storage_uri: str, key_prefix: str
    ) -> None:
        self.per_account: RateLimitItem = parse(per_account)
        self.per_address: RateLimitItem = parse(per_address)
        options = {"key_prefix": key_prefix} if storage_uri.startswith("redis") else {}
        # wrap_exceptions: a store's own errors (redis.ConnectionError ...) arrive as one type.
        self.storage = storage_from_string(storage_uri, wrap_exceptions=True, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)

    def _keys(self, username: str, address: str | None) -> list[tuple[RateLimitItem, str, str]]:
        keys = [(self.per_account, "account", username)]
        if address:
            keys.append((self.per_address, "address", address))
        return keys

    @_store_reached
    def check(self, username: str, address: str | None) -> Verdict:
        """Whether an attempt for ``username`` from ``address`` must be refused now."""
        locked = [
            (kind, self._wait(item, kind, key))
            for item, kind, key in self._keys(username, address)
            if not self.limiter.test(item, kind, key)
        ]
        if not locked:
            return Verdict(False)
        return Verdict(True, max(w for _, w in locked), tuple(k for k, _ in locked))

    @_store_reached
    def fail(self, username: str, address: str | None) -> Verdict:
        """Count one failure; the verdict says whether this failure locked the account or
        the address (the next attempt will be refused)."""
        for item, kind, key in self._keys(username, address):
            self.limiter.hit(item, kind, key)
        return self.check(username, address)

    @_store_reached
    def succeed(self, username: str) -> None:
        self.limiter.clear(self.per_account, "account", username)

    def _wait(self, item: RateLimitItem, kind: str, key: str) -> int:
        reset = self.limiter.get_window_stats(item, kind, key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def close(self) -> None:
        if isinstance(self.storage, RedisStorage):
            self.storage.storage.close()
