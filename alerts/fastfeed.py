"""Reading the common feed quickly, with feedparser's own results, or declining to read it.

feedparser costs 10-16 ms for a 50-item feed on our machine: its strict parser is expat, but
every element then goes through a general state machine (namespace tables, content parameters deep-copied per
field, base URIs, languages, a dict subclass that remaps keys on every access). This module
replays the same state machine on the same parser (expat, fed the same bytes), for the elements
news feeds are made of: well-formed RSS 2.0 and Atom 1.0, their usual extensions (Dublin Core,
content:encoded, Media RSS, authors, categories, enclosures), and any element feedparser has no
handler for. Values go through feedparser's own date parser and URL joiner, so the entries it
returns are the ones feedparser would return, as far as the bot reads them (title, summary,
content, link, links, id, guidislink and the ``*_parsed`` dates).

Whenever a document steps outside what is modelled here, the reader raises :class:`Unsure` and
the caller lets feedparser read it: a document expat rejects (feedparser would then use its
loose parser), an element feedparser has a handler for that is not replayed here, an element
where one is not expected (children inside a text field, items outside the channel), base64 or
XHTML content, ``xml:base``, attributes in namespaces, prefixes bound twice. Declining costs at
most one pass of this reader (a tenth of feedparser's time); reading wrongly would change what
subscribers get, so every doubt declines. ``tests/test_fastfeed.py`` holds the reader to
feedparser on every file of feedparser's own test corpus, on our samples and on thousands of
generated documents.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from xml.parsers import expat

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import replace_doctype
from feedparser.urls import _urljoin
from feedparser.util import FeedParserDict


class Unsure(Exception):
    """The document is outside what this reader replays; feedparser must read it."""


@dataclass
class Feed:
    """What feedparser's result would hold, reduced to the parts the bot reads."""

    version: str
    feed: dict = field(default_factory=dict)
    entries: list[dict] = field(default_factory=list)


# The same bytes feedparser hands expat: it converts the (already UTF-8) body once more, which
# rewrites the XML declaration, and removes ENTITY declarations from the prologue.
_HEADERS = {"content-type": "application/xml; charset=utf-8"}
_NAMESPACES = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
_USERLAND = "http://backend.userland.com/rss"
_ATOM10 = "http://www.w3.org/2005/Atom"
_XML_LANG = "http://www.w3.org/XML/1998/namespace lang"
_XLINK = "http://www.w3.org/1999/xlink"
# Elements feedparser gives an "xmlns" attribute of their own (so they are not pushed).
_SELF_DECLARED = {"http://www.w3.org/1998/Math/MathML math", "http://www.w3.org/2000/svg svg"}
# Prefixes feedparser gives its known namespaces; a known namespace declared under another
# prefix that is one of these would remap the elements of a different namespace.
_CANONICAL = {v.lower() for v in _NAMESPACES.values() if v}
_HTML_TYPES = {"application/xhtml+xml", "text/html"}
_AMP_REF = re.compile("&([A-Za-z0-9_]+);")
_C1 = re.compile("[\x80-\x9f]")  # the code points feedparser maps to their cp1252 characters
# Names feedparser handles with methods of its own: each is either replayed below or declined.
_FP_HANDLED = frozenset(
    n.split("_", 2)[2] for n in dir(StrictFeedParser) if n.startswith(("_start_", "_end_"))
)
# Keys that the replayed handlers or the bot read or write with a meaning of their own: an
# element without a handler that would be stored under one of them is declined.
_PROTECTED = frozenset(
    {
        "title", "summary", "content", "link", "links", "id", "guid", "guidislink",
        "published", "updated", "created", "expired", "tags", "category", "author", "authors",
        "author_detail", "contributors", "publisher", "publisher_detail", "source", "href",
        "url", "image", "textinput", "language", "generator", "generator_detail", "cloud",
        "rights", "subtitle", "info", "name", "email", "width", "height", "credit", "rating",
        "restriction", "license", "media_content", "media_thumbnail", "media_credit",
        "media_rating", "media_restriction", "media_license", "media_player", "enclosures",
        "validity", "newlocation", "entries", "feed", "version", "bozo",
    }
)  # fmt: skip


# Bounds on what the reader keeps besides the entries, far beyond any real feed: past them it
# declines, and feedparser reads the document as it did before there was a fast reader.
_MAX_DEPTH = 100
_MAX_NAMES = 1000
# The key feedparser's dict stores a key under.
_KEYMAP = {k: v[0] if isinstance(v, list) else v for k, v in FeedParserDict.keymap.items()}


def read(data: bytes) -> Feed:
    """Read a UTF-8 feed (DOCTYPEs already removed) as feedparser would, or raise Unsure."""
    try:
        return _read(data)
    except Unsure:
        raise
    except expat.ExpatError as exc:  # feedparser's strict parser fails too: its loose one reads
        raise Unsure(f"not well-formed: {exc}") from None
    except Exception as exc:  # a path feedparser itself may stumble on: it shall decide
        raise Unsure(f"{type(exc).__name__}: {exc}") from None


def _read(data: bytes) -> Feed:
    seen: dict = {}
    data = convert_to_utf8(_HEADERS, data, seen)
    if not seen.get("encoding"):
        raise Unsure("not UTF-8")
    _, data, entities = replace_doctype(data)
    if entities:
        raise Unsure("entity declarations")
    reader = _Reader()
    parser = expat.ParserCreate(None, " ")
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.data
    parser.StartNamespaceDeclHandler = reader.namespace
    parser.StartDoctypeDeclHandler = reader.doctype
    parser.EntityDeclHandler = reader.doctype
    parser.Parse(data, True)
    if not reader.version:
        raise Unsure("not an RSS or Atom document")
    return Feed(reader.version, reader.feeddata, reader.entries)


# Which elements that feedparser handles may appear inside each element (_CHILDREN; _LEAF:
# none). Elements it has no handler for may appear anywhere but inside a text field (title,
# summary, content...: see push_content), as feedparser treats them alike wherever they are.
_LEAF: frozenset[str] = frozenset()
_DATES = {
    "published": "published", "pubdate": "published", "issued": "published",
    "dcterms_issued": "published", "updated": "updated", "modified": "updated",
    "lastbuilddate": "updated", "dc_date": "updated", "dcterms_modified": "updated",
    "created": "created", "dcterms_created": "created",
}  # fmt: skip
_PARSED = {name: f"{name}_parsed" for name in ("published", "updated", "created")}
_AUTHORS = {"author", "managingeditor", "dc_creator", "dc_author"}
_MEDIA_LEAVES = {
    "media_thumbnail", "media_credit", "media_rating", "media_restriction", "media_license",
    "media_keywords", "media_category", "media_player", "media_title", "media_description",
}  # fmt: skip
_COMMON = {
    "title", "dc_title", "link", "guid", "id", "description", "dc_description", "rights",
    "copyright", "dc_rights", "language", "dc_language", "category", "dc_subject", "keywords",
    "contributor", "enclosure", *_DATES, *_AUTHORS, *_MEDIA_LEAVES,
}  # fmt: skip
_CHILDREN: dict[str, frozenset[str]] = {
    "rss": frozenset({"channel"}),
    "channel": frozenset(
        {*_COMMON, "item", "image", "textinput", "subtitle", "tagline", "info",
         "feedburner_browserfriendly", "webmaster", "dc_publisher", "generator", "cloud"}
    ),
    "item": frozenset(
        {*_COMMON, "summary", "content", "content_encoded", "fullitem", "source",
         "media_content", "media_group"}
    ),
    "image": frozenset({"title", "link", "url", "width", "height", "description", "name"}),
    "author": frozenset({"name", "email", "uri", "url", "homepage"}),
    "media_content": frozenset(_MEDIA_LEAVES),
    "media_group": frozenset({*_MEDIA_LEAVES, "media_content"}),
}  # fmt: skip
_CHILDREN["feed"] = _CHILDREN["channel"] - {"item"} | {"entry"}
_CHILDREN["entry"] = _CHILDREN["item"]
_CHILDREN["textinput"] = _CHILDREN["image"]
_CHILDREN["contributor"] = _CHILDREN["author"]
for _name in _AUTHORS:
    _CHILDREN[_name] = _CHILDREN["author"]


def _map_content_type(value: str) -> str:
    value = value.lower()
    return {
        "text": "text/plain",
        "plain": "text/plain",
        "html": "text/html",
        "xhtml": "application/xhtml+xml",
    }.get(value, value)


class _Reader:
    """feedparser's _FeedParserMixin state machine, for the elements listed above.

    The names, flags and orderings mirror feedparser's (``push``/``pop``, ``title_depth``,
    ``hasContent``, ``_summaryKey``, the per-entry depth of each property); what feedparser
    records that the bot never reads (languages, tags, author details, content parameters other
    than the type) is not kept.
    """

    def __init__(self) -> None:
        self.version = ""
        self.feeddata: dict = {}
        self.entries: list[dict] = []
        self.depths: dict[str, int] = {}  # property -> depth, for the current entry
        self.stack: list[list] = []  # feedparser's elementstack: [name, expecting, pieces]
        self.top: list[str] | None = None  # the pieces of the top of the stack
        self.rules: list[frozenset[str]] = []  # what each open element may contain
        self.depth = 0
        self.infeed = self.inentry = self.insource = self.inimage = self.intextinput = 0
        self.incontent = 0
        self.has_content = 0
        self.summary_key: str | None = None
        self.title_depth = -1
        self.guidislink = False
        self.content_type: str | None = None
        self.sourcedata: dict = {}
        self.declared: dict[str, str] = {}  # prefix (lower-cased) -> URI
        self.prefix_of: dict[str, str] = {}  # unknown namespace URI -> its first prefix
        self.specs: dict[str, tuple] = {}  # expat name -> what to do (see _spec)
        self.dates: dict[str, object] = {}  # date text -> feedparser's parse of it

    # --- expat callbacks -------------------------------------------------------------------

    def doctype(self, *args: object) -> None:
        raise Unsure("a DOCTYPE reached the parser")

    def namespace(self, prefix: str | None, uri: str | None) -> None:
        if not uri:
            return  # feedparser ignores undeclarations
        if prefix and uri == _XLINK:
            raise Unsure("xlink declaration")  # feedparser adds it to the next element's attributes
        key = (prefix or "").lower()
        if self.declared.setdefault(key, uri) != uri:
            raise Unsure(f"prefix {prefix!r} bound to two namespaces")
        lower = uri.lower()
        if _USERLAND in lower:
            uri = lower = _USERLAND
        if not self.version:
            if prefix is None and lower == "http://my.netscape.com/rdf/simple/0.9/":
                self.version = "rss090"
            elif lower == "http://purl.org/rss/1.0/":
                self.version = "rss10"
            elif lower == _ATOM10.lower():
                self.version = "atom10"
        canonical = _NAMESPACES.get(lower)
        if canonical is not None:
            if prefix and prefix != canonical and prefix.lower() in _CANONICAL:
                raise Unsure(f"prefix {prefix!r} names another known namespace")
        elif prefix:
            # feedparser looks the prefix of an unknown namespace up in namespaces_in_use, in
            # order, on every tag: the first prefix declared for it (none rebinds, see above)
            self.prefix_of.setdefault(uri, prefix.lower())
        self.specs.clear()

    def _spec(self, raw: str) -> tuple:
        """What to do with an element: (feedparser's name for it, whether feedparser has a
        handler for it, start and end handlers, rule for its children, whether it ends
        feedparser's textinput and image bookkeeping, the key a generic element is stored
        under). Declines elements that would be handled in ways not replayed here."""
        uri, _, local = raw.rpartition(" ")
        local = local.lower()
        prefix = ""
        if raw in _SELF_DECLARED:
            raise Unsure(f"element {raw}")
        if uri:
            lower = uri.lower()
            if _USERLAND in lower:
                uri = lower = _USERLAND
            known = _NAMESPACES.get(lower)
            prefix = known.lower() if known is not None else self.prefix_of.get(uri, "")
        key = f"{prefix}_{local}" if prefix else local
        if len(self.specs) >= _MAX_NAMES:
            raise Unsure("more kinds of elements than a feed has")
        handled = key in _FP_HANDLED
        if handled and key not in _START:
            raise Unsure(f"element {key}")
        stored = _KEYMAP.get(key, key)
        if not handled and (stored in _PROTECTED or key.endswith(("_parsed", "_detail"))):
            raise Unsure(f"element {key} would be stored over a field")
        spec = (
            key,
            handled,
            _START.get(key),
            _END.get(key),
            _CHILDREN.get(key, _LEAF) if handled else _LEAF,
            not prefix and key not in ("title", "link", "description", "name"),
            not prefix and key not in ("title", "link", "description", "url", "href", "width", "height"),
            stored,
        )  # fmt: skip
        self.specs[raw] = spec
        return spec

    def start(self, raw: str, attrs: dict[str, str]) -> None:
        spec = self.specs.get(raw) or self._spec(raw)
        key, handled, start, _, rule, ends_textinput, ends_image, stored = spec
        if self.incontent:
            raise Unsure("markup inside a text field")
        rules = self.rules
        if rules:
            if handled and key not in rules[-1]:
                raise Unsure(f"{key} inside another element")
        elif key not in ("rss", "feed"):
            raise Unsure(f"root element {key}")
        if attrs:
            attrs = self._attributes(attrs)
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise Unsure("nested deeper than a feed is")
        # feedparser's bookkeeping for empty image and textinput elements
        if ends_textinput:
            self.intextinput = 0
        if ends_image:
            self.inimage = 0
        rules.append(rule)
        if start is not None:
            start(self, key, attrs)
        elif attrs:  # an element feedparser has no handler for
            self._context()[stored] = attrs
        else:
            self.push(key, 1)

    def end(self, raw: str) -> None:
        spec = self.specs.get(raw) or self._spec(raw)
        end = spec[3]
        if end is not None:
            end(self, spec[0])
        else:
            self.pop(spec[0])
        self.rules.pop()
        self.depth -= 1

    def data(self, text: str) -> None:
        if self.top is not None:
            self.top.append(text)

    # --- feedparser's machinery ------------------------------------------------------------

    @staticmethod
    def _attributes(attrs: dict[str, str]) -> dict[str, str]:
        out = {}
        for name, value in attrs.items():
            if " " in name:
                if name == _XML_LANG:  # kept: it makes an element one with attributes
                    out["xml:lang"] = value
                    continue
                raise Unsure(f"attribute {name!r} in a namespace")
            name = name.lower()
            if name == "base":
                raise Unsure("base attribute")
            out[name] = value.lower() if name in ("rel", "type") and value else value
        return out

    def _context(self) -> dict:
        if self.insource:
            return self.sourcedata
        if self.inimage and "image" in self.feeddata:
            return self.feeddata["image"]
        if self.intextinput:
            return self.feeddata["textinput"]
        if self.inentry:
            return self.entries[-1]
        return self.feeddata

    def push(self, element: str, expecting: object) -> None:
        self.top = []
        self.stack.append([element, expecting, self.top])

    def pop(self, element: str) -> str | None:
        stack = self.stack
        if not stack or stack[-1][0] != element:
            return None
        _, expecting, pieces = stack.pop()
        self.top = stack[-1][2] if stack else None
        output = "".join(pieces).strip()
        if not expecting:
            return output
        if element in _RELATIVE and ":///" in output and (element != "id" or self.guidislink):
            output = _urljoin("", output)  # with no base, only "scheme:///" is changed
        if not output.isascii():
            # feedparser's repair of UTF-8 read as Latin-1, then of cp1252 code points
            with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                output = output.encode("iso-8859-1").decode("utf-8")
            if _C1.search(output):
                output = output.translate(_cp1252)
        if element in ("category", "tags", "itunes_keywords"):
            return output
        if element == "title" and -1 < self.title_depth <= self.depth:
            return output
        if self.inentry and not self.insource:
            entry = self.entries[-1]
            if element == "content":
                entry.setdefault("content", []).append({"type": self.content_type, "value": output})
            elif element == "link":
                if not self.inimage:
                    output = output.replace("&amp;", "&")
                    if "&" in output:
                        output = _AMP_REF.sub(r"&\g<1>", output)
                    entry["link"] = output
                    if output:
                        entry["links"][-1]["href"] = output
            else:
                if element == "description":
                    element = "summary"
                old = self.depths.get(element)
                if old is None or self.depth <= old:
                    self.depths[element] = self.depth
                    entry[_KEYMAP.get(element, element)] = output
        elif self.infeed or self.insource:
            context = self._context()
            if element == "description":
                element = "subtitle"
            context[_KEYMAP.get(element, element)] = output
            if element == "link":
                output = _AMP_REF.sub(r"&\g<1>", output)
                context["link"] = output
                context["links"][-1]["href"] = output
        return output

    def push_content(self, tag: str, attrs: dict, default: str, expecting: object) -> None:
        kind = default  # "text/plain" or "text/html"
        if attrs:
            if attrs.get("mode") == "base64":
                raise Unsure("base64 content")
            kind = _map_content_type(attrs.get("type", default))
            if not kind.startswith("text/"):
                raise Unsure(f"content of type {kind}")  # base64 or XHTML in feedparser
        self.incontent += 1
        self.content_type = kind
        self.push(tag, expecting)

    def pop_content(self, tag: str) -> str | None:
        value = self.pop(tag)
        self.incontent -= 1
        self.content_type = None
        return value

    def save(self, key: str, value: object, overwrite: bool = False) -> None:
        context = self._context()
        if overwrite:
            context[key] = value
        else:
            context.setdefault(key, value)

    def expecting(self) -> int:
        return self.infeed or self.inentry or self.insource


_RELATIVE = _FeedParserMixin.can_be_relative_uri


# --- handlers, each the replay of feedparser's method of the same name ----------------------


def _start_rss(r: _Reader, key: str, attrs: dict) -> None:
    if r.depth != 1:
        raise Unsure("rss below the root")
    if not r.version or not r.version.startswith("rss"):
        version = attrs.get("version", "")
        known = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
        r.version = known.get(version) or ("rss20" if version.startswith("2.") else "rss")


def _start_channel(r: _Reader, key: str, attrs: dict) -> None:
    if "lastmod" in attrs or "href" in attrs:
        raise Unsure("CDF channel attributes")
    r.infeed = 1


def _start_feed(r: _Reader, key: str, attrs: dict) -> None:
    if r.depth != 1:
        raise Unsure("feed below the root")
    r.infeed = 1
    if not r.version:
        known = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}
        r.version = known.get(attrs.get("version", "")) or "atom"


def _end_channel(r: _Reader, key: str) -> None:
    r.infeed = 0


def _start_item(r: _Reader, key: str, attrs: dict) -> None:
    if attrs.keys() - {"xml:lang"}:
        raise Unsure("attributes on an item")
    r.entries.append({})
    r.depths = {}
    r.push("item", 0)
    r.inentry = 1
    r.guidislink = False
    r.title_depth = -1


def _end_item(r: _Reader, key: str) -> None:
    r.pop("item")
    r.inentry = 0
    r.has_content = 0


def _start_image(r: _Reader, key: str, attrs: dict) -> None:
    r.feeddata.setdefault("image", {})
    r.inimage = 1
    r.title_depth = -1
    r.push("image", 0)


def _end_image(r: _Reader, key: str) -> None:
    r.pop("image")
    r.inimage = 0


def _start_textinput(r: _Reader, key: str, attrs: dict) -> None:
    r.feeddata.setdefault("textinput", {})
    r.intextinput = 1
    r.title_depth = -1
    r.push("textinput", 0)


def _end_textinput(r: _Reader, key: str) -> None:
    r.pop("textinput")
    r.intextinput = 0


def _start_title(r: _Reader, key: str, attrs: dict) -> None:
    r.push_content("title", attrs, "text/plain", r.expecting())


def _end_title(r: _Reader, key: str) -> None:
    value = r.pop_content("title")
    if value:
        r.title_depth = r.depth


def _end_media_title(r: _Reader, key: str) -> None:
    """A media title is a title, but leaves the entry's own title its place."""
    title_depth = r.title_depth
    _end_title(r, key)
    r.title_depth = title_depth


def _start_link(r: _Reader, key: str, attrs: dict) -> None:
    attrs.setdefault("rel", "alternate")
    if attrs["rel"] == "self":
        attrs.setdefault("type", "application/atom+xml")
    else:
        attrs.setdefault("type", "text/html")
    context = r._context()
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href
    if "href" in attrs and ":///" in attrs["href"]:
        attrs["href"] = _urljoin("", attrs["href"])  # with no base, only "scheme:///" changes
    context.setdefault("links", []).append(attrs)
    if "href" in attrs:
        if attrs["rel"] == "alternate" and _map_content_type(attrs["type"]) in _HTML_TYPES:
            context["link"] = attrs["href"]
    else:
        r.push("link", r.expecting())


def _end_link(r: _Reader, key: str) -> None:
    r.pop("link")


def _start_guid(r: _Reader, key: str, attrs: dict) -> None:
    r.guidislink = attrs.get("ispermalink", "true") == "true"
    r.push("id", 1)


def _end_guid(r: _Reader, key: str) -> None:
    value = r.pop("id")
    r.save("guidislink", r.guidislink and "link" not in r._context())
    if r.guidislink:
        r.save("link", value)


def _start_description(r: _Reader, key: str, attrs: dict) -> None:
    if "summary" in r._context() and not r.has_content:
        r.summary_key = "content"
        _start_content(r, key, attrs)
    else:
        r.push_content("description", attrs, "text/html", r.expecting())


def _end_description(r: _Reader, key: str) -> None:
    if r.summary_key == "content":
        _end_content(r, key)
    else:
        r.pop_content("description")
    r.summary_key = None


def _start_summary(r: _Reader, key: str, attrs: dict) -> None:
    if "summary" in r._context() and not r.has_content:
        r.summary_key = "content"
        _start_content(r, key, attrs)
    else:
        r.summary_key = "summary"
        r.push_content("summary", attrs, "text/plain", 1)


def _end_summary(r: _Reader, key: str) -> None:
    if r.summary_key == "content":
        _end_content(r, key)
    else:
        r.pop_content(r.summary_key or "summary")
    r.summary_key = None


def _start_content(r: _Reader, key: str, attrs: dict) -> None:
    r.has_content = 1
    r.push_content("content", attrs, "text/plain", 1)
    r.push("content", 1)  # feedparser pushes twice; the text goes to the second


def _start_content_encoded(r: _Reader, key: str, attrs: dict) -> None:
    r.has_content = 1
    r.push_content("content", attrs, "text/html", 1)


def _end_content(r: _Reader, key: str) -> None:
    to_summary = r.content_type in ("text/plain", "text/html")
    value = r.pop_content("content")
    if to_summary:
        r.save("summary", value)


def _start_date(r: _Reader, key: str, attrs: dict) -> None:
    r.push(_DATES[key], 1)


def _end_date(r: _Reader, key: str) -> None:
    name = _DATES[key]
    value = r.pop(name)
    if value in r.dates:  # Atom entries tend to be published and updated at the same time
        parsed = r.dates[value]
    else:
        parsed = r.dates[value] = _parse_date(value)
    r.save(_PARSED[name], parsed, overwrite=True)


def _start_enclosure(r: _Reader, key: str, attrs: dict) -> None:
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href
    attrs["rel"] = "enclosure"
    r._context().setdefault("links", []).append(attrs)


def _start_source(r: _Reader, key: str, attrs: dict) -> None:
    if not r.inentry:
        raise Unsure("source outside an entry")
    if "url" in attrs:
        r.sourcedata["href"] = attrs["url"]
    r.push("source", 1)
    r.insource = 1
    r.title_depth = -1


def _end_source(r: _Reader, key: str) -> None:
    r.insource = 0
    value = r.pop("source")
    if value:
        r.sourcedata["title"] = value
    r._context()["source"] = dict(r.sourcedata)
    r.sourcedata.clear()


def _pusher(element: str, expecting: int, content: str | None = None):
    """A handler pair that only pushes and pops ``element`` (as a text field when ``content``
    names its default type)."""

    def start(r: _Reader, key: str, attrs: dict) -> None:
        if content:
            r.push_content(element, attrs, content, expecting)
        else:
            r.push(element, expecting)

    def end(r: _Reader, key: str) -> None:
        if content:
            r.pop_content(element)
        else:
            r.pop(element)

    return start, end


def _nothing(r: _Reader, key: str, attrs: dict | None = None) -> None:
    """Elements that feedparser records as attributes only (or not at all)."""
    if attrs is not None and key == "cloud":
        r._context()["cloud"] = attrs
    elif attrs is not None and key == "media_content":
        r._context().setdefault("media_content", []).append(attrs)


def _pop_key(r: _Reader, key: str) -> None:
    r.pop(key)


_START: dict = {
    "rss": _start_rss,
    "channel": _start_channel,
    "feed": _start_feed,
    "item": _start_item,
    "entry": _start_item,
    "image": _start_image,
    "textinput": _start_textinput,
    "title": _start_title,
    "dc_title": _start_title,
    "link": _start_link,
    "guid": _start_guid,
    "id": _start_guid,
    "description": _start_description,
    "dc_description": _start_description,
    "media_description": _start_description,
    "media_title": _start_title,
    "summary": _start_summary,
    "content": _start_content,
    "content_encoded": _start_content_encoded,
    "fullitem": _start_content_encoded,
    "enclosure": _start_enclosure,
    "source": _start_source,
    "cloud": _nothing,
    "media_content": _nothing,
    "media_group": _nothing,
    **dict.fromkeys(_DATES, _start_date),
}
_END: dict = {
    "rss": _pop_key,
    "channel": _end_channel,
    "feed": _end_channel,
    "item": _end_item,
    "entry": _end_item,
    "image": _end_image,
    "textinput": _end_textinput,
    "title": _end_title,
    "dc_title": _end_title,
    "link": _end_link,
    "guid": _end_guid,
    "id": _end_guid,
    "description": _end_description,
    "dc_description": _end_description,
    "media_description": _end_description,
    "media_title": _end_media_title,
    "summary": _end_summary,
    "content": _end_content,
    "content_encoded": _end_content,
    "fullitem": _end_content,
    "enclosure": _pop_key,
    "source": _end_source,
    "cloud": _pop_key,
    "media_content": _pop_key,
    "media_group": _pop_key,
    **dict.fromkeys(_DATES, _end_date),
}
for _keys, _pair in (
    (_AUTHORS, _pusher("author", 1)),
    (("webmaster", "dc_publisher"), _pusher("publisher", 1)),
    (("contributor",), _pusher("contributor", 0)),
    (("name",), _pusher("name", 0)),
    (("email",), _pusher("email", 0)),
    (("uri", "url", "homepage"), _pusher("href", 1)),
    (("width",), _pusher("width", 0)),
    (("height",), _pusher("height", 0)),
    (("language", "dc_language"), _pusher("language", 1)),
    (("generator",), _pusher("generator", 1)),
    (("category", "dc_subject", "keywords", "media_category"), _pusher("category", 1)),
    (("rights", "copyright", "dc_rights"), _pusher("rights", 1, "text/plain")),
    (("subtitle", "tagline"), _pusher("subtitle", 1, "text/plain")),
    (("info", "feedburner_browserfriendly"), _pusher("info", 1, "text/plain")),
    (("media_thumbnail",), _pusher("url", 1)),
    (("media_credit",), _pusher("credit", 1)),
    (("media_rating",), _pusher("rating", 1)),
    (("media_restriction",), _pusher("restriction", 1)),
    (("media_license",), _pusher("license", 1)),
    (("media_player",), _pusher("media_player", 0)),
):
    for _key in _keys:
        _START[_key], _END[_key] = _pair
# media:keywords has only an end handler in feedparser: it starts as an element of its own.
_START["media_keywords"] = lambda r, key, attrs: (
    r._context().__setitem__(key, attrs) if attrs else r.push(key, 1)
)
_END["media_keywords"] = _pop_key
