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
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .items import Item
from .stories import Report, Signature, StoryIndex, signature

DB_NAME = "alerts.db"
CONSOLE_CHAT = 0  # Telegram never uses chat id 0, so it can stand for the console.
STORY_WINDOW = timedelta(hours=48)
# The columns of FeedState, in its order.
_FEED_COLUMNS = (
    "name, etag, last_modified, body_hash, first_polled_at, last_success_at, last_error, "
    "last_error_at, failures, retry_at, failing_since, down_notified"
)

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


@migrations()
def m002_chat_preferences(db: Database) -> None:
    """What subscribers choose for themselves with commands, and the digest bookkeeping."""
    chats = db["chats"]
    chats.add_column("digest_every", int)  # seconds; NULL: the rules.yaml default
    chats.add_column("digest_at", str)  # JSON list of "HH:MM"; NULL: the default
    chats.add_column("digest_off", int, not_null_default=0)
    chats.add_column("timezone", str)  # NULL: settings.timezone
    chats.add_column("quiet", str)  # "23:00-07:00" or NULL
    chats.add_column("paused_until", str)
    chats.add_column("last_digest_at", str)
    chats.add_column("thread_id", int)  # a forum topic, for chats from settings.chats
    chats.add_column("configured", int, not_null_default=0)  # 1: listed in settings.chats
    db["outbox"].add_column("thread_id", int)
    db["outbox"].add_column("gave_up_at", str)


@migrations()
def m003_stories(db: Database) -> None:
    """The unit of delivery becomes the story: reports of one event by several outlets."""
    db["stories"].create(
        {
            "id": int,  # the id of its first item
            "first_at": str,  # when its first report was published (or seen)
            "last_at": str,
        },
        pk="id",
    )
    db["items"].add_column("story_id", int)
    db["items"].add_column("signature", str)  # JSON of alerts.stories.Signature
    db["items"].create_index(["story_id"])
    # Until now every matched item was a story of its own.
    db.execute(
        "INSERT INTO stories(id, first_at, last_at) SELECT id, COALESCE(published, seen_at), "
        "COALESCE(published, seen_at) FROM items WHERE status = 'matched'"
    )
    db.execute("UPDATE items SET story_id = id WHERE status = 'matched'")
    db.execute("ALTER TABLE queue RENAME TO queue_old")
    db["queue"].create(
        {
            "chat_id": int,
            "story_id": int,
            "kind": str,  # alert | digest | update (more outlets for a story already alerted)
            "rules": str,  # JSON: the story's rules among the chat's, in rules.yaml order
            "created_at": str,
            "outbox_id": int,  # NULL while pending
        },
        pk=("chat_id", "story_id", "kind"),
        not_null={"kind", "created_at"},
    )
    db.execute(
        "INSERT INTO queue SELECT chat_id, item_id, CASE WHEN urgent THEN 'alert' ELSE 'digest' "
        "END, rules, created_at, outbox_id FROM queue_old"
    )
    db.execute("DROP TABLE queue_old")
    db["queue"].create_index(["chat_id", "outbox_id"])
    db["queue"].create_index(["story_id"])


@migrations()
def m004_operations(db: Database) -> None:
    """Feed outages (for operators' notices) and the bot's heartbeat (for health checks)."""
    db["feeds"].add_column("failing_since", str)  # first failure of the current outage
    db["feeds"].add_column("down_notified", int, not_null_default=0)  # operators were told
    db["meta"].create({"key": str, "value": str}, pk="key")


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
    failing_since: str | None = None
    down_notified: bool = False


@dataclass(frozen=True)
class Chat:
    """A destination and the choices its members made; None fields fall back to rules.yaml."""

    id: int
    kind: str
    active: bool
    rules: tuple[str, ...] | None  # None: every rule, including rules added later
    title: str | None = None
    digest_every: int | None = None
    digest_at: tuple[str, ...] | None = None
    digest_off: bool = False
    timezone: str | None = None
    quiet: str | None = None
    paused_until: datetime | None = None
    last_digest_at: datetime | None = None
    created_at: datetime | None = None
    thread_id: int | None = None
    configured: bool = False

    def wants(self, rule_ids: Sequence[str]) -> list[str]:
        return list(rule_ids) if self.rules is None else [r for r in rule_ids if r in self.rules]

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now


_CHAT_COLUMNS = (
    "id, kind, active, rules, title, digest_every, digest_at, digest_off, timezone, quiet, "
    "paused_until, last_digest_at, created_at, thread_id, configured"
)


def _chat(row: Sequence) -> Chat:
    return Chat(
        id=row[0],
        kind=row[1],
        active=bool(row[2]),
        rules=tuple(json.loads(row[3])) if row[3] is not None else None,
        title=row[4],
        digest_every=row[5],
        digest_at=tuple(json.loads(row[6])) if row[6] else None,
        digest_off=bool(row[7]),
        timezone=row[8],
        quiet=row[9],
        paused_until=parse_iso(row[10]),
        last_digest_at=parse_iso(row[11]),
        created_at=parse_iso(row[12]),
        thread_id=row[13],
        configured=bool(row[14]),
    )


@dataclass(frozen=True)
class Matched:
    """A new item with what the matcher found, ready to be stored."""

    item: Item
    rules: tuple[str, ...]
    regions: tuple[str, ...]
    signature: Signature | None = None  # computed for matched items, for story grouping
    terms: frozenset[str] = frozenset()  # the rule terms found, as evidence for grouping


@dataclass(frozen=True)
class Entry:
    """A queued story as read back for rendering: its first report, the other outlets that
    carried it, and the chat's rules it matched."""

    story_id: int
    feed: str
    title: str
    link: str | None
    summary: str
    published: datetime | None
    seen_at: datetime
    rules: tuple[str, ...]
    others: tuple[tuple[str, str | None], ...] = ()  # (feed, link) of later reports
    update: bool = False  # more coverage of a story the chat was already alerted to
    last_at: datetime | None = None  # the newest report

    @property
    def when(self) -> datetime:
        return self.published or self.seen_at

    @property
    def outlets(self) -> int:
        return 1 + len({feed for feed, _ in self.others if feed != self.feed})


@dataclass(frozen=True)
class Outgoing:
    id: int
    chat_id: int
    kind: str
    format: str
    body: str
    attempts: int
    thread_id: int | None = None


@dataclass
class IngestResult:
    new: int = 0
    matched: int = 0
    backfilled: int = 0
    duplicates: int = 0
    joined: int = 0  # matched items that joined a story already known
    queued: int = 0
    urgent: int = 0


class Store:
    """SQLite state under ``state_dir``; see the module docstring for the delivery tables."""

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

    @classmethod
    def open(cls, state_dir: str | Path, story_window: timedelta = STORY_WINDOW) -> Store:
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / DB_NAME, story_window)

    @property
    def stories(self) -> StoryIndex:
        """The in-memory index of recent stories, built from the database on first use: only
        the pipeline needs it, and ``status`` (a health check every minute) should not pay for
        reading two days of reports."""
        if self._stories is None:
            self._stories = StoryIndex(window=self.story_window)
            self._load_stories(datetime.now(UTC))
        return self._stories

    def _load_stories(self, now: datetime) -> None:
        """Fill the story index from the reports of the stories still in window."""
        since = iso(now - self.story_window)
        rows = self.db.execute(
            "SELECT i.id, i.story_id, i.title, i.summary, COALESCE(i.published, i.seen_at), "
            "i.feed, i.regions, i.signature FROM items i JOIN stories s ON s.id = i.story_id "
            "WHERE s.first_at >= ? ORDER BY COALESCE(i.published, i.seen_at), i.id",
            [since],
        ).fetchall()
        for item_id, story_id, title, summary, when, feed, regions, sig_json in rows:
            try:
                sig = Signature.from_json(sig_json) if sig_json else None
            except ValueError:
                sig = None
            if sig is None:  # stored by an older version: compute it again
                sig = signature(title or "", summary or "")
            report = Report(
                item_id,
                title or "",
                summary or "",
                parse_iso(when),
                feed,
                tuple(json.loads(regions or "[]")),
            )
            self.stories.add(story_id, report, sig)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _stories_follow_the_database(self) -> Iterator[None]:
        """Around a transaction that adds to the story index: if it does not commit, drop the
        index (it is built again from the database on next use), or a later report could join a
        story that is not."""
        try:
            yield
        except BaseException:
            self._stories = None  # built again from the database when next needed
            raise

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

    # -- feeds --

    def feed_state(self, name: str) -> FeedState | None:
        return self._feed_state(self.db.conn, name)

    def _feed_state(self, conn: sqlite3.Connection, name: str) -> FeedState | None:
        row = conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE name = ?", [name]).fetchone()
        return FeedState(*row) if row else None

    def feed_states(self) -> dict[str, FeedState]:
        rows = self.db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds").fetchall()
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
                "last_polled_at = ?, failing_since = COALESCE(failing_since, ?) "
                "WHERE name = ? RETURNING failures",
                [reason, iso(now), iso(now), iso(now), name],
            ).fetchone()[0]
            retry = now + timedelta(seconds=retry_after(failures))
            conn.execute("UPDATE feeds SET retry_at = ? WHERE name = ?", [iso(retry), name])
        return failures

    def feed_down(
        self, name: str, now: datetime, after: timedelta, notices: Callable[[FeedState], str],
        operators: Sequence[int],
    ) -> FeedState | None:  # fmt: skip
        """Mark a feed down once it has failed for ``after``; returns its state the first time.

        The mark and the operators' notices are one transaction, so after a crash operators are
        told exactly once: never twice, never not at all.
        """
        with self.transaction() as conn:
            state = self._feed_state(conn, name)
            if state is None:
                return None
            since = parse_iso(state.failing_since)
            if state.down_notified or not state.failures or since is None or now - since < after:
                return None
            conn.execute("UPDATE feeds SET down_notified = 1 WHERE name = ?", [name])
            self._notices(conn, operators, notices(state), now)
            return state

    def feed_recovered(
        self, name: str, now: datetime, notices: Callable[[FeedState], str],
        operators: Sequence[int],
    ) -> FeedState | None:  # fmt: skip
        """End a feed's outage after a successful poll; returns its state if operators had
        been told it was down (they are told it is back, in the same transaction)."""
        with self.transaction() as conn:
            state = self._feed_state(conn, name)
            if state is None or state.failing_since is None:
                return None
            conn.execute(
                "UPDATE feeds SET failing_since = NULL, down_notified = 0 WHERE name = ?", [name]
            )
            if not state.down_notified:
                return None
            self._notices(conn, operators, notices(state), now)
            return state

    def _notices(
        self, conn: sqlite3.Connection, chats: Sequence[int], body: str, now: datetime
    ) -> None:
        for chat_id in chats:
            self._notice(conn, chat_id, body, now)

    # -- the bot's own record, for health checks and `status` --

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

    def record_unchanged(
        self, name: str, url: str, now: datetime, etag: str | None, last_modified: str | None
    ) -> None:
        """A successful poll that brought nothing new (304, or the same bytes as last time)."""
        with self.transaction() as conn:
            self._touch_feed(conn, name, url)
            # The feed still carries what its last successful poll saw (those items' last_seen_at
            # is that poll's time): they are seen now too, or retention would forget them while
            # the feed carries them, and they would be delivered again when the feed next changes.
            conn.execute(
                "UPDATE items SET last_seen_at = ? WHERE feed = ? "
                "AND last_seen_at = (SELECT last_success_at FROM feeds WHERE name = ?)",
                [iso(now), name, name],
            )
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
        with self._stories_follow_the_database(), self.transaction() as conn:
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
            chats: list[Chat] | None = None  # read at the first matched item: most polls have none
            self.stories.expire(now)
            # Earliest first, so that the first report of a story starts it.
            ordered = sorted(new, key=lambda m: (m.item.published or now, m.item.guid))
            for m in ordered:
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
                    "published, seen_at, last_seen_at, status, rules, regions, signature) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                        m.signature.to_json() if m.signature and status == "matched" else None,
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
                story_id = self._file_story(conn, item_id, m, now)
                if story_id != item_id:
                    result.joined += 1
                if chats is None:
                    chats = self._active_chats(conn)
                for chat in chats:
                    queued = self._queue_story(conn, chat, story_id, m.rules, urgent_rules, stamp)
                    if queued:
                        result.queued += 1
                        result.urgent += int(queued == "alert")
        return result

    def story_title(self, story_id: int) -> str | None:
        row = self.db.execute(
            "SELECT title FROM items WHERE story_id = ? ORDER BY COALESCE(published, seen_at), id "
            "LIMIT 1",
            [story_id],
        ).fetchone()
        return row[0] if row else None

    def story_for(self, item: Item, regions: tuple[str, ...], terms: frozenset[str], now: datetime):
        """Which stored story an item would join, and why (for ``explain``); changes nothing."""
        report = Report(
            0, item.title, item.summary, item.published or now, item.feed, regions, terms
        )
        ranked = self.stories.decisions(report, signature(item.title, item.summary))
        return ranked[0] if ranked else None

    def _file_story(self, conn: sqlite3.Connection, item_id: int, m: Matched, now: datetime) -> int:
        """Put a matched item into the story it reports, or start a story with it."""
        sig = m.signature or signature(m.item.title, m.item.summary)
        when = m.item.published or now
        report = Report(
            item_id, m.item.title, m.item.summary, when, m.item.feed, m.regions, m.terms
        )
        story_id, _decision = self.stories.assign(report, sig)
        if story_id is None:
            story_id = item_id
            conn.execute(
                "INSERT INTO stories(id, first_at, last_at) VALUES(?, ?, ?)",
                [story_id, iso(when), iso(when)],
            )
        else:
            conn.execute(
                "UPDATE stories SET last_at = MAX(last_at, ?) WHERE id = ?", [iso(when), story_id]
            )
        conn.execute("UPDATE items SET story_id = ? WHERE id = ?", [story_id, item_id])
        self.stories.add(story_id, report, sig)
        return story_id

    def _queue_story(
        self,
        conn: sqlite3.Connection,
        chat: Chat,
        story_id: int,
        rules: Sequence[str],
        urgent_rules: frozenset[str],
        stamp: str,
    ) -> str | None:
        """Owe a chat a story once: an alert, a digest entry, or (for a story it was already
        alerted to) an update in the next digest. Returns the kind queued, if any."""
        wanted = chat.wants(rules)
        if chat.digest_off:  # urgent alerts only
            wanted = [r for r in wanted if r in urgent_rules]
        if not wanted:
            return None
        urgent = any(r in urgent_rules for r in wanted)
        rows = conn.execute(
            "SELECT kind, rules, outbox_id FROM queue WHERE chat_id = ? AND story_id = ?",
            [chat.id, story_id],
        ).fetchall()
        if not rows:
            kind = "alert" if urgent else "digest"
            conn.execute(
                "INSERT INTO queue(chat_id, story_id, kind, rules, created_at) VALUES(?,?,?,?,?)",
                [chat.id, story_id, kind, json.dumps(wanted), stamp],
            )
            return kind
        by_kind = {kind: (json.loads(r), outbox) for kind, r, outbox in rows}
        for kind in ("alert", "digest"):
            if kind in by_kind and by_kind[kind][1] is None:  # still pending: widen its rules
                merged = list(dict.fromkeys([*by_kind[kind][0], *wanted]))
                new_kind = "alert" if urgent else kind
                conn.execute(
                    "UPDATE queue SET rules = ?, kind = ? WHERE chat_id = ? AND story_id = ? "
                    "AND kind = ?",
                    [json.dumps(merged), new_kind, chat.id, story_id, kind],
                )
                return None
        if "alert" in by_kind:
            # Alerted already: no second alert; the next digest shows the added coverage.
            if chat.digest_off:
                return None
            conn.execute(
                "INSERT INTO queue(chat_id, story_id, kind, rules, created_at) "
                "VALUES(?, ?, 'update', ?, ?) ON CONFLICT(chat_id, story_id, kind) "
                "DO UPDATE SET outbox_id = NULL, created_at = excluded.created_at",
                [chat.id, story_id, json.dumps(by_kind["alert"][0]), stamp],
            )
            return "update"
        return None  # already in a digest: the story reached this chat once

    # -- chats --

    def _active_chats(self, conn: sqlite3.Connection) -> list[Chat]:
        rows = conn.execute(f"SELECT {_CHAT_COLUMNS} FROM chats WHERE active = 1").fetchall()
        return [_chat(r) for r in rows]

    def active_chats(self) -> list[Chat]:
        return self._active_chats(self.db.conn)

    def chat(self, chat_id: int) -> Chat | None:
        row = self.db.execute(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", [chat_id]
        ).fetchone()
        return _chat(row) if row else None

    def subscriber_count(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM chats WHERE active = 1 AND kind != 'console'"
        ).fetchone()[0]

    def start_chat(self, chat_id: int, kind: str, title: str | None, now: datetime) -> Chat:
        """Subscribe a chat to every rule (``/start``); a chat that was blocked comes back."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO chats(id, kind, title, active, rules, created_at, last_digest_at) "
                "VALUES(?, ?, ?, 1, NULL, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET active = 1, rules = NULL, kind = excluded.kind, "
                "title = excluded.title",
                [chat_id, kind, title, iso(now), iso(now)],
            )
        return self.chat(chat_id)

    def update_chat(self, chat_id: int, **fields: object) -> Chat | None:
        """Change a chat's preferences; lists are stored as JSON, datetimes as ISO text."""
        allowed = {
            "rules",
            "digest_every",
            "digest_at",
            "digest_off",
            "timezone",
            "quiet",
            "paused_until",
            "last_digest_at",
            "title",
        }
        assert set(fields) <= allowed, set(fields) - allowed
        values = []
        for value in fields.values():
            if isinstance(value, (list, tuple)):
                value = json.dumps(list(value))
            elif isinstance(value, datetime):
                value = iso(value)
            elif isinstance(value, bool):
                value = int(value)
            values.append(value)
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE chats SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                [*values, chat_id],
            )
            if fields.get("digest_off"):
                # Urgent only from now on: what waited for a digest would wait forever.
                conn.execute(
                    "DELETE FROM queue WHERE chat_id = ? AND outbox_id IS NULL AND kind != 'alert'",
                    [chat_id],
                )
        return self.chat(chat_id)

    def forget_chat(self, chat_id: int) -> None:
        """``/stop``: delete the chat and everything kept for it."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM queue WHERE chat_id = ?", [chat_id])
            conn.execute("DELETE FROM outbox WHERE chat_id = ? AND sent_at IS NULL", [chat_id])
            conn.execute("DELETE FROM chats WHERE id = ?", [chat_id])

    def deactivate_chat(self, chat_id: int, reason: str, now: datetime) -> None:
        """A chat that blocked or removed the bot: nothing more is sent until it says /start."""
        with self.transaction() as conn:
            conn.execute("UPDATE chats SET active = 0 WHERE id = ?", [chat_id])
            conn.execute("DELETE FROM queue WHERE chat_id = ? AND outbox_id IS NULL", [chat_id])
            conn.execute(
                "UPDATE outbox SET gave_up_at = ?, last_error = ? "
                "WHERE chat_id = ? AND sent_at IS NULL AND gave_up_at IS NULL",
                [iso(now), reason[:500], chat_id],
            )

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its subscription and queue move to the new id."""
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM chats WHERE id = ?", [new_id]).fetchone():
                conn.execute("DELETE FROM chats WHERE id = ?", [old_id])
            else:
                conn.execute(
                    "UPDATE chats SET id = ?, kind = 'supergroup' WHERE id = ?", [new_id, old_id]
                )
            conn.execute(
                "UPDATE OR IGNORE queue SET chat_id = ? WHERE chat_id = ?", [new_id, old_id]
            )
            conn.execute("DELETE FROM queue WHERE chat_id = ?", [old_id])
            conn.execute(
                "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND sent_at IS NULL",
                [new_id, old_id],
            )

    def sync_configured(
        self, chats: Sequence[tuple[int, tuple[str, ...] | None, int | None]], now: datetime
    ) -> None:
        """Make the chats listed in settings.chats exist and be active; unlisted ones stop."""
        with self.transaction() as conn:
            ids = [c[0] for c in chats]
            marks = ",".join("?" * len(ids)) or "NULL"
            conn.execute(
                f"UPDATE chats SET active = 0 WHERE configured = 1 AND id NOT IN ({marks})", ids
            )
            for chat_id, rules, topic in chats:
                conn.execute(
                    "INSERT INTO chats(id, kind, active, rules, created_at, last_digest_at, "
                    "thread_id, configured) VALUES(?, ?, 1, ?, ?, ?, ?, 1) "
                    "ON CONFLICT(id) DO UPDATE SET active = 1, rules = excluded.rules, "
                    "thread_id = excluded.thread_id, configured = 1",
                    [
                        chat_id,
                        "private" if chat_id > 0 else "group",
                        json.dumps(list(rules)) if rules is not None else None,
                        iso(now),
                        iso(now),
                        topic,
                    ],
                )

    def notice(self, chat_id: int, body: str, now: datetime, fmt: str = "text") -> int:
        """Queue a message that is not about items (operator notices) through the outbox."""
        with self.transaction() as conn:
            return self._notice(conn, chat_id, body, now, fmt)

    def _notice(
        self, conn: sqlite3.Connection, chat_id: int, body: str, now: datetime, fmt: str = "text"
    ) -> int:
        cur = conn.execute(
            "INSERT INTO outbox(chat_id, kind, format, body, created_at, attempts) "
            "VALUES(?, 'notice', ?, ?, ?, 0)",
            [chat_id, fmt, body, iso(now)],
        )
        return cur.lastrowid

    def set_console(self, active: bool, now: datetime) -> None:
        """The console is a chat subscribed to every rule, active when there is no Telegram."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO chats(id, kind, title, active, rules, created_at, last_digest_at) "
                "VALUES(?, 'console', 'console', ?, NULL, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET active = excluded.active",
                [CONSOLE_CHAT, int(active), iso(now), iso(now)],
            )
            if not active:
                conn.execute(
                    "DELETE FROM queue WHERE chat_id = ? AND outbox_id IS NULL", [CONSOLE_CHAT]
                )

    # -- queue -> outbox --

    def chats_with_pending(self, urgent: bool) -> list[int]:
        kinds = "('alert')" if urgent else "('digest', 'update')"
        rows = self.db.execute(
            f"SELECT DISTINCT chat_id FROM queue WHERE outbox_id IS NULL AND kind IN {kinds}"
        ).fetchall()
        return [r[0] for r in rows]

    def _pending(self, conn: sqlite3.Connection, chat_id: int, urgent: bool) -> list[Entry]:
        kinds = "('alert')" if urgent else "('digest', 'update')"
        rows = conn.execute(
            "SELECT q.story_id, q.kind, q.rules, s.last_at FROM queue q "
            "JOIN stories s ON s.id = q.story_id "
            f"WHERE q.chat_id = ? AND q.outbox_id IS NULL AND q.kind IN {kinds} "
            "ORDER BY s.first_at, q.story_id",
            [chat_id],
        ).fetchall()
        entries = []
        for story_id, kind, rules, last_at in rows:
            reports = conn.execute(
                "SELECT feed, title, link, summary, published, seen_at FROM items "
                "WHERE story_id = ? ORDER BY COALESCE(published, seen_at), id",
                [story_id],
            ).fetchall()
            if not reports:
                continue
            feed, title, link, summary, published, seen_at = reports[0]
            others = tuple((r[0], r[2]) for r in reports[1:])
            entries.append(
                Entry(
                    story_id,
                    feed,
                    title,
                    link,
                    summary or "",
                    parse_iso(published),
                    parse_iso(seen_at),
                    tuple(json.loads(rules)),
                    others,
                    kind == "update",
                    parse_iso(last_at),
                )
            )
        return entries

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

        ``render`` gets the entries and returns messages, each with the story ids it carries;
        those stories leave the queue in the same transaction that puts the messages in the
        outbox. Stories a message does not carry (over a digest's cap) stay pending.
        """
        with self.transaction() as conn:
            entries = self._pending(conn, chat_id, urgent)
            if not entries:
                return []
            row = conn.execute("SELECT thread_id FROM chats WHERE id = ?", [chat_id]).fetchone()
            thread_id = row[0] if row else None
            ids = []
            for body, item_ids in render(entries):
                cur = conn.execute(
                    "INSERT INTO outbox(chat_id, kind, format, body, created_at, attempts, "
                    "thread_id) VALUES(?,?,?,?,?,0,?)",
                    [chat_id, kind, fmt, body, iso(now), thread_id],
                )
                ids.append(cur.lastrowid)
                kinds = "('alert')" if urgent else "('digest', 'update')"
                for start in range(0, len(item_ids), 500):
                    chunk = item_ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    conn.execute(
                        f"UPDATE queue SET outbox_id = ? WHERE chat_id = ? AND outbox_id IS NULL "
                        f"AND kind IN {kinds} AND story_id IN ({marks})",
                        [cur.lastrowid, chat_id, *chunk],
                    )
            return ids

    def due(self, now: datetime, limit: int = 100) -> list[Outgoing]:
        rows = self.db.execute(
            "SELECT id, chat_id, kind, format, body, attempts, thread_id FROM outbox "
            "WHERE sent_at IS NULL AND gave_up_at IS NULL "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
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

    def retry_now(self) -> int:
        """Make every unsent message due at once (at start-up: whatever failed may work now)."""
        with self.transaction() as conn:
            return conn.execute(
                "UPDATE outbox SET next_attempt_at = NULL "
                "WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at IS NOT NULL"
            ).rowcount

    def give_up(self, outbox_id: int, error: str, now: datetime) -> None:
        """A message Telegram will never accept as it is; kept, with the reason, for operators."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET gave_up_at = ?, last_error = ?, attempts = attempts + 1 "
                "WHERE id = ?",
                [iso(now), error[:500], outbox_id],
            )

    def replace_body(self, outbox_id: int, body: str, fmt: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET body = ?, format = ? WHERE id = ?", [body, fmt, outbox_id]
            )

    def matched_since(self, since: datetime) -> list[tuple[str, str]]:
        """(seen_at, rules JSON) of every item matched since ``since``, for ``stats``."""
        return self.db.execute(
            "SELECT seen_at, rules FROM items WHERE status = 'matched' AND seen_at >= ?",
            [iso(since)],
        ).fetchall()

    def sent_since(self, since: datetime) -> list[tuple[str, str]]:
        """(sent_at, kind) of every message sent since ``since``, for ``stats``."""
        return self.db.execute(
            "SELECT sent_at, kind FROM outbox WHERE sent_at IS NOT NULL AND sent_at >= ?",
            [iso(since)],
        ).fetchall()

    def outbox_depth(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL"
        ).fetchone()[0]

    # -- retention --

    def prune(
        self, keep_days: int, now: datetime, configured: Collection[str] | None = None
    ) -> int:
        """Forget items the feeds stopped carrying ``keep_days`` ago, and delivered messages.

        Items are judged by when a feed last carried them, not when they were first seen, so an
        item still in a feed is never forgotten and then delivered again as if new. Only a later
        successful poll shows that a feed stopped carrying an item: a feed that is down keeps
        its items until it answers. A story that reports can still join (inside the story
        window) keeps its items and the record of which chats had it, however short keep_days.

        ``configured`` names the feeds rules.yaml still lists. A feed it no longer names will
        not be polled again, so its items age from their last sighting alone, and its row goes
        with its last item: added back later, it starts as a new feed, whose first poll records
        its backlog instead of delivering it.
        """
        cutoff = iso(now - timedelta(days=keep_days))
        live = iso(now - self.story_window)
        with self.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", [cutoff])
            conn.execute(
                "DELETE FROM outbox WHERE gave_up_at IS NOT NULL AND gave_up_at < ?", [cutoff]
            )
            conn.execute(
                "DELETE FROM queue WHERE outbox_id IS NOT NULL "
                "AND outbox_id NOT IN (SELECT id FROM outbox) "
                "AND story_id NOT IN (SELECT id FROM stories WHERE first_at >= ?)",
                [live],
            )
            # Owed to a chat that is no longer served (dropped from settings.chats): it would
            # wait forever, and keep its items with it.
            conn.execute(
                "DELETE FROM queue WHERE outbox_id IS NULL AND created_at < ? "
                "AND chat_id NOT IN (SELECT id FROM chats WHERE active = 1)",
                [cutoff],
            )
            # A feed rules.yaml no longer names is not polled again: its items age from their
            # last sighting alone.
            names = sorted(configured) if configured is not None else []
            marks = ",".join("?" * len(names)) or "NULL"
            unlisted = f" OR feed NOT IN ({marks})" if configured is not None else ""
            removed = conn.execute(
                "DELETE FROM items WHERE last_seen_at < ? "
                "AND (last_seen_at < (SELECT last_success_at FROM feeds WHERE name = items.feed)"
                f"{unlisted}) "
                "AND (story_id IS NULL OR (story_id NOT IN (SELECT story_id FROM queue) "
                "AND story_id NOT IN (SELECT id FROM stories WHERE first_at >= ?)))",
                [cutoff, *names, live],
            ).rowcount
            if configured is not None:
                conn.execute(
                    f"DELETE FROM feeds WHERE name NOT IN ({marks}) "
                    "AND name NOT IN (SELECT feed FROM items)",
                    names,
                )
            conn.execute(
                "DELETE FROM stories WHERE id NOT IN (SELECT story_id FROM items "
                "WHERE story_id IS NOT NULL)"
            )
        return removed
