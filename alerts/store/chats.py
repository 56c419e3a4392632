"""Chats, their preferences, and the queue of what each is owed."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime

from .records import (
    _CHAT_COLUMNS,
    CONSOLE_CHAT,
    Carried,
    Chat,
    Owing,
    Piece,
    StoryOwed,
    _chat,
    in_chunks,
    iso,
    parse_iso,
)


class ChatStorage:
    """Chats, their preferences, and the queue of what each is owed (a part of :class:`alerts.store.Store`)."""

    def _owing(
        self,
        conn: sqlite3.Connection,
        chat: Chat,
        item_id: int,
        story_id: int,
        rules: Sequence[str],
        urgent_rules: frozenset[str],
        stamp: str,
        rules_json: str | None = None,
    ) -> tuple[int, int, int, str, int, str] | None:
        """The queue row that owes a chat one report, None if the chat does not want it; its
        ``urgent`` (the fifth value) says whether it is owed as urgent. :meth:`settle` writes the
        rows of a batch together.

        A chat with digests off wants the reports of its urgent rules only, and every report of
        a story it was alerted to (they come as an edit of that alert, not in a digest).
        """
        wanted = chat.wants(rules)
        urgent = not urgent_rules.isdisjoint(wanted)
        if chat.digest_off and not urgent and not self._alerted(conn, chat.id, story_id):
            return None
        if not wanted:
            return None
        # A chat that wants every rule is owed the item's own rule list: its stored JSON
        # (``rules_json``, what json.dumps wrote) is used as it is, not decoded and written again.
        whole = chat.rules is None and rules_json is not None
        wanted_json = rules_json if whole else json.dumps(wanted)
        return (chat.id, item_id, story_id, wanted_json, int(urgent), stamp)

    @staticmethod
    def _queued(conn: sqlite3.Connection, item_ids: Sequence[int]) -> set[tuple[int, int]]:
        """(chat, item) of these items already owed: a report is owed to a chat once."""
        out: set[tuple[int, int]] = set()
        for chunk, marks in in_chunks(item_ids):
            out.update(
                conn.execute(
                    f"SELECT chat_id, item_id FROM queue WHERE item_id IN ({marks})", chunk
                ).fetchall()
            )
        return out

    def _alerted(self, conn: sqlite3.Connection, chat_id: int, story_id: int) -> bool:
        """Whether the chat was sent (or is being sent) an alert of the story."""
        return (
            conn.execute(
                "SELECT 1 FROM queue q JOIN outbox o ON o.id = q.outbox_id "
                "WHERE q.chat_id = ? AND q.story_id = ? AND o.kind IN ('alert', 'edit') LIMIT 1",
                [chat_id, story_id],
            ).fetchone()
            is not None
        )

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
            if "rules" in fields and fields["rules"] is not None:
                self._drop_unwanted(conn, chat_id, frozenset(fields["rules"]))
            if fields.get("digest_off"):
                # Urgent only from now on: what waited for a digest would wait forever. More
                # coverage of a story the chat was alerted to still comes, as an edit.
                conn.execute(
                    "DELETE FROM queue WHERE chat_id = ? AND outbox_id IS NULL AND urgent = 0 "
                    "AND story_id NOT IN (SELECT d.story_id FROM queue d JOIN outbox o "
                    "ON o.id = d.outbox_id WHERE d.chat_id = ? AND o.kind IN ('alert', 'edit'))",
                    [chat_id, chat_id],
                )
        return self.chat(chat_id)

    @staticmethod
    def _drop_unwanted(conn: sqlite3.Connection, chat_id: int, rules: frozenset[str]) -> None:
        """After ``/unsubscribe``: what waits for the chat is owed for the rules it still
        follows only; a report owed for none of them is no longer owed (it had come in the
        next digest, under a rule the chat had just left)."""
        for rowid, owed in conn.execute(
            "SELECT rowid, rules FROM queue WHERE chat_id = ? AND outbox_id IS NULL", [chat_id]
        ).fetchall():
            before = json.loads(owed)
            kept = [r for r in before if r in rules]
            if not kept:
                conn.execute("DELETE FROM queue WHERE rowid = ?", [rowid])
            elif len(kept) < len(before):
                conn.execute(
                    "UPDATE queue SET rules = ? WHERE rowid = ?", [json.dumps(kept), rowid]
                )

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
        """Chats owed reports: for the urgent pass, those owed an urgent report or more of a
        story they were alerted to; for the digest pass, any (compose sorts them out)."""
        if not urgent:
            query = "SELECT DISTINCT chat_id FROM queue WHERE outbox_id IS NULL"
        else:
            # From the stories each chat was alerted to, not from every pending report: asked
            # per report (EXISTS), this read a story's reports once for each of them, 1.3 s
            # with 8,898 reports pending after a first poll; this way 8 ms.
            query = (
                "SELECT chat_id FROM queue WHERE outbox_id IS NULL AND (urgent = 1 OR no_edit = 1) "
                "UNION SELECT q.chat_id FROM (SELECT DISTINCT d.chat_id, d.story_id FROM queue d "
                "JOIN outbox o ON o.id = d.outbox_id WHERE o.kind IN ('alert', 'edit')) a "
                "JOIN queue q ON q.story_id = a.story_id AND q.chat_id = a.chat_id "
                "AND q.outbox_id IS NULL"
            )
        return [r[0] for r in self.db.execute(query).fetchall()]

    def _owed(self, conn: sqlite3.Connection, chat_id: int) -> list[StoryOwed]:
        """What a chat is owed, story by story, with what it already had of each."""
        pending = conn.execute(
            "SELECT story_id, item_id, rules, urgent, no_edit FROM queue "
            "WHERE chat_id = ? AND outbox_id IS NULL",
            [chat_id],
        ).fetchall()
        if not pending:
            return []
        stories: dict[int, StoryOwed] = {}
        read: dict[str, tuple[str, ...]] = {}

        def rules_of(text: str) -> tuple[str, ...]:
            """The rule ids of a queue row, each id one shared string: with hundreds of broad
            rules, thousands of reports each carry dozens (40 MB of copies otherwise)."""
            found = read.get(text)
            if found is None:
                found = read[text] = tuple(map(sys.intern, json.loads(text)))
            return found

        for story_id, item_id, rules, urgent, no_edit in pending:
            owed = stories.setdefault(story_id, StoryOwed(story_id))
            owed.pending.append(Owing(item_id, rules_of(rules), bool(urgent)))
            owed.no_edit = owed.no_edit or bool(no_edit)
        ids = sorted(stories)
        for chunk, marks in in_chunks(ids):
            for story_id, item_id, rules, outbox_id, kind, target, gave_up, made in conn.execute(
                "SELECT q.story_id, q.item_id, q.rules, q.outbox_id, o.kind, o.target_id, "
                "o.gave_up_at IS NOT NULL, o.created_at FROM queue q "
                "LEFT JOIN outbox o ON o.id = q.outbox_id "
                f"WHERE q.chat_id = ? AND q.outbox_id IS NOT NULL AND q.story_id IN ({marks})",
                [chat_id, *chunk],
            ):
                stories[story_id].had.append(
                    Carried(
                        item_id,
                        rules_of(rules),
                        outbox_id,
                        kind,
                        target,
                        bool(gave_up),
                        parse_iso(made),
                    )
                )
        return [stories[sid] for sid in ids]

    def _pieces(
        self, conn: sqlite3.Connection, item_ids: Sequence[int], summaries: bool = True
    ) -> dict[int, tuple]:
        """Items as messages show them: id -> (Piece, summary, seen_at). Without
        ``summaries`` (a digest shows none) the summary is empty: full-article feeds carry
        thousands of characters per item, and a digest may weigh thousands of stories."""
        out: dict[int, tuple] = {}
        summary_column = "summary" if summaries else "NULL"
        for chunk, marks in in_chunks(sorted(set(item_ids))):
            for item_id, feed, title, link, summary, published, seen_at in conn.execute(
                f"SELECT id, COALESCE(source, feed), title, link, {summary_column}, published, "
                "seen_at FROM items "
                f"WHERE id IN ({marks})",
                chunk,
            ):
                seen = parse_iso(seen_at)
                piece = Piece(feed, title or "", link, parse_iso(published) or seen, item_id)
                out[item_id] = (piece, summary or "", seen)
        return out
