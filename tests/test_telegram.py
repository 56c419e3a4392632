"""The bot against a local Telegram Bot API server, driven by the real python-telegram-bot client.

Most tests run the service in-process (fast, and the test can look at the database); the ones
about processes (kill -9, what reaches the log) run ``python bot.py run`` as a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts import config as configmod
from alerts.service import Service
from alerts.store import Store
from alerts.telegram import TelegramFrontend, TelegramSink, build_application

from .conftest import ROOT, hours_ago, rss, write_rules
from .fake_telegram import FakeTelegram

OPERATOR = 4242
ALICE = 1001
BOB = 1002

SETTINGS = f"""\
settings:
  poll_every: 1s
  digest_every: 2s
  timezone: Europe/Kyiv
  backfill: 1d
  fetch_timeout: 5s
  operators: [{OPERATOR}]
"""
RULES = """\
  - id: nk-troops
    name: North Korean troops
    all: [[North Korea, DPRK], [troops, soldiers]]
    priority: urgent
  - id: sumy
    name: Sumy front
    regions: [Sumy]
    any: [shelling, drone*]
  - id: energy
    name: Energy
    any: [blackout*, substation*]
"""
REGIONS = "  Sumy: [Sumy Oblast, Сумщин*]\n"


def story(n: int, title: str, hours: float = 0.5) -> dict:
    return {
        "title": title,
        "link": f"https://news.example/{n}",
        "guid": f"g{n}",
        "date": hours_ago(hours),
    }


class Bot:
    """The service with its Telegram front end, running in this test's event loop."""

    def __init__(self, tmp_path: Path, feed_server, fake: FakeTelegram, settings: str = SETTINGS):
        self.feed_server = feed_server
        self.fake = fake
        self.items: list[dict] = []
        url = feed_server.serve("/feed.xml", rss())
        self.rules_path = write_rules(
            tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, settings
        )
        self.state = tmp_path / "state"

    def publish(self, *items: dict) -> None:
        self.items.extend(items)
        self.feed_server.serve("/feed.xml", rss(*self.items))

    async def __aenter__(self) -> Bot:
        config = configmod.load(self.rules_path)
        self.store = Store.open(self.state)
        app = build_application(self.fake.token, self.fake.base_url)
        self.service = Service(config, self.store, TelegramSink(app.bot))
        self.service.frontend = TelegramFrontend(app, self.service)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.service.run(self.stop))
        deadline = time.monotonic() + 10
        while not self.fake.calls_to("getUpdates") and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        await self.service.close()
        self.store.close()

    async def command(self, chat_id: int, text: str, user_id: int | None = None, **kw) -> dict:
        since = len(self.fake.sent)
        self.fake.inject_message(chat_id, text, user_id=user_id or chat_id, **kw)
        return await self.fake.wait_for(None, timeout=10, chat_id=chat_id, since=since)


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.sent_to(chat_id)]


async def test_start_alert_then_digest_each_item_once_and_unsubscribe(
    tmp_path, feed_server, fake
) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        reply = await bot.command(ALICE, "/start")
        assert "Subscribed to all 3 rules" in reply["text"]
        assert "North Korean troops" in reply["text"] and "digest every 2s" in reply["text"]
        since = len(fake.sent)
        bot.publish(
            story(1, "Shelling damages a school in a Sumy border village"),
            story(2, "North Korea sends more troops"),
            story(3, "Substation fire causes blackouts across Sumy Oblast after drone strike"),
            story(4, "Weather stays mild"),
        )
        alert = await fake.wait_for(
            "North Korea sends more troops", timeout=10, chat_id=ALICE, since=since
        )
        assert alert["parse_mode"] == "HTML" and alert["disable_preview"]
        assert '<a href="https://news.example/2">' in alert["text"]
        digest = await fake.wait_for("Digest", timeout=10, chat_id=ALICE, since=since)
        assert alert["message_id"] < digest["message_id"]  # the alert came first
        body = digest["text"]
        assert (
            "<b>Sumy front</b>" in body
            and "Shelling damages a school in a Sumy border village" in body
        )
        # matched two rules: filed once, under the first, with the other named beside it
        assert body.count("Substation fire") == 1 and "also matched: Energy" in body
        assert "North Korea sends more troops" not in body and "Weather" not in body
        assert "Wire, " in body  # source and local time

        reply = await bot.command(ALICE, "/unsubscribe sumy energy")
        assert "North Korean troops" in reply["text"] and "Sumy" not in reply["text"]
        since = len(fake.sent)
        bot.publish(story(5, "Shelling of Sumy continues"), story(6, "DPRK soldiers seen in Kursk"))
        await fake.wait_for("DPRK soldiers seen in Kursk", timeout=10, chat_id=ALICE, since=since)
        await asyncio.sleep(3)  # past the next digest
        later = "\n".join(m["text"] for m in fake.sent_to(ALICE)[since:])
        assert "Shelling of Sumy continues" not in later
    all_text = "\n".join(texts(fake, ALICE))
    for title in (
        "Shelling damages a school in a Sumy border village",
        "North Korea sends more troops",
        "Substation fire",
    ):
        assert all_text.count(title) == 1


async def test_blocked_chat_is_dropped_and_others_still_served(tmp_path, feed_server, fake) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        await bot.command(BOB, "/start")
        fake.block_chat(BOB)
        bot.publish(story(1, "North Korea sends more troops"))
        await fake.wait_for("North Korea sends more troops", timeout=10, chat_id=ALICE)
        await asyncio.sleep(1)
        assert bot.store.chat(BOB).active is False
        attempts = len(
            [c for c in fake.calls_to("sendMessage") if str(c.get("chat_id")) == str(BOB)]
        )
        bot.publish(story(2, "Seoul: two captured DPRK soldiers questioned in Kyiv"))
        await fake.wait_for(
            "Seoul: two captured DPRK soldiers questioned in Kyiv", timeout=10, chat_id=ALICE
        )
        await asyncio.sleep(1)
        after = len([c for c in fake.calls_to("sendMessage") if str(c.get("chat_id")) == str(BOB)])
        assert after == attempts  # nothing more is sent to the blocked chat
        # ... until it sends /start again
        fake.unblock_chat(BOB)
        reply = await bot.command(BOB, "/start")
        assert "Subscribed" in reply["text"] and bot.store.chat(BOB).active


async def test_429_is_honoured_and_nothing_dropped(tmp_path, feed_server, fake) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        fake.fail_next("sendMessage", 429, retry_after=1, count=2, chat_id=ALICE)
        bot.publish(story(1, "North Korea sends more troops"), story(2, "DPRK soldiers deploy"))
        await fake.wait_for("North Korea sends more troops", timeout=15, chat_id=ALICE)
        await fake.wait_for("DPRK soldiers deploy", timeout=15, chat_id=ALICE)
        assert fake.too_many_count == 2
    joined = "\n".join(texts(fake, ALICE))
    assert (
        joined.count("North Korea sends more troops") == 1
        and joined.count("DPRK soldiers deploy") == 1
    )


async def test_5xx_keeps_the_message_queued(tmp_path, feed_server, fake) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        fake.fail_next("sendMessage", 502, description="Bad Gateway", count=1, chat_id=ALICE)
        bot.publish(story(1, "North Korea sends more troops"))
        deadline = time.monotonic() + 10
        while not bot.store.db.execute(
            "SELECT count(*) FROM outbox WHERE last_error IS NOT NULL"
        ).fetchone()[0]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert bot.store.outbox_depth() == 1  # still queued, waiting for its retry
        # the retry comes after its backoff; bring it forward instead of waiting 30s
        bot.store.db.execute("UPDATE outbox SET next_attempt_at = NULL")
        await bot.service.flush()
        await fake.wait_for("North Korea sends more troops", timeout=5, chat_id=ALICE)
        assert bot.store.outbox_depth() == 0


async def test_bad_html_is_resent_as_plain_text(tmp_path, feed_server, fake) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        fake.fail_next(
            "sendMessage",
            400,
            description="Bad Request: can't parse entities: unsupported start tag",
            chat_id=ALICE,
        )
        bot.publish(story(1, 'North Korea sends troops & guns, "officials" say'))
        msg = await fake.wait_for(
            'North Korea sends troops & guns, "officials" say', timeout=10, chat_id=ALICE
        )
        assert msg["parse_mode"] is None
        assert "(https://news.example/1)" in msg["text"]


async def test_migrated_group_moves_its_subscription(tmp_path, feed_server, fake) -> None:
    group, supergroup = -5001, -1005001
    async with Bot(tmp_path, feed_server, fake) as bot:
        fake.set_chat(group, "group", title="Watchers")
        fake.set_admins(group, [ALICE])
        reply = await bot.command(group, "/start", user_id=ALICE)
        assert "Subscribed" in reply["text"]
        fake.migrate_chat(group, supergroup)
        bot.publish(story(1, "North Korea sends more troops"))
        await fake.wait_for("North Korea sends more troops", timeout=15, chat_id=supergroup)
        assert bot.store.chat(group) is None and bot.store.chat(supergroup).active


async def test_group_changes_need_an_administrator(tmp_path, feed_server, fake) -> None:
    group = -7001
    async with Bot(tmp_path, feed_server, fake) as bot:
        fake.set_chat(group, "group", title="Watchers")
        fake.set_admins(group, [ALICE])
        reply = await bot.command(group, "/start", user_id=BOB)
        assert "Only this group's administrators" in reply["text"]
        assert bot.store.chat(group) is None
        reply = await bot.command(group, "/start", user_id=ALICE)
        assert "Subscribed" in reply["text"]
        reply = await bot.command(group, "/rules", user_id=BOB)  # reading is for everyone
        assert "nk-troops" in reply["text"]


async def test_configured_channel_gets_digests_in_its_topic(tmp_path, feed_server, fake) -> None:
    channel = -1007770
    settings = SETTINGS + f"  chats:\n    - id: {channel}\n      rules: [sumy]\n      topic: 5\n"
    async with Bot(tmp_path, feed_server, fake, settings=settings) as bot:
        bot.publish(
            story(1, "Shelling damages a school in a Sumy border village"),
            story(2, "North Korea sends more troops"),
        )
        msg = await fake.wait_for(
            "Shelling damages a school in a Sumy border village", timeout=10, chat_id=channel
        )
        assert msg["message_thread_id"] == 5
        await asyncio.sleep(2)
        assert not any("North Korea" in t for t in texts(fake, channel))


async def test_subscriber_commands_and_their_mistakes(tmp_path, feed_server, fake) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        assert "not subscribed" in (await bot.command(ALICE, "/list"))["text"]
        await bot.command(ALICE, "/start")
        cases = [
            ("/rules", "nk-troops"),
            ("/subscribe nonsense", "Unknown rule"),
            # The guesses `check` makes, for the same words.
            (
                "/subscribe nk",
                "Unknown rule <code>nk</code> (did you mean <code>nk-troops</code>?)",
            ),
            ("/unsubscribe sumy enrgy", "<code>enrgy</code> (did you mean <code>energy</code>?)"),
            ("/subscribe", "Usage: /subscribe"),
            # The minimum of rules.yaml's digest_every, in the same words.
            ("/digest every 0.5s", "Give a duration of 1s or more, as in 30m or 1h"),
            ("/digest every 0", "Give a duration of 1s or more, as in 30m or 1h"),
            ("/digest every 2m", "Digest: every 2m."),
            ("/digest at 25:00", "HH:MM"),
            ("/digest at 08:00 20:00", "at 08:00, 20:00"),
            ("/digest every 2h", "every 2h"),
            ("/timezone Mars/Base", "Unknown time zone"),
            ("/timezone europe/kyiv", "Time zone set to Europe/Kyiv."),  # its case aside
            ("/timezone America/New_York", "America/New_York"),
            ("/quiet 23:00", "Usage: /quiet"),
            ("/quiet 23:00-07:00", "Quiet hours 23:00-07:00"),
            ("/pause forever", "Usage: /pause"),
            ("/pause 2h", "Paused for 2h"),
            ("/resume", "Resumed"),
            ("/resume", "Not paused"),
            ("/frobnicate", "Unknown command /frobnicate"),
            ("/help", "/subscribe"),
        ]
        for command, expected in cases:
            reply = await bot.command(ALICE, command)
            assert expected in reply["text"], (command, reply["text"])
        listing = (await bot.command(ALICE, "/list"))["text"]
        assert "every 2h" in listing and "America/New_York" in listing and "23:00-07:00" in listing
        # the next digest as it will come: when a pause ends, not at a time it holds (QA; the
        # digest is due every 2h, the pause lasts 5h)
        await bot.command(ALICE, "/quiet off")
        await bot.command(ALICE, "/pause 5h")
        until = bot.store.chat(ALICE).paused_until.astimezone(ZoneInfo("America/New_York"))
        listing = (await bot.command(ALICE, "/list"))["text"]
        assert f"Next digest: {until:%d %b %H:%M}" in listing, listing
        await bot.command(ALICE, "/resume")
        await bot.command(ALICE, "/quiet 23:00-07:00")
        reply = await bot.command(ALICE, "/digest off")
        assert "urgent alerts only" in reply["text"]
        reply = await bot.command(ALICE, "/stop")
        assert "deleted" in reply["text"] and bot.store.chat(ALICE) is None


async def test_now_pause_and_quiet(tmp_path, feed_server, fake) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        await bot.command(ALICE, "/digest every 6h")
        bot.publish(story(1, "Shelling damages a school in a Sumy border village"))
        deadline = time.monotonic() + 10
        while not bot.store.pending(ALICE, False):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        msg = await bot.command(ALICE, "/now")
        assert "Shelling damages a school in a Sumy border village" in msg["text"]
        assert "Nothing is waiting" in (await bot.command(ALICE, "/now"))["text"]
        # Paused: an urgent item waits for the end of the pause, then arrives.
        await bot.command(ALICE, "/pause 1h")
        since = len(fake.sent)
        bot.publish(story(2, "North Korea sends more troops"))
        await asyncio.sleep(2.5)
        assert not any("North Korea" in m["text"] for m in fake.sent_to(ALICE)[since:])
        await bot.command(ALICE, "/resume")
        await fake.wait_for("North Korea sends more troops", timeout=10, chat_id=ALICE, since=since)


async def test_operator_commands_are_for_operators(tmp_path, feed_server, fake) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        assert "Not allowed" in (await bot.command(ALICE, "/status"))["text"]
        assert "Not allowed" in (await bot.command(ALICE, "/reload"))["text"]
        await asyncio.sleep(1.5)  # let the first poll happen
        status = (await bot.command(OPERATOR, "/status"))["text"]
        assert "Wire" in status and "last success" in status
        assert "Outbox: " in status and "Subscribers: 1" in status
        reload = (await bot.command(OPERATOR, "/reload"))["text"]
        assert "Reloaded" in reload and "3 rules" in reload


async def test_hot_reload_and_a_broken_file(tmp_path, feed_server, fake) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(OPERATOR, "/start")
        good = bot.rules_path.read_text()
        await asyncio.sleep(2.5)  # the watcher has seen the file once
        since = len(fake.sent)
        bot.rules_path.write_text(
            good + "  - id: talks\n    name: Peace talks\n    any: [ceasefire]\n"
        )
        msg = await fake.wait_for("Reloaded", timeout=10, chat_id=OPERATOR, since=since)
        assert "4 rules" in msg["text"]
        assert "talks" in (await bot.command(ALICE, "/rules"))["text"]
        since = len(fake.sent)
        broken = good.replace("regions: [Sumy]", "regions: [Sumi]")
        bot.rules_path.write_text(broken)
        msg = await fake.wait_for("was not loaded", timeout=10, chat_id=OPERATOR, since=since)
        line = broken.splitlines().index("    regions: [Sumi]") + 1
        assert f'rules.yaml:{line}: rule "sumy": unknown region "Sumi"' in msg["text"]
        # still running on the last good rules, and the failure is reported once
        assert "talks" in (await bot.command(ALICE, "/rules"))["text"]
        await asyncio.sleep(3)
        assert sum("was not loaded" in m["text"] for m in fake.sent_to(OPERATOR)) == 1
        # a file saved in another encoding is an edit too: it was ignored without a word (QA)
        since = len(fake.sent)
        cyrillic = good + "  - id: rockets\n    any: [ракета]\n"
        bot.rules_path.write_bytes(cyrillic.encode("cp1251"))
        msg = await fake.wait_for("was not loaded", timeout=10, chat_id=OPERATOR, since=since)
        data = cyrillic.encode("cp1251")
        first = next(i for i, byte in enumerate(data) if byte > 127)
        line = data.count(b"\n", 0, first) + 1
        told = f"rules.yaml:{line}: not UTF-8 text (byte 0x{data[first]:02x}); save the file as"
        assert told in msg["text"]


# --- as a process -------------------------------------------------------------------------


def start_bot(
    rules: Path, state: Path, fake: FakeTelegram, log_level: str = "INFO"
) -> subprocess.Popen:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.base_url,
        "LOG_LEVEL": log_level,
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "run", "--rules", str(rules), "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_polling(fake: FakeTelegram, proc: subprocess.Popen, since: int) -> None:
    deadline = time.monotonic() + 20
    while len(fake.calls_to("getUpdates")) <= since:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the bot never polled for updates"
        time.sleep(0.05)


def test_kill_9_loses_and_repeats_nothing(tmp_path, feed_server, fake) -> None:
    url = feed_server.serve("/feed.xml", rss())
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, SETTINGS)
    state = tmp_path / "state"
    proc = start_bot(rules, state, fake)
    try:
        wait_polling(fake, proc, 0)
        fake.inject_message(ALICE, "/start", user_id=ALICE)
        fake.wait_for_sync("Subscribed", timeout=10, chat_id=ALICE)
        # Telegram fails every send: the alerts are recorded in the outbox, never confirmed.
        fake.fail_next("sendMessage", 502, description="Bad Gateway", count=None, chat_id=ALICE)
        feed_server.serve(
            "/feed.xml",
            rss(story(1, "North Korea sends more troops"), story(2, "DPRK soldiers deploy")),
        )
        db = sqlite3.connect(state / "alerts.db")
        deadline = time.monotonic() + 15
        while db.execute("SELECT count(*) FROM outbox WHERE kind = 'alert'").fetchone()[0] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        db.close()
    finally:
        proc.kill()  # SIGKILL: no clean-up of any kind
        proc.wait()
    fake.clear_faults()
    calls = len(fake.calls_to("getUpdates"))
    proc = start_bot(rules, state, fake)
    try:
        wait_polling(fake, proc, calls)
        fake.wait_for_sync("North Korea sends more troops", timeout=15, chat_id=ALICE)
        fake.wait_for_sync("DPRK soldiers deploy", timeout=15, chat_id=ALICE)
        time.sleep(1)
    finally:
        proc.kill()  # and again, now that everything was confirmed
        proc.wait()
    calls = len(fake.calls_to("getUpdates"))
    proc = start_bot(rules, state, fake)
    try:
        wait_polling(fake, proc, calls)
        time.sleep(3)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    joined = "\n".join(texts(fake, ALICE))
    assert joined.count("North Korea sends more troops") == 1
    assert joined.count("DPRK soldiers deploy") == 1


def test_token_never_reaches_the_log(tmp_path, feed_server, fake) -> None:
    url = feed_server.serve("/feed.xml", rss(story(1, "North Korea sends more troops")))
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, SETTINGS)
    proc = start_bot(rules, tmp_path / "state", fake, log_level="DEBUG")
    try:
        wait_polling(fake, proc, 0)
        fake.inject_message(ALICE, "/start", user_id=ALICE)
        fake.wait_for_sync("Subscribed", timeout=10, chat_id=ALICE)
        time.sleep(2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "getUpdates" in err or "sendMessage" in err  # DEBUG really logged the requests
    assert fake.token not in err and fake.token not in out
    assert fake.token.split(":")[1] not in err


def test_a_429_is_one_warning_in_the_log(tmp_path, feed_server, fake) -> None:
    """The bot waits and resends on a 429 and says so in one line; the rate limiter's own
    error with a traceback, logged before it handed the 429 on, was noise (QA)."""
    url = feed_server.serve("/feed.xml", rss())
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, SETTINGS)
    proc = start_bot(rules, tmp_path / "state", fake)
    try:
        wait_polling(fake, proc, 0)
        fake.inject_message(ALICE, "/start", user_id=ALICE)
        fake.wait_for_sync("Subscribed", timeout=10, chat_id=ALICE)
        fake.fail_next("sendMessage", 429, retry_after=1, count=1, chat_id=ALICE)
        feed_server.serve("/feed.xml", rss(story(1, "North Korea sends more troops")))
        fake.wait_for_sync("North Korea sends more troops", timeout=15, chat_id=ALICE)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert fake.too_many_count == 1
    assert "event=rate_limited chat=1001" in err
    assert "Rate limit hit" not in err and "traceback=" not in err, err


def test_bad_token_is_a_clear_error(tmp_path, feed_server, fake) -> None:
    url = feed_server.serve("/feed.xml", rss())
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, SETTINGS)
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "999:wrong-token-xxxxxxxxxxxxxxxxxxxxxxxx",
        "TELEGRAM_API_URL": fake.base_url,
    }
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bot.py"),
            "once",
            "--rules",
            str(rules),
            "--state",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Telegram refused the token" in result.stderr and "Traceback" not in result.stderr
    assert "wrong-token" not in result.stderr


def test_the_bot_api_url_may_be_the_servers_root_and_never_shows_the_token(
    tmp_path, feed_server, fake
) -> None:
    """TELEGRAM_API_URL without its "/bot" made the client read the token as the server's
    port, and the error printed it whole on stderr (QA)."""
    channel = -1007772
    url = feed_server.serve("/feed.xml", rss(story(1, "Shelling damages a school in Sumy")))
    settings = SETTINGS + f"  chats:\n    - id: {channel}\n"
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, settings)
    command = [sys.executable, str(ROOT / "bot.py"), "once", "--rules", str(rules)]
    command += ["--state", str(tmp_path / "state")]
    root = fake.base_url.removesuffix("/bot")
    assert root != fake.base_url
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": root + "/"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert any("Sumy" in t for t in texts(fake, channel)), fake.sent_to(channel)
    # a URL the client cannot read, with the token in it: the error says so without it
    env["TELEGRAM_API_URL"] = "http://127.0.0.1:{token}/bot"
    command[-1] = str(tmp_path / "other")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1 and "Telegram is unreachable" in result.stderr, result.stderr
    assert fake.token.split(":")[1] not in result.stderr and "<token>" in result.stderr


def test_once_under_cron_delivers_to_the_configured_chats(tmp_path, feed_server, fake) -> None:
    """`once` is how cron runs the bot, and a channel of settings.chats never says /start: it
    must get its digest from the first run (the items are seen, and would never come again)."""
    channel = -1007771
    url = feed_server.serve(
        "/feed.xml", rss(story(1, "Shelling damages a school in a Sumy border village"))
    )
    settings = SETTINGS + f"  chats:\n    - id: {channel}\n"
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, settings)
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
    command = [sys.executable, str(ROOT / "bot.py"), "once", "--rules", str(rules)]
    command += ["--state", str(tmp_path / "state")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert any("Sumy border village" in t for t in texts(fake, channel)), fake.sent_to(channel)


async def test_when_a_pause_ends_the_held_alert_comes_before_the_digest(
    tmp_path, feed_server, fake
) -> None:
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        await bot.command(ALICE, "/pause 3s")
        bot.publish(
            story(1, "Shelling damages a school in a Sumy border village"),
            story(2, "North Korea sends more troops"),
        )
        await fake.wait_for("North Korea sends more troops", timeout=15, chat_id=ALICE)
        await fake.wait_for("Sumy border village", timeout=15, chat_id=ALICE)
        stories = ("North Korea sends more troops", "Sumy border village")
        delivered = [t for t in texts(fake, ALICE) if any(s in t for s in stories)]
        assert delivered[0].startswith("🚨") and stories[0] in delivered[0], delivered


async def test_unsubscribing_drops_what_waits_for_the_digest(tmp_path, feed_server, fake) -> None:
    """What waits for the next digest under a rule the chat just left is no longer owed: it
    had come in that digest all the same (QA). A report matched by a rule the chat still
    follows still comes, filed under that rule only."""
    settings = SETTINGS.replace("digest_every: 2s", "digest_every: 1h")
    async with Bot(tmp_path, feed_server, fake, settings) as bot:
        await bot.command(ALICE, "/start")
        bot.publish(
            story(1, "Shelling damages a school in a Sumy border village"),
            story(2, "Substation fire causes blackouts across Sumy Oblast after drone strike"),
        )
        deadline = time.monotonic() + 10
        while "Waiting for the next digest: 2" not in (await bot.command(ALICE, "/list"))["text"]:
            assert time.monotonic() < deadline, "the poll never queued the two reports"
            await asyncio.sleep(0.3)
        await bot.command(ALICE, "/unsubscribe sumy")
        assert "Waiting for the next digest: 1" in (await bot.command(ALICE, "/list"))["text"]
        since = len(fake.sent)
        fake.inject_message(ALICE, "/now", user_id=ALICE)
        digest = await fake.wait_for("Digest", timeout=10, chat_id=ALICE, since=since)
        assert "Substation fire" in digest["text"] and "<b>Energy</b>" in digest["text"]
        assert "school in a Sumy border village" not in digest["text"]
        assert "Sumy front" not in digest["text"]


async def test_only_commands_meant_for_the_bot_are_answered(tmp_path, feed_server, fake) -> None:
    """Other bots' commands, a group's chatter, channel posts and old messages edited into
    commands get no answer: "Unknown command /start" had been posted in a channel for every
    reader to see, and an edit to an old message ran "/stop" (QA). Updates are handled in
    order, so the first answer after them is the answer to the command sent last."""
    group, channel = -5001, -1009001
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        fake.inject_message(ALICE, "/help@otherbot", user_id=ALICE)
        assert "This chat follows" in (await bot.command(ALICE, "/list"))["text"]
        fake.inject_message(group, "/weather", user_id=BOB, chat_type="group")
        reply = await bot.command(group, "/frobnicate@fake_alert_bot", user_id=BOB)
        assert "Unknown command /frobnicate@fake_alert_bot" in reply["text"]
        since = len(fake.sent)
        fake.inject_message(channel, "/start", chat_type="channel")
        old = fake.inject_message(ALICE, "/digest every 5h", user_id=ALICE)["message"]
        await fake.wait_for("Digest: every 5h", timeout=10, chat_id=ALICE, since=since)
        fake.inject_update({"edited_message": {**old, "text": "/stop", "edit_date": 1}})
        listing = (await bot.command(ALICE, "/list"))["text"]
        assert "This chat follows" in listing and bot.store.chat(ALICE) is not None
        assert not fake.sent_to(channel)


async def test_a_chat_told_to_wait_holds_up_no_other_chat(tmp_path, feed_server, fake) -> None:
    """A 429 for one chat holds up that chat's messages only: the next urgent alert reaches
    the other chats at once, not after the first chat's retry_after (QA: every chat waited
    20 s for one chat's 429)."""
    async with Bot(tmp_path, feed_server, fake) as bot:
        await bot.command(ALICE, "/start")
        await bot.command(BOB, "/start")
        fake.fail_next("sendMessage", 429, retry_after=10, count=1, chat_id=ALICE)
        since = len(fake.sent)
        bot.publish(story(1, "North Korea sends more troops"))
        await fake.wait_for("North Korea sends more troops", timeout=10, chat_id=BOB, since=since)
        bot.publish(story(2, "DPRK soldiers deploy"))
        second = await fake.wait_for("DPRK soldiers deploy", timeout=30, chat_id=BOB, since=since)
        first = await fake.wait_for(
            "North Korea sends more troops", timeout=30, chat_id=ALICE, since=since
        )
        assert fake.sent.index(second) < fake.sent.index(first)  # Bob did not wait for Alice
        await fake.wait_for("DPRK soldiers deploy", timeout=30, chat_id=ALICE, since=since)
    for chat in (ALICE, BOB):
        joined = "\n".join(texts(fake, chat))
        assert joined.count("North Korea sends more troops") == 1
        assert joined.count("DPRK soldiers deploy") == 1


async def test_now_while_paused_sends_the_held_alert_first(tmp_path, feed_server, fake) -> None:
    """/now during a pause sent the digest and kept the urgent alert held until /resume,
    after the digest (QA): urgent news comes first."""
    settings = SETTINGS.replace("digest_every: 2s", "digest_every: 1h")
    async with Bot(tmp_path, feed_server, fake, settings) as bot:
        await bot.command(ALICE, "/start")
        await bot.command(ALICE, "/pause 2h")
        bot.publish(
            story(1, "North Korea sends more troops"),
            story(2, "Shelling damages a school in a Sumy border village"),
        )
        deadline = time.monotonic() + 10
        while len(bot.store.pending(ALICE, False)) + len(bot.store.pending(ALICE, True)) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        since = len(fake.sent)
        fake.inject_message(ALICE, "/now", user_id=ALICE)
        alert = await fake.wait_for(
            "North Korea sends more troops", timeout=10, chat_id=ALICE, since=since
        )
        digest = await fake.wait_for("Sumy border village", timeout=10, chat_id=ALICE, since=since)
        assert alert["message_id"] < digest["message_id"]
