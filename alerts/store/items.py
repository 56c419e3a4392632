"""Items seen and the stories they are grouped into.

Recording a poll (:meth:`ItemStorage.ingest`) and grouping its reports into stories
(:meth:`ItemStorage.settle`) are two steps on purpose. Feeds are polled concurrently and finish
in any order; if each poll grouped its reports as it was stored, which report started a story
would depend on which feed answered first. ``settle`` files every matched report not yet in a
story in the order the reports were *published* (then by feed and guid), so the same reports
group the same way however the polls were ordered, and a backlog fetched after downtime groups
as the live news did. It also owes each report to the chats that want it, in the same
transaction, so a crash between the two steps only leaves reports to be settled at next start.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from ..items import Item
from ..signer import Signer
from ..stories import Report, Signature, StoryIndex, signature
from ..teasers import builtin_teasers
from .records import IngestResult, Matched, in_chunks, iso, parse_iso

BACKLOG = timedelta(days=7)
"""How far before the story window a backlog's reports may still find their stories: further
back, a report starts a story of its own (its date is likely wrong, and memory stays bounded)."""
NO_RULES: frozenset[str] = frozenset()


def commentary(title: str) -> bool:
    return builtin_teasers().commentary(title) is not None


class ItemStorage:
    """Items seen and the stories they are grouped into (a part of :class:`alerts.store.Store`)."""

    # -- the story index --

    def _story_index(self, oldest: datetime, now: datetime) -> StoryIndex:
        """The index of the stories that reports published at ``oldest`` or later may join.

        Built from the database on first use (``status``, a health check every minute, never
        pays for it) and extended further back when a backlog brings older reports.
        """
        floor = max(oldest - self.story_window, now - self.story_window - BACKLOG)
        if self._stories is None:
            self._stories = StoryIndex(window=self.story_window)
            self._stories_since = floor
            self._load_stories(floor, None)
        elif floor < self._stories_since:
            self._load_stories(floor, self._stories_since)
            self._stories_since = floor
        return self._stories

    def forget_stories(self) -> None:
        """Drop the story index (built again from the database when next needed): ``once``
        needs it no more after filing, and it is most of the memory filing a backlog took."""
        self._stories = None

    @property
    def stories(self) -> StoryIndex:
        """The story index as it stands, for ``explain`` and tests."""
        now = datetime.now(UTC)
        return self._story_index(now, now)

    def _load_stories(self, since: datetime, until: datetime | None) -> None:
        """Add to the index the stories whose first report was published in [since, until).

        Of each story, only the reports the index keeps are read: added oldest first, its first
        ``keep_reports`` give its headline and its keys, its last ``keep_reports - 1`` are the
        reports a newcomer may not contradict, and the last its latest time; of those between,
        only the updates, whose figures the story has told. (A story told 500 times, as a busy
        night's template is, would otherwise have 500 signatures read back for each run of
        ``once``.) An update is found by its flag's word in the stored signature: a title word
        "update" reads one row more, which changes nothing."""
        keep = self._stories.keep_reports
        where = "s.first_at >= ?" + (" AND s.first_at < ?" if until is not None else "")
        params: list[object] = [iso(since)] + ([iso(until)] if until is not None else [])
        query = (
            "SELECT id, story_id, title, summary, happened, feed, regions, terms, signature, "
            "source FROM (SELECT i.id, i.story_id, i.title, i.summary, "
            "COALESCE(i.published, i.seen_at) AS happened, i.feed, i.guid, i.regions, i.terms, "
            "i.signature, i.source, ROW_NUMBER() OVER (PARTITION BY i.story_id "
            "ORDER BY COALESCE(i.published, i.seen_at), i.feed, i.guid) AS nth, "
            "COUNT(*) OVER (PARTITION BY i.story_id) AS told "
            f"FROM items i JOIN stories s ON s.id = i.story_id WHERE {where}) "
            "WHERE nth <= ? OR nth > told - ? OR instr(signature, '\"update\"') "
            "ORDER BY happened, feed, guid"
        )
        for row in self.db.execute(query, [*params, keep, keep - 1]).fetchall():
            item_id, story_id = row[0], row[1]
            report, sig = _report(item_id, row[2:9], source=row[9])
            self._stories.add(story_id, report, sig)

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

    # -- recording a poll --

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
    ) -> IngestResult:
        """Record one successful poll: feed state and new items. :meth:`settle` then groups the
        matched ones into stories and owes them to the chats.

        ``seen`` are the guids of items already known (their last_seen_at is refreshed, so
        retention never forgets an item the feed still carries). ``backfill_before`` is set on a
        feed's first poll: older items are remembered but nobody is sent them.
        """
        result = IngestResult()
        stamp = iso(now)
        with self.transaction() as conn:
            self._touch_feed(conn, feed, url)
            # The items the old body carried were seen until the last unchanged poll (see
            # record_unchanged): written down now that the body changed. "+last_seen_at" keeps
            # SQLite on the (feed, guid) index.
            conn.execute(
                "UPDATE items SET last_seen_at = (SELECT last_success_at FROM feeds "
                "WHERE name = ?1) WHERE feed = ?1 AND +last_seen_at = (SELECT carried_at "
                "FROM feeds WHERE name = ?1 AND carried_at < last_success_at)",
                [feed],
            )
            conn.execute(
                "UPDATE feeds SET failures = 0, retry_at = NULL, last_polled_at = ?, "
                "last_success_at = ?, carried_at = ?, etag = ?, last_modified = ?, "
                "body_hash = ?, first_polled_at = COALESCE(first_polled_at, ?) WHERE name = ?",
                [stamp, stamp, stamp, etag, last_modified, body_hash, stamp, feed],
            )
            for chunk, marks in in_chunks(seen):
                conn.execute(
                    f"UPDATE items SET last_seen_at = ? WHERE feed = ? AND guid IN ({marks})",
                    [stamp, feed, *chunk],
                )
            # Earliest first, so that a duplicate is the later of two copies.
            ordered = sorted(new, key=lambda m: (m.item.published or now, m.item.guid))
            links = [m.item.canonical for m in ordered]
            # What the old per-item statements found, asked once for the whole poll: guids
            # stored already (INSERT OR IGNORE would skip them) and links with a copy that
            # counts (see _known_links); then one statement for every row.
            taken = self._known_guids(conn, feed, [m.item.guid for m in ordered])
            known = self._known_links(conn, {link for link in links if link})
            rows = []
            for m, canonical in zip(ordered, links, strict=True):
                item = m.item
                if item.guid in taken:  # stored before, or the same guid twice in one body
                    continue
                taken.add(item.guid)
                if backfill_before and item.published and item.published < backfill_before:
                    status = "backfill"
                elif canonical and canonical in known:
                    status = "duplicate"
                else:
                    status = "matched" if m.rules else "unmatched"
                if canonical and status in ("backfill", "duplicate"):
                    known.add(canonical)  # a later copy in this poll is a duplicate of it
                matched = status == "matched"
                rows.append(
                    (
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
                        json.dumps(sorted(m.terms), ensure_ascii=False) if matched else None,
                        None,  # the signature: settle() computes it when it files the report
                        item.source,
                    )
                )
                result.new += 1
                if status == "backfill":
                    result.backfilled += 1
                elif status == "duplicate":
                    result.duplicates += 1
                elif matched:
                    result.matched += 1
            conn.executemany(
                "INSERT INTO items(feed, guid, link, canonical, title, summary, published, "
                "seen_at, last_seen_at, status, rules, regions, terms, signature, source) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
        return result

    # -- grouping into stories, and owing reports to chats --

    def settle(
        self, now: datetime, urgent_rules: frozenset[str], signer: Signer | None = None
    ) -> IngestResult:
        """File every matched report not yet in a story, in publication order, and owe each to
        the chats that want it (see the module docstring for why this is a step of its own).

        Returns how many reports were filed, joined a known story, and were owed to chats
        (``urgent``: owed as urgent). ``signer`` reads the reports' signatures (on the second
        core for a large batch); without it they are read here.
        """
        result = IngestResult()
        stamp = iso(now)
        with self._stories_follow_the_database(), self.transaction() as conn:
            rows = conn.execute(
                "SELECT id, title, summary, COALESCE(published, seen_at), feed, regions, terms, "
                "signature, rules, canonical, source FROM items "
                "WHERE status = 'matched' AND story_id IS NULL "
                "ORDER BY COALESCE(published, seen_at), feed, guid"
            ).fetchall()
            if not rows:
                return result
            oldest = parse_iso(rows[0][3])
            index = self._story_index(oldest, now)
            index.expire(oldest)
            self._stories_since = max(self._stories_since, oldest - self.story_window)
            chats = self._active_chats(conn)
            read = (signer or Signer(workers=False)).signatures(
                [(row[1] or "", row[2] or "", row[6]) for row in rows if not row[7]]
            )
            # The summary of a report without a stored signature is the signer's alone (which
            # lets it go once read); each row is let go once filed. Full-article feeds carry
            # up to 2,000 characters a summary, and a first poll thousands of reports.
            rows = [row if row[7] else (*row[:2], None, *row[3:]) for row in rows]
            # Two feeds carried one article: the earlier report is the one delivered. The
            # links filed before this batch are asked once; those filed in it are added here.
            filed = self._filed_links(conn, {row[9] for row in rows if row[9]})
            filing = _Filing(conn)
            queued = self._queued(conn, [row[0] for row in rows])
            for at, row in enumerate(rows):
                rows[at] = None
                item_id, rules, canonical = row[0], tuple(json.loads(row[8] or "[]")), row[9]
                sig = None if row[7] else next(read)
                if canonical and canonical in filed:
                    filing.duplicates.append((item_id,))
                    result.duplicates += 1
                    continue
                if canonical:
                    filed.add(canonical)
                report, sig = _report(item_id, row[1:8], sig, source=row[10])
                story_id = self._file_story(filing, index, report, sig)
                result.matched += 1
                result.joined += int(story_id != item_id)
                # "Analysis: ..." is comment: its rules want it, but not as an urgent alert.
                urgent = NO_RULES if commentary(row[1] or "") else urgent_rules
                for chat in chats:
                    owed = self._owing(conn, chat, item_id, story_id, rules, urgent, stamp, row[8])
                    if owed is not None and (chat.id, item_id) not in queued:
                        filing.queue.append(owed)
                        result.queued += 1
                        if owed[4]:
                            result.urgent += 1
                            result.urgent_feeds.add(row[4])
            filing.write()
        return result

    @staticmethod
    def _copies(conn: sqlite3.Connection, links: set[str]) -> Iterator[tuple[str, str, int | None]]:
        """(link, status, story_id) of every stored item of these links, found by the links'
        own index (a status in the WHERE clause led SQLite to scan the status index instead:
        quadratic)."""
        for chunk, marks in in_chunks(sorted(links)):
            yield from conn.execute(
                "SELECT canonical, status, story_id FROM items INDEXED BY idx_items_canonical "
                f"WHERE canonical IN ({marks})",
                chunk,
            )

    @classmethod
    def _filed_links(cls, conn: sqlite3.Connection, links: set[str]) -> set[str]:
        """Of these links, those with a matched report already filed in a story."""
        return {
            link
            for link, status, story in cls._copies(conn, links)
            if status == "matched" and story is not None
        }

    @classmethod
    def _known_links(cls, conn: sqlite3.Connection, links: set[str]) -> set[str]:
        """Of these links, those a report of which was already delivered or recorded: a new
        copy of one is a duplicate. Reports still to be filed do not count: :meth:`settle`
        decides between those in publication order, so which feed answered first does not
        decide which copy counts."""
        return {
            link
            for link, status, story in cls._copies(conn, links)
            if status != "unmatched" and not (status == "matched" and story is None)
        }

    @staticmethod
    def _file_story(filing: _Filing, index: StoryIndex, report: Report, sig: Signature) -> int:
        """Put a matched report into the story it reports, or start a story with it."""
        story_id, _ = index.assign(report, sig, explain=False)
        if story_id is None:
            story_id = report.item_id
        filing.file(story_id, report.item_id, iso(report.published), sig.to_json())
        index.add(story_id, report, sig)
        return story_id

    # -- reading --

    def story_title(self, story_id: int) -> str | None:
        row = self.db.execute(
            "SELECT title FROM items WHERE story_id = ? ORDER BY COALESCE(published, seen_at), id "
            "LIMIT 1",
            [story_id],
        ).fetchone()
        return row[0] if row else None

    def stories_for(
        self, item: Item, regions: tuple[str, ...], terms: frozenset[str], now: datetime
    ) -> list:
        """The stored stories an item would be compared with, each with the decision against it,
        best first (for ``explain``); changes nothing."""
        when = item.published or now
        outlet = _outlet(item.feed, item.source)
        report = Report(0, item.title, item.summary, when, outlet, regions, terms)
        index = self._story_index(when, now)
        return index.decisions(report, signature(item.title, item.summary))

    def matched_since(self, since: datetime) -> list[tuple[str, str]]:
        """(seen_at, rules JSON) of every item matched since ``since``, for ``stats``."""
        return self.db.execute(
            "SELECT seen_at, rules FROM items WHERE status = 'matched' AND seen_at >= ?",
            [iso(since)],
        ).fetchall()


class _Filing:
    """The writes of one :meth:`ItemStorage.settle`, made in batches by ``executemany``: a
    statement per report cost as much as a third of the grouping. Nothing in the loop reads
    back what it wrote (links filed are kept in a set, the story index in memory)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.stories: dict[int, list[str]] = {}  # id -> [first_at, last_at]
        self.items: list[tuple[int, str, int]] = []  # (story_id, signature, item id)
        self.duplicates: list[tuple[int]] = []
        self.queue: list[tuple] = []  # rows of the queue: reports owed to chats

    def file(self, story_id: int, item_id: int, when: str, sig_json: str) -> None:
        span = self.stories.get(story_id)
        if span is None:
            self.stories[story_id] = [when, when]
        else:
            span[0], span[1] = min(span[0], when), max(span[1], when)
        self.items.append((story_id, sig_json, item_id))
        if len(self.items) >= 1000:  # the signatures' JSON is most of it: hold a little at once
            self._write_items()

    def _write_items(self) -> None:
        self.conn.executemany(
            "UPDATE items SET story_id = ?, signature = ? WHERE id = ?", self.items
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO queue(chat_id, item_id, story_id, rules, urgent, created_at) "
            "VALUES(?, ?, ?, ?, ?, ?)",
            self.queue,
        )
        self.items.clear()
        self.queue.clear()

    def write(self) -> None:
        conn = self.conn
        self._write_items()
        conn.executemany("UPDATE items SET status = 'duplicate' WHERE id = ?", self.duplicates)
        # A story begun by an earlier batch is widened; a new one is inserted (OR IGNORE: its
        # id is its first report's, which no earlier story has).
        spans = [(first, last, sid) for sid, (first, last) in self.stories.items()]
        conn.executemany(
            "UPDATE stories SET first_at = MIN(first_at, ?), last_at = MAX(last_at, ?) "
            "WHERE id = ?",
            spans,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO stories(id, first_at, last_at) VALUES(?, ?, ?)",
            [(sid, first, last) for first, last, sid in spans],
        )


def _outlet(feed: str, source: str | None) -> str:
    """The outlet of a report, as grouping tells outlets apart: its feed, or an aggregator's
    source and feed ("MSN via Google News: Kyiv"): two articles of one outlet in one feed are two
    reports, and an aggregator's source in two searches (MSN carrying two agencies) is not one."""
    return f"{source} via {feed}" if source else feed


def _report(
    item_id: int, row: Sequence, sig: Signature | None = None, *, source: str | None = None
) -> tuple[Report, Signature]:
    """A stored report and its signature from (title, summary, when, feed, regions, terms,
    signature JSON) and its aggregator's ``source``, unless ``sig`` is given; a signature
    stored by an older version is computed again."""
    title, summary, when, feed, regions, terms, sig_json = row
    if sig is None and sig_json:
        try:
            sig = Signature.from_json(sig_json)
        except ValueError:
            sig = None
    if sig is None:
        sig = signature(title or "", summary or "")
    report = Report(
        item_id,
        title or "",
        summary or "",
        parse_iso(when),
        _outlet(feed, source),
        tuple(json.loads(regions or "[]")),
        _terms(terms or "[]"),
    )
    return report, sig


@functools.lru_cache(maxsize=4096)
def _terms(text: str) -> frozenset[str]:
    """A report's topic terms, one set for every report with the same ones and each term one
    shared string: the story index holds thousands of reports, each with dozens of terms when
    many broad rules match."""
    return frozenset(map(sys.intern, json.loads(text)))
