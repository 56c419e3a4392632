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
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .items import Item

DB_NAME = "alerts.db"
CONSOLE_CHAT = 0  # Telegram never uses chat id 0, so it can stand for the console.

migrations = Migrations("alerts")


@migrations()
def m001_initial(db: Database) -> None:
    db["feeds"].create(
        {
            "name": str,
            "url": str,
            "etag": str,
            "last_modified": str,
            "body_hash": str,
            "first_polled_at": str,
            "last_polled_at": str,
            "last_success_at": str,
            "last_error": str,
            "last_error_at": str,
            "failures": int,
            "retry_at": str,
        },
        pk="name",
        not_null={"failures"},
        defaults={"failures": 0},
    )
    db["items"].create(
        {
            "id": int,
            "feed": str,
            "guid": str,
            "link": str,
            "canonical": str,
            "title": str,
            "summary": str,
            "published": str,
            "seen_at": str,
            "last_seen_at": str,
            "status": str,  # matched | unmatched | backfill | duplicate
            "rules": str,  # JSON list of rule ids, in rules.yaml order
            "regions": str,  # JSON list of region names
        },
        pk="id",
        not_null={"feed", "guid", "seen_at", "status"},
    )
    db["items"].create_index(["feed", "guid"], unique=True)
    db["items"].create_index(["canonical"])
    db["items"].create_index(["last_seen_at"])
    db["chats"].create(
        {
            "id": int,
            "kind": str,  # console | private | group | supergroup | channel
            "title": str,
            "active": int,
            "rules": str,  # JSON list of rule ids, or NULL for every rule
            "created_at": str,
        },
        pk="id",
        not_null={"kind", "active"},
        defaults={"active": 1},
    )
    db["queue"].create(
        {
            "chat_id": int,
            "item_id": int,
            "rules": str,  # JSON: the item's rules among the chat's, in rules.yaml order
            "urgent": int,
            "created_at": str,
            "outbox_id": int,  # NULL while pending
        },
        pk=("chat_id", "item_id"),
        not_null={"urgent", "created_at"},
    )
    db["queue"].create_index(["chat_id", "outbox_id"])
    db["queue"].create_index(["item_id"])
    db["outbox"].create(
        {
            "id": int,
            "chat_id": int,
            "kind": str,  # alert | digest
            "format": str,  # text | html
            "body": str,
            "created_at": str,
            "sent_at": str,
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
        },
        pk="id",
        not_null={"chat_id", "kind", "format", "body", "created_at", "attempts"},
        defaults={"attempts": 0},
    )
    db["outbox"].create_index(["sent_at", "next_attempt_at"])


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class FeedState:
    name: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    first_polled_at: str | None
    last_success_at: str | None
    last_error: str | None
    last_error_at: str | None
    failures: int
    retry_at: str | None


@dataclass(frozen=True)
class Chat:
    id: int
    kind: str
    active: bool
    rules: tuple[str, ...] | None  # None: every rule

    def wants(self, rule_ids: Sequence[str]) -> list[str]:
        return list(rule_ids) if self.rules is None else [r for r in rule_ids if r in self.rules]


@dataclass(frozen=True)
class Matched:
    """A new item with what the matcher found, ready to be stored."""

    item: Item
    rules: tuple[str, ...]
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """A queued item as read back for rendering: the item and the chat's rules it matched."""

    item_id: int
    feed: str
    title: str
    link: str | None
    summary: str
    published: datetime | None
    seen_at: datetime
    rules: tuple[str, ...]

    @property
    def when(self) -> datetime:
        return self.published or self.seen_at


@dataclass(frozen=True)
class Outgoing:
    id: int
    chat_id: int
    kind: str
    format: str
    body: str
    attempts: int


@dataclass
class IngestResult:
    new: int = 0
    matched: int = 0
    backfilled: int = 0
    duplicates: int = 0
    queued: int = 0
    urgent: int = 0


class Store:
    """SQLite state under ``state_dir``; see the module docstring for the delivery tables."""

    def __init__(self, path: Path):
        self.path = path
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db = Database(conn, execute_plugins=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrations.apply(self.db)

    @classmethod
    def open(cls, state_dir: str | Path) -> Store:
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / DB_NAME)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so a second process waits instead of failing midway."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    # -- feeds --

    def feed_state(self, name: str) -> FeedState | None:
        row = self.db.execute(
            "SELECT name, etag, last_modified, body_hash, first_polled_at, last_success_at, "
            "last_error, last_error_at, failures, retry_at FROM feeds WHERE name = ?",
            [name],
        ).fetchone()
        return FeedState(*row) if row else None

    def feed_states(self) -> dict[str, FeedState]:
        rows = self.db.execute(
            "SELECT name, etag, last_modified, body_hash, first_polled_at, last_success_at, "
            "last_error, last_error_at, failures, retry_at FROM feeds"
        ).fetchall()
        return {row[0]: FeedState(*row) for row in rows}

    def _touch_feed(self, conn: sqlite3.Connection, name: str, url: str) -> None:
        conn.execute(
            "INSERT INTO feeds(name, url, failures) VALUES(?, ?, 0) "
            "ON CONFLICT(name) DO UPDATE SET url = excluded.url",
            [name, url],
        )

    def record_failure(
        self, name: str, url: str, reason: str, now: datetime, retry_after: Callable[[int], float]
    ) -> int:
        """Count a failed poll and set when to try again; returns the consecutive failures."""
        with self.transaction() as conn:
            self._touch_feed(conn, name, url)
            failures = conn.execute(
                "UPDATE feeds SET failures = failures + 1, last_error = ?, last_error_at = ?, "
                "last_polled_at = ? WHERE name = ? RETURNING failures",
                [reason, iso(now), iso(now), name],
            ).fetchone()[0]
            retry = now + timedelta(seconds=retry_after(failures))
            conn.execute("UPDATE feeds SET retry_at = ? WHERE name = ?", [iso(retry), name])
        return failures

    def record_unchanged(
        self, name: str, url: str, now: datetime, etag: str | None, last_modified: str | None
    ) -> None:
        """A successful poll that brought nothing new (304, or the same bytes as last time)."""
        with self.transaction() as conn:
            self._touch_feed(conn, name, url)
            conn.execute(
                "UPDATE feeds SET failures = 0, retry_at = NULL, last_polled_at = ?, "
                "last_success_at = ?, etag = COALESCE(?, etag), "
                "last_modified = COALESCE(?, last_modified), "
                "first_polled_at = COALESCE(first_polled_at, ?) WHERE name = ?",
                [iso(now), iso(now), etag, last_modified, iso(now), name],
            )

    # -- items --

    def known_guids(self, feed: str, guids: Sequence[str]) -> set[str]:
        """Which of these guids the feed has already given us, so only new items are matched."""
        known: set[str] = set()
        for start in range(0, len(guids), 500):
            chunk = list(guids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            known.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT guid FROM items WHERE feed = ? AND guid IN ({marks})", [feed, *chunk]
                )
            )
        return known

    def ingest(
        self,
        feed: str,
        url: str,
        *,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        seen: Sequence[str],
        new: Sequence[Matched],
        backfill_before: datetime | None,
        urgent_rules: frozenset[str],
    ) -> IngestResult:
        """Record one successful poll: feed state, new items, and what each chat is owed.

        ``seen`` are the guids of items already known (their last_seen_at is refreshed, so
        retention never forgets an item the feed still carries). ``backfill_before`` is set on a
        feed's first poll: older items are remembered but nobody is sent them.
        """
        result = IngestResult()
        stamp = iso(now)
        with self.transaction() as conn:
            self._touch_feed(conn, feed, url)
            conn.execute(
                "UPDATE feeds SET failures = 0, retry_at = NULL, last_polled_at = ?, "
                "last_success_at = ?, etag = ?, last_modified = ?, body_hash = ?, "
                "first_polled_at = COALESCE(first_polled_at, ?) WHERE name = ?",
                [stamp, stamp, etag, last_modified, body_hash, stamp, feed],
            )
            for start in range(0, len(seen), 500):
                chunk = list(seen[start : start + 500])
                marks = ",".join("?" * len(chunk))
                conn.execute(
                    f"UPDATE items SET last_seen_at = ? WHERE feed = ? AND guid IN ({marks})",
                    [stamp, feed, *chunk],
                )
            chats = self._active_chats(conn)
            for m in new:
                item = m.item
                canonical = item.canonical
                if backfill_before and item.published and item.published < backfill_before:
                    status = "backfill"
                elif (
                    canonical
                    and conn.execute(
                        "SELECT 1 FROM items WHERE canonical = ? LIMIT 1", [canonical]
                    ).fetchone()
                ):
                    status = "duplicate"
                else:
                    status = "matched" if m.rules else "unmatched"
                cur = conn.execute(
                    "INSERT OR IGNORE INTO items(feed, guid, link, canonical, title, summary, "
                    "published, seen_at, last_seen_at, status, rules, regions) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        feed,
                        item.guid,
                        item.link,
                        canonical,
                        item.title,
                        item.summary,
                        iso(item.published) if item.published else None,
                        stamp,
                        stamp,
                        status,
                        json.dumps(list(m.rules)),
                        json.dumps(list(m.regions), ensure_ascii=False),
                    ],
                )
                if cur.rowcount == 0:  # the same guid twice in one feed body
                    continue
                result.new += 1
                if status == "backfill":
                    result.backfilled += 1
                    continue
                if status == "duplicate":
                    result.duplicates += 1
                    continue
                if status != "matched":
                    continue
                result.matched += 1
                item_id = cur.lastrowid
                for chat in chats:
                    wanted = chat.wants(m.rules)
                    if not wanted:
                        continue
                    urgent = any(r in urgent_rules for r in wanted)
                    conn.execute(
                        "INSERT OR IGNORE INTO queue(chat_id, item_id, rules, urgent, created_at) "
                        "VALUES(?,?,?,?,?)",
                        [chat.id, item_id, json.dumps(wanted), int(urgent), stamp],
                    )
                    result.queued += 1
                    result.urgent += int(urgent)
        return result

    # -- chats --

    def _active_chats(self, conn: sqlite3.Connection) -> list[Chat]:
        rows = conn.execute("SELECT id, kind, active, rules FROM chats WHERE active = 1").fetchall()
        return [
            Chat(r[0], r[1], bool(r[2]), tuple(json.loads(r[3])) if r[3] else None) for r in rows
        ]

    def active_chats(self) -> list[Chat]:
        return self._active_chats(self.db.conn)

    def set_console(self, active: bool, now: datetime) -> None:
        """The console is a chat subscribed to every rule, active when there is no Telegram."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO chats(id, kind, title, active, rules, created_at) "
                "VALUES(?, 'console', 'console', ?, NULL, ?) "
                "ON CONFLICT(id) DO UPDATE SET active = excluded.active",
                [CONSOLE_CHAT, int(active), iso(now)],
            )
            if not active:
                conn.execute(
                    "DELETE FROM queue WHERE chat_id = ? AND outbox_id IS NULL", [CONSOLE_CHAT]
                )

    # -- queue -> outbox --

    def chats_with_pending(self, urgent: bool) -> list[int]:
        rows = self.db.execute(
            "SELECT DISTINCT chat_id FROM queue WHERE outbox_id IS NULL AND urgent = ?",
            [int(urgent)],
        ).fetchall()
        return [r[0] for r in rows]

    def _pending(self, conn: sqlite3.Connection, chat_id: int, urgent: bool) -> list[Entry]:
        rows = conn.execute(
            "SELECT i.id, i.feed, i.title, i.link, i.summary, i.published, i.seen_at, q.rules "
            "FROM queue q JOIN items i ON i.id = q.item_id "
            "WHERE q.chat_id = ? AND q.outbox_id IS NULL AND q.urgent = ? "
            "ORDER BY COALESCE(i.published, i.seen_at), i.id",
            [chat_id, int(urgent)],
        ).fetchall()
        return [
            Entry(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4] or "",
                parse_iso(r[5]),
                parse_iso(r[6]),
                tuple(json.loads(r[7])),
            )
            for r in rows
        ]

    def pending(self, chat_id: int, urgent: bool) -> list[Entry]:
        return self._pending(self.db.conn, chat_id, urgent)

    def compose(
        self,
        chat_id: int,
        *,
        urgent: bool,
        kind: str,
        fmt: str,
        render: Callable[[list[Entry]], list[tuple[str, list[int]]]],
        now: datetime,
    ) -> list[int]:
        """Turn a chat's pending entries into outbox messages, atomically.

        ``render`` gets the entries and returns messages, each with the item ids it carries; the
        items leave the queue in the same transaction that puts the messages in the outbox.
        """
        with self.transaction() as conn:
            entries = self._pending(conn, chat_id, urgent)
            if not entries:
                return []
            ids = []
            for body, item_ids in render(entries):
                cur = conn.execute(
                    "INSERT INTO outbox(chat_id, kind, format, body, created_at, attempts) "
                    "VALUES(?,?,?,?,?,0)",
                    [chat_id, kind, fmt, body, iso(now)],
                )
                ids.append(cur.lastrowid)
                for start in range(0, len(item_ids), 500):
                    chunk = item_ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    conn.execute(
                        f"UPDATE queue SET outbox_id = ? WHERE chat_id = ? "
                        f"AND item_id IN ({marks})",
                        [cur.lastrowid, chat_id, *chunk],
                    )
            return ids

    def due(self, now: datetime, limit: int = 100) -> list[Outgoing]:
        rows = self.db.execute(
            "SELECT id, chat_id, kind, format, body, attempts FROM outbox "
            "WHERE sent_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
            "ORDER BY id LIMIT ?",
            [iso(now), limit],
        ).fetchall()
        return [Outgoing(*r) for r in rows]

    def mark_sent(self, outbox_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                [iso(now), outbox_id],
            )

    def mark_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                "WHERE id = ?",
                [error[:500], iso(retry_at), outbox_id],
            )

    def outbox_depth(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]

    # -- retention --

    def prune(self, keep_days: int, now: datetime) -> int:
        """Forget items the feeds stopped carrying ``keep_days`` ago, and delivered messages.

        Items are judged by when a feed last carried them, not when they were first seen, so an
        item still in a feed is never forgotten and then delivered again as if new.
        """
        cutoff = iso(now - timedelta(days=keep_days))
        with self.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", [cutoff])
            conn.execute(
                "DELETE FROM queue WHERE outbox_id IS NOT NULL "
                "AND outbox_id NOT IN (SELECT id FROM outbox)"
            )
            removed = conn.execute(
                "DELETE FROM items WHERE last_seen_at < ? "
                "AND id NOT IN (SELECT item_id FROM queue)",
                [cutoff],
            ).rowcount
        return removed
