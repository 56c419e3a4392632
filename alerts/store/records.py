"""What the store reads and writes, as typed records, and how times are stored."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..delivery import Owed
from ..items import Item

CONSOLE_CHAT = 0  # Telegram never uses chat id 0, so it can stand for the console.

_FEED_COLUMNS = (
    "name, etag, last_modified, body_hash, first_polled_at, last_success_at, last_error, "
    "last_error_at, failures, retry_at, failing_since, down_notified"
)


def in_chunks(values: Sequence) -> Iterator[tuple[list, str]]:
    """``values`` in chunks of 500 with their ``?`` placeholders, for ``IN (...)``: SQLite
    takes a bounded number of parameters per statement."""
    for start in range(0, len(values), 500):
        chunk = list(values[start : start + 500])
        yield chunk, ",".join("?" * len(chunk))


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
    terms: frozenset[str] = frozenset()  # the rules' topic terms found (Config.topic_terms)


@dataclass(frozen=True)
class Piece:
    """One report as a message names it: the outlet, its title and link, and when."""

    feed: str
    title: str
    link: str | None
    published: datetime | None = None
    item_id: int = 0


@dataclass(frozen=True)
class Entry:
    """A story as one message shows it to one chat: its headline report, the other reports the
    message carries, and the chat's rules they matched.

    A ``coverage`` entry is "more coverage" of a story the chat already has: its headline is the
    one the chat was shown (not linked again) and ``others`` are only the reports it has not had.
    """

    story_id: int
    feed: str
    title: str
    link: str | None
    summary: str
    published: datetime | None
    seen_at: datetime
    rules: tuple[str, ...]
    others: tuple[Piece, ...] = ()
    coverage: bool = False
    last_at: datetime | None = None  # the newest report
    item_id: int = 0  # the headline's item

    @property
    def when(self) -> datetime:
        return self.published or self.seen_at

    @property
    def outlets(self) -> int:
        return len({self.feed, *(o.feed for o in self.others)})


@dataclass(frozen=True)
class Owing:
    """A report a chat is owed."""

    item_id: int
    rules: tuple[str, ...]
    urgent: bool


@dataclass(frozen=True)
class Carried:
    """A report a chat already had, and the message that carried it."""

    item_id: int
    rules: tuple[str, ...]
    outbox_id: int
    kind: str | None  # None: the message was pruned long ago
    target_id: int | None  # for an edit, the alert it edited
    gave_up: bool  # the message could never be delivered
    made_at: datetime | None


@dataclass
class StoryOwed:
    """What a chat is owed of one story, and what it already had of it."""

    story_id: int
    pending: list[Owing] = field(default_factory=list)
    had: list[Carried] = field(default_factory=list)
    no_edit: bool = False

    @property
    def alert(self) -> int | None:
        """The outbox id of the alert that brought the story to the chat, if it still stands."""
        ids = [c.outbox_id for c in self.had if c.kind == "alert" and not c.gave_up]
        return min(ids) if ids else None

    def owed(self) -> Owed:
        return Owed(
            urgent=any(o.urgent for o in self.pending),
            reached=any(not c.gave_up for c in self.had),
            alert=self.alert,
            no_edit=self.no_edit,
        )


@dataclass(frozen=True)
class Outgoing:
    """A message in the outbox. An ``edit`` replaces the text of the message Telegram knows as
    ``target_message`` (None when that message was never sent, or sent before ids were kept)."""

    id: int
    chat_id: int
    kind: str  # alert | digest | coverage | edit | notice
    format: str
    body: str
    attempts: int
    thread_id: int | None = None
    target_message: int | None = None


@dataclass
class IngestResult:
    new: int = 0
    matched: int = 0
    backfilled: int = 0
    duplicates: int = 0
    joined: int = 0  # matched items that joined a story already known
    queued: int = 0  # (chat, report) pairs owed
    urgent: int = 0  # of which owed as urgent
    urgent_feeds: set[str] = field(default_factory=set)  # the feeds of the urgent reports
