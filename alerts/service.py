"""The pipeline in motion: fetch -> parse -> normalise -> match -> store -> deliver.

The event loop only waits on I/O. Parsing and matching run in worker threads and every SQLite
call runs on the store's own single thread, so a slow disk or a large feed never delays a
scheduled digest or another feed's poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from . import digest, feeds
from .config import Config, Feed
from .logs import kv
from .store import IngestResult, Matched, Store, parse_iso

log = logging.getLogger("alerts")

FETCH_CONCURRENCY = 10
MAX_BACKOFF = 6 * 3600.0
SEND_RETRY_MAX = 15 * 60.0


class Sink(Protocol):
    """Where messages go. ``format`` is ``text`` or ``html``; ``send`` raises on failure."""

    format: str

    async def send(self, chat_id: int, body: str) -> None: ...


class ConsoleSink:
    """Prints each message to stdout; the destination when no Telegram token is set."""

    format = "text"

    def __init__(self, stream: Any = None):
        self.stream = stream

    async def send(self, chat_id: int, body: str) -> None:
        stream = self.stream or sys.stdout
        stream.write(body.rstrip("\n") + "\n\n")
        stream.flush()


@dataclass
class PollOutcome:
    feed: str
    ok: bool
    reason: str = ""
    skipped: bool = False
    unchanged: bool = False
    result: IngestResult = field(default_factory=IngestResult)


def backoff(interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures: doubling, jittered, capped."""
    base = min(interval * 2 ** max(failures - 1, 0), max(MAX_BACKOFF, interval))
    return base * random.uniform(0.9, 1.1)


class Service:
    """Owns the store thread, the HTTP client and the delivery lock for one config."""

    def __init__(self, config: Config, store: Store, sink: Sink):
        self.config = config
        self.store = store
        self.sink = sink
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._fetch_slots = asyncio.Semaphore(FETCH_CONCURRENCY)
        self._send_lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None
        self._inflight: set[asyncio.Task] = set()
        self.last_poll_at: datetime | None = None

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, lambda: fn(*args, **kwargs))

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = feeds.client(self.config.settings.fetch_timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._db_thread.shutdown(wait=True)

    # -- polling --

    async def poll_feed(self, feed: Feed, *, force: bool = False) -> PollOutcome:
        """Poll one feed; failures are recorded and logged, never raised."""
        now = datetime.now(UTC)
        state = await self.db(self.store.feed_state, feed.name)
        if not force and state and state.retry_at and parse_iso(state.retry_at) > now:
            return PollOutcome(feed.name, ok=False, skipped=True, reason=state.last_error or "")
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
                await self.db(
                    self.store.record_unchanged,
                    feed.name,
                    feed.url,
                    now,
                    fetched.etag,
                    fetched.last_modified,
                )
                self.last_poll_at = now
                return PollOutcome(feed.name, ok=True, unchanged=True)
            parsed = await asyncio.to_thread(feeds.parse, feed.name, fetched, now)
        except feeds.FetchError as exc:
            return await self._failed(feed, str(exc))
        except Exception as exc:  # a bug or a hostile feed must not stop the other feeds
            log.exception(kv(event="poll_crashed", feed=feed.name))
            return await self._failed(feed, f"internal error: {type(exc).__name__}: {exc}")

        guids = [item.guid for item in parsed.items]
        known = await self.db(self.store.known_guids, feed.name, guids)
        fresh = [item for item in parsed.items if item.guid not in known]
        matcher = self.config.matcher

        def match_all() -> list[Matched]:
            out = []
            for item in fresh:
                m = matcher.match(item.text)
                out.append(Matched(item, m.rules, m.regions))
            return out

        matched = await asyncio.to_thread(match_all) if fresh else []
        first_poll = state is None or state.first_polled_at is None
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
            backfill_before=now - timedelta(seconds=settings.backfill) if first_poll else None,
            urgent_rules=frozenset(r.id for r in self.config.rules if r.urgent),
        )
        self.last_poll_at = now
        log.info(
            kv(
                event="polled",
                feed=feed.name,
                items=len(parsed.items),
                new=result.new,
                matched=result.matched,
                urgent=result.urgent,
                backfilled=result.backfilled,
                duplicates=result.duplicates,
            )
        )
        return PollOutcome(feed.name, ok=True, result=result)

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
        log.warning(kv(event="feed_failed", feed=feed.name, reason=reason, failures=failures))
        return PollOutcome(feed.name, ok=False, reason=reason)

    async def poll_all(self, *, force: bool = True) -> list[PollOutcome]:
        return list(
            await asyncio.gather(*(self.poll_feed(f, force=force) for f in self.config.feeds))
        )

    # -- delivery --

    def _renderers(self):
        if self.sink.format == "html":
            return digest.alerts_html, digest.digest_html
        return digest.alerts_text, digest.digest_text

    async def _compose(self, urgent: bool, chat_ids: list[int] | None = None) -> int:
        alerts, digests = self._renderers()
        render = alerts if urgent else digests
        rules, tz = self.config.rules, self.config.settings.tz
        targets = chat_ids
        if targets is None:
            targets = await self.db(self.store.chats_with_pending, urgent)
        made = 0
        for chat_id in targets:
            now = datetime.now(UTC)
            ids = await self.db(
                self.store.compose,
                chat_id,
                urgent=urgent,
                kind="alert" if urgent else "digest",
                fmt=self.sink.format,
                render=lambda entries, now=now: render(entries, rules, tz, now),
                now=now,
            )
            made += len(ids)
        return made

    async def send_alerts(self) -> int:
        """Queue every pending urgent item as an alert and send the outbox."""
        await self._compose(urgent=True)
        return await self.flush()

    async def send_digests(self, chat_ids: list[int] | None = None) -> int:
        """Queue each chat's pending digest and send the outbox."""
        await self._compose(urgent=False, chat_ids=chat_ids)
        return await self.flush()

    async def flush(self) -> int:
        """Send what the outbox holds, oldest first; a failed message stays for a later retry.

        One flush at a time: two concurrent flushes would both read the same unsent row.
        """
        sent = 0
        async with self._send_lock:
            while True:
                batch = await self.db(self.store.due, datetime.now(UTC))
                if not batch:
                    return sent
                progress = False
                for msg in batch:
                    try:
                        await self.sink.send(msg.chat_id, msg.body)
                    except Exception as exc:
                        delay = min(30.0 * 2**msg.attempts, SEND_RETRY_MAX)
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
                        continue
                    await self.db(self.store.mark_sent, msg.id, datetime.now(UTC))
                    sent += 1
                    progress = True
                if not progress:
                    return sent

    async def prune(self) -> None:
        removed = await self.db(self.store.prune, self.config.settings.keep_days, datetime.now(UTC))
        if removed:
            log.info(kv(event="pruned", items=removed))

    # -- the service --

    async def once(self) -> list[PollOutcome]:
        """Poll every feed now, then deliver everything pending: alerts first, then the digest."""
        await self.flush()  # whatever an earlier run left unconfirmed
        outcomes = await self.poll_all(force=True)
        await self.send_alerts()
        await self.send_digests()
        await self.prune()
        return outcomes

    async def _tracked(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a scheduled job so that shutdown can let it finish instead of cancelling it."""
        task = asyncio.current_task()
        self._inflight.add(task)
        try:
            await fn(*args)
        except Exception:
            log.exception(kv(event="job_failed", job=getattr(fn, "__name__", str(fn))))
        finally:
            self._inflight.discard(task)

    async def _poll_job(self, feed: Feed) -> None:
        outcome = await self.poll_feed(feed)
        if outcome.result.urgent:
            await self.send_alerts()

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        """Add every job. Grace times are set on purpose: APScheduler's default of one second
        silently drops a digest whenever the loop is busy at the moment it falls due."""
        settings = self.config.settings
        now = datetime.now(UTC)
        for index, feed in enumerate(self.config.feeds):
            every = self.config.poll_interval(feed)
            scheduler.add_job(
                self._tracked,
                IntervalTrigger(seconds=every, jitter=min(every * 0.1, 30)),
                args=[self._poll_job, feed],
                id=f"poll:{feed.name}",
                name=f"poll {feed.name}",
                # Spread the first polls over a few seconds instead of a thundering herd.
                next_run_time=now + timedelta(seconds=min(index * 0.2, 10)),
                misfire_grace_time=int(max(every, 60)),
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        if settings.digest_at:
            for at in settings.digest_at:
                scheduler.add_job(
                    self._tracked,
                    CronTrigger(hour=at.hour, minute=at.minute, timezone=settings.tz),
                    args=[self.send_digests],
                    id=f"digest:{at:%H:%M}",
                    name=f"digest at {at:%H:%M}",
                    misfire_grace_time=3600,
                    coalesce=True,
                    max_instances=1,
                    replace_existing=True,
                )
        else:
            scheduler.add_job(
                self._tracked,
                IntervalTrigger(seconds=settings.digest_every),
                args=[self.send_digests],
                id="digest:every",
                name="digest",
                misfire_grace_time=int(max(settings.digest_every, 60)),
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        scheduler.add_job(
            self.flush,
            IntervalTrigger(seconds=30),
            id="outbox",
            name="outbox retry",
            misfire_grace_time=30,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
        scheduler.add_job(
            self.prune,
            IntervalTrigger(hours=6),
            id="prune",
            name="retention",
            next_run_time=now + timedelta(minutes=1),
            misfire_grace_time=3600,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until SIGTERM, SIGINT or ``stop`` is set; then finish cleanly."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await self.flush()
        scheduler = AsyncIOScheduler(timezone=UTC)
        self.schedule(scheduler)
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
            scheduler.shutdown(wait=False)
            log.info(kv(event="stopped"))
