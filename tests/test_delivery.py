"""The delivery contract: every matched report reaches every chat that wants it exactly once, as
its story's headline or as a link under its story; grouping hides nothing.

Driven through the real store, as the service drives it (ingest, settle, compose, due,
mark_sent, edit_failed), with a :class:`~tests.ledger.Ledger` as the referee.
"""

from __future__ import annotations

import html
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from alerts import delivery, digest
from alerts.config import Rule
from alerts.items import Item
from alerts.store import Matched, Store, schema

from .conftest import ROOT, bot, rss, write_rules
from .ledger import Ledger, links

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RULES = (
    Rule(id="nk", name="North Korean troops", any=("troops",), priority="urgent"),
    Rule(id="grid", name="Energy", any=("substation",)),
)
URGENT = frozenset({"nk"})
ALICE, BOB, CAROL = 101, 102, 103

# Reports of one development by several outlets, told nearly alike so that any sane grouping
# puts them together; and developments unlike each other, so that none does.
EVENTS = {
    "troops": (
        ("nk",),
        "North Korea sends 3,000 more troops to Russia's Kursk region, Seoul says",
    ),
    "substation": (
        ("grid",),
        "Russian drones hit a substation in Kharkiv, cutting power to 40,000 homes",
    ),
    "both": (
        ("nk", "grid"),
        "North Korean troops guard a captured substation near Sudzha, Kyiv says",
    ),
    "ferry": (("grid",), "Ferry service across the Danube halted after substation fire in Izmail"),
}


def report(event: str, feed: str, minutes: int) -> Matched:
    rules, title = EVENTS[event]
    item = Item(
        feed,
        f"{feed}-{event}",
        title,
        f"https://{feed}.example/{event}",
        "",
        NOW + timedelta(minutes=minutes),
    )
    return Matched(item, rules, ())


def ingest(store: Store, feed: str, *reports: Matched, now: datetime = NOW) -> None:
    store.ingest(
        feed,
        f"https://{feed}.example/rss",
        now=now,
        etag=None,
        last_modified=None,
        body_hash=None,
        seen=[],
        new=list(reports),
        backfill_before=None,
    )


class Telegram:
    """Sends what the outbox holds as Telegram would take it; an edit changes its target."""

    def __init__(self, store: Store, fmt: str = "html", can_edit: bool = True) -> None:
        self.store = store
        self.renderer = digest.Renderer(fmt, RULES, UTC)
        self.can_edit = can_edit
        self.ledger = Ledger()
        self.refuse_edits = False
        self.sent: list[tuple[int, str, str]] = []  # (chat, kind, body)

    def compose(self, urgent: bool, now: datetime = NOW) -> None:
        for chat in self.store.chats_with_pending(urgent):
            self.store.compose(
                chat, urgent=urgent, renderer=self.renderer, now=now, can_edit=self.can_edit
            )

    def flush(self, now: datetime = NOW) -> None:
        while batch := self.store.due(now, 1000):
            for msg in batch:
                if msg.kind == "edit":
                    if self.refuse_edits or msg.target_message is None:
                        chat = self.store.edit_failed(msg.id, "message to edit not found", now)
                        self.store.compose(
                            chat, urgent=True, renderer=self.renderer, now=now, can_edit=True
                        )
                        continue
                    self.ledger.edit(msg.chat_id, msg.target_message, msg.body)
                else:
                    self.ledger.send(msg.chat_id, msg.id, msg.body)
                self.sent.append((msg.chat_id, msg.kind, msg.body))
                self.store.mark_sent(msg.id, now, msg.id)

    def alerts_then_digest(self, now: datetime = NOW) -> None:
        self.compose(True, now)
        self.flush(now)
        self.compose(False, now)
        self.flush(now)


def open_store(tmp_path, *chats: int) -> Store:
    store = Store.open(tmp_path)
    for chat in chats:
        store.start_chat(chat, "private", None, NOW - timedelta(days=1))
    return store


def test_a_report_joining_a_story_had_in_a_digest_comes_as_more_coverage(tmp_path) -> None:
    store = open_store(tmp_path, ALICE)
    tg = Telegram(store)
    ingest(store, "wire", report("substation", "wire", 0))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest()
    ingest(store, "desk", report("substation", "desk", 20))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest(NOW + timedelta(hours=1))
    (first, second) = [body for _, kind, body in tg.sent]
    assert "https://wire.example/substation" in first
    # Only the new link, under the headline the chat knows (not linked again).
    assert "more coverage" in second and links(second) == {"https://desk.example/substation"}
    # ... and which story it is, by its headline's outlet and time: one template's titles recur.
    assert re.search(r"\(more coverage · wire, \d\d:\d\d\)", second), second
    assert html.escape(EVENTS["substation"][1]) in second
    assert tg.ledger.violations == [] and tg.ledger.repeated(ALICE) == []


def test_an_alerted_story_is_edited_even_for_a_chat_without_digests(tmp_path) -> None:
    store = open_store(tmp_path, ALICE)
    store.update_chat(ALICE, digest_off=True)
    tg = Telegram(store)
    ingest(store, "wire", report("troops", "wire", 0))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest()
    for n, feed in enumerate(("desk", "courier")):
        ingest(store, feed, report("troops", feed, 10 + n))
        store.settle(NOW, URGENT)
        tg.alerts_then_digest()
    assert [kind for _, kind, _ in tg.sent] == ["alert", "edit", "edit"]
    (alert,) = tg.ledger.texts.values()
    assert links(alert) == {f"https://{f}.example/troops" for f in ("wire", "desk", "courier")}
    assert alert.index("wire.example") < alert.index("desk.example")  # the headline stays


def test_a_digest_report_joining_an_alerted_story_edits_the_alert_in_the_urgent_pass(
    tmp_path,
) -> None:
    store = open_store(tmp_path, ALICE)
    tg = Telegram(store)
    ingest(store, "wire", report("troops", "wire", 0))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest()
    # The same development, matched only by a digest rule: the chat was alerted to its story,
    # so the urgent pass edits the alert rather than leaving the link for the digest.
    later = report("troops", "desk", 10)
    ingest(store, "desk", Matched(later.item, ("grid",), ()))
    store.settle(NOW, URGENT)
    assert store.chats_with_pending(urgent=True) == [ALICE]
    tg.compose(True)
    tg.flush()
    assert [kind for _, kind, _ in tg.sent] == ["alert", "edit"]
    (alert,) = tg.ledger.texts.values()
    assert links(alert) == {"https://wire.example/troops", "https://desk.example/troops"}


def test_a_refused_edit_falls_back_to_the_digest_or_a_message_of_its_own(tmp_path) -> None:
    store = open_store(tmp_path, ALICE, BOB)
    store.update_chat(BOB, digest_off=True)
    tg = Telegram(store)
    ingest(store, "wire", report("troops", "wire", 0))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest()
    tg.refuse_edits = True  # "message to edit not found": the chat deleted the alert
    ingest(store, "desk", report("troops", "desk", 10))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest()
    kinds = {chat: [k for c, k, _ in tg.sent if c == chat] for chat in (ALICE, BOB)}
    assert kinds == {ALICE: ["alert", "digest"], BOB: ["alert", "coverage"]}
    for chat in (ALICE, BOB):
        last = [b for c, _, b in tg.sent if c == chat][-1]
        assert links(last) == {"https://desk.example/troops"} and "ore coverage" in last
    assert tg.ledger.violations == []


def test_an_alert_too_long_to_edit_sends_the_new_links_another_way(tmp_path) -> None:
    store = open_store(tmp_path, ALICE)
    tg = Telegram(store)
    ingest(store, "wire", report("troops", "wire", 0))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest()
    # Two hundred outlets with long names: no alert could name them all.
    for n in range(200):
        feed = f"outlet-{n:03d}-with-a-rather-long-name"
        ingest(store, feed, report("troops", feed, 1))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest()
    shown = tg.ledger.shown[ALICE]
    assert len(shown) == 201 and set(shown.values()) == {1}
    assert tg.ledger.violations == []
    assert {k for _, k, _ in tg.sent} == {"alert", "digest"}


def test_urgent_alerts_of_one_poll_go_out_oldest_first(tmp_path) -> None:
    store = open_store(tmp_path, ALICE)
    tg = Telegram(store)
    ingest(store, "wire", report("both", "wire", 30), report("troops", "wire", -30))
    store.settle(NOW, URGENT)
    tg.alerts_then_digest()
    alerts = [b for _, k, b in tg.sent if k == "alert"]
    assert [links(a) for a in alerts] == [
        {"https://wire.example/troops"},
        {"https://wire.example/both"},
    ]


def test_grouping_and_duplicates_do_not_depend_on_which_feed_answered_first(tmp_path) -> None:
    """Three outlets report one event; a fourth carries the first outlet's article under its
    own feed (same link). Stored in every order, the same reports make the same story and the
    same copy is the duplicate."""
    outcomes = set()
    polls = [
        ("wire", [report("troops", "wire", 0)]),
        ("desk", [report("troops", "desk", 5)]),
        ("courier", [report("troops", "courier", 9)]),
        ("partner", [report("troops", "wire", 12)]),  # wire's link, carried later by a partner
    ]
    for order in range(6):
        path = tmp_path / str(order)
        path.mkdir()
        store = open_store(path, ALICE)
        rng = random.Random(order)
        shuffled = polls[:]
        rng.shuffle(shuffled)
        for feed, reports in shuffled:
            fixed = [
                Matched(
                    Item(feed, r.item.guid + feed, r.item.title, r.item.link, "", r.item.published),
                    r.rules,
                    (),
                )
                for r in reports
            ]
            ingest(store, feed, *fixed)
        store.settle(NOW, URGENT)
        rows = store.db.execute(
            "SELECT feed, status, story_id IS NOT NULL FROM items ORDER BY feed"
        ).fetchall()
        stories = store.db.execute("SELECT count(*) FROM stories").fetchone()[0]
        outcomes.add((tuple(rows), stories))
        store.close()
    assert len(outcomes) == 1
    ((rows, stories),) = outcomes
    assert stories == 1 and ("partner", "duplicate", 0) in rows


def test_one_poll_with_copies_and_repeated_guids_is_stored_as_item_by_item(tmp_path) -> None:
    """Ingest asks the database once per poll, not once per item: within one body, a copy of a
    link recorded as backfill is a duplicate, two new copies of one link are both left to
    settle() (which keeps the earlier), a guid given twice is stored once, and a guid stored
    by an earlier poll is not stored again."""
    store = open_store(tmp_path, ALICE)

    def item(guid: str, link: str, minutes: int, rules: tuple[str, ...] = ("grid",)) -> Matched:
        when = NOW + timedelta(minutes=minutes)
        title = f"Substation fire in Izmail, report {guid}"
        return Matched(Item("wire", guid, title, link, "", when), rules, ())

    ingest(store, "wire", item("old", "https://wire.example/a", -600))
    result = store.ingest(
        "wire",
        "https://wire.example/rss",
        now=NOW,
        etag=None,
        last_modified=None,
        body_hash=None,
        seen=[],
        new=[
            item("old", "https://wire.example/a", -600),  # stored by the earlier poll
            item("b1", "https://wire.example/b?utm_source=rss", -300),  # backfill
            item("b2", "https://wire.example/b", 5),  # a copy of a recorded link
            item("c1", "https://wire.example/c", 10),
            item("c2", "https://wire.example/c#top", 12),  # a copy of a link not yet filed
            item("d", "https://wire.example/d", 20),
            item("d", "https://wire.example/d", 20),  # the same guid twice in one body
        ],
        backfill_before=NOW - timedelta(minutes=60),
    )
    assert (result.new, result.backfilled, result.duplicates, result.matched) == (5, 1, 1, 3)
    status = dict(store.db.execute("SELECT guid, status FROM items").fetchall())
    assert status == {
        "old": "matched",
        "b1": "backfill",
        "b2": "duplicate",
        "c1": "matched",
        "c2": "matched",
        "d": "matched",
    }
    store.settle(NOW, URGENT)
    status = dict(store.db.execute("SELECT guid, status FROM items").fetchall())
    assert status["c1"] == "matched" and status["c2"] == "duplicate"


def test_reports_stored_but_not_grouped_before_a_crash_are_grouped_at_next_start(
    tmp_path,
) -> None:
    store = open_store(tmp_path, ALICE)
    ingest(store, "wire", report("troops", "wire", 0))
    store.close()  # killed before settle()
    store = Store.open(tmp_path)
    assert store.settle(NOW, URGENT).queued == 1
    tg = Telegram(store)
    tg.alerts_then_digest()
    assert [k for _, k, _ in tg.sent] == ["alert"]


@pytest.mark.parametrize("seed", range(int(os.environ.get("DELIVERY_SEEDS", "40"))))
def test_property_every_wanted_link_reaches_each_chat_exactly_once(tmp_path, seed) -> None:
    """Random reports of a few events by random outlets, stored in random poll order, random
    digest times, chats with digests on or off and partial subscriptions, edits refused at
    random, and the bot "killed" between any two steps (the store reopened from disk, unsent
    messages sent again; an edit made twice changes nothing, as Telegram says "not modified").
    """
    rng = random.Random(seed)
    fmt, can_edit = rng.choice([("html", True), ("text", False), ("json", False)])
    chats = {ALICE: None, BOB: ("nk",), CAROL: ("grid",)}
    store = open_store(tmp_path, *chats)
    for chat, rules in chats.items():
        if rules:
            store.update_chat(chat, rules=list(rules))
    digest_off = {chat for chat in chats if rng.random() < 0.3}
    for chat in digest_off:
        store.update_chat(chat, digest_off=True)
    tg = Telegram(store, fmt, can_edit)
    feeds = ["wire", "desk", "courier", "ledger", "vestnik"]
    stored: dict[str, tuple[str, ...]] = {}
    minute = 0
    for _step in range(rng.randint(4, 10)):
        polls = []
        for feed in rng.sample(feeds, rng.randint(1, len(feeds))):
            events = rng.sample(sorted(EVENTS), rng.randint(1, 2))
            fresh = [report(e, feed, minute + rng.randint(0, 90)) for e in events]
            fresh = [m for m in fresh if m.item.link not in stored]
            polls.append((feed, fresh))
        minute += rng.randint(0, 120)
        rng.shuffle(polls)
        now = NOW + timedelta(minutes=minute)
        for feed, fresh in polls:
            ingest(store, feed, *fresh, now=now)
            for m in fresh:
                stored[m.item.link] = m.rules
            if rng.random() < 0.2:  # killed after a poll was stored
                store = _restart(tmp_path, tg)
        store.settle(now, URGENT)
        tg.refuse_edits = rng.random() < 0.2
        tg.compose(True, now)
        if rng.random() < 0.2:  # killed with messages composed but not sent
            store = _restart(tmp_path, tg)
        tg.flush(now)
        if rng.random() < 0.5:
            tg.compose(False, now)
            tg.flush(now)
    # In the end every chat takes its digest (those without digests get none).
    tg.refuse_edits = False
    tg.alerts_then_digest(NOW + timedelta(days=1))
    assert tg.ledger.violations == []
    for chat, follows in chats.items():
        shown = set(tg.ledger.shown[chat])
        assert tg.ledger.repeated(chat) == [], (chat, seed)
        required, allowed = set(), set()
        for link, rules in stored.items():
            wants = [r for r in rules if follows is None or r in follows]
            if not wants:
                continue
            if chat not in digest_off or any(r in URGENT for r in wants):
                required.add(link)
            allowed.add(link)  # without digests: if its story was alerted to the chat
        if chat in digest_off:
            alerted = {_story_of(store, link) for link in required}
            allowed = required | {link for link in allowed if _story_of(store, link) in alerted}
        assert required <= shown <= allowed, (
            chat,
            sorted(required - shown),
            sorted(shown - allowed),
        )
    store.close()


def _restart(tmp_path, tg: Telegram) -> Store:
    tg.store.close()
    tg.store = Store.open(tmp_path)
    return tg.store


def _story_of(store: Store, link: str) -> int | None:
    row = store.db.execute(
        "SELECT story_id FROM items WHERE link = ? AND status = 'matched'", [link]
    ).fetchone()
    return row[0] if row else None


def test_plan_sends_every_owed_report_one_way() -> None:
    """Each combination of what a chat had and is owed goes to exactly one pass."""
    for urgent in (False, True):
        for reached in (False, True):
            for alert in (None, 7):
                for no_edit in (False, True):
                    for off in (False, True):
                        for can_edit in (False, True):
                            owed = delivery.Owed(
                                urgent, reached or alert is not None, alert, no_edit
                            )
                            kind = delivery.plan(owed, digest_off=off, can_edit=can_edit)
                            assert (kind in delivery.URGENT_PASS) != (kind in delivery.DIGEST_PASS)
                            if off:  # no digest ever comes
                                assert kind in delivery.URGENT_PASS
                            if kind == delivery.EDIT:
                                assert can_edit and alert and not no_edit


def test_the_queue_of_an_older_database_is_carried_over(tmp_path) -> None:
    """A database written before reports were owed one by one: a story alerted (then joined by
    a report still owed as more coverage) and a story waiting for a digest."""
    old = Migrations("alerts")
    for step in (schema.m001_initial, schema.m002_chat_preferences, schema.m003_stories):
        old()(step)
    old()(schema.m004_operations)
    db = Database(tmp_path / "alerts.db")
    old.apply(db)
    db.executescript(
        """
        INSERT INTO chats(id, kind, active, created_at) VALUES (101, 'private', 1, '2026-11-24');
        INSERT INTO items(id, feed, guid, link, title, seen_at, status, story_id)
            VALUES (1, 'wire', 'a', 'https://w/a', 'A', '2026-11-25T10:00:00+00:00', 'matched', 1),
                   (2, 'desk', 'b', 'https://d/b', 'B', '2026-11-25T11:00:00+00:00', 'matched', 1),
                   (3, 'wire', 'c', 'https://w/c', 'C', '2026-11-25T10:30:00+00:00', 'matched', 3);
        INSERT INTO stories VALUES (1, '2026-11-25T10:00:00+00:00', '2026-11-25T11:00:00+00:00'),
                                   (3, '2026-11-25T10:30:00+00:00', '2026-11-25T10:30:00+00:00');
        INSERT INTO outbox(id, chat_id, kind, format, body, created_at, sent_at, attempts)
            VALUES (9, 101, 'alert', 'html', 'x', '2026-11-25T10:05:00+00:00',
                    '2026-11-25T10:05:01+00:00', 1);
        INSERT INTO queue VALUES (101, 1, 'alert', '["nk"]', '2026-11-25T10:00:00+00:00', 9),
                                 (101, 1, 'update', '["nk"]', '2026-11-25T11:00:00+00:00', NULL),
                                 (101, 3, 'digest', '["grid"]', '2026-11-25T10:30:00+00:00', NULL);
        """
    )
    db.close()
    store = Store.open(tmp_path)
    rows = store.db.execute(
        "SELECT item_id, story_id, urgent, outbox_id FROM queue ORDER BY item_id"
    ).fetchall()
    assert rows == [(1, 1, 1, 9), (2, 1, 1, None), (3, 3, 0, None)]
    store.close()


def test_once_json_prints_one_object_per_delivered_story(feed_server, tmp_path) -> None:
    items = [
        {
            "title": "North Korean troops rotate into Kursk",
            "guid": "1",
            "link": "https://w.example/1",
        },
        {"title": "Substation fire in Izmail", "guid": "2", "link": "https://w.example/2"},
    ]
    body = (
        "  - id: nk\n    name: NK\n    any: [troops]\n    priority: urgent\n"
        "  - id: grid\n    name: Energy\n    any: [substation]\n"
    )
    rules = write_rules(
        tmp_path / "rules.yaml", {"Wire": feed_server.serve("/w.xml", rss(*items))}, body
    )
    result = bot("once", "--json", "--rules", str(rules), "--state", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["kind"], d["rules"], d["title"]) for d in lines] == [
        ("alert", ["nk"], items[0]["title"]),
        ("digest", ["grid"], items[1]["title"]),
    ]
    assert lines[0]["link"] == "https://w.example/1" and lines[0]["source"] == "Wire"
    assert lines[0]["also"] == [] and lines[0]["published"].endswith("+00:00")


def test_the_schema_names_every_migration_and_a_current_database_opens_without_them(
    tmp_path,
) -> None:
    """``SCHEMA`` lists the migrations by name so that a database that has them all opens
    without importing sqlite-utils; the two lists must not drift apart."""
    from alerts import store as storemod

    assert tuple(m.name for m in schema.migrations._migrations) == storemod.SCHEMA
    Store.open(tmp_path).close()  # a new database: migrated
    code = (
        "import sys\n"
        "from alerts.store import Store\n"
        f"s = Store.open({str(tmp_path)!r}); s.feed_states(); s.close()\n"
        "print('sqlite_utils' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "False"
    # A database one migration short is migrated, with sqlite-utils
    db = sqlite3.connect(tmp_path / "alerts.db")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_carried_at'")
    db.execute("ALTER TABLE feeds DROP COLUMN carried_at")
    db.commit()
    db.close()
    store = Store.open(tmp_path)
    assert "carried_at" in {r[1] for r in store.db.execute("PRAGMA table_info(feeds)")}
    store.close()


def test_an_alert_keeps_its_urgent_rule_as_heading_when_edited(tmp_path) -> None:
    # The urgent rule that made the alert heads it, though a normal rule comes earlier in the
    # file; a later report that brings another urgent rule, written earlier still, does not
    # change the heading of the alert it is added to.
    rules = (
        Rule(id="captured", name="Captured sites", any=("captured",), priority="urgent"),
        Rule(id="grid", name="Energy", any=("substation",)),
        Rule(id="nk", name="North Korean troops", any=("troops",), priority="urgent"),
    )
    store = open_store(tmp_path, ALICE)
    tg = Telegram(store)
    tg.renderer = digest.Renderer("html", rules, UTC)
    first = report("both", "wire", 0)
    ingest(store, "wire", Matched(first.item, ("grid", "nk"), ()))
    store.settle(NOW, frozenset({"nk", "captured"}))
    tg.alerts_then_digest()
    ((_, kind, alert),) = tg.sent
    assert kind == "alert" and alert.startswith("🚨 <b>North Korean troops</b> · also: Energy")
    later = report("both", "desk", 20)
    ingest(store, "desk", Matched(later.item, ("captured", "grid", "nk"), ()))
    store.settle(NOW, frozenset({"nk", "captured"}))
    tg.alerts_then_digest()
    kind, edit = tg.sent[-1][1:]
    assert kind == "edit" and "https://desk.example/both" in edit
    assert edit.startswith("🚨 <b>North Korean troops</b> · also: Captured sites, Energy")
