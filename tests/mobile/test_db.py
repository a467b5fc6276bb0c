"""The phone's SQLite file: WAL, migrated once, and refused when a newer app wrote it."""

import sqlite3
from pathlib import Path

import pytest

from mobile.core.db import MIGRATIONS
from mobile.core.store import DB_NAME, Store, StoreError
from shared.messages import t


def test_store_is_wal_and_migrated_once(tmp_path: Path) -> None:
    Store(tmp_path).close()
    Store(tmp_path).close()  # the second open applies nothing and breaks nothing
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_store_from_a_newer_app_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=t("mobile.store_newer")):
        Store(tmp_path)
