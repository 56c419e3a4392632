"""Turning feed markup into plain text, and plain text into the word stream rules match on.

Feeds mix HTML, entities, decomposed Unicode, soft hyphens and odd whitespace. Matching must
see through all of it, or an operator's rule silently misses a report because a publisher's CMS
inserted a ``&shy;`` into "Zaporizhzhia". Both the item text and the rule terms go through the
same :func:`words` so that they always agree on where words start and end.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

# Inline tags join the text around them ("Ky<b>iv</b>" is one word); every other tag separates.
_INLINE_TAG = re.compile(
    r"</?(?:a|abbr|b|big|cite|code|del|em|font|i|ins|mark|q|s|small|span|strike|strong|sub|sup|"
    r"time|u|wbr)\b[^>]*>",
    re.IGNORECASE,
)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# Someone else's post embedded in an article (a tweet, a Telegram or Instagram post): its text
# is another account's news ("Explosions in Kharkiv" inside a story about talks).
_EMBED = re.compile(
    r"<blockquote\b[^>]*\bclass\s*=\s*[\"'][^\"']*\b(?:twitter-tweet|telegram-post|"
    r"instagram-media|tiktok-embed)\b[^>]*>.*?</blockquote\s*>",
    re.IGNORECASE | re.DOTALL,
)
# A photo's caption: the photo may be of another day or place ("Firefighters at the site of a
# missile strike in Kyiv, October 2026" over a story about talks), and what it shows of this
# story the text says.
# WordPress's older markup writes one as <p class="wp-caption-text"> (or a <dd>).
_CAPTION = re.compile(
    r"<figcaption\b[^>]*>.*?</figcaption\s*>"
    r"|<(p|dd|div|span)\b[^>]*\bclass\s*=\s*[\"'][^\"']*\bwp-caption-(?:text|dd)\b[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
# A list of links: a site's "Related" posts or share buttons, or Google News's list of the
# outlets that carry a story. Its headlines are other articles ("North Korean troops deployed to
# Kursk region" under a concert review); an item of words, not links, is kept.
_LIST_TAG = re.compile(r"<(/?)(?:ul|ol)\b[^>]*>", re.IGNORECASE)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
# A link's address (matches do not overlap: markup of "href=" repeated is read once)
_HREF = re.compile(r"""href\s*=\s*["']?([^"'\s>]*)""", re.IGNORECASE)
_FRAGMENT = re.compile(r"#[\w-]")
# (no link inside a link: a link left open ends at the next one, so the cost stays linear)
_LINK = re.compile(r"<a\b[^>]*>(?:(?!<a\b).)*?</a\s*>", re.IGNORECASE | re.DOTALL)
_LINK_LIST_WORDS = 4
"""Words beside its link an item of such a list may have: the outlet, a category ("In "War""),
and fewer than its link has: "<a>Kherson</a>: shelled overnight" is a round-up's news."""
# WordPress's feed footer: "The post <a>Title</a> appeared first on <a>Site</a>." (the site's
# name may name a city: "Odesa Herald").
_WORDPRESS_FOOTER = re.compile(
    r"<p\b[^>]*>\s*The post\s*<a\b(?:(?!</?p\b).){0,600}?</a\s*>\s*appeared first on\b"
    r"(?:(?!</?p\b).){0,300}?</p\s*>",
    re.IGNORECASE | re.DOTALL,
)
# Mathematical bold, italic... letters (U+1D400-1D7FF), with which Telegram channels write
# headlines ("𝗞𝗵𝗮𝗿𝗸𝗶𝘃"): read as the letters they are.
_MATH_LETTERS = re.compile("[\U0001d400-\U0001d7ff]+")
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")
# Tags that end a paragraph or a block: where a "Read also:" teaser, whose linked headline has
# no full stop, ends; the source's own line breaks inside a block are not breaks.
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|figure|figcaption|table|tr|td|th|section|"
    r"article|header|footer|aside|pre|hr|dd|dt|dl)\b[^>]*>",
    re.IGNORECASE,
)
# Soft hyphen, zero-width space/joiners, word joiner, BOM: invisible, yet they split words.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
# Combining marks left after NFC have no precomposed form: stress accents in Russian and
# Ukrainian text ("Су́ми"), which readers ignore and so must matching.
_MARKS = re.compile("[\u0300-\u036f]")
_SPACE = re.compile(r"\s+")
# An entity left after decoding: text a CMS escaped twice ("&amp;nbsp;", «Куп&amp;rsquo;янськ»
# in a CDATA section), which no reader means to see as "&nbsp;".
_ESCAPED_TWICE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,7}|#\d{2,5}|#x[0-9a-fA-F]{2,4});")
# A word is a run of letters and digits; apostrophes, hyphens and underscores separate words,
# so "Kyiv's" and "Sumy-based" contain the words "kyiv" and "sumy".
_NON_WORD = re.compile(r"[\W_]+")


def clean(text: str) -> str:
    """Unicode clean-up shared by display text and matching: NFC, no invisibles, no stray marks."""
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        text = _INVISIBLE.sub("", text)
        text = _MARKS.sub("", text)
        text = _MATH_LETTERS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return text


# A Latin letter against a Cyrillic one: a word typed with the other keyboard layout for a
# letter or two («Києвi» with a Latin i, «Oдеса», "Kyіv" with a Ukrainian і), which looks right
# and matches nothing.
_MIXED = re.compile(r"[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]")
_LETTERS = re.compile(r"[^\W\d_]+")
_TO_CYRILLIC = str.maketrans("aceiopxyABCEHIKMOPTX", "асеіорхуАВСЕНІКМОРТХ")
_TO_LATIN = str.maketrans("асеіорхуАВСЕНІКМОРТХ", "aceiopxyABCEHIKMOPTX")
_TO_RUSSIAN = str.maketrans("aceiopxyABCEHIKMOPTX", "асеиорхуАВСЕНИКМОРТХ")
_RUSSIAN_ONLY = re.compile("[ыэъёЫЭЪЁ]")
_UKRAINIAN_ONLY = re.compile("[іїєґІЇЄҐ]")


def _one_alphabet(found: re.Match[str], to_cyrillic: dict[int, str] = _TO_CYRILLIC) -> str:
    """A word of both alphabets written in the one most of its letters are in, as far as its
    letters look alike in both; any other word as it is."""
    word = found.group()
    if word.isascii() or not _MIXED.search(word):
        return word
    cyrillic = sum(1 for ch in word if "\u0400" <= ch <= "\u04ff")
    latin = sum(1 for ch in word if ch.isascii())
    return word.translate(to_cyrillic if cyrillic >= latin else _TO_LATIN)


def _one_alphabet_ru(found: re.Match[str]) -> str:
    return _one_alphabet(found, _TO_RUSSIAN)


def plain(markup: str | None, *, paragraphs: bool = False, again: bool = True) -> str:
    """Feed markup as one line of readable text: tags stripped, entities decoded, spaces folded.

    With ``paragraphs``, the end of each HTML paragraph or block is kept as a line break (and
    only that: the text is one line wherever the markup has no block): matching and grouping
    read where an embedded teaser ends, and alerts show the paragraphs."""
    if not markup:
        return ""
    text = markup
    blocks = False
    if "<" in text:
        text = _COMMENT.sub(" ", text)
        text = _SCRIPT.sub(" ", text)
        if "lockquote" in text or "igcaption" in text or "wp-caption" in text:
            text = _without_embeds(text)
        if "<li" in text or "<LI" in text:
            text = _without_link_lists(text)
        if "appeared first on" in text:
            text = _WORDPRESS_FOOTER.sub(" ", text)
        text = _INLINE_TAG.sub("", text)
        if paragraphs:
            text = text.replace("\r", " ").replace("\n", " ")
            text, blocks = _BLOCK_TAG.subn("\n", text)
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
        if "&" in text and _ESCAPED_TWICE.search(text):
            text = html.unescape(text)  # a CMS that escaped its HTML twice: "&amp;nbsp;"
        if again and "<" in text and _TAG.search(text):
            # markup a CMS escaped twice ("&amp;lt;p&amp;gt;" in the feed) is markup: read
            # as such once more (only once)
            return plain(text, paragraphs=paragraphs, again=False)
    if '"@context"' in text:
        text = _without_json_ld(text)
    text = clean(text)
    if not text.isascii() and _MIXED.search(text):
        # «Києвi», "Kyіv": one alphabet a word. Russian has no і, so in a Russian text a Latin
        # i stands for и («Кiев» is «Киев»): the text is Russian when it has more letters only
        # Russian has than letters only Ukrainian has.
        russian = len(_RUSSIAN_ONLY.findall(text)) > len(_UKRAINIAN_ONLY.findall(text))
        text = _LETTERS.sub(_one_alphabet_ru if russian else _one_alphabet, text)
    if not blocks:
        return _SPACE.sub(" ", text).strip()
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _without_json_ld(text: str) -> str:
    """``text`` without the JSON-LD a CMS wrote into it as text (``{"@context":
    "https://schema.org", "@type": "NewsArticle", ...}``, outside a ``<script>``): each object
    that parses whole goes, anything else stays; a few at most (each try may read to the end)."""
    decoder = json.JSONDecoder()
    start = 0
    for _ in range(4):
        at = text.find('"@context"', start)
        if at < 0:
            break
        brace = text.rfind("{", start, at)
        if brace < 0 or text[brace + 1 : at].strip():
            start = at + 1
            continue
        try:
            _, end = decoder.raw_decode(text, brace)
        except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
            start = at + 1
            continue
        text = text[:brace] + " " + text[end:]
        start = brace + 1
    return text


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word's end, marked with " …"."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _without_link_lists(markup: str) -> str:
    """``markup`` without its lists of links (innermost lists; one pass over the list tags,
    so that hostile markup of thousands of unclosed lists costs no more than its length)."""
    cuts: list[tuple[int, int]] = []
    opened = -1  # where the innermost list still open starts its items
    start = 0
    for tag in _LIST_TAG.finditer(markup):
        if not tag.group(1):
            opened, start = tag.end(), tag.start()
        elif opened >= 0:
            if _links_only(markup[opened : tag.start()]):
                cuts.append((start, tag.end()))
            opened = -1
    if not cuts:
        return markup
    pieces, pos = [], 0
    for begin, end in cuts:
        pieces.append(markup[pos:begin])
        pos = end
    pieces.append(markup[pos:])
    return " ".join(pieces)


def _links_only(items_markup: str) -> bool:
    """Whether every item of a list is a link to another page, with a few words beside it at
    most."""
    items = _LIST_ITEM.split(items_markup)[1:]
    for item in items:
        if ("<a" not in item and "<A" not in item) or _in_page(item):
            return False
        linked = _words(" ".join(found.group() for found in _LINK.finditer(item)))
        beside = _words(_LINK.sub(" ", item))
        if beside > _LINK_LIST_WORDS or beside >= linked:
            return False
    return bool(items)


def _in_page(item: str) -> bool:
    """Whether an item links to a part of a page ("#post-1", "/live/war-day-1018#block-7"): a
    live blog's "Key events" list, whose items are its own posts. (Another article is linked
    as a whole.)"""
    return any(_FRAGMENT.search(href.group(1)) for href in _HREF.finditer(item))


def _words(markup: str) -> int:
    return len(html.unescape(_TAG.sub(" ", markup)).split())


def _without_embeds(markup: str) -> str:
    """``markup`` without embedded posts and captions, unless they say more than the rest
    (an item that is "The city administration posted:" and the post, a picture story): then
    they are the news."""
    rest = _CAPTION.sub(" ", _EMBED.sub(" ", markup))
    said = len(_TAG.sub(" ", rest).split())
    if len(_TAG.sub(" ", markup).split()) - said >= said:
        return markup
    return rest


def words(text: str) -> str:
    """The word stream: casefolded words separated by single spaces, with a space at each end.

    The surrounding spaces let a rule term be looked up as `` kyiv `` so that it can only match
    whole words; a prefix term is looked up as `` deploy`` (no trailing space).

    This runs for every item, so separators are an explicit class of code-point ranges (ASCII
    punctuation, Latin-1 and general punctuation, symbols, emoji) rather than ``\\W``, whose
    per-character Unicode look-ups cost three times as much. For Latin and Cyrillic text the two
    agree; :func:`words_reference` is the ``\\W`` definition the tests hold this to.
    """
    if text.isascii():
        # One C-level byte translation does all the work for plain English text.
        return " " + " ".join(text.encode().translate(_ASCII_BYTES).decode().lower().split()) + " "
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    # Cyrillic: as UTF-8, every ASCII separator (most of them: spaces, commas, full stops) is
    # turned into a space by one C-level byte translation, like the ASCII path above. Bytes of
    # the other separators and of dropped characters only ever start with one of a few lead
    # bytes (Cyrillic letters use 0xD0-0xD4), so when none is present nothing else is to do.
    data = text.casefold().encode().translate(_UTF8_BYTES)
    if data.translate(None, _NOT_SPECIAL_LEADS):  # what is left are special lead bytes
        data = _SPECIAL_SEPARATORS.sub(b" ", _SPECIAL_DROP.sub(b"", data))
    return " " + _SPACES.sub(b" ", data).strip(b" ").decode() + " "


def words_slow(text: str) -> str:
    """:func:`words` by regular expressions on the text, as it was written first; kept to
    test the byte-level version against."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    folded = _DROP.sub("", text.casefold())
    return " " + _SEPARATORS.sub(" ", folded).strip() + " "


def words_cased(text: str) -> str:
    """The word stream with case kept, for aliases that count only when capitalised.

    Same separators as :func:`words`, so it lines up with it word for word (and character for
    character unless casefolding changed a length, as with "ß").
    """
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        text = _DROP.sub("", text)
    return " " + _SEPARATORS.sub(" ", text).strip() + " "


def words_reference(text: str) -> str:
    """The definition of the word stream, by ``\\W``; :func:`words` is the fast equivalent."""
    folded = clean(text).casefold()
    folded = _APOSTROPHES.sub(" ", folded)
    return " " + _NON_WORD.sub(" ", folded).strip() + " "


# Modifier-letter apostrophes are letters to Unicode but apostrophes to readers ("Слов\u02bcянськ").
_APOSTROPHES = re.compile("[\u02b9\u02bb\u02bc\u02bd]")
_ASCII_KEEP = set(range(48, 58)) | set(range(65, 91)) | set(range(97, 123))
_ASCII_BYTES = bytes(b if b in _ASCII_KEEP else 32 for b in range(256))
# The same for UTF-8 text: ASCII separators become spaces, every byte >= 0x80 is kept.
_UTF8_BYTES = bytes(b if b in _ASCII_KEEP or b >= 0x80 else 32 for b in range(256))
# Lead bytes of the UTF-8 sequences of every non-ASCII separator and dropped character below:
# U+0080-00BF (C2), × ÷ (C3), U+02B9-02BD (CA), combining marks (CC, CD), U+1680 (E1), U+2000-2BFF and
# U+2E00-2E7F (E2), U+3000-303F (E3), U+FE00-FF65 and U+FEFF (EF), emoji (F0), the tags and
# variation selectors of U+E0000-E01EF (F3).
_SPACES = re.compile(rb"  +")
_NOT_SPECIAL_LEADS = bytes(
    b for b in range(256) if b not in b"\xc2\xc3\xca\xcc\xcd\xe1\xe2\xe3\xef\xf0\xf3"
)
_SPECIAL_DROP = re.compile(
    rb"\xc2\xad|\xe2\x80[\x8b-\x8d]|\xe2\x81\xa0|\xef\xbb\xbf|\xcc[\x80-\xbf]|\xcd[\x80-\xaf]"
)
_SPECIAL_SEPARATORS = re.compile(
    rb"\xc2[\x80-\xa9\xab-\xb1\xb4\xb6-\xb8\xbb-\xbf]"  # U+0080-00BF but the letters
    rb"|\xc3[\x97\xb7]"  # × ÷
    rb"|\xca[\xb9\xbb-\xbd]"  # modifier-letter apostrophes
    rb"|\xe1\x9a\x80"  # U+1680
    rb"|\xe2[\x80-\xaf][\x80-\xbf]|\xe2\xb8[\x80-\xbf]|\xe2\xb9[\x80-\xbf]"  # U+2000-2BFF, 2E00-2E7F
    rb"|\xe3\x80[\x80-\xbf]"  # U+3000-303F
    # U+FE00-FE6F: variation selectors ("⚡️" is U+26A1 U+FE0F, written against the next word
    # by Telegram channels: «⚡️Балістика»), vertical and small forms
    rb"|\xef\xb8[\x80-\xbf]|\xef\xb9[\x80-\xaf]"
    rb"|\xf3\xa0[\x80-\x87][\x80-\xbf]"  # U+E0000-E01FF: tags, variation selectors
    rb"|\xef\xbc[\x80-\x8f\x9a-\xa0\xbb-\xbf]|\xef\xbd[\x80\x9b-\xa5]"  # fullwidth forms
    rb"|\xf0\x9f[\x80-\xab][\x80-\xbf]"  # U+1F000-1FAFF
)
# Invisible characters and the combining marks NFC leaves (stress accents), removed in one pass.
_DROP = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff\u0300-\u036f]")
_SEPARATORS = re.compile(
    "[\\x00-/:-@\\[-`{-\\x7f"  # ASCII punctuation, controls and "_"
    "\\x80-\\xa9\\xab-\\xb1\\xb4\\xb6-\\xb8\\xbb-\\xbf\\xd7\\xf7"  # Latin-1 punctuation and symbols
    "\u02b9\u02bb-\u02bd"  # modifier-letter apostrophes
    "\u1680"  # Ogham space mark, the one space character outside the ranges here
    "\u2000-\u2bff\u2e00-\u2e7f\u3000-\u303f"  # punctuation, symbols, arrows, CJK punctuation
    "\ufe00-\ufe6f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # selectors, forms
    "\U000e0000-\U000e01ff"  # tags and variation selectors
    "\U0001f000-\U0001faff"  # emoji and pictographs
    "]+"
)


# A wire dateline at the start of a summary: the city the story was filed from, in capitals,
# then a date, the agency and a dash ("KYIV, Dec 6 (Wire) - ", "ODESA, Ukraine (AP) — ",
# "КИЇВ. ", "ХАРЬКОВ, 6 декабря — "). Reporters file from the capital about events elsewhere.
_UPPER = "A-ZА-ЯІЇЄҐЁ"
_DATELINE = re.compile(
    rf"(?P<city>[{_UPPER}][{_UPPER}'’. /-]{{1,28}}[{_UPPER}])"  # the city, in capitals
    r"(?:,[^,()\n—–-]{1,30})?"  # a date or a country
    r"(?:\s*\([^()\n]{1,40}\))?"  # the agency
    r"(?:\s*[—–-]{1,2}\s+|\.\s+|:\s+)"  # the dash (or the full stop of Ukrainian wires)
)


# The same in the agencies' other styles: the city capitalised, then the agency in brackets
# ("Kyiv (AFP) - ", "Kharkiv, Ukraine (Reuters) — "), or Ukrainian agencies' «Київ. 6 грудня.
# ІНТЕРФАКС-УКРАЇНА – »: without the agency, a capitalised first word is only a sentence.
_LOWER = "a-zа-яіїєґё"
_AGENCY = (
    rf"(?:[{_UPPER}][{_UPPER}-]{{2,30}}\s*[—–-]{{1,2}}\s+"
    rf"|[{_UPPER}][{_LOWER}{_UPPER}-]{{2,30}}(?:\s*[—–-]{{1,2}}\s+|\.\s+))"
)
_DATELINE_AGENCY = re.compile(
    rf"(?P<city>[{_UPPER}][{_LOWER}'’-]+(?: [{_UPPER}][{_LOWER}'’-]+)?)"
    rf"(?:(?:,[^,()\n—–-]{{1,30}})?\s*\([{_UPPER}][^()\n]{{1,39}}\)\s*[—–-]{{1,2}}\s+"
    # «Київ. 6 грудня. ІНТЕРФАКС-УКРАЇНА – », «Київ. 8 грудня. Укрінформ. »
    rf"|(?:,[^,()\n—–-]{{1,30}})?\.\s[^.\n]{{1,20}}\.\s{_AGENCY}"
    # «Київ, 8 грудня. Укрінформ. »: the date after a comma, a number first
    rf"|,\s*\d{{1,2}}\s[^\W\d_]{{3,12}}\.\s{_AGENCY})"
)


# A Telegram channel's handle ("@kyiv_operative"), which names the channel, never where the
# news is (an address, "press@kyiv.example", is not one).
HANDLE = re.compile(r"(?<![\w@])@\w{3,}")


def dateline(text: str) -> tuple[int, int] | None:
    """Where the summary's dateline is in ``title + "\\n" + summary``, if it opens with one.

    The matcher reads the text without it, and with it only when nothing else in the text names
    a place: "KYIV (Wire) - Missiles hit Kharkiv" is about Kharkiv, while "KHARKIV - A missile
    hit a school" is about Kharkiv because its dateline is all it says of where.
    """
    start = text.find("\n") + 1
    if not start:
        return None
    found = _dateline_at(text, start)
    if found is not None:
        return found
    # A full article's own opening below the standfirst read before it (and a byline):
    # "Five people were injured.\nBy Taras Melnyk\nKYIV — Russian missiles struck Kharkiv".
    # Only the one paragraph of the text that opens so: a round-up of towns in capitals
    # ("KHARKIV: shelling ...\nODESA: drones ...") names where each thing happened.
    found = None
    for _ in range(2):
        start = text.find("\n", start) + 1
        if not start:
            break
        found = found or _dateline_at(text, start)
    if (
        found is None
        or sum(_dateline_at(text, m.end()) is not None for m in _LINE.finditer(text)) > 1
    ):
        return None
    return found


_LINE = re.compile(r"\n")


def _dateline_at(text: str, start: int) -> tuple[int, int] | None:
    if not text[start : start + 1].isupper():
        return None
    if text[start : start + 3].isupper():
        found = _DATELINE.match(text, start)
    elif "(" in text[start : start + 50] or ". " in text[start : start + 30]:
        found = _DATELINE_AGENCY.match(text, start)
    else:
        return None  # most summaries: a sentence
    if found is None or sum(c.isalpha() for c in found["city"]) < 3:
        return None
    return start, found.end()
