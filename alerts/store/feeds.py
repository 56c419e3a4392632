"""Feeds' HTTP state, failures and outages."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from .records import (
    _FEED_COLUMNS,
    FeedState,
    in_chunks,
    iso,
    parse_iso,
)


class FeedStorage:
    """Feeds' HTTP state, failures and outages (a part of :class:`alerts.store.Store`)."""

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

    def record_unchanged(
        self, name: str, url: str, now: datetime, etag: str | None, last_modified: str | None
    ) -> None:
        """A successful poll that brought nothing new (304, or the same bytes as last time).

        The items the feed still carries are seen now too, or retention would forget them while
        the feed carries them, and they would be delivered again when the feed next changes.
        They are not written: they are the items last seen when the body last changed
        (``carried_at``), and retention reads their last sighting as ``last_success_at``.
        """
        self.record_unchanged_many([(name, url, now, etag, last_modified)])

    def record_unchanged_many(
        self, polls: Sequence[tuple[str, str, datetime, str | None, str | None]]
    ) -> None:
        """Several unchanged polls (name, url, now, etag, last_modified) in one transaction."""
        with self.transaction() as conn:
            for name, url, now, etag, last_modified in polls:
                self._touch_feed(conn, name, url)
                conn.execute(
                    "UPDATE feeds SET failures = 0, retry_at = NULL, last_polled_at = ?, "
                    "last_success_at = ?, etag = COALESCE(?, etag), "
                    "last_modified = COALESCE(?, last_modified), "
                    "first_polled_at = COALESCE(first_polled_at, ?) WHERE name = ?",
                    [iso(now), iso(now), etag, last_modified, iso(now), name],
                )

    def known_guids(self, feed: str, guids: Sequence[str]) -> set[str]:
        """Which of these guids the feed has already given us, so only new items are matched."""
        return self._known_guids(self.db.conn, feed, guids)

    @staticmethod
    def _known_guids(conn: sqlite3.Connection, feed: str, guids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for chunk, marks in in_chunks(guids):
            known.update(
                row[0]
                for row in conn.execute(
                    f"SELECT guid FROM items WHERE feed = ? AND guid IN ({marks})", [feed, *chunk]
                )
            )
        return known
