"""Crash safety: the real bot, killed with SIGKILL at random moments, loses and repeats nothing.

``python bot.py run`` runs as a subprocess against the local Telegram Bot API server and feeds
served over HTTP on 127.0.0.1. Between rounds new items are published (urgent and digest rules,
several chats following different rules); each round the bot is started and killed at a random
moment: any time (start-up, migrations, polls), just after it fetched a feed (parse, match,
ingest), or while Telegram holds one of its sendMessage calls -- before the message is accepted,
or after it was accepted but before the answer arrives. A final clean run drains everything.

What the fake server recorded must then show every story reaching every chat that follows it,
in exactly one message (an alert for urgent rules, else a digest), and no message repeated,
except in the one window no bot can close: Telegram accepted a message and the bot was killed
before it stored that fact. sendMessage has no idempotency key, so the bot must send such a
message again. The test proves every repeat is one of those: the copy came from a process that
was killed while the message was still unconfirmed in its outbox.

The run is random but seeded: the seed is printed, and CRASH_SEED=<seed> replays the choices.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .conftest import ROOT, FeedServer, rss, write_rules
from .fake_telegram import FakeTelegram

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "14"))

SETTINGS = """\
settings:
  poll_every: 1s
  digest_every: 2s
  timezone: Europe/Kyiv
  backfill: 1d
  fetch_timeout: 5s
  chats:
    - id: 3001
    - id: 3002
      rules: [troops]
    - id: 3003
      rules: [grid, talks]
    - id: 3004
      rules: [troops, talks]
"""
# Positive ids: paced like private chats (one message a second), so the test stays quick.
CHATS = {3001: None, 3002: {"troops"}, 3003: {"grid", "talks"}, 3004: {"troops", "talks"}}
RULES = """\
  - id: troops
    name: Troop movements
    any: [troops]
    priority: urgent
  - id: grid
    name: Power grid
    any: [substation*, blackout*]
  - id: talks
    name: Talks
    any: [ceasefire]
"""
URGENT = {"troops"}
PLACES = ["Kharkiv", "Sumy", "Odesa", "Dnipro", "Poltava", "Chernihiv", "Lviv", "Zhytomyr"]
KINDS = {  # kind: (rules it matches, title template)
    "troops": (("troops",), "{n} troops seen moving near {place}"),
    "grid": (("grid",), "Substation {n} hit, blackouts reported in {place}"),
    "talks": (("talks",), "Ceasefire talks round {n} open in {place}"),
    "both": (("troops", "grid"), "{n} troops sent to guard a substation in {place}"),
    "none": ((), "Weather report {n}: a mild day in {place}"),
}
LINK = re.compile(r"https://news\.example/(?:wire|desk)/(\d+)")
FEEDS = ("wire", "desk")


@dataclass
class Item:
    n: int
    feed: str
    kind: str
    title: str
    date: datetime

    @property
    def rules(self) -> tuple[str, ...]:
        return KINDS[self.kind][0]

    def as_rss(self) -> dict:
        return {
            "title": self.title,
            "link": f"https://news.example/{self.feed}/{self.n}",
            "guid": f"{self.feed}-{self.n}",
            "date": self.date,
        }


@dataclass
class Life:
    """One run of the bot: where its messages start in the fake's record, how it ended."""

    mode: str
    first_sent: int
    killed: bool = True
    unsent: set[tuple[int, str]] = field(default_factory=set)  # outbox rows unconfirmed at kill


def expected_kind(item: Item, chat_rules: set[str] | None) -> str | None:
    wanted = [r for r in item.rules if chat_rules is None or r in chat_rules]
    if not wanted:
        return None
    return "alert" if any(r in URGENT for r in wanted) else "digest"


def unconfirmed(db_path: Path) -> set[tuple[int, str]]:
    """The outbox rows not marked sent: what the next start sends (again)."""
    if not db_path.exists():
        return set()
    db = sqlite3.connect(db_path)
    try:
        rows = db.execute(
            "SELECT chat_id, body FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL"
        ).fetchall()
    except sqlite3.OperationalError:  # killed before the tables were made
        rows = []
    finally:
        db.close()
    return {(chat, body) for chat, body in rows}


def wait_until(condition, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None:
            assert proc.poll() is None, f"the bot exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_random_kill_9_loses_and_repeats_nothing(
    tmp_path: Path, feed_server: FeedServer, fake: FakeTelegram
) -> None:
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(2**32))
    print(f"crash test: seed {seed}, {ROUNDS} rounds (replay with CRASH_SEED={seed})")
    rng = random.Random(seed)
    ctx = f"(seed {seed}; replay with CRASH_SEED={seed})"

    items: list[Item] = []
    carried: dict[str, list[Item]] = {f: [] for f in FEEDS}
    urls = {f: feed_server.serve(f"/{f}.xml", rss(title=f)) for f in FEEDS}
    rules = write_rules(
        tmp_path / "rules.yaml", {f.title(): urls[f] for f in FEEDS}, RULES, settings=SETTINGS
    )
    state = tmp_path / "state"
    db_path = state / "alerts.db"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.base_url,
        "LOG_LEVEL": "INFO",
    }
    lives: list[Life] = []

    def publish(kinds: list[str]) -> None:
        for kind in kinds:
            n = len(items) + 1
            feed = rng.choice(FEEDS)
            title = KINDS[kind][1].format(n=n, place=rng.choice(PLACES))
            date = datetime.now(UTC) - timedelta(minutes=rng.uniform(0, 30))
            item = Item(n, feed, kind, title, date)
            items.append(item)
            carried[feed].append(item)
        for feed in FEEDS:
            feed_server.serve(f"/{feed}.xml", rss(*(i.as_rss() for i in carried[feed]), title=feed))

    def start(mode: str) -> subprocess.Popen:
        lives.append(Life(mode, len(fake.sent)))
        command = [sys.executable, str(ROOT / "bot.py"), "run", "--rules", str(rules)]
        log = open(tmp_path / f"bot-{len(lives)}.log", "w")  # noqa: SIM115 (closed below)
        try:
            return subprocess.Popen(
                [*command, "--state", str(state)],
                stdout=log,
                stderr=log,
                env=env,
            )
        finally:
            log.close()

    # Every way of dying at least twice, the rest at random, in random order.
    modes = ["any time", "after a fetch", "mid-send", "mid-send, accepted"]
    plan = modes * 2 + rng.choices(modes, [3, 2, 2, 2], k=max(ROUNDS - 2 * len(modes), 0))
    rng.shuffle(plan)
    for round_no, mode in enumerate(plan[:ROUNDS], 1):
        kinds = rng.choices(list(KINDS), [3, 3, 2, 2, 1], k=rng.randint(1, 3))
        if mode.startswith("mid-send") and not {"troops", "both"} & set(kinds):
            kinds.append("troops")  # an alert to send at once, so that there is a send to cut
        publish(kinds)
        fake.clear_faults()
        if rng.random() < 0.5:  # a slow Telegram, now and then
            fake.hold_next(
                "sendMessage",
                rng.uniform(0.05, 0.5),
                after=rng.random() < 0.5,
                count=rng.randint(1, 4),
            )
        hold = rng.uniform(0.4, 1.5)
        if mode.startswith("mid-send"):
            fake.clear_faults()
            fake.hold_next("sendMessage", hold, after=mode.endswith("accepted"))
        delay = rng.uniform(0.0, 3.0)
        fraction = rng.uniform(0.0, 0.8)
        fetches = len(feed_server.requests)
        print(f"round {round_no}: {mode}; published {kinds}")
        proc = start(mode)
        try:
            if mode == "any time":
                time.sleep(delay)
            elif mode == "after a fetch":
                wait_until(lambda f=fetches: len(feed_server.requests) > f, 20, "a poll", proc)
                time.sleep(fraction * 0.3)
            else:
                if fake.wait_holding(timeout=20):
                    time.sleep(fraction * hold)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        fake.wait_idle("sendMessage", timeout=10)  # what it sent has arrived, or never will
        fake.clear_faults()
        lives[-1].unsent = unconfirmed(db_path)

    # The final run: no faults, no kill; it must deliver everything still owed.
    expected: dict[tuple[int, int], str] = {}
    for item in items:
        for chat, chat_rules in CHATS.items():
            kind = expected_kind(item, chat_rules)
            if kind:
                expected[(chat, item.n)] = kind

    def drained() -> bool:
        """Every item is stored and grouped, and nothing is owed or unconfirmed."""
        if not db_path.exists():
            return False
        db = sqlite3.connect(db_path)
        try:
            known, pending = db.execute(
                "SELECT (SELECT count(*) FROM items), "
                "(SELECT count(*) FROM queue WHERE outbox_id IS NULL) + "
                "(SELECT count(*) FROM outbox WHERE sent_at IS NULL) + "
                # stored by a poll but not yet grouped into stories and owed to chats
                "(SELECT count(*) FROM items WHERE status = 'matched' AND story_id IS NULL)"
            ).fetchone()
        except sqlite3.OperationalError:  # the tables are not made yet
            return False
        finally:
            db.close()
        return known == len(items) and pending == 0

    proc = start("final")
    try:
        wait_until(drained, 90, "everything to be delivered", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    lives[-1].killed = False
    lives[-1].unsent = unconfirmed(db_path)
    assert code == 0, (tmp_path / f"bot-{len(lives)}.log").read_text()[-3000:]

    # Which run sent each message the fake accepted.
    sent = fake.sent
    bounds = [life.first_sent for life in lives] + [len(sent)]
    copies: dict[tuple[int, str], list[int]] = defaultdict(list)
    for life_no in range(len(lives)):
        for m in sent[bounds[life_no] : bounds[life_no + 1]]:
            copies[(m["chat_id"], m["text"])].append(life_no)

    # 1. A message is sent again only by a later run, and only when the run that sent it was
    #    killed before confirming it: the unavoidable window, and nothing else.
    repeats = 0
    for (chat, text), runs in copies.items():
        assert len(runs) == len(set(runs)), f"sent twice by one run to {chat}: {text!r} {ctx}"
        for earlier in runs[:-1]:
            life = lives[earlier]
            assert life.killed and (chat, text) in life.unsent, (
                f"message to {chat} sent again although run {earlier + 1} ({life.mode}) had "
                f"confirmed it: {text!r} {ctx}"
            )
            repeats += 1
        assert (chat, text) not in lives[-1].unsent, f"never confirmed: {text!r} {ctx}"

    # 2. Every story reached every chat that follows it, in exactly one message of the right
    #    kind, and no chat got a story it does not follow.
    messages: dict[tuple[int, int], set[str]] = defaultdict(set)
    for chat, text in copies:
        for n in LINK.findall(text):
            messages[(chat, int(n))].add(text)
    missing = sorted(expected.keys() - messages.keys())
    assert not missing, f"never delivered (chat, item): {missing} {ctx}"
    unwanted = sorted(messages.keys() - expected.keys())
    assert not unwanted, f"delivered to a chat that does not follow it: {unwanted} {ctx}"
    for key, texts in messages.items():
        assert len(texts) == 1, (
            f"item {key[1]} reached chat {key[0]} in {len(texts)} messages {ctx}"
        )
        (text,) = texts
        kind = "alert" if text.startswith("🚨") else "digest"
        assert kind == expected[key], f"item {key[1]} to chat {key[0]}: {kind} {ctx}"

    # 3. The outbox agrees: one row per message, so no repeat above hid behind a second row
    #    with the same text (a story composed twice).
    db = sqlite3.connect(db_path)
    try:
        rows = Counter(db.execute("SELECT chat_id, body FROM outbox").fetchall())
        matched, stories = db.execute(
            "SELECT count(*), count(DISTINCT story_id) FROM items WHERE status = 'matched'"
        ).fetchone()
    finally:
        db.close()
    assert [key for key, n in rows.items() if n > 1] == [], ctx
    assert set(rows) == set(copies), ctx

    # 4. The test did what it claims: every matched item is a story of its own (so one message
    #    per story is the right expectation), and kills landed in the middle of sends.
    assert matched == stories == sum(1 for i in items if i.rules), ctx
    held = Counter((h["after"], h["outcome"]) for h in fake.held)
    played = Counter(life.mode for life in lives[:-1])
    print(
        f"crash test: {len(items)} items, {len(sent)} messages, {repeats} sent again after a "
        f"kill between Telegram's acceptance and the outbox's record; kills: {dict(played)}; "
        f"held sends cut by a kill: {held[(False, 'abandoned')]} before acceptance, "
        f"{held[(True, 'abandoned')]} after"
    )
    if played["mid-send"] >= 2 and played["mid-send, accepted"] >= 2:
        assert held[(False, "abandoned")] and held[(True, "abandoned")], ctx
