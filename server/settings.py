"""One Settings class, from SONGJIAO_* environment variables and a .env file."""

import json
from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.terms import TermDates

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
    max_photo_pixels: int = 40_000_000  # about 6300 x 6300; more is treated as a bomb
    pull_max_limit: int = 1000
    # A city calendar as JSON: {"2025-1": {"start": "...", "end": "...",
    #   "teaching_start": "...", "teaching_end": "..."}}; empty: the defaults of shared.terms.
    term_calendar: str = ""

    @model_validator(mode="after")
    def _secret_outside_development(self) -> "Settings":
        if self.environment != "development" and self.secret_key == DEV_SECRET:
            raise ValueError("SONGJIAO_SECRET_KEY must be set outside development mode")
        return self

    def calendar(self) -> dict[str, TermDates]:
        if not self.term_calendar:
            return {}
        raw = json.loads(self.term_calendar)
        return {term: TermDates(**{k: _date(v) for k, v in d.items()}) for term, d in raw.items()}


def _date(value: str):
    from datetime import date

    return date.fromisoformat(value)


@lru_cache
def get_settings() -> Settings:
    return Settings()
