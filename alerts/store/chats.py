"""Chats, their preferences, and the queue of what each is owed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from .records import (
    _CHAT_COLUMNS,
    CONSOLE_CHAT,
    Chat,
    Entry,
    _chat,
    iso,
    parse_iso,
)


class ChatStorage:
    """Chats, their preferences, and the queue of what each is owed (a part of :class:`alerts.store.Store`)."""

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
