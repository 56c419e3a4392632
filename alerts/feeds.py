"""Fetching feeds over HTTP with hard limits, and parsing the bytes into items.

feedparser is never given a URL: it has no timeout and no size limit. We fetch with httpx under
a whole-request deadline (httpx's own timeouts are per read, so a server dripping a byte a second
would never time out), decompress ourselves with a cap on the inflated size (a 1 MB gzip body
can inflate to gigabytes), and hand feedparser the bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx

from . import __version__
from .items import Item, from_entry

USER_AGENT = f"conflict-alerts/{__version__} (+https://github.com/conflict-alerts/conflict-alerts)"
MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
# A DOCTYPE with an internal subset is where entity tricks live (XXE, billion laughs, one big
# entity referenced thousands of times). Real feeds do not need one, so it is removed unread.
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)


class FetchError(Exception):
    """A feed could not be fetched or parsed; ``str()`` is the reason shown to operators."""


@dataclass
class Fetched:
    """The outcome of one request. ``body`` is None when the server answered 304 Not Modified."""

    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    url: str = ""

    @property
    def digest(self) -> str | None:
        return hashlib.sha256(self.body).hexdigest() if self.body is not None else None


@dataclass
class Parsed:
    """Items of a feed and how many entries were dropped for lack of any usable text."""

    items: list[Item] = field(default_factory=list)
    skipped: int = 0
    title: str = ""


def client(timeout: float = 30.0) -> httpx.AsyncClient:
    """The one HTTP client the bot uses for feeds: bounded redirects and connection pool."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        headers={"User-Agent": USER_AGENT},
    )


async def fetch(
    http: httpx.AsyncClient,
    location: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 30.0,
    max_bytes: int = MAX_BYTES,
) -> Fetched:
    """Fetch a feed from an http(s) URL or a local path, raising :class:`FetchError`."""
    if not location.startswith(("http://", "https://")):
        return await asyncio.to_thread(_read_file, location, max_bytes)
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8",
        # We decode ourselves so the inflated size can be capped; br and zstd are not offered.
        "Accept-Encoding": "gzip, deflate",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(timeout):
            async with http.stream("GET", location, headers=headers) as response:
                if response.status_code == 304:
                    return Fetched(None, etag, last_modified, url=str(response.url))
                if response.status_code >= 400:
                    raise FetchError(
                        f"HTTP {response.status_code} {response.reason_phrase}".strip()
                    )
                if response.status_code >= 300:
                    raise FetchError(f"HTTP {response.status_code} redirect without a location")
                body = await _read_body(response, max_bytes)
                return Fetched(
                    body,
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                    response.headers.get("Content-Type"),
                    str(response.url),
                )
    except TimeoutError:
        raise FetchError(f"no complete answer within {timeout:g}s") from None
    except httpx.TooManyRedirects:
        raise FetchError(f"more than {MAX_REDIRECTS} redirects") from None
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchError(_describe(exc)) from None


def _describe(exc: httpx.HTTPError) -> str:
    name = type(exc).__name__
    text = str(exc).strip()
    # httpx's messages repeat the class name or are empty; keep what reads as a reason.
    if not text:
        return {"ConnectError": "connection failed", "ReadTimeout": "read timed out"}.get(
            name, name
        )
    return f"{name}: {text}"[:300]


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    encoding = response.headers.get("Content-Encoding", "identity").lower().strip()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
    elif encoding in ("identity", ""):
        inflater = None
    else:
        raise FetchError(f"unsupported Content-Encoding {encoding!r}")
    declared = response.headers.get("Content-Length")
    if inflater is None and declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"response is {int(declared):,} bytes; the limit is {max_bytes:,}")
    out = bytearray()
    too_big = FetchError(f"response is larger than the limit of {max_bytes:,} bytes")
    async for raw in response.aiter_raw(_CHUNK):
        if inflater is None:
            out += raw
        else:
            data = raw
            while data:
                # max_length bounds each step, so a bomb never inflates past the cap in memory.
                try:
                    out += inflater.decompress(data, max_bytes + 1 - len(out))
                except zlib.error as exc:
                    raise FetchError(f"corrupt {encoding} body: {exc}") from None
                data = inflater.unconsumed_tail
                if len(out) > max_bytes:
                    raise too_big
        if len(out) > max_bytes:
            raise too_big
    return bytes(out)


def _read_file(path: str, max_bytes: int) -> Fetched:
    try:
        p = Path(path)
        size = p.stat().st_size
        if size > max_bytes:
            raise FetchError(f"file is {size:,} bytes; the limit is {max_bytes:,}")
        with p.open("rb") as f:
            body = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise FetchError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise FetchError(f"is a directory: {path}") from None
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    return Fetched(body, url=Path(path).as_uri())


def parse(feed_name: str, fetched: Fetched, now: datetime | None = None) -> Parsed:
    """Parse a fetched body into items, or raise :class:`FetchError` when it is not a feed."""
    body = fetched.body or b""
    if not body.strip():
        raise FetchError("empty response")
    head = body[:65536]
    if b"<!" in head:
        stripped = _DOCTYPE.sub(b"", head, count=1)
        body = stripped + body[65536:]
    headers = {"content-location": fetched.url} if fetched.url.startswith("http") else {}
    if fetched.content_type:
        headers["content-type"] = fetched.content_type
    try:
        result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as exc:  # feedparser is meant not to raise; a hostile body must not kill us.
        raise FetchError(f"unparseable feed: {type(exc).__name__}: {exc}") from None
    if not result.get("version") and not result.entries:
        reason = result.get("bozo_exception")
        detail = f": {str(reason)[:200]}" if reason else ""
        looks_html = b"<html" in head.lower()
        raise FetchError(("an HTML page, not a feed" if looks_html else "not a feed") + detail)
    now = now or datetime.now(UTC)
    parsed = Parsed(title=str(result.feed.get("title", ""))[:200])
    for entry in result.entries:
        item = from_entry(feed_name, entry, now)
        if item is None:
            parsed.skipped += 1
        else:
            parsed.items.append(item)
    return parsed
