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
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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
SCHEMA = (
    "m001_initial",
    "m002_chat_preferences",
    "m003_stories",
    "m004_operations",
    "m005_report_deliveries",
    "m006_carried_at",
    "m007_item_source",
)
"""The migrations of ``schema``, by name (a test holds the two together): a database that has
them all is opened without importing sqlite-utils, a tenth of a second on every start."""
STORY_WINDOW = timedelta(hours=48)


class _Connection:
    """The one connection, as the parts use it: ``execute``, ``conn`` and ``close``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters)

    def close(self) -> None:
        self.conn.close()


def _pending(conn: sqlite3.Connection) -> bool:
    """Whether the database lacks one of the migrations of ``SCHEMA``."""
    try:
        rows = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'alerts'"
        ).fetchall()
    except sqlite3.OperationalError:  # no such table: a new database
        return True
    return not set(SCHEMA) <= {row[0] for row in rows}


class Store(FeedStorage, ItemStorage, ChatStorage, OutboxStorage, Retention):
    """SQLite state under ``state_dir``: one connection shared by the parts, each in its own
    module by entity (feeds, items and stories, chats and queue, outbox, retention)."""

    def __init__(self, path: Path, story_window: timedelta = STORY_WINDOW):
        self.path = path
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db = _Connection(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        if _pending(conn):
            from sqlite_utils import Database

            from .schema import migrations

            migrations.apply(Database(conn, execute_plugins=False))
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
