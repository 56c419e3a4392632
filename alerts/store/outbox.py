"""The outbox: rendered messages, sent only once they are recorded."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING

from ..delivery import ALERT, COVERAGE, DIGEST_PASS, EDIT, MORE, URGENT_PASS, plan
from .records import Entry, Outgoing, StoryOwed, in_chunks, iso

if TYPE_CHECKING:
    from ..digest import Renderer


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
        renderer: Renderer,
        now: datetime,
        can_edit: bool = False,
    ) -> list[int]:
        """Turn what a chat is owed into outbox messages, atomically; returns their ids.

        The urgent pass (``urgent``) makes alerts, edits of alerts and coverage messages; the
        digest pass makes the digest: :func:`alerts.delivery.plan` says which story goes where.
        The reports a message carries leave the queue in the same transaction that puts the
        message in the outbox. Stories the digest leaves out (over ``digest_max``) stay owed.
        """
        with self.transaction() as conn:
            plan_ = self._plan(conn, chat_id, can_edit, URGENT_PASS if urgent else DIGEST_PASS)
            if plan_ is None:
                return []
            owed, pieces, kinds, thread_id, digest_off = plan_
            made: list[int] = []
            owed_items = {s.story_id: [o.item_id for o in s.pending] for s in owed}

            def put(kind: str, body: str, items: Sequence[int], target: int | None = None) -> None:
                cur = conn.execute(
                    "INSERT INTO outbox(chat_id, kind, format, body, created_at, attempts, "
                    "thread_id, target_id) VALUES(?, ?, ?, ?, ?, 0, ?, ?)",
                    [chat_id, kind, renderer.fmt, body, iso(now), thread_id, target],
                )
                made.append(cur.lastrowid)
                for chunk, marks in in_chunks(items):
                    conn.execute(
                        "UPDATE queue SET outbox_id = ? WHERE chat_id = ? AND outbox_id IS NULL "
                        f"AND item_id IN ({marks})",
                        [cur.lastrowid, chat_id, *chunk],
                    )

            def fitted(entry: Entry, render) -> tuple[Entry, str | None]:
                """The entry with as many of its other reports as the message can show; the
                rest stay owed (Telegram takes 4096 characters; hundreds of outlets do not)."""
                body = render(entry)
                while body is None and entry.others:
                    entry = replace(entry, others=entry.others[: len(entry.others) * 3 // 4])
                    body = render(entry)
                return entry, body

            def carried(entry: Entry, with_head: bool) -> list[int]:
                return ([entry.item_id] if with_head else []) + [o.item_id for o in entry.others]

            if not urgent:
                entries = [
                    _entry(s, pieces, coverage=kinds[s.story_id] == MORE)
                    for s in owed
                    if kinds[s.story_id] in DIGEST_PASS
                ]
                for body, story_ids in renderer.digest(entries, now) if entries else []:
                    put("digest", body, [i for sid in story_ids for i in owed_items[sid]])
                return made

            alerts = [_entry(s, pieces) for s in owed if kinds[s.story_id] == ALERT]
            alerts.sort(key=lambda e: (e.when, e.feed, e.title, e.story_id))
            for entry in alerts:
                entry, body = fitted(entry, lambda e: renderer.alert(e, now))
                put("alert", body or entry.title, carried(entry, True))
            coverage = [s for s in owed if kinds[s.story_id] == COVERAGE]
            for s in owed:
                if kinds[s.story_id] != EDIT:
                    continue
                entry, sent_at = _edit_entry(s, pieces, s.alert)
                body = renderer.edit(entry, sent_at)
                if body is None:  # the alert cannot carry more: the links go another way
                    conn.execute(
                        "UPDATE queue SET no_edit = 1 WHERE chat_id = ? AND story_id = ? "
                        "AND outbox_id IS NULL",
                        [chat_id, s.story_id],
                    )
                    if digest_off:
                        coverage.append(s)
                    continue
                put("edit", body, owed_items[s.story_id], s.alert)
            for s in coverage:
                entry, body = fitted(
                    _entry(s, pieces, coverage=True), lambda e: renderer.coverage(e, now)
                )
                if body is not None:
                    put("coverage", body, carried(entry, False))
            return made

    def _plan(self, conn: sqlite3.Connection, chat_id: int, can_edit: bool, wanted: frozenset):
        """What a chat is owed, how each story goes out, and the reports of the stories that go
        out in this pass (``wanted`` kinds): after a first poll of many feeds, the urgent pass
        reads the titles and links of its few alerts, not of the thousands of digest stories."""
        owed = self._owed(conn, chat_id)
        if not owed:
            return None
        row = conn.execute(
            "SELECT thread_id, digest_off FROM chats WHERE id = ?", [chat_id]
        ).fetchone()
        thread_id, digest_off = (row[0], bool(row[1])) if row else (None, False)
        kinds = {s.story_id: plan(s.owed(), digest_off=digest_off, can_edit=can_edit) for s in owed}
        going = [s for s in owed if kinds[s.story_id] in wanted]
        ids = [o.item_id for s in going for o in s.pending] + [
            c.item_id for s in going for c in s.had
        ]
        pieces = self._pieces(conn, ids, summaries=ALERT in wanted)
        return owed, pieces, kinds, thread_id, digest_off

    def pending(self, chat_id: int, urgent: bool, can_edit: bool = False) -> list[Entry]:
        """The stories the chat's next urgent pass (or digest) would carry, as entries."""
        wanted = URGENT_PASS if urgent else DIGEST_PASS
        plan_ = self._plan(self.db.conn, chat_id, can_edit, wanted)
        if plan_ is None:
            return []
        owed, pieces, kinds, _, _ = plan_
        return [
            _entry(s, pieces, coverage=kinds[s.story_id] in (MORE, COVERAGE))
            for s in owed
            if kinds[s.story_id] in wanted
        ]

    def due(self, now: datetime, limit: int = 100) -> list[Outgoing]:
        """Messages to send now, oldest first. An edit waits until the message it edits was
        sent (or given up), so that it never overtakes it."""
        rows = self.db.execute(
            "SELECT o.id, o.chat_id, o.kind, o.format, o.body, o.attempts, o.thread_id, "
            "t.message_id FROM outbox o LEFT JOIN outbox t ON t.id = o.target_id "
            "WHERE o.sent_at IS NULL AND o.gave_up_at IS NULL "
            "AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) "
            "AND (o.target_id IS NULL OR t.id IS NULL OR t.sent_at IS NOT NULL "
            "OR t.gave_up_at IS NOT NULL) "
            "ORDER BY o.id LIMIT ?",
            [iso(now), limit],
        ).fetchall()
        return [Outgoing(*r) for r in rows]

    def mark_sent(self, outbox_id: int, now: datetime, message_id: int | None = None) -> None:
        """Confirm a message the destination accepted, with the id it gave it (for edits)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, "
                "message_id = COALESCE(?, message_id) WHERE id = ?",
                [iso(now), message_id, outbox_id],
            )

    def edit_failed(self, outbox_id: int, error: str, now: datetime) -> int:
        """An edit Telegram will not make (the message is gone, or too old): its reports are
        owed again, to go out another way (:func:`alerts.delivery.plan`). Returns the chat."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET gave_up_at = ?, last_error = ?, attempts = attempts + 1 "
                "WHERE id = ?",
                [iso(now), error[:500], outbox_id],
            )
            conn.execute(
                "UPDATE queue SET outbox_id = NULL, no_edit = 1 WHERE outbox_id = ?", [outbox_id]
            )
            row = conn.execute("SELECT chat_id FROM outbox WHERE id = ?", [outbox_id]).fetchone()
            return row[0]

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


def _order(piece) -> tuple:
    return (piece.published, piece.feed, piece.title, piece.item_id)


def _merge_rules(lists) -> tuple[str, ...]:
    return tuple(dict.fromkeys(chain.from_iterable(lists)))


def _entry(s: StoryOwed, pieces: dict[int, tuple], *, coverage: bool = False) -> Entry:
    """A story as the chat is owed it. New, its earliest owed report is the headline; as
    ``coverage``, the headline is the one the chat was shown and the owed reports are the rest."""
    owed = sorted((pieces[o.item_id][0] for o in s.pending), key=_order)
    if coverage:
        known = [pieces[c.item_id][0] for c in s.had if not c.gave_up] or [
            pieces[c.item_id][0] for c in s.had
        ]
        head, others = min(known, key=_order), owed
    else:
        head, others = owed[0], owed[1:]
    # The reports' rules in the order of the reports, earliest first: an alert is headed by the
    # first urgent rule among them, which its edits keep (see _edit_entry).
    by_item = {o.item_id: o.rules for o in s.pending}
    rules = _merge_rules(by_item[p.item_id] for p in owed)
    return _make_entry(s.story_id, head, others, rules, pieces, coverage)


def _edit_entry(s: StoryOwed, pieces: dict[int, tuple], alert: int) -> tuple[Entry, datetime]:
    """The alert of a story as it stands once the owed reports are added to it, and when it
    was made (so that its times read as they did)."""

    def when(c) -> tuple:
        return _order(pieces[c.item_id][0])

    in_alert = sorted((c for c in s.had if c.outbox_id == alert), key=when)
    by_edits = sorted((c for c in s.had if c.kind == "edit" and c.target_id == alert), key=when)
    head = pieces[in_alert[0].item_id][0]  # the alert's earliest report
    others = sorted(
        [pieces[c.item_id][0] for c in in_alert + by_edits if c.item_id != head.item_id]
        + [pieces[o.item_id][0] for o in s.pending],
        key=_order,
    )
    pending = sorted(s.pending, key=when)
    rules = _merge_rules([*(c.rules for c in in_alert + by_edits), *(o.rules for o in pending)])
    made = in_alert[0].made_at
    return _make_entry(s.story_id, head, others, rules, pieces, False), made


def _make_entry(story_id, head, others, rules, pieces, coverage) -> Entry:
    _, summary, seen_at = pieces[head.item_id]
    newest = max([head, *others], key=_order).published
    return Entry(
        story_id,
        head.feed,
        head.title,
        head.link,
        summary,
        head.published,
        seen_at,
        rules,
        tuple(others),
        coverage,
        newest,
        head.item_id,
    )
