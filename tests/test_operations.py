"""What operators rely on: /healthz and /metrics over real HTTP, feed-down and feed-back notices
through the local Bot API server, `status` and `stats` from the command line, one-line logs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from alerts import config as configmod
from alerts import health
from alerts.logs import setup
from alerts.service import Service
from alerts.sinks import ConsoleSink
from alerts.stats import tabulate
from alerts.store import Store

from .conftest import ROOT, bot, rss, write_rules
from .test_telegram import OPERATOR, REGIONS, RULES, SETTINGS, Bot, story, texts


async def wait_until(condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


# -- /healthz and /metrics ------------------------------------------------------------------


async def test_healthz_and_metrics_over_http(tmp_path, feed_server, monkeypatch) -> None:
    url = feed_server.serve(
        "/feed.xml",
        rss(
            story(1, "North Korea sends more troops"),
            story(2, "Shelling of Sumy continues"),
            story(3, "Weather stays mild"),
        ),
    )
    settings = SETTINGS.replace("poll_every: 1s", "poll_every: 2s")
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, settings)
    store = Store.open(tmp_path / "state")
    store.set_console(True, datetime.now(UTC))
    config = configmod.load(rules)
    # Port 0, the kernel's choice: tests running in parallel never race for a port.
    config = replace(config, settings=replace(config.settings, http_port=0))
    service = Service(config, store, ConsoleSink())
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))

    async def listening() -> bool:
        assert not task.done(), task
        return service.http_server is not None

    try:
        await wait_until(listening, what="the listener")
        base = "http://{}:{}".format(*service.http_server.address)
        async with httpx.AsyncClient(timeout=5) as http:

            async def polled() -> bool:
                try:
                    text = (await http.get(f"{base}/metrics")).text
                except httpx.TransportError:
                    return False
                return (
                    'alerts_feed_polls_total{feed="Wire",outcome="ok"} 1.0' in text
                    and 'alerts_messages_total{kind="alert",outcome="sent"} 1.0' in text
                )

            await wait_until(polled, what="a poll and its alert counted in /metrics")
            r = await http.get(f"{base}/healthz")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "ok" and body["reasons"] == []
            assert body["checks"]["database"] == "writable" and body["checks"]["heartbeat_at"]

            metrics = (await http.get(f"{base}/metrics")).text
            assert 'alerts_items_new_total{feed="Wire"} 3.0' in metrics
            assert 'alerts_items_matched_total{rule="nk-troops"} 1.0' in metrics
            assert 'alerts_items_matched_total{rule="sumy"} 1.0' in metrics
            assert 'alerts_messages_total{kind="alert",outcome="sent"} 1.0' in metrics
            assert "alerts_outbox_depth 0.0" in metrics
            assert "alerts_poll_duration_seconds_count" in metrics
            assert 'alerts_feed_consecutive_failures{feed="Wire"} 0.0' in metrics

            # A scheduler that stops (a stuck loop, a hung job) turns the verdict to 503.
            monkeypatch.setattr(health, "HEARTBEAT_STALE", 1.5)
            service._scheduler.pause()
            await asyncio.sleep(2.5)
            r = await http.get(f"{base}/healthz")
            assert r.status_code == 503
            assert any("scheduler stalled" in reason for reason in r.json()["reasons"])
            service._scheduler.resume()

            async def healthy() -> bool:
                return (await http.get(f"{base}/healthz")).status_code == 200

            await wait_until(healthy, what="healthy again after the scheduler resumed")
            assert (await http.get(f"{base}/nope")).status_code == 404
            assert (await http.post(f"{base}/healthz")).status_code == 405
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await service.close()
        store.close()
    with pytest.raises(httpx.TransportError):  # the listener stopped with the service
        httpx.get(f"{base}/healthz", timeout=2)


async def test_a_bot_whose_every_feed_fails_is_not_healthy(
    tmp_path, feed_server, monkeypatch
) -> None:
    """Alive but delivering nothing is not healthy: /healthz and `status --check` agree."""
    monkeypatch.setattr(health, "FEED_SLACK", 2.0)  # a feed's limit: 2 x 1s + 1s + 2s
    down = feed_server.serve("/down.xml", b"<h1>maintenance</h1>", status=503)
    also_down = feed_server.serve("/gone.xml", b"", status=404)
    settings = SETTINGS.replace("fetch_timeout: 5s", "fetch_timeout: 1s")
    rules = write_rules(
        tmp_path / "rules.yaml", {"Wire": down, "Desk": also_down}, RULES, REGIONS, settings
    )
    state = tmp_path / "state"
    store = Store.open(state)
    store.set_console(True, datetime.now(UTC))
    config = configmod.load(rules)
    config = replace(config, settings=replace(config.settings, http_port=0))
    service = Service(config, store, ConsoleSink())
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))

    async def listening() -> bool:
        assert not task.done(), task
        return service.http_server is not None

    def check() -> subprocess.CompletedProcess:
        return bot("status", "--check", "--state", str(state))

    try:
        await wait_until(listening, what="the listener")
        base = "http://{}:{}".format(*service.http_server.address)
        async with httpx.AsyncClient(timeout=5) as http:

            async def verdict(code: int) -> bool:
                return (await http.get(f"{base}/healthz")).status_code == code

            # Just started: healthy while the first polls may still come.
            assert (await http.get(f"{base}/healthz")).status_code == 200
            await wait_until(lambda: verdict(503), what="503 once no feed answered in time")
            body = (await http.get(f"{base}/healthz")).json()
            assert body["reasons"] == [
                "no feed polled successfully within its expected interval "
                "(0 of 2 working; none has ever answered)"
            ], body
            assert body["checks"]["feeds"] == 2 and body["checks"]["feeds_working"] == 0
            # The scheduler is alive and polling; that alone is not health.
            assert body["checks"]["last_poll_at"] and "stalled" not in str(body)

            result = await asyncio.to_thread(check)
            assert result.returncode == 1, result.stdout + result.stderr
            assert result.stdout == f"unhealthy: {body['reasons'][0]}\n"

            # One feed answers again: the bot delivers, so it is healthy, by both accounts.
            feed_server.serve("/down.xml", rss(story(1, "Shelling of Sumy continues")))
            await wait_until(lambda: verdict(200), timeout=20, what="healthy again")
            body = (await http.get(f"{base}/healthz")).json()
            assert body["checks"]["feeds_working"] == 1 and body["checks"]["last_success_at"]
            result = await asyncio.to_thread(check)
            assert result.returncode == 0 and result.stdout.startswith("healthy: running")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await service.close()
        store.close()


def test_the_listener_is_off_by_default_and_local_unless_told() -> None:
    settings = configmod.Settings()
    assert settings.http_port is None and settings.http_host == "127.0.0.1"


def test_a_taken_port_is_a_clear_error(tmp_path, feed_server) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        url = feed_server.serve("/feed.xml", rss())
        settings = SETTINGS + f"  http_port: {port}\n"
        rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, settings)
        result = bot("run", "--rules", str(rules), "--state", str(tmp_path / "state"))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http_port: 70000", 'http_port must be a port number from 1 to 65535, not "70000"'),
        ("http_port: eighty", 'http_port must be a port number from 1 to 65535, not "eighty"'),
        ("feed_alert_after: soon", 'feed_alert_after: bad duration "soon"'),
        ("http_host: ''", "http_host"),
    ],
)
def test_bad_operations_settings_are_named(tmp_path, value: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"settings:\n  {value}\nfeeds:\n  - name: A\n    url: https://a.example/rss\n"
        "rules:\n  - id: r\n    any: [x]\n"
    )
    result = bot("check", "--rules", str(path))
    assert result.returncode == 1
    assert f"{path}:2: settings: " in result.stderr and message in result.stderr


def test_health_verdict_names_every_reason() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    hour_ago = now - timedelta(hours=1)

    def feeds(*ages: float | None, limit: float = 600) -> list[health.FeedCheck]:
        return [
            health.FeedCheck(f"feed {n}", None if a is None else now - timedelta(seconds=a), limit)
            for n, a in enumerate(ages, 1)
        ]

    def verdict(started=hour_ago, beat=5.0, error=None, **kwargs) -> health.Health:
        return health.evaluate(
            now,
            started_at=started,
            heartbeat_at=now - timedelta(seconds=beat),
            heartbeat_error=error,
            last_poll_at=now - timedelta(seconds=30),
            feeds=kwargs.get("feeds", feeds(120)),
        )

    ok = verdict()
    assert ok.ok and not ok.reasons
    assert ok.checks["feeds"] == 1 and ok.checks["feeds_working"] == 1
    # One feed of three answering in time is enough: the bot delivers.
    assert verdict(feeds=feeds(None, 3600, 120)).ok
    bad = verdict(beat=300, error="OperationalError: disk I/O error", feeds=feeds(3600, None, 1800))
    assert not bad.ok
    assert bad.reasons == (
        "database not writable: OperationalError: disk I/O error",
        "scheduler stalled: no heartbeat for 5m (expected every 10s)",
        "no feed polled successfully within its expected interval "
        "(0 of 3 working; the last success was feed 3, 30m ago)",
    )
    assert bad.checks["last_success_at"] == "2026-12-01T11:30:00+00:00"
    # Each feed is judged by its own limit (a daily feed may be a day old).
    assert verdict(feeds=[*feeds(3600), *feeds(80_000, limit=2 * 86400)]).ok
    never = verdict(feeds=feeds(None, None))
    assert never.reasons == (
        "no feed polled successfully within its expected interval "
        "(0 of 2 working; none has ever answered)",
    )
    # Just started: nothing answered yet, and that is fine within the shortest limit.
    young = verdict(started=now - timedelta(seconds=3), feeds=feeds(None, None))
    assert young.ok
    assert not verdict(started=now - timedelta(seconds=601), feeds=feeds(None)).ok


# -- feed health in Telegram ----------------------------------------------------------------


async def test_feed_down_and_back_are_told_once_and_the_backlog_is_not_flooded(
    tmp_path, feed_server, fake
) -> None:
    settings = SETTINGS + "  feed_alert_after: 2s\n"
    async with Bot(tmp_path, feed_server, fake, settings=settings) as b:
        await b.command(OPERATOR, "/start")
        b.publish(story(1, "North Korea sends more troops"))
        await fake.wait_for("North Korea sends more troops", timeout=15, chat_id=OPERATOR)

        since = len(fake.sent)
        feed_server.serve("/feed.xml", b"<h1>maintenance</h1>", status=503)
        down = await fake.wait_for("Feed down: Wire", timeout=20, chat_id=OPERATOR, since=since)
        assert "HTTP 503" in down["text"]
        # Failures go on (backoff: 1s, 2s, 4s...); nobody is told again.
        await wait_until(
            lambda: _failures_at_least(b.store, "Wire", 4), timeout=30, what="more failures"
        )
        assert sum("Feed down" in t for t in texts(fake, OPERATOR)) == 1

        # It comes back carrying its backlog: a report from two days ago (older than backfill)
        # and a fresh one. The fresh one is delivered; the old one is recorded, not sent.
        b.items.extend(
            [
                story(2, "DPRK soldiers seen near the border, officials say", hours=48),
                story(3, "North Korea pulls troops out of Kursk region", hours=0.2),
            ]
        )
        feed_server.serve("/feed.xml", rss(*b.items))
        back = await fake.wait_for("Feed back: Wire", timeout=30, chat_id=OPERATOR, since=since)
        assert "answers again after" in back["text"]
        await fake.wait_for("pulls troops out of Kursk", timeout=15, chat_id=OPERATOR, since=since)
        await asyncio.sleep(1.5)
        operator_texts = texts(fake, OPERATOR)
        assert not any("seen near the border" in t for t in operator_texts)
        assert sum("Feed down" in t for t in operator_texts) == 1
        assert sum("Feed back" in t for t in operator_texts) == 1


async def _failures_at_least(store: Store, feed: str, n: int) -> bool:
    state = store.feed_state(feed)
    return state is not None and state.failures >= n


async def test_status_command_in_telegram_shows_the_failing_feed(
    tmp_path, feed_server, fake
) -> None:
    async with Bot(tmp_path, feed_server, fake) as b:
        feed_server.serve("/feed.xml", b"nope", status=500)
        await wait_until(lambda: _failures_at_least(b.store, "Wire", 1), what="a failed poll")
        reply = await b.command(OPERATOR, "/status")
        assert "consecutive failure" in reply["text"] and "HTTP 500" in reply["text"]
        assert "Bot" in reply["text"] and "up " in reply["text"]


# -- status and stats on the command line ---------------------------------------------------


def test_status_and_stats_from_the_command_line(tmp_path, feed_server) -> None:
    good = feed_server.serve(
        "/good.xml",
        rss(story(1, "North Korea sends more troops"), story(2, "Shelling of Sumy continues")),
    )
    bad = feed_server.serve("/bad.xml", b"<html>gone</html>", status=404)
    rules = write_rules(
        tmp_path / "rules.yaml",
        {"Wire": good, "Broken": bad},
        RULES,
        REGIONS,
        SETTINGS.replace(f"operators: [{OPERATOR}]", "operators: []"),
    )
    state = tmp_path / "state"
    missing = bot("status", "--state", str(state))
    assert missing.returncode == 1 and "no state database here" in missing.stderr

    assert bot("once", "--rules", str(rules), "--state", str(state)).returncode == 0
    result = bot("status", "--rules", str(rules), "--state", str(state))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "not running as a service; last `once` run" in out
    assert re.search(r"• Wire: last success \d\d \w\w\w \d\d:\d\d", out)
    assert "• Broken: last success never; 1 consecutive failure;" in out
    assert "HTTP 404 Not Found" in out
    assert "Outbox: 0 waiting" in out and "Rules: 3 (1 urgent)" in out
    # Without the rules file, the feeds the database knows are still shown.
    bare = bot("status", "--state", str(state), "--rules", str(tmp_path / "none.yaml"))
    assert bare.returncode == 0 and "• Broken:" in bare.stdout
    # No service ever ran here: a health check says so and fails.
    check = bot("status", "--check", "--state", str(state))
    assert check.returncode == 1 and "no heartbeat recorded" in check.stdout

    stats = bot("stats", "--rules", str(rules), "--state", str(state), "--days", "3")
    assert stats.returncode == 0, stats.stderr
    lines = stats.stdout.splitlines()
    assert lines[0] == "Matches per rule per day, last 3 days (Europe/Kyiv)"
    rows = {line.split()[0]: line for line in lines[2:] if line and not line.startswith(" ")}
    assert rows["nk-troops"].split()[-1] == "1" and rows["sumy"].split()[-1] == "1"
    assert rows["energy"].split()[-2:] == ["0", "silent"]
    assert re.search(r"^  alerts\s+0\s+0\s+1\s+1$", stats.stdout, re.M)
    assert re.search(r"^  digests\s+0\s+0\s+1\s+1$", stats.stdout, re.M)
    as_json = json.loads(
        bot("stats", "--rules", str(rules), "--state", str(state), "--json").stdout
    )
    assert sum(as_json["rules"]["nk-troops"].values()) == 1
    assert len(as_json["days"]) == 7
    assert bot("stats", "--days", "0", "--state", str(state)).returncode == 2


def test_status_and_stats_read_the_rules_the_bot_ran_with(tmp_path, feed_server) -> None:
    """As after the quick start: `once --rules demo.yaml`, then a bare `status` and `stats` in a
    directory whose rules.yaml is another file: they show the demo's feeds and rules."""
    url = feed_server.serve("/feed.xml", rss(story(1, "North Korea sends more troops")))
    demo = write_rules(tmp_path / "demo.yaml", {"Wire": url}, RULES, REGIONS, SETTINGS)
    other = write_rules(
        tmp_path / "rules.yaml",
        {"Production A": url, "Production B": url},
        "  - id: elsewhere\n    any: [harvest]\n",
    )
    state = tmp_path / "state"
    assert bot("once", "--rules", "demo.yaml", "--state", "state", cwd=tmp_path).returncode == 0

    status = bot("status", "--state", str(state), cwd=tmp_path)
    assert status.returncode == 0 and status.stderr == "", status.stderr
    assert "• Wire: last success" in status.stdout and "Production" not in status.stdout
    assert "Rules: 3 (1 urgent) in demo.yaml" in status.stdout
    stats = bot("stats", "--state", str(state), cwd=tmp_path)
    assert stats.returncode == 0 and stats.stderr == "", stats.stderr
    assert "nk-troops" in stats.stdout and "elsewhere" not in stats.stdout
    # From another directory too: the file is remembered by its full path.
    elsewhere = bot("status", "--state", str(state), cwd=tmp_path / "state")
    assert f"Rules: 3 (1 urgent) in {demo}" in elsewhere.stdout

    # Named with --rules or RULES_FILE, another file is used, and the note says so.
    note = "note: comparing with {}; the bot last ran on this state with demo.yaml\n"
    named = bot("status", "--state", str(state), "--rules", "rules.yaml", cwd=tmp_path)
    assert named.stderr == note.format("rules.yaml")
    assert "• Production A: not polled yet" in named.stdout and "Wire" not in named.stdout
    from_env = bot("stats", "--state", str(state), env={"RULES_FILE": str(other)}, cwd=tmp_path)
    assert from_env.stderr == note.format(other) and "elsewhere" in from_env.stdout
    # The same file, named: no note.
    same = bot("status", "--state", str(state), "--rules", str(demo), cwd=tmp_path)
    assert same.returncode == 0 and same.stderr == ""

    demo.unlink()
    gone = bot("status", "--state", str(state), cwd=tmp_path)
    assert gone.stderr == (
        f"note: the bot last ran on this state with {demo}, which is not there any more; "
        "comparing with rules.yaml\n"
    )
    assert "• Production A: not polled yet" in gone.stdout


def _service(tmp_path: Path, feed_server) -> tuple[subprocess.Popen, Path]:
    """``bot.py run`` on the console over one feed, as a process; its stderr piped."""
    url = feed_server.serve("/feed.xml", rss(story(1, "Shelling of Sumy continues")))
    settings = SETTINGS.replace(f"operators: [{OPERATOR}]", "operators: []")
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, RULES, REGIONS, settings)
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "run", "--rules", str(rules), "--state", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, state


def test_status_check_follows_the_running_service(tmp_path, feed_server) -> None:
    proc, state = _service(tmp_path, feed_server)
    try:
        deadline = time.monotonic() + 30
        while True:
            check = bot("status", "--check", "--state", str(state))
            if check.returncode == 0:
                break
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, check.stdout + check.stderr
            time.sleep(0.3)
        assert check.stdout.startswith("healthy: running; heartbeat")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    stopped = bot("status", "--check", "--state", str(state))
    assert stopped.returncode == 1 and "the service stopped at" in stopped.stdout
    # Every log line is one event, key=value, with the time in UTC.
    lines = [line for line in err.splitlines() if line]
    assert lines and all(
        re.match(r"ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=\w+ logger=\S+ \w+=", line)
        for line in lines
    ), err
    assert any("event=started" in line for line in lines)


def test_stats_counts_per_local_day_and_names_removed_rules() -> None:
    from zoneinfo import ZoneInfo

    kyiv = ZoneInfo("Europe/Kyiv")
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    matched = [
        ("2026-11-30T21:30:00+00:00", '["a"]'),  # 23:30 in Kyiv on Nov 30
        ("2026-11-30T22:30:00+00:00", '["a", "b"]'),  # 00:30 in Kyiv on Dec 1
        ("2026-11-20T10:00:00+00:00", '["a"]'),  # before the window
        ("2026-12-01T09:00:00+00:00", '["old"]'),
    ]
    sent = [
        ("2026-12-01T08:00:00+00:00", "alert"),
        ("2026-11-30T08:00:00+00:00", "digest"),
        ("2026-12-01T08:05:00+00:00", "edit"),  # counted as a notice before (QA)
    ]
    table = tabulate(matched, sent, ["a", "b", "c"], 2, now, kyiv)
    assert [d.isoformat() for d in table.days] == ["2026-11-30", "2026-12-01"]
    data = table.as_json()
    assert data["rules"]["a"] == {"2026-11-30": 1, "2026-12-01": 1}
    assert data["rules"]["b"] == {"2026-11-30": 0, "2026-12-01": 1}
    assert data["removed_rules"] == ["old"]
    assert data["messages_sent"]["alert"]["2026-12-01"] == 1
    assert data["messages_sent"]["edit"]["2026-12-01"] == 1
    assert data["messages_sent"]["notice"]["2026-12-01"] == 0
    text = table.render()
    assert "c " in text and "silent" in text and "not in rules.yaml any more" in text


def test_logs_are_one_line_per_event_and_never_show_the_token(capsys) -> None:
    token = "123456789:AAEabcdefghijklmnopqrstuvwxyz0123"
    setup("INFO", secrets=[token])
    log = logging.getLogger("telegram.ext")
    log.info("POST https://api.telegram.org/bot%s/sendMessage\nsecond line", token)
    try:
        raise RuntimeError(f"failed at /bot{token}/getMe")
    except RuntimeError:
        logging.getLogger("alerts").exception("event=job_failed job=x")
    logging.getLogger("alerts").debug("event=hidden")
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert token not in err and "<token>" in err
    assert 'msg="POST https://api.telegram.org/bot<token>/sendMessage second line"' in lines[0]
    assert "event=job_failed job=x traceback=" in lines[1] and "RuntimeError" in lines[1]
    # The Telegram client's own traceback of an unreadable answer (a wrong TELEGRAM_API_URL):
    # the message stays, the traceback goes; the bot reports the failure in its own words.
    try:
        raise ValueError("Expecting value")
    except ValueError:
        logging.getLogger("telegram.request.BaseRequest").exception("Can not load invalid JSON")
    err = capsys.readouterr().err
    assert "Can not load invalid JSON" in err and "Traceback" not in err
    setup("WARNING")


def test_status_without_a_database_never_creates_one(tmp_path) -> None:
    result = bot("stats", "--state", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and not (tmp_path / "nowhere").exists()
    assert Path(tmp_path / "nowhere" / "alerts.db").exists() is False


async def test_a_new_poll_every_re_times_the_feeds_without_their_own(tmp_path) -> None:
    """Hot reload re-times feeds: a file that changes only settings.poll_every (60s -> 3s) had
    kept every feed on the old interval, though the bot logged the reload."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from alerts import config as configmod
    from alerts.service import Service
    from alerts.store import Store

    from .conftest import write_rules

    def rules(poll_every: str) -> Path:
        return write_rules(
            tmp_path / "rules.yaml",
            {"Wire": "https://e.example/rss"},
            "  - id: a\n    any: [x]\n",
            settings=f"settings:\n  poll_every: {poll_every}\n",
        )

    store = Store.open(tmp_path / "state")
    service = Service(configmod.load(rules("60s")), store)
    scheduler = AsyncIOScheduler(timezone=UTC)
    service.schedule(scheduler)
    scheduler.start(paused=True)  # the jobs as a running bot has them, none of them run
    try:
        assert scheduler.get_job("poll:Wire").trigger.interval == timedelta(seconds=60)
        await service._apply(configmod.load(rules("3s")))
        assert scheduler.get_job("poll:Wire").trigger.interval == timedelta(seconds=3)
    finally:
        scheduler.shutdown(wait=False)
        store.close()


def test_a_mistyped_log_level_is_named_once_and_the_default_kept(capsys, monkeypatch) -> None:
    """LOG_LEVEL=bogus had silently meant INFO: a quiet cron job of `once` then mailed a log
    line on every run. Now the command's own default, and one line that names the mistake."""
    monkeypatch.setenv("LOG_LEVEL", "bogus")
    monkeypatch.setattr("alerts.logs._WARNED", [])
    setup("WARNING")
    setup("WARNING")  # the CLI sets up logging more than once: said once
    logging.getLogger("alerts").info("event=once_done")
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "warning: LOG_LEVEL='bogus' is not one of DEBUG, INFO, WARNING, ERROR; using WARNING"
    ]
    monkeypatch.delenv("LOG_LEVEL")
    setup("WARNING")


def test_status_and_stats_help_say_which_rules_file_they_read() -> None:
    for command in ("status", "stats"):
        result = bot(command, "--help")
        assert "the rules file the bot last ran with" in " ".join(result.stdout.split())


async def test_a_job_cut_at_shutdown_is_one_warning_not_a_traceback(tmp_path, caplog) -> None:
    """Shutdown waits fetch_timeout + 5 s for running jobs, then the scheduler cancels them:
    each cut job had been logged by APScheduler as an error with a CancelledError traceback
    (QA: SIGTERM with a hundred paced alerts queued)."""
    from alerts import config as configmod
    from alerts.service import Service
    from alerts.store import Store

    from .conftest import write_rules

    rules = write_rules(
        tmp_path / "rules.yaml", {"Wire": "https://e.example/rss"}, "  - id: a\n    any: [x]\n"
    )
    store = Store.open(tmp_path / "state")
    service = Service(configmod.load(rules), store)

    async def send_alerts() -> None:
        await asyncio.Event().wait()  # paced sends that outlast the grace

    job = asyncio.create_task(service._tracked(send_alerts))
    await asyncio.sleep(0.05)
    job.cancel()
    with caplog.at_level(logging.WARNING):
        assert await job is None  # ends as a job that returned: nothing for APScheduler to log
    assert "event=job_cut_at_shutdown job=send_alerts" in caplog.text
    assert not service._inflight
    store.close()


def test_status_says_at_once_when_the_bot_was_killed(tmp_path, feed_server) -> None:
    """A bot killed with kill -9 was reported "healthy: running" for up to a minute after,
    then as a stalled scheduler (QA). On its host, status sees that the process is gone."""
    proc, state = _service(tmp_path, feed_server)
    try:
        deadline = time.monotonic() + 30
        while bot("status", "--check", "--state", str(state)).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
        # killed, but not yet reaped by its parent (a supervisor that has not looked): a zombie
        # answers kill(pid, 0), and was called healthy (QA)
        proc.kill()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        zombie = bot("status", "--check", "--state", str(state))
        assert zombie.returncode == 1, zombie.stdout
        assert f"the bot's process (pid {proc.pid}) is gone" in zombie.stdout
    finally:
        proc.kill()
        proc.communicate()
    check = bot("status", "--check", "--state", str(state))
    assert check.returncode == 1
    assert f"the bot's process (pid {proc.pid}) is gone" in check.stdout
    shown = bot("status", "--state", str(state)).stdout
    assert "NOT RUNNING" in shown and "killed or crashed" in shown
