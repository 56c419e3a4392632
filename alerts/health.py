"""Is the bot well? The verdict (a pure function) and the optional HTTP listener that serves it.

Healthy means the bot is doing its job, not merely that the process exists: the scheduler
writes a heartbeat to SQLite every few seconds (which also proves the database is writable),
and at least one feed answered a poll successfully within its expected interval. A bot whose
every feed fails delivers nothing, so it is not healthy, however alive its loop is. ``/healthz``
answers from those facts in memory; ``bot.py status --check`` reads the same facts from the
database (the feeds' last successes, and the limits the running bot recorded), so a supervisor
that cannot reach the HTTP port (or an operator with only the state volume) gets the same
verdict.

The listener runs in a thread of its own, not in the event loop: if the loop is stuck, the
listener still answers, and answers 503 because the heartbeat has stopped.
"""

from __future__ import annotations

import json
import logging
import socketserver
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .durations import format_duration
from .logs import kv
from .metrics import CONTENT_TYPE, Metrics

log = logging.getLogger("alerts")

HEARTBEAT_EVERY = 10.0
"""Seconds between heartbeats."""
HEARTBEAT_STALE = 60.0
"""A heartbeat older than this means the scheduler (or the database) is stuck."""


FEED_SLACK = 60.0
"""Seconds of slack on a feed's limit, for a busy machine (tests lower it)."""


def feed_limit(interval: float, fetch_timeout: float) -> float:
    """How old a feed's last successful poll may be while the feed counts as working: twice its
    poll interval (one poll may fail or run late), plus a fetch's deadline and some slack."""
    return 2 * interval + fetch_timeout + FEED_SLACK


@dataclass(frozen=True)
class FeedCheck:
    """One feed as the verdict sees it: when it last answered, and how old that may be."""

    name: str
    last_success_at: datetime | None
    limit: float  # seconds; see feed_limit


@dataclass(frozen=True)
class Health:
    ok: bool
    reasons: tuple[str, ...] = ()
    checks: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "fail",
            "reasons": list(self.reasons),
            "checks": self.checks,
        }


def evaluate(
    now: datetime,
    *,
    started_at: datetime,
    heartbeat_at: datetime | None,
    heartbeat_error: str | None,
    last_poll_at: datetime | None,
    feeds: Sequence[FeedCheck],
) -> Health:
    """The verdict from the recorded facts; every failing check gives a reason a person can act on.

    Healthy: the heartbeat is fresh, the database takes writes, and at least one feed was polled
    successfully within its limit. A bot that has just started is given the shortest feed limit
    to get there, so it is healthy before its first poll and not if no poll ever succeeds.
    """
    reasons = []
    if heartbeat_error:
        reasons.append(f"database not writable: {heartbeat_error}")
    beat_age = (now - (heartbeat_at or started_at)).total_seconds()
    if beat_age > HEARTBEAT_STALE:
        reasons.append(
            f"scheduler stalled: no heartbeat for {format_duration(beat_age)} "
            f"(expected every {format_duration(HEARTBEAT_EVERY)})"
        )
    answered = [(f, f.last_success_at) for f in feeds if f.last_success_at is not None]
    working = [f for f, when in answered if (now - when).total_seconds() <= f.limit]
    newest = max(answered, key=lambda pair: pair[1], default=None)
    young = feeds and (now - started_at).total_seconds() <= min(f.limit for f in feeds)
    if feeds and not working and not young:
        if newest is not None:
            age = format_duration((now - newest[1]).total_seconds())
            last = f"the last success was {newest[0].name}, {age} ago"
        else:
            last = "none has ever answered"
        reasons.append(
            f"no feed polled successfully within its expected interval "
            f"(0 of {len(feeds)} working; {last})"
        )
    checks: dict[str, object] = {
        "started_at": _iso(started_at),
        "heartbeat_at": _iso(heartbeat_at),
        "last_poll_at": _iso(last_poll_at),
        "last_success_at": _iso(newest[1] if newest else None),
        "feeds": len(feeds),
        "feeds_working": len(working),
        "database": heartbeat_error or "writable",
    }
    return Health(not reasons, tuple(reasons), checks)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None


class ListenError(Exception):
    """The listener could not start; ``str()`` says where and why, for the operator."""


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (scrapes every 15 s would drown the events) and a read timeout,
    so a client that connects and says nothing does not hold a thread for ever."""

    timeout = 10

    def log_message(self, format: str, *args: object) -> None:
        pass


class HealthServer:
    """``/healthz`` and ``/metrics`` over HTTP, from a thread of its own."""

    def __init__(
        self, host: str, port: int, health: Callable[[], Health], metrics: Metrics
    ) -> None:
        self.host, self.port = host, port
        self.health = health
        self.metrics = metrics
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens; with port 0 the kernel's choice."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Listen, or raise :class:`ListenError` (address in use, no such host)."""
        try:
            self._server = make_server(
                self.host, self.port, self._app, server_class=_Server, handler_class=_QuietHandler
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ListenError(
                f"settings: http_port: cannot listen on {self.host}:{self.port}: {reason}"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http", kwargs={"poll_interval": 0.5}
        )
        self._thread.daemon = True
        self._thread.start()
        host, port = self.address
        log.info(kv(event="http_listening", url=f"http://{host}:{port}/healthz"))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _app(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if method not in ("GET", "HEAD"):
            return _respond(start_response, "405 Method Not Allowed", b"GET only\n", allow="GET")
        if path == "/healthz":
            try:
                verdict = self.health()
            except Exception as exc:  # a bug in the check is itself a reason to be unhealthy
                verdict = Health(False, (f"health check failed: {type(exc).__name__}: {exc}",))
            body = json.dumps(verdict.as_json(), indent=2).encode() + b"\n"
            status = "200 OK" if verdict.ok else "503 Service Unavailable"
            return _respond(start_response, status, body, "application/json")
        if path == "/metrics":
            return _respond(start_response, "200 OK", self.metrics.render(), CONTENT_TYPE)
        if path == "/":
            body = b"conflict-alerts: /healthz (liveness), /metrics (Prometheus)\n"
            return _respond(start_response, "200 OK", body)
        return _respond(start_response, "404 Not Found", b"not found; try /healthz or /metrics\n")


def _respond(
    start_response, status: str, body: bytes, content_type: str = "text/plain; charset=utf-8",
    **extra: str,
) -> list[bytes]:  # fmt: skip
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *((k.title(), v) for k, v in extra.items()),
    ]
    start_response(status, headers)
    return [body]
