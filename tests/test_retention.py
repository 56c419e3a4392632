"""Retention: a bot that runs for months keeps a database of bounded size, and never forgets an
item a feed still carries (it would be delivered again as new).

The store is driven as the service drives it (poll -> ingest or record_unchanged or
record_failure, compose, mark_sent, prune), with a ``now`` that advances day by day.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts import digest
from alerts.config import Rule
from alerts.items import Item
from alerts.store import Matched, Store, parse_iso

from .ledger import Ledger

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
CHAT = 1001
RULES = (
    Rule(id="troops", name="Troops", any=("troops",), priority="urgent"),
    Rule(id="grid", name="Grid", any=("substation",)),
)
URGENT = frozenset({"troops"})


class Sim:
    """The store, the feeds as the bot would see them, and every story each delivery carried."""

    def __init__(self, path: Path, keep_days: int, story_window: timedelta | None = None):
        self.path = path
        self.keep_days = keep_days
        self.store = (
            Store.open(path, story_window) if story_window is not None else Store.open(path)
        )
        self.store.start_chat(CHAT, "private", "A reader", START - timedelta(days=1))
        self.ledger = Ledger()
        self.rules: dict[str, tuple[str, ...]] = {}  # title -> the rules it matches
        self.titles: dict[str, str] = {}  # link -> title

    def poll(self, feed: str, items: list[Item], now: datetime) -> None:
        """What Service.poll_feed does with the store for one successful fetch."""
        body = hashlib.sha256(repr([(i.guid, i.title) for i in items]).encode()).hexdigest()
        state = self.store.feed_state(feed)
        url = f"https://{feed}.example/rss"
        if state and state.body_hash == body:  # 304, or the same bytes as last time
            self.store.record_unchanged(feed, url, now, None, None)
        else:
            self._ingest(feed, url, items, state, body, now)
        if state is not None and state.failing_since:
            self.store.feed_recovered(feed, now, lambda state: "back", ())

    def _ingest(self, feed, url, items, state, body, now) -> None:
        known = self.store.known_guids(feed, [i.guid for i in items])
        first = state is None or state.first_polled_at is None
        # As the service does: back from an outage (of over feed_alert_after, 1h by default),
        # items older than backfill are recorded, not delivered. Items without a date are new.
        since = parse_iso(state.failing_since) if state else None
        first = first or (since is not None and now - since >= timedelta(hours=1))
        self.store.ingest(
            feed,
            url,
            now=now,
            etag=None,
            last_modified=None,
            body_hash=body,
            seen=sorted(known),
            new=[Matched(i, self.rules[i.title], ()) for i in items if i.guid not in known],
            backfill_before=now - timedelta(days=1) if first else None,
        )
        self.store.settle(now, URGENT)

    def fail(self, feed: str, now: datetime) -> None:
        self.store.record_failure(
            feed, f"https://{feed}.example/rss", "HTTP 503", now, lambda n: 60
        )

    def deliver(self, now: datetime) -> None:
        """Alerts (and edits of them), then the digest, each message confirmed as Telegram
        would (its message id is its outbox id); the ledger sees what the chat sees."""
        renderer = digest.Renderer("html", RULES, UTC)
        for urgent in (True, False):
            for chat_id in self.store.chats_with_pending(urgent):
                self.store.compose(
                    chat_id, urgent=urgent, renderer=renderer, now=now, can_edit=True
                )
        for msg in self.store.due(now, 1000):
            if msg.kind == "edit":
                self.ledger.edit(msg.chat_id, msg.target_message, msg.body)
            else:
                self.ledger.send(msg.chat_id, msg.id, msg.body)
            self.store.mark_sent(msg.id, now, msg.id)
        assert self.ledger.violations == []

    @property
    def delivered(self) -> Counter[str]:
        """Title -> how many times its report's link newly reached the chat."""
        return Counter({self.titles[link]: n for link, n in self.ledger.shown[CHAT].items() if n})

    def item(self, feed: str, guid: str, title: str, rules: tuple[str, ...], when) -> Item:
        self.rules[title] = rules
        link = f"https://{feed}.example/{guid}"
        self.titles[link] = title
        return Item(feed, guid, title, link, "", when)

    def size(self) -> dict[str, int]:
        db = sqlite3.connect(self.path / "alerts.db")
        try:
            out = {
                table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("items", "stories", "queue", "outbox")
            }
            out["pages"] = db.execute("PRAGMA page_count").fetchone()[0]
        finally:
            db.close()
        return out


def test_a_long_run_stays_bounded_and_remembers_what_feeds_still_carry(tmp_path) -> None:
    days, keep_days, per_day = 120, 7, 12
    sim = Sim(tmp_path, keep_days)
    daily: list[Item] = []  # a busy feed: a dozen items a day, carrying the latest 30
    # A feed whose few items never change: every poll after the first is a 304 or the same
    # bytes. On day 60 it adds one item, and its old ones must still be known then.
    pinned = [
        sim.item(
            "pinned",
            f"p{n}",
            f"Pinned: {5000 + n} troops stay at the substation",
            ("troops",),
            START,
        )
        for n in range(3)
    ]
    # A feed that is down from day 10 to day 40, far longer than keep_days, and comes back
    # carrying what it carried before, and one item more. Its items have no date, so coming
    # back from an outage does not make them backfill: only memory keeps them from repeating.
    flaky = [
        sim.item("flaky", f"f{n}", f"Flaky: substation {7000 + n} repaired", ("grid",), None)
        for n in range(2)
    ]
    sizes: dict[int, dict[str, int]] = {}
    serial = 0
    for day in range(days):
        for poll in range(4):  # every six hours
            now = START + timedelta(days=day, hours=6 * poll)
            if poll == 0:
                for _ in range(per_day):
                    serial += 1
                    kind = serial % 4  # urgent, digest, both, unmatched
                    rules = [("troops",), ("grid",), ("troops", "grid"), ()][kind]
                    title = f"Report {serial}: {serial} troops near substation {serial}"
                    daily.append(sim.item("daily", f"d{serial}", title, rules, now))
                del daily[:-30]
            if day == 40 and poll == 0:
                flaky.append(
                    sim.item("flaky", "f-new", "Flaky: substation 7100 back", ("grid",), None)
                )
            if day == 60 and poll == 0:
                pinned.append(
                    sim.item("pinned", "p-new", "Pinned: 6000 new troops arrive", ("troops",), now)
                )
            sim.poll("daily", daily, now)
            sim.poll("pinned", pinned, now)
            if 10 <= day < 40:
                sim.fail("flaky", now)
            else:
                sim.poll("flaky", flaky, now)
            sim.deliver(now)
            if poll == 0:
                sim.store.prune(keep_days, now)  # as the service's prune job does
        if day in (30, 60, 90, days - 1):
            sizes[day] = sim.size()

    # Everything matched was delivered, each item exactly once: nothing the feeds kept carrying
    # (unchanged for months, or behind an outage longer than keep_days) came back as new.
    matched = [title for title, rules in sim.rules.items() if rules]
    assert set(sim.delivered) == set(matched)
    assert [t for t, n in sim.delivered.items() if n != 1] == []
    # What is kept is what the last keep_days brought, not everything since the start.
    for table in ("items", "stories", "queue", "outbox"):
        counts = [sizes[d][table] for d in sorted(sizes)]
        assert max(counts) <= counts[0] * 1.1 + 5, (table, counts)
    assert sizes[days - 1]["items"] < (keep_days + 3) * per_day + 30 + len(pinned) + len(flaky)
    pages = [sizes[d]["pages"] for d in sorted(sizes)]
    assert max(pages) <= pages[0] * 1.25 + 10, pages  # freed pages are reused: no growth
    sim.store.close()


def test_a_feed_taken_out_of_the_rules_is_forgotten_after_keep_days(tmp_path) -> None:
    """Nothing polls a feed rules.yaml no longer names, so no poll ever shows that it stopped
    carrying its items: without being told which feeds are configured, they were kept forever.
    Put back within keep_days it is still known; put back later it starts as a new feed."""
    sim = Sim(tmp_path, keep_days=7)
    # Titles unlike each other, so that each item is a story of its own.
    titles = {
        "k1": "Convoy of troops crosses the Dnipro bridge at dawn",
        "k2": "Parliament votes on the mobilisation age for troops",
        "g1": "Troops dig new trenches north of Kupiansk",
        "g2": "Hospital in Kherson receives wounded troops overnight",
        "g3": "Winter uniforms reach troops on the southern front",
    }
    kept = [sim.item("kept", g, titles[g], ("troops",), START) for g in ("k1", "k2")]
    gone = [sim.item("gone", g, titles[g], ("troops",), START) for g in ("g1", "g2")]
    sim.poll("kept", kept, START)
    sim.poll("gone", gone, START)
    sim.deliver(START)
    assert sim.delivered == Counter(i.title for i in kept + gone)

    def items_of(feed: str) -> int:
        [(count,)] = sim.store.db.execute("SELECT count(*) FROM items WHERE feed = ?", [feed])
        return count

    def feeds() -> list[str]:
        return sorted(sim.store.feed_states())

    # "gone" leaves rules.yaml on day 1. Three days on it is put back: still known, so its
    # items, unchanged, are not new again.
    for day in range(1, 4):
        now = START + timedelta(days=day)
        sim.poll("kept", kept, now)
        sim.store.prune(7, now, ["kept"])
    assert items_of("gone") == 2 and feeds() == ["gone", "kept"]
    now = START + timedelta(days=4)
    sim.poll("gone", gone, now)
    sim.deliver(now)
    assert set(sim.delivered.values()) == {1}

    # Taken out again on day 5, and past keep_days: its items and its row go, the other
    # feed's stay (it still carries them).
    for day in range(5, 14):
        now = START + timedelta(days=day)
        sim.poll("kept", kept, now)
        sim.store.prune(7, now, ["kept"])
    assert items_of("gone") == 0 and items_of("kept") == 2 and feeds() == ["kept"]

    # Put back a month later, still carrying the same old items and one new: the first poll
    # records the backlog (older than backfill) and delivers only what is new.
    later = START + timedelta(days=40)
    fresh = sim.item("gone", "g3", titles["g3"], ("troops",), later)
    sim.poll("gone", [*gone, fresh], later)
    sim.deliver(later)
    assert sim.delivered == Counter(i.title for i in kept + gone + [fresh])
    assert set(sim.delivered.values()) == {1}
    sim.store.close()


def test_an_item_dropped_after_weeks_unchanged_ages_from_its_last_sighting(tmp_path) -> None:
    """Unchanged polls (304) write only the feed's row; an item the changed body then drops
    was still carried until the last of them, and ages from then, not from when the body last
    changed: a feed that puts it back within keep_days does not deliver it twice."""
    sim = Sim(tmp_path, keep_days=7)
    old = sim.item("wire", "a", "Troops rotate out of the Zaporizhzhia sector", ("troops",), START)
    sim.poll("wire", [old], START)
    sim.deliver(START)
    for day in range(1, 21):  # three weeks of 304s
        sim.poll("wire", [old], START + timedelta(days=day))
    # day 21: the body changes and drops the old item; prune at once, and again days later
    day21 = START + timedelta(days=21)
    new = sim.item("wire", "b", "Troops train on new drones near Pavlohrad", ("troops",), day21)
    sim.poll("wire", [new], day21)
    sim.deliver(day21)
    for day in (21, 25):
        sim.store.prune(7, START + timedelta(days=day), ["wire"])
    [(kept,)] = sim.store.db.execute("SELECT count(*) FROM items WHERE guid = 'a'")
    assert kept == 1  # last seen on day 20, within keep_days
    # day 26: the feed puts the old item back; it is known, not news
    day26 = START + timedelta(days=26)
    sim.poll("wire", [old, new], day26)
    sim.deliver(day26)
    assert sim.delivered == Counter({old.title: 1, new.title: 1})
    # once the feed drops it for good, it goes keep_days after its last sighting
    sim.poll("wire", [new], START + timedelta(days=27))
    sim.store.prune(7, START + timedelta(days=33), ["wire"])
    [(kept,)] = sim.store.db.execute("SELECT count(*) FROM items WHERE guid = 'a'")
    assert kept == 1
    sim.store.prune(7, START + timedelta(days=34), ["wire"])
    [(kept,)] = sim.store.db.execute("SELECT count(*) FROM items WHERE guid = 'a'")
    assert kept == 0
    sim.store.close()


def test_a_story_is_remembered_while_reports_can_still_join_it(tmp_path) -> None:
    """keep_days shorter than the story window: a late report of a story delivered and pruned
    must still join it (not start a story nobody can be sent, nor repeat the first one)."""
    sim = Sim(tmp_path, keep_days=1, story_window=timedelta(hours=48))
    first = sim.item(
        "wire",
        "a",
        "Russian strike on Kyiv kills at least 14 troops",
        ("troops",),
        START,
    )
    late = sim.item(
        "desk",
        "b",
        "Death Toll From Russian Attack on Kyiv Rises to 28 troops",
        ("troops",),
        START + timedelta(hours=9),
    )
    sim.poll("desk", [], START)
    sim.poll("wire", [first], START)
    sim.deliver(START)
    assert sim.delivered == Counter({first.title: 1})
    sim.poll("wire", [], START + timedelta(hours=1))  # the feed no longer carries it
    # A day later the item and its delivery are past keep_days; the story is 26 hours old.
    sim.store.prune(1, START + timedelta(hours=26))
    now = START + timedelta(hours=27)
    sim.poll("desk", [late], now)  # a slow outlet's report of the same event
    sim.deliver(now)
    sim.deliver(now + timedelta(hours=1))
    # The first report is not alerted again; the late one is added to its alert by an edit
    # (the alert's record outlived keep_days because its story could still grow).
    assert sim.delivered == Counter({first.title: 1, late.title: 1}), sim.delivered
    db = sqlite3.connect(tmp_path / "alerts.db")
    kinds = [r[0] for r in db.execute("SELECT kind FROM outbox ORDER BY id")]
    db.close()
    assert kinds == ["alert", "edit"]
    (alert,) = [t for (_, key), t in sim.ledger.texts.items()]
    assert alert.startswith("🚨") and "https://desk.example/b" in alert
    assert "https://wire.example/a" in alert
    assert sim.store.outbox_depth() == 0 and not sim.store.chats_with_pending(False)
    sim.store.close()


def test_a_story_nobody_was_sent_is_remembered_while_reports_can_join_it(tmp_path) -> None:
    sim = Sim(tmp_path, keep_days=1, story_window=timedelta(hours=48))
    first = sim.item(
        "wire", "a", "Russian strike on Kyiv kills at least 14 troops", ("troops",), START
    )
    late = sim.item(
        "desk",
        "b",
        "Death Toll From Russian Attack on Kyiv Rises to 28 troops",
        ("troops",),
        START + timedelta(hours=9),
    )
    sim.store.update_chat(CHAT, rules=[])  # the only chat follows nothing for now
    sim.poll("desk", [], START)
    sim.poll("wire", [first], START)
    sim.poll("wire", [], START + timedelta(hours=1))
    sim.deliver(START + timedelta(hours=1))
    assert not sim.delivered
    sim.store.prune(1, START + timedelta(hours=26))
    sim.store.update_chat(CHAT, rules=None)  # ... and now follows every rule
    now = START + timedelta(hours=27)
    sim.poll("desk", [late], now)
    sim.deliver(now)
    # The story reaches the chat once, as one alert: the one report the chat wants. The first
    # was matched while the chat followed nothing, so it was never owed to it.
    assert sim.delivered == Counter({late.title: 1}), sim.delivered
    db = sqlite3.connect(tmp_path / "alerts.db")
    (body,) = [r[0] for r in db.execute("SELECT body FROM outbox")]
    db.close()
    assert body.startswith("🚨") and "https://desk.example/b" in body
    assert "https://wire.example/a" not in body
    assert sim.store.outbox_depth() == 0 and not sim.store.chats_with_pending(True)
    sim.store.close()


def test_prune_runs_soon_after_start_not_only_hours_later(tmp_path) -> None:
    """A bot restarted more often than the prune interval must still prune."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from alerts import config as configmod
    from alerts.service import Service

    from .conftest import write_rules

    rules = write_rules(
        tmp_path / "rules.yaml", {"Wire": "https://e.example/rss"}, "  - id: a\n    any: [x]\n"
    )
    store = Store.open(tmp_path / "state")
    service = Service(configmod.load(rules), store)
    scheduler = AsyncIOScheduler(timezone=UTC)
    before = datetime.now(UTC)
    service.schedule(scheduler)
    job = scheduler.get_job("prune")
    assert job.next_run_time <= before + timedelta(minutes=5)
    assert job.trigger.interval == timedelta(hours=6)  # and every six hours after that
    store.close()
