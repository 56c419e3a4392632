"""Items seen and the stories they are grouped into."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from ..items import Item
from ..stories import Report, Signature, StoryIndex, signature
from .records import (
    Chat,
    IngestResult,
    Matched,
    iso,
    parse_iso,
)


class ItemStorage:
    """Items seen and the stories they are grouped into (a part of :class:`alerts.store.Store`)."""

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

    def matched_since(self, since: datetime) -> list[tuple[str, str]]:
        """(seen_at, rules JSON) of every item matched since ``since``, for ``stats``."""
        return self.db.execute(
            "SELECT seen_at, rules FROM items WHERE status = 'matched' AND seen_at >= ?",
            [iso(since)],
        ).fetchall()
