"""The operators' picture of the bot: feeds' health, the outbox, the subscribers, the bot itself.

One renderer for both places it is shown: ``/status`` in Telegram (HTML) and ``bot.py status``
on the command line (plain text, read from the state database, the bot running or not), so the
two never drift apart.
"""

from __future__ import annotations

import html
import json
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from .durations import format_duration
from .health import FeedCheck, Health, evaluate
from .store import FeedState, parse_iso
from .wording import plural


@dataclass(frozen=True)
class FeedRow:
    name: str
    state: FeedState | None
    next_poll: datetime | None = None


@dataclass(frozen=True)
class Picture:
    feeds: Sequence[FeedRow]
    outbox: int
    subscribers: int
    rules: int | None = None
    urgent: int | None = None
    bot: str | None = None  # "running; heartbeat 4s ago" and the like, when known
    rules_file: str | None = None  # where the rules were read, when it is worth saying


def render(picture: Picture, now: datetime, tz: tzinfo, *, as_html: bool) -> str:
    esc: Callable[[str], str] = html.escape if as_html else (lambda s: s)

    def bold(text: str) -> str:
        return f"<b>{text}</b>" if as_html else text

    def ago(text: str | None) -> str:
        when = parse_iso(text)
        if when is None:
            return "never"
        return f"{when.astimezone(tz):%d %b %H:%M} ({_ago(now, when)})"

    lines = []
    if picture.bot:
        lines += [f"{bold('Bot')}: {esc(picture.bot)}", ""]
    lines.append(f"{bold('Feeds')} ({len(picture.feeds)})")
    for row in picture.feeds:
        st = row.state
        name = esc(row.name)
        if st is None:
            lines.append(f"• {name}: not polled yet")
            continue
        parts = [f"last success {ago(st.last_success_at)}"]
        if st.failures:
            parts.append(bold(plural(st.failures, "consecutive failure")))
            since = parse_iso(st.failing_since)
            if since is not None:
                parts.append(f"failing for {format_duration((now - since).total_seconds())}")
        if st.last_error:
            parts.append(f"last error {ago(st.last_error_at)}: {esc(st.last_error)}")
        if row.next_poll:
            parts.append(f"next poll {row.next_poll.astimezone(tz):%H:%M:%S}")
        lines.append(f"• {name}: " + "; ".join(parts))
    lines.append("")
    lines.append(f"Outbox: {picture.outbox} waiting")
    lines.append(f"Subscribers: {picture.subscribers}")
    if picture.rules is not None:
        source = f" in {esc(picture.rules_file)}" if picture.rules_file else ""
        lines.append(f"Rules: {picture.rules} ({picture.urgent or 0} urgent){source}")
    return "\n".join(lines)


def _ago(now: datetime, when: datetime) -> str:
    seconds = (now - when).total_seconds()
    if seconds < 0:
        return f"in {format_duration(-seconds)}"
    return f"{format_duration(seconds)} ago"


def recorded_health(meta: dict[str, str], states: Mapping[str, FeedState], now: datetime) -> Health:
    """The verdict :func:`health.evaluate` gives on what the bot recorded in the database, for
    ``bot.py status``: a bot that never ran as a service, or stopped, is not healthy either.

    The feeds judged are those of the running bot, with the limits it recorded, and their last
    successes as the database holds them."""
    beat = parse_iso(meta.get("heartbeat_at"))
    stopped = parse_iso(meta.get("stopped_at"))
    if beat is None:
        return Health(False, ("no heartbeat recorded: the service has not run here",))
    if stopped is not None and stopped >= beat:
        return Health(False, (f"the service stopped at {stopped:%Y-%m-%d %H:%M} UTC",))
    gone = process_gone(meta)
    if gone:
        return Health(False, (gone,))
    try:
        limits = json.loads(meta.get("feed_limits") or "{}")
    except ValueError:
        limits = {}
    feeds = [
        FeedCheck(
            name,
            parse_iso(states[name].last_success_at) if name in states else None,
            float(limit),
        )
        for name, limit in limits.items()
    ]
    return evaluate(
        now,
        started_at=parse_iso(meta.get("started_at")) or now,
        heartbeat_at=beat,
        heartbeat_error=None,
        last_poll_at=parse_iso(meta.get("last_poll_at")),
        feeds=feeds,
    )


def process_gone(meta: dict[str, str]) -> str:
    """Why the bot that recorded the heartbeat is not running, when ``status`` runs on its
    host and its process is gone (killed, crashed): said at once, not a minute later as a
    stalled heartbeat. Empty when it runs, or when that cannot be told from here."""
    pid, host = meta.get("pid"), meta.get("host")
    if not pid or not pid.isdigit() or host != socket.gethostname():
        return ""
    gone = f"the bot's process (pid {pid}) is gone: killed or crashed, without stopping"
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return gone
    except OSError:
        return ""  # it exists, as another user's
    # Killed but not yet reaped by its parent (a supervisor that has not noticed): a zombie
    # answers the signal test, yet runs nothing.
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return ""
    return gone if state == [b"Z"] else ""


def describe_bot(meta: dict[str, str], verdict: Health, now: datetime) -> str:
    """One line on the bot process from what it recorded: running, stopped, or stalled."""
    stopped = parse_iso(meta.get("stopped_at"))
    beat = parse_iso(meta.get("heartbeat_at"))
    once = parse_iso(meta.get("last_once_at"))
    if beat is None and once is not None:
        return f"not running as a service; last `once` run {_ago(now, once)}"
    if beat is None:
        return "never ran as a service here (no heartbeat recorded)"
    if stopped is not None and stopped >= beat:
        return f"stopped {_ago(now, stopped)}"
    gone = process_gone(meta)
    if gone:
        return f"NOT RUNNING: {gone}; last heartbeat {_ago(now, beat)}"
    if verdict.ok:
        started = parse_iso(meta.get("started_at"))
        up = f", up {format_duration((now - started).total_seconds())}" if started else ""
        pid = f", pid {meta['pid']}" if meta.get("pid") else ""
        return f"running; heartbeat {_ago(now, beat)}{pid}{up}"
    return "NOT HEALTHY: " + "; ".join(verdict.reasons)
