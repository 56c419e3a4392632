"""The outbox: rendered messages, sent only once they are recorded."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime

from .records import (
    Entry,
    Outgoing,
    iso,
)


class OutboxStorage:
    """The outbox: rendered messages, sent only once they are recorded (a part of :class:`alerts.store.Store`)."""

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

    def _notices(
        self, conn: sqlite3.Connection, chats: Sequence[int], body: str, now: datetime
    ) -> None:
        for chat_id in chats:
            self._notice(conn, chat_id, body, now)

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
