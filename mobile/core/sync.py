"""The sync client (on ``requests``) and when to run it (``SyncScheduler``).

One round (``SyncClient.sync``): pull every page, upload the photos queued visits list, push the
outbox in batches, pull again (review results, flags and money for what was just pushed). The
server's cursor decides what is new, never the phone's clock.

Every call has a timeout and may fail: connection refused or dropped, a 5xx, a body that is not
the expected JSON. The round then stops with a Chinese message in ``SyncReport.error`` and nothing
local changes beyond what the server confirmed: ops stay queued (an op that may have arrived is
resent unchanged, so the server answers ``duplicate``), photos stay unmarked. A 401 marks the
store ``needs_sign_in`` and stops; signing in again resumes where it was. A busy server's 503
(or a 429) with ``Retry-After`` stops the round the same way, and ``SyncReport.retry_after_s``
tells the scheduler how long the server asked it to stay away.
"""

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import requests
from pydantic import ValidationError

from mobile.core.models import User
from mobile.core.outbox import PushTally
from mobile.core.store import Store
from shared.messages import t
from shared.protocol import Change, PullResponse, PushResponse

API = "/api/v1"
TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
UPLOAD_TIMEOUT = (5.0, 60.0)
PULL_LIMIT = 1000
MAX_PULL_PAGES = 10_000
MAX_PUSH_ROUNDS = 50
MAX_RETRY_AFTER_S = 600.0  # a server asking for more is capped at the scheduler's ten minutes
_ENTITIES = set(get_args(Change.model_fields["entity"].annotation))


def token_fingerprint(token: str) -> str:
    """What the store keeps of a token (``Store.token_fingerprint``): never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


async def sleep_or_wake(wake: asyncio.Event, delay: float) -> None:
    """Wait ``delay`` seconds or until ``wake`` is set, whichever comes first; clears it."""
    # asyncio.wait, not wait_for: on Python 3.11 wait_for swallows a cancellation that
    # arrives as the wake-up completes (trigger() then cancel()), and the loop ran on.
    waiter = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({waiter}, timeout=delay)
    finally:
        waiter.cancel()
    wake.clear()


def backoff_delay(failures: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` failures in a row: exponential with "equal jitter"
    (half fixed, half random), never below 1 s, so never a busy loop."""
    ceiling = min(max_s, base_s * 2 ** min(failures - 1, 30))
    return max(1.0, ceiling / 2 + rng.uniform(0, ceiling / 2))


def busy_delay(retry_after_s: float, rng: random.Random) -> float:
    """Seconds to wait after a server said ``Retry-After: retry_after_s``: at least that, plus
    up to as much again (at least 1 s) at random, so that the phones a busy server turned away
    together do not all come back in the same second."""
    return retry_after_s + rng.uniform(0, max(1.0, retry_after_s))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (RFC 9110: a number of seconds or an HTTP date), capped at
    ``MAX_RETRY_AFTER_S``; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(MAX_RETRY_AFTER_S, float(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    seconds = (when - (now or datetime.now(when.tzinfo))).total_seconds()
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


class SyncError(Exception):
    """A call that failed; ``str(error)`` is Chinese. ``needs_sign_in``: the token was refused.
    ``retry_after_s``: the server is busy and asked not to be called again before that."""

    def __init__(
        self, message: str, *, needs_sign_in: bool = False, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.needs_sign_in, self.retry_after_s = needs_sign_in, retry_after_s


def normalize_server_url(text: str) -> str:
    """``http(s)://host[:port]`` without a trailing slash; raises ``SyncError`` otherwise."""
    url = text.strip().rstrip("/")
    if url.endswith(API):
        url = url[: -len(API)]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SyncError(t("mobile.bad_server_url"))
    return url


@dataclass(frozen=True)
class SyncProgress:
    stage: Literal["pull", "photos", "push"]
    done: int
    total: int


@dataclass
class SyncReport:
    """What one round did. ``ok`` False: ``error`` says why (Chinese); the rest still counts."""

    ok: bool = False
    error: str = ""
    needs_sign_in: bool = False
    retry_after_s: float | None = None  # the server was busy: come back no sooner than this
    pulled: int = 0  # changes received
    synced: int = 0  # ops the server applied (or had applied: duplicate)
    conflicts: int = 0
    rejected: int = 0
    photos_uploaded: int = 0
    photo_errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One or more Chinese lines for a snackbar."""
        if not self.ok:
            return self.error
        lines = [
            t(
                "mobile.sync.done",
                records=self.synced,
                photos=self.photos_uploaded,
                changes=self.pulled,
            )
        ]
        if self.conflicts:
            lines.append(t("mobile.sync.conflicts", count=self.conflicts))
        if self.rejected:
            lines.append(t("mobile.sync.rejected", count=self.rejected))
        return "\n".join(lines + self.photo_errors)


Progress = Callable[[SyncProgress], None]


class SyncClient:
    """Sign-in and sync for one store against one server. Blocking: call it off the UI loop.

    ``http`` may be any ``requests.Session`` (tests count what it sends).
    """

    def __init__(
        self,
        store: Store,
        server_url: str,
        token: str | None = None,
        *,
        http: requests.Session | None = None,
        device_name: str = t("ui.device_name"),
    ) -> None:
        self.store, self.token, self.device_name = store, token, device_name
        self.base = normalize_server_url(server_url)
        self.http = http or requests.Session()

    # -- sign-in --------------------------------------------------------------------------

    def login(self, username: str, password: str) -> str:
        """Sign in; returns the token (keep it in secure storage) and records the user.

        Refused while another user's records wait on this phone (they would be wiped).
        """
        current = self.store.user()
        if current is not None and current.username != username:
            waiting = self.store.pending_counts().records
            if waiting:
                raise SyncError(
                    t("mobile.other_user_pending", username=current.username, count=waiting)
                )
        body = {"username": username, "password": password, "device_name": self.device_name}
        response = self._call("POST", "/auth/login", json=body, auth=False)
        if response.status_code != 200:
            raise SyncError(self._refusal(response))
        data = self._json(response)
        try:
            token, raw = str(data["token"]), data["user"]
            user = User(
                username=raw["username"],
                name=raw.get("name", ""),
                role=raw["role"],
                district_code=raw.get("district_code"),
                base_school_id=raw.get("base_school_id"),
            )
        except (KeyError, TypeError):
            raise SyncError(t("mobile.bad_response")) from None
        # Under the sync lock: another tab's round on this store never sees half a sign-in.
        with self.store.sync_lock:
            self.store.set_server_url(self.base)
            self.store.set_user(user)
            self.store.set_token_fingerprint(token_fingerprint(token))
        self.token = token
        return token

    def holds_current_token(self) -> bool:
        """This client's token is the one the store's data belongs to (see the store)."""
        return bool(self.token) and self.store.token_fingerprint() == token_fingerprint(
            self.token or ""
        )

    # -- one round ------------------------------------------------------------------------

    def sync(self, progress: Progress | None = None) -> SyncReport:
        """Pull, upload photos, push, pull. Never raises for network or server trouble."""
        report = SyncReport()
        if not self.token or self.store.needs_sign_in():
            report.error, report.needs_sign_in = t("mobile.signed_out"), True
            return report
        with self.store.sync_lock:  # the button and the scheduler never push side by side
            if not self.holds_current_token():
                # Signed out meanwhile (maybe in another tab), maybe someone else signed in:
                # this token is no longer the store's, and it never will be again.
                self.token = None
                report.error, report.needs_sign_in = t("mobile.signed_out"), True
                return report
            try:
                report.pulled += self.pull(progress)
                self.upload_photos(report, progress)
                self.push(report, progress)
                report.pulled += self.pull(progress)
                report.ok = True
            except SyncError as exc:
                report.error, report.needs_sign_in = str(exc), exc.needs_sign_in
                report.retry_after_s = exc.retry_after_s
        return report

    def pull(self, progress: Progress | None = None) -> int:
        """Every change since the stored cursor, page by page; returns how many."""
        cursor, received = self.store.cursor(), 0
        for _ in range(MAX_PULL_PAGES):
            # The calendar tag asks the server for the city's term calendar when it changed.
            params: dict[str, Any] = {"limit": PULL_LIMIT, "calendar": self.store.calendar_tag()}
            if cursor:
                params["cursor"] = cursor
            response = self._call("GET", "/sync/pull", params=params)
            raw = self._json(response, expect=200)
            try:
                # Entities a newer server adds are skipped, not fatal.
                raw["changes"] = [c for c in raw["changes"] if c.get("entity") in _ENTITIES]
                page = PullResponse.model_validate(raw)
            except (ValidationError, KeyError, TypeError, AttributeError):
                raise SyncError(t("mobile.bad_response")) from None
            if page.calendar is not None:
                self.store.set_calendar(page.calendar)
            self.store.apply_pull(page.changes, page.cursor, complete=not page.has_more)
            received += len(page.changes)
            if progress:
                progress(SyncProgress("pull", received, received + int(page.has_more)))
            if not page.has_more:
                break
            if page.cursor == cursor:  # no progress: stop rather than spin
                raise SyncError(t("mobile.bad_response"))
            cursor = page.cursor
        return received

    def upload_photos(self, report: SyncReport, progress: Progress | None = None) -> None:
        """PUT each photo a queued visit lists and the server has not confirmed (2xx) yet."""
        todo = self.store.photos_to_upload()
        for done, photo in enumerate(todo, start=1):
            try:
                data = self.store.photo_file(photo.sha256).read_bytes()
            except OSError:
                message = t("mobile.photo_missing", sha256=photo.sha256[:12])
                self.store.mark_photo_error(photo.sha256, message)
                report.photo_errors.append(message)
                continue
            response = self._call(
                "PUT",
                f"/photos/{photo.sha256}",
                data=data,
                headers={"Content-Type": "image/jpeg"},
                timeout=UPLOAD_TIMEOUT,
            )
            if response.status_code in (200, 201):
                self.store.mark_photo_uploaded(photo.sha256)
                report.photos_uploaded += 1
            else:  # 400/413/415: this file will not go as it is; the others still may
                message = t("mobile.photo_upload_failed", message=self._refusal(response))
                self.store.mark_photo_error(photo.sha256, message)
                report.photo_errors.append(message)
            if progress:
                progress(SyncProgress("photos", done, len(todo)))

    def push(self, report: SyncReport, progress: Progress | None = None) -> None:
        """Push the outbox in batches until nothing more can go now."""
        outbox = self.store.outbox
        for _ in range(MAX_PUSH_ROUNDS):
            held = {p.sha256 for p in self.store.photos_to_upload()}
            batch = outbox.take_batch(hold_photos=held)
            if not batch:
                return
            response = self._call("POST", "/sync/push", json={"ops": [op.wire() for op in batch]})
            try:
                results = PushResponse.model_validate(self._json(response, expect=200)).results
            except ValidationError:
                results = []
            if len(results) != len(batch):
                outbox.note_failure(batch, t("mobile.bad_response"))
                raise SyncError(t("mobile.bad_response"))
            tally: PushTally = outbox.apply_results(results)
            report.synced += tally.synced
            report.conflicts += tally.conflicts
            report.rejected += tally.rejected
            if progress:
                progress(SyncProgress("push", report.synced, report.synced + len(outbox.ops())))
            if tally.synced + tally.conflicts + tally.rejected == 0:
                return  # only ops waiting for photos came back: next round

    # -- HTTP -----------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, auth: bool = True, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        kw.setdefault("timeout", TIMEOUT)
        try:
            response = self.http.request(method, self.base + API + path, headers=headers, **kw)
        except requests.ConnectTimeout:
            raise SyncError(t("mobile.offline")) from None
        except requests.Timeout:
            raise SyncError(t("mobile.timeout")) from None
        except requests.RequestException:
            raise SyncError(t("mobile.offline")) from None
        self._note_clock(response)
        if response.status_code == 401 and auth:
            self.store.set_needs_sign_in(True)
            raise SyncError(t("mobile.signed_out"), needs_sign_in=True)
        if response.status_code in (429, 503):
            # Back-pressure (the server sheds load) or a rate limit: nothing was done; the
            # round stops and the scheduler waits as long as the server asked.
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is not None:
                message = (
                    t("mobile.server_busy", seconds=max(1, round(wait)))
                    if response.status_code == 503
                    else self._refusal(response)
                )
                raise SyncError(message, retry_after_s=wait)
        if response.status_code >= 500:
            raise SyncError(t("mobile.server_error", status=response.status_code))
        return response

    def _json(self, response: requests.Response, expect: int | None = None) -> Any:
        if expect is not None and response.status_code != expect:
            raise SyncError(self._refusal(response))
        try:
            return response.json()
        except ValueError:
            raise SyncError(t("mobile.bad_response")) from None

    @staticmethod
    def _refusal(response: requests.Response) -> str:
        """The server's own Chinese message for a 4xx, when it sent one."""
        try:
            message = response.json()["error"]["message"]
            if isinstance(message, str) and message:
                return message
        except (ValueError, KeyError, TypeError):
            pass
        return t("mobile.request_refused", status=response.status_code, message="")

    def _note_clock(self, response: requests.Response) -> None:
        """Phone clock minus server clock, from the Date header (whole seconds)."""
        try:
            server_now = parsedate_to_datetime(response.headers["Date"])
        except (KeyError, TypeError, ValueError, IndexError):
            return
        skew = (datetime.now(server_now.tzinfo) - server_now).total_seconds()
        known = self.store.clock_skew_s()
        if known is None or abs(skew - known) > 30:  # the header has whole seconds: no churn
            self.store.set_meta("clock_skew_s", f"{skew:.0f}")


class SyncScheduler:
    """When to run the next round: soon after a failure, growing to ``max_s`` (exponential
    backoff with jitter), ``idle_s`` after a success, at once on ``trigger()``; it stops when
    the user must sign in. When the server said ``Retry-After`` (busy), the next round waits
    at least that long plus jitter, ``trigger()`` included. Time comes from the injected
    ``sleep`` (tests never wait).

    ``sync_once`` is blocking (it runs in a worker thread); ``on_report`` sees every report.
    """

    def __init__(
        self,
        sync_once: Callable[[], SyncReport],
        *,
        base_s: float = 5.0,
        max_s: float = 600.0,
        idle_s: float = 300.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        on_report: Callable[[SyncReport], None] | None = None,
    ) -> None:
        self.sync_once, self.on_report = sync_once, on_report
        self.base_s, self.max_s, self.idle_s = base_s, max_s, idle_s
        self.rng = rng or random.Random()
        self.failures = 0
        self._sleep = sleep
        self._wake: asyncio.Event | None = None
        self.last_run: float | None = None
        self.not_before = 0.0  # time.monotonic() before which no round starts (Retry-After)

    def delay_after(self, report: SyncReport) -> float | None:
        """Seconds until the next round after ``report``; None: stop (sign in first)."""
        if report.needs_sign_in:
            return None
        if report.ok:
            self.failures = 0
            return self.idle_s
        self.failures += 1
        delay = backoff_delay(self.failures, self.base_s, self.max_s, self.rng)
        if report.retry_after_s is not None:
            # The server's "not before" is a floor, not a replacement for the backoff.
            busy = busy_delay(report.retry_after_s, self.rng)
            self.not_before = time.monotonic() + busy
            delay = max(delay, busy) if self.failures > 1 else busy
        return delay

    def trigger(self) -> None:
        """Sync now (the 同步 button, or the network came back). Call from the event loop."""
        self.failures = 0
        if self._wake is not None:
            self._wake.set()

    async def run(self, *, max_rounds: int | None = None) -> SyncReport | None:
        """Sync rounds until sign-in is needed (or ``max_rounds``); returns the last report."""
        self._wake = asyncio.Event()
        report, rounds = None, 0
        while max_rounds is None or rounds < max_rounds:
            rounds += 1
            self.last_run = time.monotonic()
            report = await asyncio.to_thread(self.sync_once)
            if self.on_report:
                self.on_report(report)
            delay = self.delay_after(report)
            if delay is None or (max_rounds is not None and rounds >= max_rounds):
                break
            await self._pause(delay)
        return report

    async def _pause(self, delay: float) -> None:
        assert self._wake is not None
        if self._sleep is not None:
            await self._sleep(delay)
            return
        await sleep_or_wake(self._wake, delay)
        held = self.not_before - time.monotonic()
        if held > 0:  # woken early (the 同步 button) while a busy server asked us to wait
            await asyncio.sleep(held)
