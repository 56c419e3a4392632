"""The bot's memory in SQLite: feeds' HTTP state, items seen, what each chat is owed, the outbox.

Every change of state is one transaction, so a kill -9 at any moment leaves the database at a
consistent point. Delivery goes through two tables: ``queue`` says which chat is owed which item
(written in the same transaction that records the item), ``outbox`` holds rendered messages
(written in the same transaction that takes items off the queue). A message is marked sent only
after the destination accepted it; on restart, whatever is in the outbox unsent is sent again.

The store is used from one thread at a time (the service gives it a thread of its own), so the
event loop never waits on disk.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from ..stories import StoryIndex
from .chats import ChatStorage
from .feeds import FeedStorage
from .items import ItemStorage
from .outbox import OutboxStorage
from .records import (
    CONSOLE_CHAT,
    Chat,
    Entry,
    FeedState,
    IngestResult,
    Matched,
    Outgoing,
    Piece,
    iso,
    parse_iso,
)
from .retention import Retention
from .schema import migrations

__all__ = [
    "CONSOLE_CHAT",
    "DB_NAME",
    "STORY_WINDOW",
    "Chat",
    "Entry",
    "FeedState",
    "IngestResult",
    "Matched",
    "Outgoing",
    "Piece",
    "Store",
    "iso",
    "parse_iso",
]

DB_NAME = "alerts.db"
STORY_WINDOW = timedelta(hours=48)


class Store(FeedStorage, ItemStorage, ChatStorage, OutboxStorage, Retention):
    """SQLite state under ``state_dir``: one connection shared by the parts, each in its own
    module by entity (feeds, items and stories, chats and queue, outbox, retention)."""

    def __init__(self, path: Path, story_window: timedelta = STORY_WINDOW):
        self.path = path
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db = Database(conn, execute_plugins=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrations.apply(self.db)
        self._lock = threading.RLock()
        self.story_window = story_window
        self._stories: StoryIndex | None = None
        self._stories_since: datetime | None = None  # the earliest first report it holds

    @classmethod
    def open(cls, state_dir: str | Path, story_window: timedelta = STORY_WINDOW) -> Store:
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / DB_NAME, story_window)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so a second process waits instead of failing midway."""
        conn = self.db.conn
        # One connection is shared by the service's threads; a second transaction must wait
        # for the first, not fail with "cannot start a transaction within a transaction".
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def set_meta(self, **values: str | None) -> None:
        """Write a few facts about the running bot (one transaction; also proves writability)."""
        with self.transaction() as conn:
            for key, value in values.items():
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES(?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())
