"""``python bot.py run``: the scheduled service on the console, stopped by a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from .conftest import ROOT, hours_ago, rss, write_rules

SETTINGS = """\
settings:
  poll_every: 1s
  digest_every: 2s
  timezone: UTC
  backfill: 1d
  fetch_timeout: 5s
"""
RULES = """\
  - id: urgent
    name: Urgent news
    any: [missile*]
    priority: urgent
  - id: normal
    name: Normal news
    any: [drone*]
"""


class Running:
    """The bot as a background process whose stdout is collected as it is written."""

    def __init__(self, *args: str):
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(
                target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")), daemon=True
            ).start()

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stdout:
                return
            assert self.proc.poll() is None, "".join(self.err)
            time.sleep(0.05)
        raise AssertionError(
            f"{text!r} not printed; stdout={self.stdout!r} stderr={''.join(self.err)!r}"
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)


def test_run_alerts_at_once_digests_on_schedule_and_stops_on_sigterm(feed_server, tmp_path) -> None:
    url = feed_server.serve(
        "/a.xml", rss({"title": "Drone sighting", "guid": "1", "date": hours_ago(1)})
    )
    rules = write_rules(tmp_path / "rules.yaml", {"alpha": url}, RULES, settings=SETTINGS)
    bot = Running("run", "--rules", str(rules), "--state", str(tmp_path / "state"))
    try:
        bot.wait_for("Drone sighting")
        assert "Digest" in bot.stdout
        # A new urgent item appears: it is alerted after the next poll, without waiting for a digest.
        feed_server.serve(
            "/a.xml",
            rss(
                {"title": "Drone sighting", "guid": "1", "date": hours_ago(1)},
                {"title": "Missile launch detected", "guid": "2", "date": hours_ago(0)},
            ),
        )
        bot.wait_for("Missile launch detected")
        assert "URGENT · Urgent news" in bot.stdout
    finally:
        code = bot.stop(signal.SIGTERM)
    assert code == 0, "".join(bot.err)
    assert bot.stdout.count("Drone sighting") == 1
    assert "event=stopped" in "".join(bot.err)
    assert "Traceback" not in "".join(bot.err)


def test_run_stops_on_ctrl_c(feed_server, tmp_path) -> None:
    url = feed_server.serve("/a.xml", rss({"title": "quiet", "guid": "1"}))
    rules = write_rules(tmp_path / "rules.yaml", {"alpha": url}, RULES, settings=SETTINGS)
    bot = Running("run", "--rules", str(rules), "--state", str(tmp_path / "state"))
    deadline = time.monotonic() + 20
    while "event=started" not in "".join(bot.err) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bot.stop(signal.SIGINT) == 0
    assert "Traceback" not in "".join(bot.err)


def test_run_with_bad_rules_exits_1(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("feeds: 3\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "run", "--rules", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and f"{path}:1: feeds:" in result.stderr
