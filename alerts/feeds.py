"""Fetching feeds over HTTP with hard limits, and parsing the bytes into items.

feedparser is never given a URL: it has no timeout and no size limit. We fetch with httpx under
a whole-request deadline (httpx's own timeouts are per read, so a server dripping a byte a second
would never time out), decompress ourselves with a cap on the inflated size (a 1 MB gzip body
can inflate to gigabytes), and hand feedparser the bytes.

Parsing is defended as well: the bytes are decoded to UTF-8 the way feedparser would decode them
(so a DOCTYPE cannot hide behind UTF-16 or UTF-7), every DOCTYPE is removed, and the markup of
each entry is cut to a size the text clean-up handles quickly, however hostile. Those bytes then
go to the fast reader (``fastfeed``: expat, as feedparser's strict parser, with no DTD, entity or
network handling at all), and to feedparser only when it declines them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import io
import itertools
import logging
import re
import stat
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from . import __version__
from .items import Item, from_entry
from .logs import kv

log = logging.getLogger("alerts")

USER_AGENT = f"conflict-alerts/{__version__} (+https://github.com/conflict-alerts/conflict-alerts)"
MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_INFLATE_STEP = 256 * 1024  # the most one decompression step may produce
# A DOCTYPE with an internal subset is where entity tricks live (XXE, billion laughs, one big
# entity referenced thousands of times, which feedparser's fallback parser expands into
# hundreds of megabytes). Real feeds do not need one, so every DOCTYPE is removed unread.
_DOCTYPE_OPEN = re.compile(rb"<!doctype", re.IGNORECASE)
# What can end a DOCTYPE, or hide a ">" or "]" from the scan: quoted literals, comments and
# processing instructions (inside the internal subset), and the subset's brackets.
# Runs are one token: quoted literals one after another are skipped together, and "]]]..."
# opens or closes the subset once, so a hostile run of a million costs one regex step instead
# of a million loop turns. A quote left without its closing one is a token of its own.
_DOCTYPE_TOKEN = re.compile(rb"""(?:"[^"]*"|'[^']*')+|["'>]|\[+|\]+|<!--|<\?""")
_DOCTYPE_PASSES = 3
# What the text clean-up of an entry (tags, comments, scripts) may be given. Titles are cut to
# 500 and summaries to 2000 characters of text afterwards anyway; the cap bounds the work a
# field full of unclosed "<!--" or "<?" costs, whatever the feed.
_TITLE_MARKUP = 4 * 1024
_TEXT_MARKUP = 16 * 1024
# A news item dated before this is a broken date, not an old item; it is treated as undated
# (an item from year 1 cannot even be shown in a time zone west of UTC).
_EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
# The last resorts of feedparser's decoding: when it falls back to these, the declared encoding
# failed, and a body that is mostly valid UTF-8 is better read as UTF-8 with a few U+FFFD.
_FALLBACK_ENCODINGS = ("windows-1252", "iso-8859-2")


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
    reader: str = "feedparser"  # or "fast": which parser read the feed (for tests and benches)


_PREPARED: list[tuple[threading.Thread, list[httpx.AsyncClient]]] = []


def prepare_client() -> None:
    """Start making the feeds' HTTP client on another thread, for :func:`client` to take.

    Making one loads the CA certificates, 60-80 ms that OpenSSL spends without the GIL: begun
    first thing, it is done while the bot reads its rules and opens its state, and a poll of
    unchanged feeds, a second or so in all, starts that much sooner."""
    made: list[httpx.AsyncClient] = []

    def make() -> None:
        # A failure is left for client(), which makes it again and raises it where it is seen.
        with contextlib.suppress(Exception):
            made.append(_client())

    thread = threading.Thread(target=make, name="http-client", daemon=True)
    thread.start()
    _PREPARED[:] = [(thread, made)]


def client(timeout: float = 30.0) -> httpx.AsyncClient:
    """The one HTTP client the bot uses for feeds: bounded redirects and connection pool (the
    one :func:`prepare_client` made, when it was called)."""
    if _PREPARED:
        thread, made = _PREPARED.pop()
        thread.join()
        if made:
            made[0].timeout = httpx.Timeout(timeout)
            return made[0]
    return _client(timeout)


def _client(timeout: float = 30.0) -> httpx.AsyncClient:
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
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.to_thread(_read_file, location, max_bytes)
        except TimeoutError:
            raise FetchError(f"no complete answer within {timeout:g}s") from None
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
                    # Read to its end (a 304 has no body): a response closed unread closes its
                    # connection, and the next feed of the host would pay for a new one.
                    await response.aread()
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


class _Inflater:
    """Decompresses a gzip or deflate body in bounded steps, never past ``max_bytes``.

    Each step produces at most ``_INFLATE_STEP`` bytes, so a bomb (1 MB on the wire, gigabytes
    inflated) is stopped as soon as the output passes the cap, having held little more than the
    cap in memory. Concatenated gzip members are all read, as gzip requires.
    """

    def __init__(self, encoding: str, max_bytes: int):
        self.encoding = encoding
        self.wbits = zlib.MAX_WBITS | 16 if encoding != "deflate" else zlib.MAX_WBITS
        self.max_bytes = max_bytes
        self.zlib = zlib.decompressobj(self.wbits)
        self.members = 1
        self.done = False

    def feed(self, data: bytes, out: bytearray) -> None:
        """Inflate ``data`` (b"" to drain pending output) onto ``out``."""
        while not self.done:
            try:
                chunk = self.zlib.decompress(data, _INFLATE_STEP)
            except zlib.error as exc:
                if self.members > 1:  # trailing garbage after a complete member: ignored
                    self.done = True
                    return
                raise FetchError(f"corrupt {self.encoding} body: {exc}") from None
            out += chunk
            if len(out) > self.max_bytes:
                raise _too_big(self.max_bytes)
            if self.zlib.eof:
                rest = self.zlib.unused_data
                if self.wbits == zlib.MAX_WBITS or not rest.strip(b"\0"):
                    # deflate has one stream; gzip may be padded with zeros: the rest is ignored
                    self.done = not rest or self.wbits == zlib.MAX_WBITS
                    return
                self.zlib = zlib.decompressobj(self.wbits)
                self.members += 1
                data = rest
                continue
            data = self.zlib.unconsumed_tail
            if not data and len(chunk) < _INFLATE_STEP:
                return  # all input consumed and no output pending


def _too_big(max_bytes: int) -> FetchError:
    return FetchError(f"response is larger than the limit of {max_bytes:,} bytes")


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    encoding = response.headers.get("Content-Encoding", "identity").lower().strip()
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater: _Inflater | None = _Inflater(encoding, max_bytes)
    elif encoding in ("identity", ""):
        inflater = None
    else:
        raise FetchError(f"unsupported Content-Encoding {encoding!r}")
    declared = response.headers.get("Content-Length", "").strip()
    if inflater is None and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"response is {int(declared):,} bytes; the limit is {max_bytes:,}")
    out = bytearray()
    async for raw in response.aiter_raw(_CHUNK):
        if inflater is None:
            out += raw
            if len(out) > max_bytes:
                raise _too_big(max_bytes)
        else:
            inflater.feed(raw, out)
    if inflater is not None:
        inflater.feed(b"", out)
    return bytes(out)


def _read_file(path: str, max_bytes: int) -> Fetched:
    try:
        p = Path(path)
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block, /dev/zero never end
            raise FetchError(f"not a regular file: {path}")
        if st.st_size > max_bytes:
            raise FetchError(f"file is {st.st_size:,} bytes; the limit is {max_bytes:,}")
        with p.open("rb") as f:
            body = f.read(max_bytes + 1)
        if len(body) > max_bytes:  # it grew since stat()
            raise FetchError(f"file is larger than the limit of {max_bytes:,} bytes")
    except FileNotFoundError:
        raise FetchError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise FetchError(f"is a directory: {path}") from None
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    return Fetched(body, url=Path(path).as_uri())


def _to_utf8(body: bytes, headers: dict[str, str]) -> bytes:
    """The body as UTF-8, decoded exactly as feedparser would decode it.

    feedparser honours BOMs, the XML declaration and the HTTP charset (UTF-16, UTF-32, UTF-7,
    EBCDIC...), and only then looks for a DOCTYPE. Looking for one in the raw bytes would miss
    ``+ADwAIQ-DOCTYPE`` in UTF-7 or ``<\0!\0D\0`` in UTF-16, so we decode first, the same way.
    """
    from feedparser.encodings import convert_to_utf8
    from feedparser.exceptions import CharacterEncodingOverride

    # Evidence feedparser weighs below a declaration or a header: a BOM, and bytes that are
    # valid multi-byte UTF-8 (which no Cyrillic or Latin one-byte text ever is). Outlets' CMSs
    # declare windows-1251 over UTF-8 bodies, or send a server's default charset.
    if body.startswith(b"\xef\xbb\xbf"):
        return _declared_utf8(body[3:].decode("utf-8", "replace").encode())
    if not body.isascii() and b"\x00" not in body[:4096]:  # not UTF-16 or UTF-32
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return _declared_utf8(body)
    seen: dict = {}
    try:
        data = convert_to_utf8(dict(headers), body, seen)
    except Exception:  # feedparser is meant not to raise; if it does, fall back to UTF-8
        data, seen = body, {}
    if not seen.get("encoding"):  # nothing worked: data is still the raw bytes
        return body.decode("utf-8", "replace").encode()
    if (
        isinstance(seen.get("bozo_exception"), CharacterEncodingOverride)
        and seen["encoding"] in _FALLBACK_ENCODINGS
    ):
        # The declared encoding (UTF-8, mostly) failed and feedparser fell back to a one-byte
        # code page, turning every Cyrillic word of the feed into mojibake because of one bad
        # byte. When most non-ASCII text is valid UTF-8, keep it, with U+FFFD for the bad bytes.
        text = body.decode("utf-8", "replace")
        bad = text.count("\ufffd")
        non_ascii = len(text) - len(text.encode("ascii", "ignore"))
        if non_ascii - bad > bad:
            return text.removeprefix("\ufeff").encode()
        # Not UTF-8 at all: a Cyrillic code page that nothing named (or that was named UTF-8)
        # reads as mojibake in the Western one feedparser falls back to.
        cyrillic = _cyrillic_code_page(body)
        if cyrillic:
            return _declared_utf8(body.decode(cyrillic, "replace").encode())
    return data


_DECLARATION = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([^"']*)""", re.IGNORECASE)


def _declared_utf8(data: bytes) -> bytes:
    """UTF-8 ``data`` whose XML declaration, if it names an encoding, names UTF-8."""
    return _DECLARATION.sub(rb"\1utf-8", data[:1024], count=1) + data[1024:]


def _cyrillic_code_page(body: bytes) -> str | None:
    """windows-1251 or koi8-u when the bytes read as Cyrillic words in one of them, else None.

    Cyrillic text is whole words of bytes above 0x7F, where Western text has one accented
    letter among ASCII ones; most letters are lower-case, which windows-1251 puts at
    0xE0-0xFF and KOI8 at 0xC0-0xDF."""
    sample = body[:65536]
    high = sum(1 for b in sample if b >= 0xC0)
    if high < 20:
        return None
    paired = sum(1 for a, b in itertools.pairwise(sample) if a >= 0xC0 and b >= 0xC0)
    if paired < high / 2:
        return None
    top = sum(1 for b in sample if b >= 0xE0)  # lower-case in windows-1251
    return "windows-1251" if top > high - top else "koi8-u"


def strip_doctype(data: bytes) -> bytes:
    """``data`` without any DOCTYPE declaration, wherever it is and whatever its form.

    Found case-insensitively anywhere (after comments or processing instructions, after a
    padding of any length, inside text), each declaration is removed up to its real end: quoted
    literals, comments and processing instructions are skipped, so a ``>`` or ``]`` inside an
    entity value does not end it early. The scan is linear (no backtracking). Removing one
    declaration could join the text around it into a new one (``<!DOC<!DOCTYPE a>TYPE``), so
    the result is checked again; an unterminated or endlessly nested DOCTYPE is refused.
    """
    for _ in range(_DOCTYPE_PASSES):
        match = _DOCTYPE_OPEN.search(data)
        if match is None:
            return data
        out = bytearray()
        pos = 0
        while match is not None:
            end = _doctype_end(data, match.end())
            if end < 0:
                raise FetchError("not a feed: a DOCTYPE declaration that never ends")
            out += data[pos : match.start()]
            pos = end
            match = _DOCTYPE_OPEN.search(data, pos)
        out += data[pos:]
        data = bytes(out)
    if _DOCTYPE_OPEN.search(data):
        raise FetchError("not a feed: DOCTYPE declarations nested inside each other")
    return data


def _doctype_end(data: bytes, pos: int) -> int:
    """Where the DOCTYPE whose name starts at ``pos`` ends (after its ``>``), or -1."""
    in_subset = False
    while True:
        token = _DOCTYPE_TOKEN.search(data, pos)
        if token is None:
            return -1
        text, pos = token.group(), token.end()
        if len(text) > 1 and text[:1] in b"\"'":
            continue  # quoted literals, whole
        if text in (b'"', b"'"):
            close = data.find(text, pos)
            if close < 0:
                return -1
            pos = close + 1
        elif text == b"<!--":
            close = data.find(b"-->", pos)
            if close < 0:
                return -1
            pos = close + 3
        elif text == b"<?":
            close = data.find(b"?>", pos)
            if close < 0:
                return -1
            pos = close + 2
        elif text[:1] == b"[":
            in_subset = True
        elif text[:1] == b"]":
            in_subset = False
        elif not in_subset:  # ">"
            return pos


def _trim_markup(entry: dict) -> None:
    """Cut an entry's title, summary and content to what the text clean-up needs."""
    for key, limit in (("title", _TITLE_MARKUP), ("summary", _TEXT_MARKUP)):
        value = entry.get(key)
        if isinstance(value, str) and len(value) > limit:
            entry[key] = _cut_markup(value, limit)
    for content in entry.get("content") or ():
        if isinstance(content, dict):
            value = content.get("value")
            if isinstance(value, str) and len(value) > _TEXT_MARKUP:
                content["value"] = _cut_markup(value, _TEXT_MARKUP)


def _cut_markup(value: str, limit: int) -> str:
    """The first ``limit`` characters of markup, less what the cut left open: a style sheet,
    a script or a comment without its end, or half a tag, which the clean-up would take for
    text (an alert's excerpt showed ".wp-block{margin:0 auto}" and "<img srcset=...").
    Linear: ``rfind`` and ``find`` only, however hostile the markup."""
    cut = value[:limit]
    low = cut.lower()
    for opener, closer in (("<script", "</script"), ("<style", "</style"), ("<!--", "-->")):
        start = low.rfind(opener)
        if start >= 0 and low.find(closer, start) < 0:
            cut, low = cut[:start], low[:start]
    start = cut.rfind("<")
    if start > cut.rfind(">"):
        cut = cut[:start]
    return cut


def _read(data: bytes, headers: dict[str, str], head: bytes, fast: bool) -> tuple:
    """(feed, entries, which reader) of a UTF-8 body without DOCTYPE; FetchError if no feed.

    The parsers are imported here, on the first body: a poll whose feeds are all unchanged
    (304) reads none, and importing them is 50 ms of its start."""
    import feedparser

    from . import dates, fastfeed  # noqa: F401  (dates registers its handler with feedparser)

    if fast:
        try:
            result = fastfeed.read(data)
        except fastfeed.Unsure:
            pass
        else:
            return result.feed, result.entries, "fast"
    try:
        parsed = feedparser.parse(
            io.BytesIO(data),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser is meant not to raise; a hostile body must not kill us.
        raise FetchError(f"unparseable feed: {type(exc).__name__}: {exc}") from None
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = f": {str(reason)[:200]}" if reason else ""
        looks_html = b"<html" in head.lower()
        raise FetchError(("an HTML page, not a feed" if looks_html else "not a feed") + detail)
    return parsed.feed, parsed.entries, "feedparser"


def _blurbs(entries: list) -> set[str]:
    """The descriptions that three items or more of a full-article feed share: the site's
    blurb ("Latest news from Ukraine and the world"), not any item's news (two may share a
    standfirst: an article and its update)."""
    counts: Counter[str] = Counter(
        summary
        for entry in entries
        if isinstance(summary := entry.get("summary"), str) and summary and entry.get("content")
    )
    return {summary for summary, count in counts.items() if count >= 3}


def parse(
    feed_name: str, fetched: Fetched, now: datetime | None = None, *, fast: bool = True
) -> Parsed:
    """Parse a fetched body into items, or raise :class:`FetchError` when it is not a feed.

    The common feed is read by :mod:`alerts.fastfeed`, which gives feedparser's own entries
    several times faster (``bench/parse.py``); whatever it is unsure of, feedparser reads.
    ``fast=False`` has feedparser read every feed: the reference the tests hold it to.
    """
    body = fetched.body or b""
    if not body.strip():
        raise FetchError("empty response")
    head = body[:65536]
    # No content-location: feedparser would resolve a guid such as "1" against it into a link
    # (http://host/1) that leads nowhere and makes two feeds of one host look like one article.
    # Relative <link>s are resolved against the feed's URL in from_entry instead.
    headers: dict[str, str] = {}
    base = fetched.url if fetched.url.startswith(("http://", "https://")) else None
    if fetched.content_type:
        headers["content-type"] = fetched.content_type
    data = strip_doctype(_to_utf8(body, headers))
    # The body is UTF-8 now, and says so. Feed HTML is never shown as HTML (items are reduced
    # to plain text, and everything is escaped on output), so feedparser's HTML sanitizer and
    # link resolution would be work for nothing; the sanitizer also has a quadratic regex that
    # one unclosed "<!--" followed by dashes turns into minutes of CPU.
    headers["content-type"] = "application/xml; charset=utf-8"
    feed, entries, reader = _read(data, headers, head, fast)
    now = now or datetime.now(UTC)
    parsed = Parsed(title=str(feed.get("title", ""))[:200], reader=reader)
    failed: Exception | None = None
    blurbs = _blurbs(entries)
    for entry in entries:
        try:
            _trim_markup(entry)
            blurb = bool(blurbs) and entry.get("summary") in blurbs
            item = from_entry(feed_name, entry, now, base=base, blurb=blurb)
        except Exception as exc:  # one odd entry must not cost the feed its other items
            failed = failed or exc
            item = None
        if item is None:
            parsed.skipped += 1
            continue
        if item.published is not None and item.published < _EARLIEST:
            item = dataclasses.replace(item, published=None)
        parsed.items.append(item)
    if failed is not None:
        log.warning(
            kv(event="entries_skipped", feed=feed_name, error=f"{type(failed).__name__}: {failed}")
        )
    return parsed
