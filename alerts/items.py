"""Feed entries as typed items: plain text, safe links, UTC times and stable identities."""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from .text import plain, shorten, words

# Query parameters that only say where a click came from. Two links that differ only in these
# are the same article, so they are dropped before links are compared.
_TRACKING = {
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ocid",
    "cmpid",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
    "at_medium",
    "at_campaign",
    "ref_src",
    "ref",  # "?ref=aggregator", "?ref=rss"
    "_ga",
    "_gl",
    "smid",
    "cmp",
    "ito",
}
_TRACKING_PREFIXES = ("utm_",)
# Hosts whose article links are whole without their query: Google News names an article in its
# path and its edition in the query (hl, gl, ceid, oc), so two editions' feeds carry one
# article under two links.
_QUERY_FREE_HOSTS = frozenset({"news.google.com"})
# An absolute http(s) URL that urljoin() returns unchanged and safe_link() accepts: lower-case
# scheme, a plain host, a path from "/" and a non-empty query, no ";" (urljoin would split
# parameters off), no "#", no space or control character. A base URL urlparse() cannot reject.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9\-._~%!$&'()*+,=:@/]*)?"
    r"(?:\?[A-Za-z0-9\-._~%!$&'()*+,=:@/?]+)?"
)
_PLAIN_BASE = re.compile(r"[\x21-\x5a\x5c\x5e-\x7e]*")  # printable ASCII but "[" and "]"
_SUMMARY_LIMIT = 2000
_TITLE_LIMIT = 500


@dataclass(frozen=True)
class Item:
    """One entry of one feed, normalised for matching, storage and display."""

    feed: str
    guid: str
    title: str
    link: str | None
    summary: str
    published: datetime | None
    source: str | None = None
    """The outlet an aggregator's item is from (``<source>``), when the feed names it."""

    @property
    def canonical(self) -> str | None:
        return canonical_link(self.link) if self.link else None

    @property
    def text(self) -> str:
        """What rules match: the title and the summary."""
        return f"{self.title}\n{self.summary}"


def safe_link(url: object) -> str | None:
    """The link if it is an absolute http(s) URL; ``javascript:``, ``file:`` and the rest are dropped."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if " " in url:  # a CMS's file name with spaces: the URL a browser would send
        url = url.replace(" ", "%20")
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(c in url for c in "\x00\r\n\t"):
        return None
    return url


def canonical_link(url: str) -> str:
    """A link reduced to what identifies the article, for dedupe across feeds.

    Scheme and host are lower-cased, default ports, fragments and tracking parameters dropped and
    the remaining parameters sorted, so ``HTTPS://Example.org/a?utm_source=rss&b=1#top`` and
    ``https://example.org/a?b=1`` compare equal. A fragment with a digit is kept: it names one
    post of a live blog (``/live#post-102``), each an item of its own.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80 if scheme == "http" else 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING and not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    if host in _QUERY_FREE_HOSTS:
        query = []
    query.sort()
    path = parts.path or "/"
    fragment = parts.fragment if any(c.isdigit() for c in parts.fragment) else ""
    return urlunsplit((scheme, netloc, path, urlencode(query), fragment))


def _when(entry: dict, now: datetime) -> datetime | None:
    """The entry's time in UTC; None when missing or absurd (more than a day in the future).

    A time ahead of ``now`` (the fetch) by less than that is a site's clock or zone gone wrong
    (local time written as UTC): it is taken as ``now``, or the item would be shown at an hour
    still to come and sort first as the newest."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, OSError, TypeError):
                continue
            if when > now + timedelta(days=1):
                return None
            return min(when, now)
    return None


def _link(entry: dict, base: str | None) -> str | None:
    """The entry's link: a relative <link> is resolved against the feed's URL, but a guid that
    feedparser offers as the link counts only when it is itself an absolute URL. FeedBurner's
    ``origLink`` is the article itself, where ``link`` is its redirect."""
    original = safe_link(entry.get("feedburner_origlink"))
    if original:
        return original
    link = entry.get("link")
    if not isinstance(link, str):
        return None
    # Most links are plain absolute http(s) URLs, which joining and checking give back as they
    # are (stripped): the two URL parses per item are skipped for them. _link_general is the
    # definition; a test holds the two to the same result.
    stripped = link.strip()
    if _PLAIN_URL.fullmatch(stripped) and (not base or _PLAIN_BASE.fullmatch(base)):
        return stripped
    return _link_general(entry, base)


def _article(link: str | None) -> str | None:
    """The article a news search's click-through link leads to, where the link carries it:
    Bing News's ``apiclick.aspx?...&url=<the article>``. The article's own link is what a
    reader should open, and what tells two feeds' copies of it apart from other articles."""
    if link is None or "apiclick.aspx" not in link:
        return link
    parts = urlsplit(link)
    host = (parts.hostname or "").removeprefix("www.")
    if host != "bing.com" or not parts.path.endswith("/apiclick.aspx"):
        return link
    target = dict(parse_qsl(parts.query)).get("url")
    return safe_link(target) or link


def _link_general(entry: dict, base: str | None) -> str | None:
    link = entry.get("link")
    if not isinstance(link, str):
        return None
    from_guid = entry.get("guidislink") and not entry.get("links")
    if base and not from_guid:
        try:
            link = urljoin(base, link.strip())
        except ValueError:
            return None
    return safe_link(link)


def _without_end(text: str, end: str) -> str:
    """``text`` without ``end`` where it ends with it and has more."""
    if end.strip() and text.endswith(end) and len(text) > len(end):
        return text[: -len(end)].rstrip()
    return text


def _opens_with(full: str, excerpt: str) -> bool:
    """Whether an article opens with its excerpt: the excerpt's first eight words are in its
    first 600 characters (below a byline, whatever the apostrophes, spaces and case; not in a
    teaser of another article there), or the excerpt has no words."""
    from .teasers import cut_text  # here: few items have both

    head = words(excerpt[:200]).split()[:8]
    return not head or f" {' '.join(head)} " in words(cut_text(full[:600]))


def _title_from(summary: str) -> str:
    """A title for an untitled item (a Telegram channel's post): its text's first paragraph
    without what belongs to no one post ("Forwarded from ...", a channel's footer), cut to
    120 characters; a title is one line."""
    from .teasers import cut_text  # here: most items have a title

    return shorten((cut_text(summary) or summary).split("\n", 1)[0], 120)


def from_entry(
    feed: str,
    entry: dict,
    now: datetime | None = None,
    *,
    base: str | None = None,
    blurb: bool = False,
) -> Item | None:
    """Normalise a feedparser entry; None when it has nothing a reader could use.

    ``base`` is the URL the feed was fetched from, for relative links. ``blurb``: the entry's
    summary is the site's, which its other items share; its content alone is its text.
    """
    now = now or datetime.now(UTC)
    # The outlet an aggregator names (Google News's <source>): a title that ends with it
    # ("Glide bombs strike Sumy - Northern Ledger") is shown without it, the outlet apart, and
    # its name may name a city ("- Kyiv Post").
    source = _source_name(entry.get("source"))
    title = _without_end(plain(entry.get("title")), f" - {source}")[:_TITLE_LIMIT]
    raw = entry.get("summary")
    content = _content(entry)
    summary = shorten(plain(raw or content, paragraphs=True), _SUMMARY_LIMIT)
    # The item's text: its summary, or its content when that says more (a full article in
    # content:encoded beside its excerpt, as Miniflux reads it). A summary that is not the
    # article's opening (a standfirst: the news, where the article may open with background)
    # comes first. The summary alone still makes the id below.
    text = summary
    if raw and content and content != raw:
        full = plain(content, paragraphs=True)
        if len(full) > len(summary) or blurb:
            if not blurb and not _opens_with(full, summary):
                full = f"{summary}\n{full}"
            text = shorten(full, _SUMMARY_LIMIT)
    # Google News's item one outlet carries: "<a>Headline</a>&nbsp;&nbsp;<font>Outlet</font>"
    text = _without_end(text, source)
    raw_link = _link(entry, base)
    link = _article(raw_link)
    if not title and not text:
        return None
    # The title an untitled item had before it was titled by its first paragraph: its id
    # (below) is made of it, so that an item without guid or link keeps the id it was stored
    # under, and is not delivered again.
    id_title = title or shorten(summary, 120)
    if not title:
        title = _title_from(text)
    guid = entry.get("id") or entry.get("guid")
    if not isinstance(guid, str) or not guid.strip():
        # Of the summary as one line, as it was read before paragraphs were kept.
        one_line = summary.replace("\n", " ")
        guid = raw_link or "sha1:" + hashlib.sha1(f"{id_title}\n{one_line}".encode()).hexdigest()
    outlet = shorten(source or _source_name({"title": entry.get("news_source")}), 100) or None
    return Item(feed, guid.strip()[:1000], title, link, text, _when(entry, now), outlet)


def _source_name(source: object) -> str:
    """The name of the item's ``<source>`` outlet (Bing News writes ``<News:Source>``), as a
    line of plain text; empty when it has none."""
    name = source.get("title") if isinstance(source, dict) else None
    return plain(name) if isinstance(name, str) else ""


def _content(entry: dict) -> str | None:
    """The markup of an entry's full content (content:encoded, Atom's ``content``), if any."""
    content = entry.get("content")
    if not content or not isinstance(content, list) or not isinstance(content[0], dict):
        return None
    value = content[0].get("value")
    return value if isinstance(value, str) else None
