"""Shared test fixtures: a real HTTP feed server on 127.0.0.1 and a way to run the bot's CLI."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Material shared with the project (feedparser's test feeds): beside the checkout, or where the
# workplace keeps it when CI clones the project somewhere else; SHARED_DIR overrides both.
SHARED = next(
    (
        p
        for p in (
            Path(os.environ["SHARED_DIR"]) if os.environ.get("SHARED_DIR") else None,
            ROOT.parent / "shared",
            Path("/work/shared"),
        )
        if p is not None and p.is_dir()
    ),
    ROOT.parent / "shared",
)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # when set, answers 304 to a matching If-None-Match
    drip: float = 0.0  # seconds between single bytes: a server that never quite finishes
    # When set, answers the request all by itself (status line, headers, body, or nothing at
    # all): for servers that misbehave below the level of a well-formed answer.
    raw: Callable[[BaseHTTPRequestHandler], None] | None = None


class FeedServer:
    """Serves feeds over real HTTP; tests change routes between polls and read the request log."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.connections: set[tuple[str, int]] = set()  # the clients' addresses: one a connection
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers)))
                server.connections.add(self.client_address)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.raw is not None:
                    self.close_connection = True
                    route.raw(self)
                    return
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(route.status)
                headers = {"Content-Type": "application/rss+xml; charset=utf-8", **route.headers}
                if route.etag:
                    headers["ETag"] = route.etag
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if route.drip:
                    try:
                        for i in range(len(route.body)):
                            self.wfile.write(route.body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(route.drip)
                    except OSError:
                        pass
                    return
                with contextlib.suppress(OSError):
                    self.wfile.write(route.body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that hung up on a slow or huge answer is the point of the test

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes | str, **kwargs: object) -> str:
        if isinstance(body, str):
            body = body.encode()
        self.routes[path] = Route(body=body, **kwargs)
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


@pytest.fixture
def fake():
    """A local Telegram Bot API server, in a thread of its own."""
    from .fake_telegram import FakeTelegram

    server = FakeTelegram().start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def rss(*items: dict, title: str = "Test feed") -> str:
    """An RSS 2.0 document; each item dict may have title, link, guid, description, date."""
    parts = []
    for item in items:
        fields = []
        if "title" in item:
            fields.append(f"<title>{escape(item['title'])}</title>")
        if item.get("link"):
            fields.append(f"<link>{escape(item['link'])}</link>")
        if item.get("guid"):
            fields.append(f'<guid isPermaLink="false">{escape(item["guid"])}</guid>')
        if "description" in item:
            fields.append(f"<description>{escape(item['description'])}</description>")
        if item.get("date"):
            fields.append(f"<pubDate>{format_datetime(item['date'])}</pubDate>")
        parts.append("<item>" + "".join(fields) + "</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.org/</link>"
        "<description>test</description>" + "".join(parts) + "</channel></rss>"
    )


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


RULES_HEADER = """\
settings:
  poll_every: 5m
  digest_every: 1h
  timezone: Europe/Kyiv
  backfill: 1d
  fetch_timeout: 5s
"""


def write_rules(
    path: Path, feeds: dict[str, str], rules: str, regions: str = "", settings: str = RULES_HEADER
) -> Path:
    """A rules file with the given feeds (name -> url) and YAML text for rules and regions."""
    lines = [settings.rstrip(), "feeds:"]
    for name, url in feeds.items():
        lines += [f"  - name: {name}", f"    url: {url}"]
    if regions:
        lines += ["regions:", regions.rstrip()]
    lines += ["rules:", rules.rstrip(), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bot(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``python bot.py ARGS`` as a user would, with no Telegram token unless given."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TELEGRAM_BOT_TOKEN", "RULES_FILE", "STATE_DIR", "LOG_LEVEL")
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def assert_worker_dies_with_parent(code: str, what: str) -> None:
    """Run ``code`` in a child process (it starts a worker and prints the worker's pid), kill
    the child with SIGKILL, and require the worker gone within 30 s: no orphan left behind."""
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        # Reap it if it is our grandchild turned zombie under init: only its absence counts.
        with open(f"/proc/{worker}/stat") as f:
            if f.read().split(") ")[1].startswith("Z"):
                return
        time.sleep(0.05)
    pytest.fail(f"the {what} outlived its parent by 30 s")
