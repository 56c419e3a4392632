"""The database schema, as sqlite-utils migrations applied in order at open."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

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


@migrations()
def m005_report_deliveries(db: Database) -> None:
    """The unit of delivery becomes the report, so that grouping never hides one.

    Each chat is owed each matched report it wants once (``queue``: one row per chat and item).
    A report reaches the chat as its story's headline or as a link under it: in an alert or a
    digest entry, in an edit of the alert that brought the story (``outbox.target_id``, the
    Telegram ``message_id`` of what was sent), or as "more coverage" in a later digest.
    """
    old = db.execute(
        "SELECT q.chat_id, q.story_id, q.kind, q.rules, q.created_at, q.outbox_id, o.created_at "
        "FROM queue q LEFT JOIN outbox o ON o.id = q.outbox_id "
        "ORDER BY q.kind = 'update', q.created_at"
    ).fetchall()
    db.execute("ALTER TABLE queue RENAME TO queue_stories")
    db["queue"].create(
        {
            "chat_id": int,
            "item_id": int,
            "story_id": int,
            "rules": str,  # JSON: the item's rules among the chat's, in rules.yaml order
            "urgent": int,  # 1: one of those rules is urgent
            "created_at": str,
            "outbox_id": int,  # the message that carried it; NULL while owed
            "no_edit": int,  # 1: an edit could not carry it; it goes in a message of its own
        },
        pk=("chat_id", "item_id"),
        not_null={"story_id", "rules", "urgent", "created_at", "no_edit"},
        defaults={"urgent": 0, "no_edit": 0},
    )
    # Until now a story was owed as a whole: its reports seen before the message that carried
    # it was made were in it, later ones are still owed (as more coverage).
    for chat_id, story_id, kind, rules, created_at, outbox_id, made_at in old:
        items = db.execute(
            "SELECT id, seen_at FROM items WHERE story_id = ? AND status = 'matched'", [story_id]
        ).fetchall()
        for item_id, seen_at in items:
            carried = outbox_id if outbox_id and made_at and seen_at <= made_at else None
            db.execute(
                "INSERT OR IGNORE INTO queue(chat_id, item_id, story_id, rules, urgent, "
                "created_at, outbox_id) VALUES(?, ?, ?, ?, ?, ?, ?)",
                [chat_id, item_id, story_id, rules, int(kind == "alert"), created_at, carried],
            )
    db.execute("DROP TABLE queue_stories")
    db["queue"].create_index(["chat_id", "outbox_id"])
    db["queue"].create_index(["story_id"])
    db["queue"].create_index(["item_id"])
    db["items"].add_column("terms", str)  # JSON: the rule terms found, evidence for grouping
    db["items"].create_index(["status", "story_id"])  # the matched reports not yet in a story
    db["outbox"].add_column("message_id", int)  # Telegram's id of the sent message, for edits
    db["outbox"].add_column("target_id", int)  # an edit: the outbox row of the message it edits


@migrations()
def m006_carried_at(db: Database) -> None:
    """When a feed's body last changed (``carried_at``): the items it still carries are those
    last seen then. An unchanged poll (304) then writes only the feed's row, where it used to
    write every item the feed carried (its items' last_seen_at); retention reads an item's last
    sighting as the feed's last success when the feed still carries it."""
    db["feeds"].add_column("carried_at", str)
    db.execute("UPDATE feeds SET carried_at = last_success_at")


@migrations()
def m007_item_source(db: Database) -> None:
    """The outlet an aggregator's item is from (its ``<source>``: Google News carries many
    outlets in one feed), shown as its source and told apart from the others as an outlet."""
    db["items"].add_column("source", str)
