"""The fast reader against feedparser: the same entries, or it declines and feedparser reads.

Two levels. Entries: wherever ``fastfeed.read`` accepts a document, every value the bot reads
from an entry (title, summary, content, link, links, id, guidislink, the three parsed dates)
and the feed's title must equal what ``feedparser.parse`` gives for the same bytes, and
feedparser must have used its strict parser (the reader follows the strict parser only).
Items: ``feeds.parse`` must give the same items, skip counts and errors whichever parser read
the feed. The documents are every file of feedparser's own test corpus, our sample feeds, the
feeds the other tests build, and a few thousand documents generated from the constructs feeds
combine (a seeded random mix, so a failure can be replayed).
"""

from __future__ import annotations

import io
import random
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import pytest

from alerts import fastfeed, feeds

from .conftest import ROOT, SHARED, rss

CORPUS = SHARED / "corpus" / "feedparser-tests"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _prepared(body: bytes, content_type: str | None = None) -> bytes | None:
    """The bytes feeds.parse hands either parser, or None when it refuses them before."""
    headers = {"content-type": content_type} if content_type else {}
    try:
        return feeds.strip_doctype(feeds._to_utf8(body, headers))
    except feeds.FetchError:
        return None


def _reference(data: bytes) -> feedparser.FeedParserDict:
    return feedparser.parse(
        io.BytesIO(data),
        response_headers={"content-type": "application/xml; charset=utf-8"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def _view(entry: dict) -> tuple:
    """Everything from_entry may read from an entry, read without feedparser's key aliases."""
    get = dict.get
    dates = [get(entry, k) for k in ("published_parsed", "updated_parsed", "created_parsed")]
    return (
        get(entry, "title"),
        get(entry, "summary"),
        [c.get("value") for c in get(entry, "content") or ()],
        get(entry, "link"),
        [(link.get("rel"), link.get("href")) for link in get(entry, "links") or ()],
        get(entry, "id"),
        get(entry, "guidislink"),
        [tuple(d) if d else d for d in dates],
    )


def _differ(data: bytes) -> str | None:
    """None if the fast reader declines or agrees with feedparser; else what differs."""
    try:
        fast = fastfeed.read(data)
    except fastfeed.Unsure:
        return None
    ref = _reference(data)
    if ref.bozo:
        return f"feedparser's strict parser failed: {ref.bozo_exception!r}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if dict.get(fast.feed, "title") != dict.get(ref.feed, "title"):
            return f"feed title {fast.feed.get('title')!r} != {ref.feed.get('title')!r}"
        if len(fast.entries) != len(ref.entries):
            return f"{len(fast.entries)} entries != {len(ref.entries)}"
        for n, (a, b) in enumerate(zip(fast.entries, ref.entries, strict=True)):
            if _view(a) != _view(b):
                return f"entry {n}:\n  fast       {_view(a)}\n  feedparser {_view(b)}"
    return None


def _items(body: bytes, fast: bool, url: str) -> tuple:
    try:
        parsed = feeds.parse("F", feeds.Fetched(body, url=url), NOW, fast=fast)
    except feeds.FetchError as exc:
        return ("error", str(exc)), "error"
    items = [(i.guid, i.title, i.link, i.summary, i.published) for i in parsed.items]
    return ("ok", parsed.title, parsed.skipped, items), parsed.reader


def _corpus_files() -> list[Path]:
    return [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.name != "LICENSE"]


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
def test_feedparser_corpus_reads_the_same_whichever_parser() -> None:
    files = _corpus_files()
    assert len(files) > 2000
    fast = 0
    failures = []
    for path in files:
        body = path.read_bytes()
        data = _prepared(body)
        if data is not None and (diff := _differ(data)):
            failures.append(f"{path.relative_to(CORPUS)}: {diff}")
            continue
        url = "https://news.example/feeds/" + path.name
        ours, reader = _items(body, True, url)
        reference, _ = _items(body, False, url)
        if ours != reference:
            failures.append(f"{path.relative_to(CORPUS)}: items\n  {ours}\n  {reference}")
        fast += reader == "fast"
    assert not failures, "\n".join(failures[:20])
    # The comparison means something only if the fast reader takes most of the corpus.
    assert fast > 1300, fast


def _our_feeds() -> list[tuple[str, bytes]]:
    samples = sorted((ROOT / "examples" / "feeds").glob("*.xml"))
    out = [(p.name, p.read_bytes()) for p in samples]
    now = datetime(2026, 11, 25, tzinfo=UTC)
    items = [
        {
            "title": f"Drone attack on Sumy overnight, {n} injured",
            "link": f"https://wire.example/news/{n}?utm_source=rss&id={n}",
            "guid": f"wire-{n}",
            "description": f"<p>Officials said <b>{n}</b> people were hurt&nbsp;&mdash; updated.</p>",
            "date": now - timedelta(minutes=7 * n),
        }
        for n in range(30)
    ]
    out.append(("built rss", rss(*items).encode()))
    out.append(
        ("built rss, bare items", rss({"title": "Only a title"}, {"description": "x"}).encode())
    )
    return out


@pytest.mark.parametrize(
    ("name", "body"), _our_feeds(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_our_feeds_are_read_fast_and_the_same(name: str, body: bytes) -> None:
    data = _prepared(body)
    assert data is not None
    assert _differ(data) is None
    url = "https://news.example/feed.xml"
    ours, reader = _items(body, True, url)
    assert reader == "fast", name
    assert ours == _items(body, False, url)[0]
    assert ours[0] == "ok" and ours[3]  # items were compared, not two empty lists


# --- generated documents --------------------------------------------------------------------

TEXTS = [
    "Convoy stopped near the border",
    "  Spaced \n\t out  ",
    "Café owners protest — “quotes” and ‘apostrophes’",
    "Обстріл Сумщини: пошкоджено лінію електропередач",
    "Ã©tÃ© mojibake",  # UTF-8 read as Latin-1: feedparser repairs it
    "&#150; en dash and &#128; euro as C1 code points &#8217;",
    "a &amp; b &lt;i&gt;escaped&lt;/i&gt; &quot;q&quot;",
    "<![CDATA[<p>Markup in <b>CDATA</b> &amp; an entity</p>]]>",
    "before<!-- a comment -->after",
    "",
    "   ",
    "&lt;p&gt;Looks like html&lt;/p&gt;",
    "x",
]
LINKS = [
    "https://news.example/a?x=1&amp;y=2",
    "/relative/path",
    "rel/path?q=1",
    "http:///triple.example/x",
    "javascript:alert(1)",
    "https://news.example/a?b&amp;c;d",
    "  https://pad.example/  ",
    "",
    "tag:news.example,2026:1",
]
DATES = [
    "Mon, 13 Oct 2025 10:20:30 +0000",
    "Tue, 14 Oct 2025 10:20:30 GMT",
    "13 Oct 2025 10:20 EST",
    "2025-10-13T10:20:30Z",
    "2025-10-13T10:20:30.5+03:00",
    "2025-10-13",
    "Tue, 32 Feb 2025 10:00:00 GMT",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "garbage",
    "",
]
NAMESPACES = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "media": "http://search.yahoo.com/mrss/",
    "atom": "http://www.w3.org/2005/Atom",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "x": "urn:example:unknown",
    "d": "http://purl.org/dc/elements/1.1/",  # a known namespace under another prefix
    "wfw": "http://wellformedweb.org/CommentAPI/",
}


def _attr(rnd: random.Random, name: str, values: list[str]) -> str:
    value = rnd.choice([None, *values])
    return "" if value is None else f' {name}="{value}"'


def _text(rnd: random.Random) -> str:
    return rnd.choice(TEXTS)


def _field(rnd: random.Random, atom: bool) -> str:
    """One child of an item or entry, from the constructs feeds combine."""
    t, a = _text, _attr
    kinds = [
        lambda: f"<title{a(rnd, 'type', ['html', 'text', 'text/plain', 'xhtml'])}>{t(rnd)}</title>",
        lambda: f"<Title>{t(rnd)}</Title>",
        lambda: f"<dc:title>{t(rnd)}</dc:title>",
        lambda: f"<d:title>{t(rnd)}</d:title>",
        lambda: f"<link>{rnd.choice(LINKS)}</link>",
        lambda: (
            f'<link href="{rnd.choice(LINKS)}"'
            + a(rnd, "rel", ["alternate", "self", "enclosure", "related", "ALTERNATE", ""])
            + a(rnd, "type", ["text/html", "application/pdf", "TEXT/HTML", "html"])
            + "/>"
        ),
        lambda: f'<atom:link href="{rnd.choice(LINKS)}"{a(rnd, "rel", ["alternate", "self"])}/>',
        lambda: f'<link url="{rnd.choice(LINKS)}">{rnd.choice(LINKS)}</link>',
        lambda: (
            f"<guid{a(rnd, 'isPermaLink', ['true', 'false', 'True'])}>{rnd.choice(LINKS)}</guid>"
        ),
        lambda: f"<guid>{t(rnd)}</guid>",
        lambda: f"<id>{rnd.choice(LINKS)}</id>",
        lambda: f"<description{a(rnd, 'type', ['html', 'text/plain'])}>{t(rnd)}</description>",
        lambda: f"<dc:description>{t(rnd)}</dc:description>",
        lambda: f"<summary{a(rnd, 'type', ['html', 'text', 'xhtml'])}>{t(rnd)}</summary>",
        lambda: (
            f"<content{a(rnd, 'type', ['html', 'text', 'text/markdown', 'application/octet-stream'])}"
            f"{a(rnd, 'mode', ['escaped', 'base64', 'xml'])}>{t(rnd)}</content>"
        ),
        lambda: f"<content:encoded>{t(rnd)}</content:encoded>",
        lambda: f"<pubDate>{rnd.choice(DATES)}</pubDate>",
        lambda: f"<published>{rnd.choice(DATES)}</published>",
        lambda: f"<updated>{rnd.choice(DATES)}</updated>",
        lambda: f"<dc:date>{rnd.choice(DATES)}</dc:date>",
        lambda: f"<dcterms:modified>{rnd.choice(DATES)}</dcterms:modified>",
        lambda: f"<dcterms:created>{rnd.choice(DATES)}</dcterms:created>",
        lambda: (lambda name: f"<{name}>{rnd.choice(DATES)}</{name}>")(
            rnd.choice(["issued", "modified", "created", "lastBuildDate"])
        ),
        lambda: f'<enclosure url="{rnd.choice(LINKS)}" type="audio/mpeg" length="1"/>',
        lambda: f'<source url="https://src.example/rss">{t(rnd)}</source>',
        lambda: f'<category domain="d">{t(rnd)}</category>',
        lambda: f'<category term="war" scheme="s" label="{escape(t(rnd))}"/>',
        lambda: f"<dc:subject>{t(rnd)}</dc:subject>",
        lambda: f"<author>{t(rnd)}</author>",
        lambda: (
            f"<author><name>{t(rnd)}</name><email>a@b.example</email>"
            f"<uri>{rnd.choice(LINKS)}</uri><x:avatar>1</x:avatar></author>"
        ),
        lambda: f"<dc:creator>{t(rnd)}</dc:creator>",
        lambda: f"<contributor><name>{t(rnd)}</name></contributor>",
        lambda: '<media:content url="https://img.example/1.jpg" medium="image"/>',
        lambda: (
            '<media:content url="https://img.example/2.jpg"><media:credit>Photo</media:credit>'
            '<media:thumbnail url="https://img.example/t.jpg"/></media:content>'
        ),
        lambda: (
            '<media:group><media:content url="u"/><media:keywords>a, b</media:keywords></media:group>'
        ),
        lambda: f'<media:thumbnail url="{rnd.choice(LINKS)}"/>',
        lambda: f'<media:content url="u"><media:title>{t(rnd)}</media:title></media:content>',
        lambda: (
            f'<media:content url="u"><media:description{a(rnd, "type", ["html", "plain"])}>'
            f"{t(rnd)}</media:description><media:credit>c</media:credit></media:content>"
        ),
        lambda: f"<media:group><media:title>{t(rnd)}</media:title></media:group>",
        lambda: f"<media:description>{t(rnd)}</media:description>",
        lambda: f"<media:title>{t(rnd)}</media:title>",
        lambda: f"<x:foo>{t(rnd)}</x:foo>",
        lambda: f'<x:foo bar="1">{t(rnd)}</x:foo>',
        lambda: f"<x:outer><x:inner>{t(rnd)}</x:inner></x:outer>",
        # feedparser counts xml:lang as an attribute: such an element is not pushed, and its
        # text joins that of the field around it
        lambda: f'<guid>g-<x:lang xml:lang="en">{t(rnd)}</x:lang></guid>',
        lambda: f'<x:lang xml:lang="uk">{t(rnd)}</x:lang>',
        lambda: '<item xml:lang="uk"/>',
        lambda: f"<comments>{rnd.choice(LINKS)}</comments>",
        lambda: (
            "<slash:comments>3</slash:comments><wfw:commentRss>https://c.example/</wfw:commentRss>"
        ),
        lambda: f"<rights>{t(rnd)}</rights>",
        lambda: f'<title xml:lang="uk">{t(rnd)}</title>',
        lambda: "<!-- a comment between fields -->",
        lambda: " \n ",
    ]
    # Constructs the reader declines, rarer so that most documents are read both ways.
    declined = [
        lambda: f"<x:outer><title>{t(rnd)}</title></x:outer>",
        lambda: f"<date>{rnd.choice(DATES)}</date>",
        lambda: "<links>nothing</links>",
        lambda: f"<itunes:summary>{t(rnd)}</itunes:summary>",
        lambda: f'<description xml:base="https://base.example/">{t(rnd)}</description>',
        lambda: f"<description><p>Unescaped {t(rnd)}</p></description>",
    ]
    return rnd.choice(declined if rnd.random() < 0.03 else kinds)()


def _document(rnd: random.Random) -> bytes:
    atom = rnd.random() < 0.35
    declared = {p: u for p, u in NAMESPACES.items() if rnd.random() < 0.99}
    decls = "".join(f' xmlns:{p}="{u}"' for p, u in declared.items())
    head = []
    for _ in range(rnd.randint(0, 5)):
        head.append(
            rnd.choice(
                [
                    f"<title>{_text(rnd)}</title>",
                    f"<link>{rnd.choice(LINKS)}</link>",
                    '<atom:link href="https://news.example/feed" rel="self"/>',
                    f"<description>{_text(rnd)}</description>",
                    f"<subtitle>{_text(rnd)}</subtitle>",
                    "<language>uk</language>",
                    f"<lastBuildDate>{rnd.choice(DATES)}</lastBuildDate>",
                    f"<image><url>https://img.example/l.png</url><title>{_text(rnd)}</title>"
                    f"<link>{rnd.choice(LINKS)}</link></image>",
                    f"<textInput><title>{_text(rnd)}</title><x:y/><title>t2</title></textInput>",
                    # an unprefixed element ends feedparser's image/textinput bookkeeping early
                    f"<image><url>u</url><foo>1</foo><title>{_text(rnd)}</title></image>",
                    f"<textInput><bar/><title>{_text(rnd)}</title></textInput>",
                    "<x:generic>1</x:generic>",
                    "<ttl>60</ttl><skipHours><hour>1</hour></skipHours>",
                    f"<id>{rnd.choice(LINKS)}</id>",
                    "<author><name>Desk</name></author>",
                    f"<dc:title>{_text(rnd)}</dc:title>",
                ]
            )
        )
    entries = []
    tag = "entry" if atom else "item"
    for _ in range(rnd.randint(1, 3)):
        fields = "".join(_field(rnd, atom) for _ in range(rnd.randint(1, 8)))
        lang = ' xml:lang="uk"' if rnd.random() < 0.1 else ""
        entries.append(f"<{tag}{lang}>{fields}</{tag}>")
    if rnd.random() < 0.5:  # the channel's own fields after the items, too
        entries.append(rnd.choice(head) if head else "")
    body = "".join(head) + "".join(entries)
    if atom:
        doc = f'<feed xmlns="http://www.w3.org/2005/Atom"{decls}>{body}</feed>'
    else:
        doc = f'<rss version="2.0"{decls}><channel>{body}</channel></rss>'
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + doc).encode()


def test_generated_feeds_read_the_same_whichever_parser() -> None:
    rnd = random.Random(20261125)
    fast = declined = 0
    failures = []
    for n in range(3000):
        body = _document(rnd)
        data = _prepared(body)
        assert data is not None
        try:
            fastfeed.read(data)
        except fastfeed.Unsure:
            declined += 1
            continue
        fast += 1
        if diff := _differ(data):
            failures.append(f"document {n}: {diff}\n{body.decode()}")
        elif n % 10 == 0:  # the items too, on a share of them (the entries decide the items)
            url = "https://news.example/feeds/rss.xml"
            if _items(body, True, url)[0] != _items(body, False, url)[0]:
                failures.append(f"document {n}: items differ\n{body.decode()}")
    assert not failures, "\n\n".join(failures[:5])
    assert fast > 600 and declined > 600, (fast, declined)  # both paths were exercised


# --- what makes the reader decline ----------------------------------------------------------


def _channel(items: str, decls: str = "", channel: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{decls}><channel>'
        f"<title>Wire</title>{channel}{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_channel("<item><title>Unclosed</item>"), "not well-formed"),
        (_channel("<item><title>&nbsp; undefined entity</title></item>"), "not well-formed"),
        (_channel('<item xml:base="https://b.example/"><title>t</title></item>'), "attribute"),
        (_channel('<item><link base="https://b.example/">a</link></item>'), "base attribute"),
        (_channel("<item><description><p>markup</p></description></item>"), "markup inside"),
        (
            _channel(
                "<item><itunes:summary>s</itunes:summary></item>",
                ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"',
            ),
            "itunes_summary",
        ),
        (_channel("", channel="<item><item><title>nested</title></item></item>"), "item"),
        (b'<rss version="2.0"><item><title>outside the channel</title></item></rss>', "item"),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml">'
            b'<div xmlns="http://www.w3.org/1999/xhtml">x</div></title></entry></feed>',
            "of type application/xhtml",
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry>'
            b'<content type="application/octet-stream">aGk=</content></entry></feed>',
            "application/octet-stream",
        ),
        (
            _channel('<item><x:a xmlns:x="urn:two">t</x:a></item>', ' xmlns:x="urn:one"'),
            "bound to two",
        ),
        (_channel("<item><date>Mon, 13 Oct 2025 10:20:30 GMT</date></item>"), "stored over"),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "root"),
        (b"<html><body>not a feed</body></html>", "root"),
        (_channel("<item>" + "<x>" * 150 + "deep" + "</x>" * 150 + "</item>"), "nested deeper"),
        (_channel("<item>" + "".join(f"<n{i}/>" for i in range(1100)) + "</item>"), "kinds of"),
    ],
)
def test_what_the_fast_reader_declines(body: bytes, reason: str) -> None:
    with pytest.raises(fastfeed.Unsure, match=reason):
        fastfeed.read(feeds.strip_doctype(body))
    ours, reader = _items(body, True, "https://news.example/f.xml")
    assert reader != "fast"
    assert ours == _items(body, False, "https://news.example/f.xml")[0]


def test_entity_tricks_never_reach_the_fast_reader_expanded(tmp_path) -> None:
    """Even handed a DOCTYPE directly (feeds.parse removes them first), it declines at once:
    nothing declared in it is expanded, nothing it names is read."""
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t")
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{lol}<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        '<rss version="2.0"><channel><item><title>&l9; &x;</title></item></channel></rss>'
    ).encode()
    started = time.monotonic()
    with pytest.raises(fastfeed.Unsure, match="DOCTYPE"):
        fastfeed.read(doc)
    assert time.monotonic() - started < 2  # milliseconds in fact: it stops at the DOCTYPE


def _hostile_bodies() -> list[tuple[str, bytes, str | None]]:
    """The bodies tests/test_hostile.py attacks the parser with (its builders, unchanged)."""
    from .test_hostile import ENCODINGS, _cases, _doctype_forms, _evil_feed, _payloads

    out = []
    payloads = _payloads(Path("/nonexistent/secret"))
    for form, payload, encoding in _cases():
        subset, refs = payloads[payload]
        body, content_type = ENCODINGS[encoding](_evil_feed(_doctype_forms()[form](subset), refs))
        out.append((f"{form}-{payload}-{encoding}", body, content_type))
    for pattern in ["<!--", "<?", "<![", "<script>", "<style ", "<b", "<a ", "<!--" + "-" * 1000]:
        markup = (pattern * (128 * 1024 // len(pattern) + 1))[: 128 * 1024]
        body = _evil_feed("", "x").replace("Officials said x", escape(markup)).encode()
        out.append((f"markup {pattern[:8]!r}", body, None))
    return out


def test_hostile_bodies_give_the_same_items_whichever_parser() -> None:
    """Entity tricks reach the reader without their DOCTYPE, as undefined references: it
    declines and feedparser reads them as before. Hostile markup inside a field is read fast,
    cut and cleaned as before. Either way the items are the ones feedparser's gave."""
    fast = 0
    for name, body, content_type in _hostile_bodies():
        results = []
        for use_fast in (True, False):
            fetched = feeds.Fetched(body, content_type=content_type)
            parsed = feeds.parse("Hostile", fetched, NOW, fast=use_fast)
            results.append(
                [(i.guid, i.title, i.link, i.summary, i.published) for i in parsed.items]
            )
            fast += parsed.reader == "fast"
        assert results[0] == results[1], name
    assert fast >= 8  # the markup bodies, at least, went the fast way
