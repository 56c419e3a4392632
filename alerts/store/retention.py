"""Forgetting what is old, without forgetting what a feed still carries."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from .records import (
    iso,
)


class Retention:
    """Forgetting what is old, without forgetting what a feed still carries (a part of :class:`alerts.store.Store`)."""

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
            # A message that carried a story reports can still join is kept: a late report is
            # added to it by an edit, which needs the message's Telegram id.
            conn.execute(
                "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ? AND id NOT IN "
                "(SELECT outbox_id FROM queue WHERE outbox_id IS NOT NULL AND story_id IN "
                "(SELECT id FROM stories WHERE first_at >= ?))",
                [cutoff, live],
            )
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
            # An item the feed still carries (last seen when the body last changed) was seen
            # at the feed's last success; the index narrows by last_seen_at first, which is
            # never later than that.
            seen = (
                "(CASE WHEN last_seen_at = (SELECT carried_at FROM feeds WHERE name = items.feed) "
                "THEN (SELECT last_success_at FROM feeds WHERE name = items.feed) "
                "ELSE last_seen_at END)"
            )
            removed = conn.execute(
                f"DELETE FROM items WHERE last_seen_at < ? AND {seen} < ? "
                f"AND ({seen} < (SELECT last_success_at FROM feeds WHERE name = items.feed)"
                f"{unlisted}) "
                "AND (story_id IS NULL OR (story_id NOT IN (SELECT story_id FROM queue) "
                "AND story_id NOT IN (SELECT id FROM stories WHERE first_at >= ?)))",
                [cutoff, cutoff, *names, live],
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
