"""One Settings class, from SONGJIAO_* environment variables and a .env file."""

from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.terms import TermDates, calendar_tag, parse_calendar

DEV_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SONGJIAO_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/songjiao.db"
    media_dir: Path = Path("var/media")
    secret_key: str = DEV_SECRET
    # development: the default secret is allowed; anything else must set SONGJIAO_SECRET_KEY.
    environment: str = "development"
    secure_cookies: bool = False
    max_body_bytes: int = 8 * 1024 * 1024  # any request except photo uploads
    max_photo_bytes: int = 5 * 1024 * 1024
    max_roster_bytes: int = 32 * 1024 * 1024  # a roster file (server/limits.py ROSTER_PATHS)
    max_photo_pixels: int = 40_000_000  # about 6300 x 6300; more is treated as a bomb
    pull_max_limit: int = 1000
    # A city calendar as JSON: {"2025-1": {"start": "...", "end": "...",
    #   "teaching_start": "...", "teaching_end": "..."}}; empty: the defaults of shared.terms.
    # Parsed once, at start (a calendar nobody can read refuses to start); phones pull it
    # (docs/api.md, "The term calendar reaches the phones").
    term_calendar: str = ""
    # The day `songjiao demo` takes for today (it loads the term in progress up to the day
    # before); unset: today in Asia/Shanghai. Tests pin it; `songjiao demo --today` overrides.
    demo_today: date | None = None
    # Console sign-ins end after this many minutes without a request (and after 12 h at most).
    console_idle_minutes: int = Field(default=30, ge=1)
    # Failed logins allowed per username and per client address in a window (the `limits`
    # notation); past either, 429 until the window moves on. An address gets more: a
    # school's staff share one NAT address.
    login_failures_per_account: str = "5/15 minutes"
    login_failures_per_address: str = "50/15 minutes"
    # Where the failure counts live: this process, or a store every server process shares.
    rate_limit_storage: str = "memory://"
    rate_limit_key_prefix: str = "songjiao"
    # Back-pressure (issue 8). Sync work (push, pull, photo PUT/GET) is admitted by an async gate
    # before it takes a worker thread or a connection: this many run at once per process, this
    # many more wait at most this long, the rest answer 503 server_busy with Retry-After. A push
    # is CPU work in Python and writers queue on one lock anyway: more than a few at once only
    # lengthens every one of them.
    sync_concurrency: int = Field(default=4, ge=1, le=64)
    sync_queue: int = Field(default=16, ge=0, le=10_000)
    sync_queue_seconds: float = Field(default=5.0, ge=0, le=60)
    # Retry-After of a 503 in seconds; grows with the queue (see server.admission).
    sync_retry_after: int = Field(default=2, ge=1, le=300)
    # Connections for everything else (console, sign-in, reports): their own pool, so that
    # saturated sync never starves the console. The sync pool is exactly sync_concurrency.
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_pool_overflow: int = Field(default=5, ge=0, le=100)
    # Last guard: a request that still finds no connection within this answers 503.
    db_pool_timeout: float = Field(default=5.0, gt=0, le=60)
    # Devices' last-use times are marked in memory and written together this often (best
    # effort: a crash loses at most this much of a "last seen" time).
    last_used_flush_seconds: float = Field(default=5.0, gt=0, le=300)
    # Re-judging stored visits after a policy change (issue 10, services/rejudge_jobs.py): visits
    # judged per transaction (each page holds the write lock: about 1,000 visits a second on
    # SQLite when all change, so 250 is a quarter of a second); how long the saving request runs
    # pages before leaving the rest to the background worker; how long a runner's lease lasts
    # without a heartbeat (then another process may take the job over); how often the worker
    # looks for jobs left by others (it is woken at once for this process's own).
    rejudge_page_size: int = Field(default=250, ge=1, le=10_000)
    rejudge_inline_seconds: float = Field(default=2.0, ge=0, le=60)
    rejudge_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    rejudge_poll_seconds: float = Field(default=5.0, gt=0, le=600)

    @field_validator("login_failures_per_account", "login_failures_per_address")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        parse(value)  # refuse to start with a limit nobody can read
        return value

    @field_validator("term_calendar")
    @classmethod
    def _calendar(cls, value: str) -> str:
        parse_calendar(value)
        return value

    @model_validator(mode="after")
    def _secret_outside_development(self) -> "Settings":
        if self.environment != "development" and self.secret_key == DEV_SECRET:
            raise ValueError("SONGJIAO_SECRET_KEY must be set outside development mode")
        return self

    @cached_property
    def _terms(self) -> dict[str, TermDates]:
        return parse_calendar(self.term_calendar)

    def calendar(self) -> dict[str, TermDates]:
        """The city's term dates, parsed once per Settings (a process has one)."""
        return self._terms

    @cached_property
    def calendar_tag(self) -> str:
        """A digest of ``calendar()``: a phone that holds this tag holds this calendar."""
        return calendar_tag(self._terms)


@lru_cache
def get_settings() -> Settings:
    return Settings()
