"""The pipeline in motion: fetch -> parse -> normalise -> match -> store -> deliver.

The event loop only waits on I/O. Parsing and matching run in worker threads and every SQLite
call runs on the store's own single thread, so a slow disk or a large feed never delays a
scheduled digest or another feed's poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from . import digest, feeds, health, reader, sinks, status
from .config import Config, ConfigError, Feed, load
from .durations import format_duration
from .logs import kv
from .metrics import Metrics
from .schedule import (
    DigestSchedule,
    digest_due,
    in_quiet,
    next_digest,
    parse_clock,
    parse_quiet,
    quiet_end,
)
from .signer import Signer
from .sinks import ConsoleSink, Sink
from .store import Chat, FeedState, IngestResult, Matched, Outgoing, Store, parse_iso
from .wording import plural

if TYPE_CHECKING:  # APScheduler is imported when the bot runs, not for once or check
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("alerts")

FETCH_CONCURRENCY = 10
# Polls under way at once, from fetch to store: what was fetched and parsed waits for the one
# store thread, and without a bound a thousand feeds polled together would all wait in memory.
POLL_CONCURRENCY = 2 * FETCH_CONCURRENCY
MAX_BACKOFF = 6 * 3600.0
SEND_RETRY_MAX = 15 * 60.0
SEND_CONCURRENCY = 50  # chats sent to at once; each chat's messages stay in order
DIGEST_TICK = 15.0  # seconds between checks for chats whose digest is due


@dataclass
class PollOutcome:
    feed: str
    ok: bool
    reason: str = ""
    skipped: bool = False
    unchanged: bool = False
    result: IngestResult = field(default_factory=IngestResult)


def _read_bytes(path) -> bytes | None:
    """The rules file as it is on disk, to tell an edit: bytes, so that a file saved in
    another encoding is an edit too (to be refused and told of), not "unreadable, unchanged"."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _outage(state: FeedState, now: datetime) -> str:
    """How long a feed has been failing, for operators' notices: ``2h15m``."""
    since = parse_iso(state.failing_since) or now
    return format_duration((now - since).total_seconds())


def _quiet(chat: Chat) -> tuple[dt_time, dt_time] | None:
    """The chat's quiet hours, if it has any."""
    return parse_quiet(chat.quiet) if chat.quiet else None


def backoff(interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures: doubling, jittered, capped."""
    base = min(interval * 2 ** max(failures - 1, 0), max(MAX_BACKOFF, interval))
    return base * random.uniform(0.9, 1.1)


class Service:
    """Owns the store thread, the HTTP client and the delivery lock for one config."""

    def __init__(self, config: Config, store: Store, sink: Sink | None = None):
        self.config = config
        self.store = store
        self.sink: Sink = sink or ConsoleSink()
        self.frontend: Any = None  # the Telegram front end (commands), when there is one
        # `once` names each failed feed on stderr itself: its log line would name it twice
        self.failure_level = logging.WARNING
        self._scheduler: AsyncIOScheduler | None = None
        self._rules_seen: tuple[int, int] | None = None  # (mtime_ns, size) last looked at
        self._rules_text = _read_bytes(config.path)
        self._rules_failed: bytes | None = None  # the last file that failed to load
        self._rules_changed_at: float | None = None  # when a change was seen, not yet loaded
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._fetch_slots = asyncio.Semaphore(FETCH_CONCURRENCY)
        self._poll_slots = asyncio.Semaphore(POLL_CONCURRENCY)
        self._send_lock = asyncio.Lock()
        self._sending: set[int] = set()  # chats a flush is sending to (see flush)
        self._http: httpx.AsyncClient | None = None
        # The unchanged polls of a poll_all, written in one transaction as it ends: written one
        # by one, the store thread and the event loop took turns 200 times, 0.15 s of a cycle
        # of 200 unchanged feeds. Lost in a crash, they cost only a feed polled again.
        self._unchanged: list[tuple[str, str, datetime, str | None, str | None]] | None = None
        self._reader: reader.Reader | None = None  # a worker reading bodies in poll_all
        self._inflight: set[asyncio.Task] = set()
        self._alerting: set[asyncio.Task] = set()  # referenced, so none is collected mid-send
        self.last_poll_at: datetime | None = None
        # Each feed's last successful poll, for the health verdict: kept here so that /healthz
        # answers from memory; seeded from the database at every heartbeat.
        self.last_success: dict[str, datetime] = {}
        self.started_at = datetime.now(UTC)
        self.metrics = Metrics()
        self.heartbeat_at: datetime | None = None
        self.heartbeat_error: str | None = None
        self.http_server: health.HealthServer | None = None
        self.settled = IngestResult()  # what the last settle() of once() grouped and owed
        # Signatures of a large batch of reports are read on the second core (alerts.signer);
        # the worker is started as soon as the polls have stored enough of them.
        self.signer = Signer()
        self._unsettled = 0

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, lambda: fn(*args, **kwargs))

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = feeds.client(self.config.settings.fetch_timeout)
        return self._http

    async def close(self) -> None:
        self.signer.close()
        if self._http is not None:
            await self._http.aclose()
        self._db_thread.shutdown(wait=True)

    # -- polling --

    async def poll_feed(self, feed: Feed, *, force: bool = False) -> PollOutcome:
        """Poll one feed; failures are recorded and logged, never raised."""
        state = await self.db(self.store.feed_state, feed.name)
        return await self._poll_from(feed, state, force)

    async def _poll_from(self, feed: Feed, state: FeedState | None, force: bool) -> PollOutcome:
        """Poll one feed from its stored state (``poll_all`` reads every feed's in one query)."""
        now = datetime.now(UTC)
        if not force and state and state.retry_at and parse_iso(state.retry_at) > now:
            self.last_poll_at = now  # the scheduler is alive; the feed waits out its backoff
            return PollOutcome(feed.name, ok=False, skipped=True, reason=state.last_error or "")
        async with self._poll_slots:
            started = time.monotonic()
            outcome = await self._poll(feed, state)
            self.metrics.poll_seconds.observe(time.monotonic() - started)
        self.last_poll_at = datetime.now(UTC)
        if outcome.ok:
            self.last_success[feed.name] = self.last_poll_at
        kind = "failed" if not outcome.ok else "unchanged" if outcome.unchanged else "ok"
        self.metrics.polls.labels(feed.name, kind).inc()
        if outcome.ok and state is not None and state.failing_since:
            await self._recovered(feed)
        return outcome

    async def _poll(self, feed: Feed, state: FeedState | None) -> PollOutcome:
        settings = self.config.settings
        try:
            async with self._fetch_slots:
                fetched = await feeds.fetch(
                    self.http,
                    feed.location,
                    etag=state.etag if state else None,
                    last_modified=state.last_modified if state else None,
                    timeout=settings.fetch_timeout,
                )
            now = datetime.now(UTC)
            body_hash = fetched.digest
            if fetched.body is None or (state and body_hash == state.body_hash):
                poll = (feed.name, feed.url, now, fetched.etag, fetched.last_modified)
                if self._unchanged is not None:
                    self._unchanged.append(poll)
                else:
                    await self.db(self.store.record_unchanged, *poll)
                return PollOutcome(feed.name, ok=True, unchanged=True)
            read = None
            if self._reader is not None and self.config.source == self._reader.source:
                read = await self._reader.read(feed.name, fetched, now)
            if read is None:
                parsed, found = await asyncio.to_thread(feeds.parse, feed.name, fetched, now), None
            else:
                parsed, found = read
        except feeds.FetchError as exc:
            return await self._failed(feed, str(exc))
        except Exception as exc:  # a bug or a hostile feed must not stop the other feeds
            log.exception(kv(event="poll_crashed", feed=feed.name))
            return await self._failed(feed, f"internal error: {type(exc).__name__}: {exc}")

        guids = [item.guid for item in parsed.items]
        known = await self.db(self.store.known_guids, feed.name, guids)
        fresh = [item for item in parsed.items if item.guid not in known]
        config = self.config
        matcher = config.matcher

        def worker_found() -> list[Matched]:
            """What the reader worker found, for the items not already known."""
            return [
                Matched(item, f.rules, f.regions, f.terms)
                for item, f in zip(parsed.items, found, strict=True)
                if item.guid not in known
            ]

        def match_all() -> list[Matched]:
            out = []
            for item in fresh:
                m = matcher.match(item.text)
                if not m.rules:
                    out.append(Matched(item, m.rules, m.regions))
                    continue
                # The rule's topic, which grouping into stories weighs little (settle() reads
                # each report's fingerprint when it files it).
                out.append(Matched(item, m.rules, m.regions, config.topic_terms(m)))
            return out

        if found is not None:
            matched = worker_found()
        else:
            matched = await asyncio.to_thread(match_all) if fresh else []
        first_poll = state is None or state.first_polled_at is None
        # Back from a long outage, a feed's backlog is treated as on its first poll: recorded,
        # not delivered, beyond ``backfill``. Subscribers get the news, not a flood.
        since = parse_iso(state.failing_since) if state else None
        long_outage = (
            since is not None and (now - since).total_seconds() >= settings.feed_alert_after
        )
        result = await self.db(
            self.store.ingest,
            feed.name,
            feed.url,
            now=now,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            body_hash=body_hash,
            seen=sorted(known),
            new=matched,
            backfill_before=now - timedelta(seconds=settings.backfill)
            if first_poll or long_outage
            else None,
        )
        self.metrics.items_new.labels(feed.name).inc(result.new)
        self._unsettled += result.matched
        if self._unsettled >= self.signer.min_batch:
            self.signer.start()  # loads the lexicon on the second core while the polls go on
        per_rule = Counter(rule for m in matched for rule in m.rules)
        for rule, count in per_rule.items():
            self.metrics.items_matched.labels(rule).inc(count)
        log.info(
            kv(
                event="polled",
                feed=feed.name,
                items=len(parsed.items),
                new=result.new,
                matched=result.matched,
                backfilled=result.backfilled,
                duplicates=result.duplicates,
            )
        )
        return PollOutcome(feed.name, ok=True, result=result)

    async def settle(self) -> IngestResult:
        """Group the reports the polls stored into stories, in publication order, and owe them
        to the chats (see :mod:`alerts.store.items` for why this follows the polls)."""
        urgent_rules = frozenset(r.id for r in self.config.rules if r.urgent)
        self._unsettled = 0
        try:
            result = await self.db(self.store.settle, datetime.now(UTC), urgent_rules, self.signer)
        finally:
            self.signer.close()  # a worker holds its memory; the next large batch starts one
        if result.matched:
            log.info(
                kv(
                    event="settled",
                    reports=result.matched,
                    joined=result.joined,
                    owed=result.queued,
                    urgent=result.urgent,
                )
            )
        return result

    async def _failed(self, feed: Feed, reason: str) -> PollOutcome:
        interval = self.config.poll_interval(feed)
        failures = await self.db(
            self.store.record_failure,
            feed.name,
            feed.url,
            reason,
            datetime.now(UTC),
            lambda n: backoff(interval, n),
        )
        log.log(
            self.failure_level,
            kv(event="feed_failed", feed=feed.name, reason=reason, failures=failures),
        )
        await self._down(feed)
        return PollOutcome(feed.name, ok=False, reason=reason)

    # -- feed health --

    async def _down(self, feed: Feed) -> None:
        """Tell operators, once, that a feed has been failing for ``feed_alert_after``."""
        after = self.config.settings.feed_alert_after
        now = datetime.now(UTC)

        def text(st: FeedState) -> str:
            return (
                f"Feed down: {feed.name} has failed for {_outage(st, now)} "
                f"({plural(st.failures, 'poll')} in a row).\nLast error: {st.last_error}\n"
                f"{feed.url}"
            )

        state = await self.db(
            self.store.feed_down,
            feed.name,
            now,
            timedelta(seconds=after),
            text,
            self._operator_chats(),
        )
        if state is not None:
            log.error(
                kv(
                    event="feed_down",
                    feed=feed.name,
                    since=state.failing_since,
                    failures=state.failures,
                    reason=state.last_error,
                )
            )
            await self.flush()

    async def _recovered(self, feed: Feed) -> None:
        now = datetime.now(UTC)

        def text(st: FeedState) -> str:
            return f"Feed back: {feed.name} answers again after {_outage(st, now)} of failures."

        state = await self.db(
            self.store.feed_recovered, feed.name, now, text, self._operator_chats()
        )
        if state is not None:
            log.warning(kv(event="feed_recovered", feed=feed.name, down_since=state.failing_since))
            await self.flush()

    def _operator_chats(self) -> tuple[int, ...]:
        """Operators get notices in Telegram; on the console the log line says it."""
        return self.config.settings.operators if self.sink.format == "html" else ()

    # -- health --

    async def heartbeat(self) -> None:
        """Prove the scheduler runs and the database takes writes; refresh the gauges."""
        now = datetime.now(UTC)
        # The limits of the running config, so that `status --check` judges by them, whatever
        # rules file the command line would read.
        limits = json.dumps({f.name: f.limit for f in self.feed_checks()}, ensure_ascii=False)

        def beat() -> tuple[int, int, dict]:
            self.store.set_meta(
                heartbeat_at=now.isoformat(timespec="seconds"),
                started_at=self.started_at.isoformat(timespec="seconds"),
                last_poll_at=self.last_poll_at.isoformat(timespec="seconds")
                if self.last_poll_at
                else None,
                feed_limits=limits,
                poll_limit=None,  # written by earlier versions; feed_limits replaced it
                pid=str(os.getpid()),
                host=socket.gethostname(),  # status tells a pid gone only on this host
                stopped_at=None,
            )
            return (
                self.store.outbox_depth(),
                self.store.subscriber_count(),
                self.store.feed_states(),
            )

        try:
            depth, subscribers, states = await self.db(beat)
        except Exception as exc:  # sqlite3 errors: disk full, read-only volume, locked
            self.heartbeat_error = f"{type(exc).__name__}: {exc}"
            log.error(kv(event="heartbeat_failed", error=self.heartbeat_error))
            return
        self.heartbeat_at, self.heartbeat_error = now, None
        self.metrics.heartbeat.set(now.timestamp())
        self.metrics.outbox_depth.set(depth)
        self.metrics.subscribers.set(subscribers)
        if self.last_poll_at:
            self.metrics.last_poll.set(self.last_poll_at.timestamp())
        for feed in self.config.feeds:
            st = states.get(feed.name)
            self.metrics.feed_failures.labels(feed.name).set(st.failures if st else 0)
            recorded = parse_iso(st.last_success_at) if st else None
            known = self.last_success.get(feed.name)
            if recorded is not None and (known is None or recorded > known):
                self.last_success[feed.name] = recorded

    def feed_checks(self) -> list[health.FeedCheck]:
        """Every configured feed's last success and limit, for the health verdict."""
        timeout = self.config.settings.fetch_timeout
        return [
            health.FeedCheck(
                f.name,
                self.last_success.get(f.name),
                health.feed_limit(self.config.poll_interval(f), timeout),
            )
            for f in self.config.feeds
        ]

    def health(self) -> health.Health:
        """The verdict ``/healthz`` serves; reads only what the loop recorded in memory."""
        return health.evaluate(
            datetime.now(UTC),
            started_at=self.started_at,
            heartbeat_at=self.heartbeat_at,
            heartbeat_error=self.heartbeat_error,
            last_poll_at=self.last_poll_at,
            feeds=self.feed_checks(),
        )

    def _start_http(self) -> None:
        """Start, move or stop the listener to match ``settings.http_port``.

        Raises :class:`health.ListenError` when the address cannot be bound."""
        settings = self.config.settings
        # ``is not None``: rules.yaml allows 1 to 65535, and tests pass 0 (the kernel's choice).
        port = settings.http_port
        want = (settings.http_host, port) if port is not None else None
        have = (self.http_server.host, self.http_server.port) if self.http_server else None
        if want == have:
            return
        if self.http_server is not None:
            self.http_server.stop()
            self.http_server = None
        if want is not None:
            server = health.HealthServer(*want, self.health, self.metrics)
            server.start()
            self.http_server = server

    async def poll_all(self, *, force: bool = True) -> list[PollOutcome]:
        """Poll every feed at once; with many feeds, a worker process shares the reading of
        their bodies (alerts.reader)."""
        config = self.config
        if len(config.feeds) >= reader.MIN_FEEDS and config.source and reader.enabled():
            self._reader = reader.Reader(config.source, config.path)  # started by a first body
        self._unchanged = []
        try:
            states = await self.db(self.store.feed_states)
            return list(
                await asyncio.gather(
                    *(self._poll_from(f, states.get(f.name), force) for f in config.feeds)
                )
            )
        finally:
            unchanged, self._unchanged = self._unchanged, None
            shared, self._reader = self._reader, None
            try:
                if unchanged:
                    await self.db(self.store.record_unchanged_many, unchanged)
            finally:
                if shared is not None:
                    await shared.close()
                    if shared.started:
                        log.debug(kv(event="reader_worker", feeds=shared.read_by_worker))

    # -- chats' preferences --

    def tz_name(self, chat: Chat | None) -> str:
        return (chat.timezone if chat else None) or self.config.settings.timezone

    def tz_for(self, chat: Chat | None) -> ZoneInfo:
        try:
            return ZoneInfo(self.tz_name(chat))
        except (ZoneInfoNotFoundError, ValueError):
            return self.config.settings.tz

    def schedule_for(self, chat: Chat | None) -> DigestSchedule:
        """The chat's own digest schedule, or the rules.yaml default."""
        if chat is not None and chat.digest_off:
            return DigestSchedule(off=True)
        if chat is not None and chat.digest_at:
            times = tuple(t for t in (parse_clock(a) for a in chat.digest_at) if t)
            return DigestSchedule(at=times)
        if chat is not None and chat.digest_every:
            return DigestSchedule(every=float(chat.digest_every))
        settings = self.config.settings
        if settings.digest_at:
            return DigestSchedule(at=settings.digest_at)
        return DigestSchedule(every=settings.digest_every or 3600.0)

    def next_digest_at(self, chat: Chat) -> datetime | None:
        """When the chat's next digest comes: its schedule's next time, or, when a pause or the
        quiet hours hold it then, when they end (what ``/list`` shows)."""
        last = chat.last_digest_at or chat.created_at or datetime.now(UTC)
        tz = self.tz_for(chat)
        when = next_digest(self.schedule_for(chat), last, tz)
        quiet = _quiet(chat)
        for _ in range(2):  # a pause may end in the quiet hours, and they at a pause's end
            if when is not None and chat.paused(when):
                when = chat.paused_until
            if when is not None and quiet and in_quiet(quiet, when, tz):
                when = quiet_end(quiet, when, tz)
        return when

    # -- delivery --

    def renderer(self, chat: Chat | None) -> digest.Renderer:
        """How messages to a chat are written: the sink's format, the chat's time zone."""
        hint = (
            "send /now to see them"
            if self.sink.format == "html"
            else "they come in the next digest"
        )
        return digest.Renderer(
            self.sink.format,
            self.config.rules,
            self.tz_for(chat),
            self.config.settings.digest_max,
            hint,
        )

    async def _compose(self, chat_id: int, urgent: bool) -> int:
        """Move what a chat is owed into the outbox as messages (alerts, edits and coverage in
        the urgent pass; the digest otherwise)."""
        chat = await self.db(self.store.chat, chat_id)
        ids = await self.db(
            self.store.compose,
            chat_id,
            urgent=urgent,
            renderer=self.renderer(chat),
            now=datetime.now(UTC),
            can_edit=getattr(self.sink, "can_edit", False),
        )
        return len(ids)

    async def send_alerts(self) -> int:
        """Queue every pending urgent report as an alert or an edit of one (paused chats
        wait), and send."""
        now = datetime.now(UTC)
        for chat_id in await self.db(self.store.chats_with_pending, True):
            chat = await self.db(self.store.chat, chat_id)
            if chat is not None and chat.paused(now):
                continue
            await self._compose(chat_id, urgent=True)
        return await self.flush()

    async def send_digests(self, chat_ids: list[int] | None = None) -> int:
        """Queue the pending digest of the given chats (default: all) now, whatever the schedule."""
        if chat_ids is None:
            chat_ids = await self.db(self.store.chats_with_pending, False)
        for chat_id in chat_ids:
            await self._compose(chat_id, urgent=False)
        return await self.flush()

    async def digest_now(self, chat_id: int) -> int:
        """``/now``: the chat's digest at once; returns how many messages it made. Urgent
        alerts a pause held come first, as they would have come without it."""
        made = await self._compose(chat_id, urgent=True)
        made += await self._compose(chat_id, urgent=False)
        await self.db(self.store.update_chat, chat_id, last_digest_at=datetime.now(UTC))
        await self.flush()
        return made

    async def digest_tick(self) -> None:
        """Send the digest of every chat whose schedule says so, unless quiet or paused."""
        now = datetime.now(UTC)
        due = []
        for chat in await self.db(self.store.active_chats):
            if chat.paused(now):
                continue
            tz = self.tz_for(chat)
            last = chat.last_digest_at or chat.created_at or now
            if not digest_due(self.schedule_for(chat), last, now, tz):
                continue
            if in_quiet(_quiet(chat), now, tz):
                continue  # the digest waits for the end of the quiet hours
            due.append(chat.id)
        # Alerts held by a pause that has just ended go out now, and before any digest: urgent
        # news first, as it would have come without the pause.
        await self.send_alerts()
        for chat_id in due:
            await self._compose(chat_id, urgent=False)
            await self.db(self.store.update_chat, chat_id, last_digest_at=now)
        if due:
            await self.flush()

    async def flush(self) -> int:
        """Send what the outbox holds: chats in parallel, each chat's messages in order.

        A chat is sent to by one flush at a time (two would both read its unsent rows and send
        them twice); a flush leaves the chats another is sending to, which reads what is due
        again when it is done. So a chat that Telegram told to wait (429, retry_after) holds
        up its own messages only: a flush for a new urgent alert serves the other chats.
        """
        sent = 0
        while True:
            async with self._send_lock:
                batch = await self.db(self.store.due, datetime.now(UTC), 1000)
                by_chat: dict[int, list[Outgoing]] = {}
                for msg in batch:
                    if msg.chat_id not in self._sending:
                        by_chat.setdefault(msg.chat_id, []).append(msg)
                self._sending.update(by_chat)
            if not by_chat:
                return sent
            slots = asyncio.Semaphore(SEND_CONCURRENCY)
            counts = await asyncio.gather(
                *(self._send_chat(chat_id, msgs, slots) for chat_id, msgs in by_chat.items())
            )
            sent += sum(counts)
            if not sum(counts):
                return sent

    async def _send_chat(self, chat_id: int, msgs: list[Outgoing], slots: asyncio.Semaphore) -> int:
        """Send one chat's messages in order; stop at the first that must wait. The chat is
        another flush's to send to again as soon as this is done."""
        try:
            async with slots:
                return await self._send_in_order(msgs)
        finally:
            self._sending.discard(chat_id)

    async def _send_in_order(self, msgs: list[Outgoing]) -> int:
        sent = 0
        for msg in msgs:
            outcome = await self._send_one(msg)
            if outcome == "sent":
                sent += 1
            elif outcome == "skip":
                continue
            else:
                break
        return sent

    async def _send_one(self, msg: Outgoing) -> str:
        """Deliver one message, handling each kind of refusal; returns sent, skip or stop."""
        for _attempt in range(5):
            try:
                message_id = await self.sink.send(msg)
            except sinks.EditImpossible as exc:
                # The alert is gone or will not change: its new links go another way (the next
                # digest, or a message of their own for a chat that takes no digests).
                log.warning(
                    kv(event="edit_refused", chat=msg.chat_id, outbox=msg.id, error=str(exc))
                )
                chat_id = await self.db(self.store.edit_failed, msg.id, str(exc), datetime.now(UTC))
                self.metrics.messages.labels(msg.kind, "failed").inc()
                await self._compose(chat_id, urgent=True)
                return "skip"
            except sinks.RetryAfter as exc:
                # Flood control: wait as told and send the same message again; nothing dropped.
                self.metrics.messages.labels(msg.kind, "retried").inc()
                log.warning(kv(event="rate_limited", chat=msg.chat_id, retry_after=exc.seconds))
                await asyncio.sleep(exc.seconds)
                continue
            except sinks.ChatMoved as exc:
                log.info(kv(event="chat_migrated", chat=msg.chat_id, new_chat=exc.new_id))
                await self.db(self.store.migrate_chat, msg.chat_id, exc.new_id)
                msg = replace(msg, chat_id=exc.new_id)
                continue
            except sinks.ChatGone as exc:
                self.metrics.messages.labels(msg.kind, "failed").inc()
                log.warning(kv(event="chat_gone", chat=msg.chat_id, reason=str(exc)))
                await self.db(self.store.deactivate_chat, msg.chat_id, str(exc), datetime.now(UTC))
                return "stop"
            except sinks.BadMarkup as exc:
                log.error(kv(event="bad_html", chat=msg.chat_id, outbox=msg.id, error=str(exc)))
                text = digest.html_to_text(msg.body)
                await self.db(self.store.replace_body, msg.id, text, "text")
                msg = replace(msg, format="text", body=text)
                continue
            except sinks.Rejected as exc:
                log.error(
                    kv(event="send_rejected", chat=msg.chat_id, outbox=msg.id, error=str(exc))
                )
                await self.db(self.store.give_up, msg.id, str(exc), datetime.now(UTC))
                self.metrics.messages.labels(msg.kind, "failed").inc()
                return "skip"
            except Exception as exc:  # network trouble, 5xx, anything unexpected: retry later
                delay = min(30.0 * 2**msg.attempts, SEND_RETRY_MAX) * random.uniform(0.8, 1.2)
                log.warning(
                    kv(
                        event="send_failed",
                        chat=msg.chat_id,
                        outbox=msg.id,
                        error=f"{type(exc).__name__}: {exc}",
                        retry_in=f"{delay:.0f}s",
                    )
                )
                await self.db(
                    self.store.mark_failed,
                    msg.id,
                    str(exc),
                    datetime.now(UTC) + timedelta(seconds=delay),
                )
                self.metrics.messages.labels(msg.kind, "retried").inc()
                return "stop"
            await self.db(self.store.mark_sent, msg.id, datetime.now(UTC), message_id)
            self.metrics.messages.labels(msg.kind, "sent").inc()
            return "sent"
        return "stop"

    async def notify_operators(self, text: str) -> None:
        """A plain-text notice to every operator, through the outbox (so it survives a crash)."""
        if self.sink.format != "html":
            return  # on the console the log line already says it
        now = datetime.now(UTC)
        for operator in self.config.settings.operators:
            await self.db(self.store.notice, operator, text, now)
        await self.flush()

    async def prune(self) -> None:
        removed = await self.db(
            self.store.prune,
            self.config.settings.keep_days,
            datetime.now(UTC),
            [feed.name for feed in self.config.feeds],
        )
        if removed:
            log.info(kv(event="pruned", items=removed))

    # -- rules file --

    async def reload(self, *, force: bool = False, notify: bool = True) -> tuple[bool, str]:
        """Re-read the rules file; on any problem keep running on the last good rules."""
        path = self.config.path
        text = await asyncio.to_thread(_read_bytes, path)
        if not force and (text == self._rules_text or text == self._rules_failed):
            return True, "unchanged"
        try:
            config = await asyncio.to_thread(load, path)
        except ConfigError as exc:
            self._rules_failed = text
            for problem in exc.problems:
                log.error(kv(event="rules_invalid", problem=problem))
            message = (
                f"{path} was not loaded; the bot keeps running on the last good rules.\n"
                + "\n".join(exc.problems)
            )
            if notify:
                await self.notify_operators(message)
            return False, message
        self._rules_text, self._rules_failed = text, None
        await self._apply(config)
        message = f"Reloaded: {config.summary()}"
        log.info(kv(event="rules_reloaded", summary=config.summary()))
        if notify:
            await self.notify_operators(message)
        return True, message

    async def watch_rules(self) -> None:
        """Notice an edited rules file within seconds (cheap: a stat, then a read on change).

        A change is loaded once the file has stayed the same for a second, so a file caught
        half-written by an editor or a deploy script is not reported as broken.
        """
        try:
            st = self.config.path.stat()
            seen = (st.st_mtime_ns, st.st_size)
        except OSError:
            seen = None
        if seen != self._rules_seen:
            first = self._rules_seen is None and self._rules_changed_at is None
            self._rules_seen = seen
            self._rules_changed_at = None if first else time.monotonic()
            return
        if self._rules_changed_at is not None and time.monotonic() - self._rules_changed_at >= 1:
            self._rules_changed_at = None
            if seen is not None:
                await self.reload()

    async def _apply(self, config: Config) -> None:
        # what a poll job is made of: a new poll_every re-times every feed without its own
        old = {f.name: (f.location, self.config.poll_interval(f)) for f in self.config.feeds}
        self.config = config
        if self._scheduler is not None:
            new = {f.name: (f.location, config.poll_interval(f)) for f in config.feeds}
            for name in old.keys() - new.keys():
                with contextlib.suppress(Exception):
                    self._scheduler.remove_job(f"poll:{name}")
            for feed in config.feeds:
                if old.get(feed.name) != new[feed.name]:
                    self._add_poll_job(self._scheduler, feed, datetime.now(UTC))
            self._add_digest_job(self._scheduler)
        await self._sync_chats()
        if self._scheduler is not None:  # running: the listener follows settings.http_port
            try:
                self._start_http()
            except health.ListenError as exc:
                settings = config.settings
                log.error(
                    kv(
                        event="http_failed",
                        address=f"{settings.http_host}:{settings.http_port}",
                        error=str(exc),
                    )
                )

    # -- status --

    def _next_poll(self, feed: Feed, retry_at: datetime | None) -> datetime | None:
        job = self._scheduler.get_job(f"poll:{feed.name}") if self._scheduler else None
        nxt = job.next_run_time if job else None
        if retry_at and (nxt is None or retry_at > nxt):
            return retry_at
        return nxt

    async def status_html(self) -> str:
        """What /status shows operators: the bot, every feed's health, outbox, subscribers."""
        states = await self.db(self.store.feed_states)
        depth = await self.db(self.store.outbox_depth)
        subscribers = await self.db(self.store.subscriber_count)
        now = datetime.now(UTC)
        verdict = self.health()
        started = format_duration((now - self.started_at).total_seconds())
        bot = f"up {started}" if verdict.ok else "NOT HEALTHY: " + "; ".join(verdict.reasons)
        rows = []
        for feed in self.config.feeds:
            st = states.get(feed.name)
            nxt = self._next_poll(feed, parse_iso(st.retry_at)) if st else None
            rows.append(status.FeedRow(feed.name, st, nxt))
        picture = status.Picture(
            rows,
            depth,
            subscribers,
            len(self.config.rules),
            sum(1 for r in self.config.rules if r.urgent),
            bot,
        )
        return status.render(picture, now, self.config.settings.tz, as_html=True)

    # -- the service --

    async def once(self) -> list[PollOutcome]:
        """Poll every feed now, then deliver everything pending: alerts first, then the digest."""
        await self._sync_chats()  # a cron job's channels are settings.chats: nobody /starts
        await self.flush()  # whatever an earlier run left unconfirmed
        outcomes = await self.poll_all(force=True)
        self.settled = await self.settle()
        await self.db(self.store.forget_stories)  # not needed again in this run: free it
        await self.send_alerts()
        await self.send_digests()
        await self.prune()
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        await self.db(self.store.set_meta, last_once_at=stamp, last_poll_at=stamp)
        return outcomes

    async def _sync_chats(self) -> None:
        """Make the chats of settings.chats subscribers (Telegram only: the console is one)."""
        if self.sink.format == "html":
            await self.db(
                self.store.sync_configured,
                [(c.id, c.rules, c.topic) for c in self.config.settings.chats],
                datetime.now(UTC),
            )

    async def _tracked(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a scheduled job so that shutdown can let it finish instead of cancelling it."""
        task = asyncio.current_task()
        self._inflight.add(task)
        job = getattr(fn, "__name__", str(fn))
        try:
            await fn(*args)
        except asyncio.CancelledError:
            # Shutdown outlasted its grace (a long queue of paced sends): what was cut is in
            # the outbox or the feed state, and is done again at the next start. Said in one
            # line here, or the scheduler logs the cancellation as an error with a traceback.
            log.warning(kv(event="job_cut_at_shutdown", job=job))
        except Exception:
            log.exception(kv(event="job_failed", job=job))
        finally:
            self._inflight.discard(task)

    async def _poll_job(self, feed: Feed) -> None:
        # Look the feed up by name: a reload may have replaced it since the job was made.
        current = next((f for f in self.config.feeds if f.name == feed.name), None)
        if current is None:
            return
        outcome = await self.poll_feed(current)
        if outcome.result.matched:
            settled = await self.settle()
            if settled.queued:
                # Sent beside this job, not within it: a chat that Telegram told to wait (429)
                # would hold the feed's next poll, and every other chat's next alert with it.
                # Shutdown waits for it as for a job.
                task = asyncio.create_task(self._tracked(self.send_alerts))
                self._alerting.add(task)
                task.add_done_callback(self._alerting.discard)

    def _add_poll_job(self, scheduler: AsyncIOScheduler, feed: Feed, first: datetime) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        every = self.config.poll_interval(feed)
        scheduler.add_job(
            self._tracked,
            IntervalTrigger(seconds=every, jitter=min(every * 0.1, 30)),
            args=[self._poll_job, feed],
            id=f"poll:{feed.name}",
            name=f"poll {feed.name}",
            next_run_time=first,
            # A poll that could not start on time still runs (once) when the loop is free.
            misfire_grace_time=int(max(every, 60)),
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    def _add_digest_job(self, scheduler: AsyncIOScheduler) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        every = self.config.settings.digest_every
        tick = DIGEST_TICK if not every else max(1.0, min(DIGEST_TICK, every / 2))
        scheduler.add_job(
            self._tracked,
            IntervalTrigger(seconds=tick),
            args=[self.digest_tick],
            id="digest",
            name="digests",
            misfire_grace_time=3600,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        """Add every job. Grace times are set on purpose: APScheduler's default of one second
        silently drops a job whenever the loop is busy at the moment it falls due."""
        from apscheduler.triggers.interval import IntervalTrigger

        self._scheduler = scheduler
        now = datetime.now(UTC)
        for index, feed in enumerate(self.config.feeds):
            # Spread the first polls over a few seconds instead of a thundering herd.
            self._add_poll_job(scheduler, feed, now + timedelta(seconds=min(index * 0.2, 10)))
        self._add_digest_job(scheduler)
        for job_id, fn, seconds, grace in (
            ("outbox", self.flush, 30, 30),
            ("rules", self.watch_rules, 1, 10),
            ("prune", self.prune, 6 * 3600, 3600),
            ("heartbeat", self.heartbeat, health.HEARTBEAT_EVERY, 30),
        ):
            scheduler.add_job(
                self._tracked,
                IntervalTrigger(seconds=seconds),
                args=[fn],
                id=job_id,
                name=job_id,
                misfire_grace_time=grace,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        # Prune soon after start too, not only six hours in: a bot restarted more often than
        # that (deploys, crashes) would otherwise never prune, and its database would only grow.
        scheduler.modify_job("prune", next_run_time=now + timedelta(minutes=1))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until SIGTERM, SIGINT or ``stop`` is set; then finish cleanly."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        self._start_http()  # first: a port already taken is reported before anything runs
        if self.frontend is not None:
            await self.frontend.start()
        await self._sync_chats()
        await self.db(self.store.retry_now)
        await self.flush()  # whatever an earlier run left unconfirmed
        # Reports stored but not yet grouped when the bot last stopped (a kill -9 between the
        # two steps) are grouped and owed now.
        if (await self.settle()).queued:
            await self.send_alerts()
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        scheduler = AsyncIOScheduler(timezone=UTC)
        self.schedule(scheduler)
        await self.watch_rules()
        await self.heartbeat()
        scheduler.start()
        log.info(
            kv(
                event="started",
                feeds=len(self.config.feeds),
                rules=len(self.config.rules),
                sink=type(self.sink).__name__,
            )
        )
        try:
            await stop.wait()
        finally:
            # Pause first: shutting APScheduler's asyncio executor down cancels running jobs,
            # and a poll or send cut midway would be redone (harmlessly, needlessly) next start.
            scheduler.pause()
            if self._inflight:
                grace = self.config.settings.fetch_timeout + 5
                await asyncio.wait(set(self._inflight), timeout=grace)
            alerting = list(self._alerting)  # the scheduler cancels its own jobs; these are ours
            for task in alerting:
                task.cancel()
            await asyncio.gather(*alerting, return_exceptions=True)
            scheduler.shutdown(wait=False)
            if self.frontend is not None:
                await self.frontend.stop()
            if self.http_server is not None:
                self.http_server.stop()
                self.http_server = None
            with contextlib.suppress(Exception):
                stamp = datetime.now(UTC).isoformat(timespec="seconds")
                await self.db(self.store.set_meta, stopped_at=stamp)
            log.info(kv(event="stopped"))
