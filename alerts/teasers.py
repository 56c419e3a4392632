"""Cutting out what belongs to another article: embedded "related article" teasers, credits.

Full-article feeds carry, inside an article's text, the headlines of other articles ("Read
also: Drones hit Kharkiv") and wire credits ("Reporting by ... in Kyiv"). Matched as part of
the article, they make it about a place or a topic it is not about. The phrases that open them
are data (``teasers.yaml``); this module finds them in plain text and removes what they
introduce. The matcher calls it only when its automaton found an opening phrase, so ordinary
items never pay for it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from .text import HANDLE

DATA = Path(__file__).with_name("teasers.yaml")
_SENTENCE_END = re.compile(r"[.!?…]['\"»”’)]*$")
# A full stop that ends no sentence after initials ("U.S.", "U.K."); the words that are
# abbreviated ("Gen.", "Dec.") are teasers.yaml's abbreviations.
_INITIALS = r"(?:[A-Z]\.){1,3}"
_TOKEN = re.compile(r"\S+")


class TeaserError(ValueError):
    """teasers.yaml is malformed."""


@dataclass(frozen=True)
class Teasers:
    """The phrases that open a teaser or a credits line, and how much text each may take."""

    teasers: tuple[str, ...]
    credits: tuple[str, ...]
    teaser_words: int = 16
    credit_words: int = 24
    bylines: tuple[str, ...] = ()
    byline_words: int = 12
    byline_roles: tuple[str, ...] = ()
    recaps: tuple[str, ...] = ()
    recap_words: int = 80
    recalls: tuple[str, ...] = ()
    abbreviations: tuple[str, ...] = ()
    captions: tuple[str, ...] = ()
    openers: tuple[str, ...] = ()
    appeals: tuple[str, ...] = ()
    appeal_words: int = 60
    channel_signs: tuple[str, ...] = ()
    channel_tags: tuple[str, ...] = ()
    attributions: tuple[str, ...] = ()
    own_voice: tuple[str, ...] = ()
    we: tuple[str, ...] = ()
    last_years: tuple[str, ...] = ()
    year_nouns: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    today: tuple[str, ...] = ()
    bio_verbs: tuple[str, ...] = ()
    boxes: tuple[str, ...] = ()
    players: tuple[str, ...] = ()
    months: tuple[tuple[str, int], ...] = ()
    """Each month's word as a recall names it ("january", «листопаді»), lower case, and its
    number."""

    @functools.cached_property
    def _months(self) -> dict[str, int]:
        return dict(self.months)

    @functools.cached_property
    def _label(self) -> re.Pattern[str] | None:
        if not self.labels:
            return None
        labels = alternation(self.labels)
        return re.compile(
            rf"\s*(?:[\[(]\s*(?P<bracketed>{labels})\s*[\])]"
            rf"|(?P<label>{labels})\s*(?:[:|.]|\s[-–—]))\s*\S",
            re.IGNORECASE,
        )

    def commentary(self, title: str) -> str | None:
        """The label a title opens with to say its item is comment, not a report ("Analysis:
        How Russia adapted its missile campaign against Kyiv"), as written; None for a report.
        Such an item is never an urgent alert."""
        pattern = self._label
        found = pattern.match(title) if pattern is not None else None
        return (found.group("label") or found.group("bracketed")) if found else None

    @functools.cached_property
    def _abbreviation(self) -> re.Pattern[str]:
        words = "|".join(map(re.escape, self.abbreviations))
        return re.compile(rf"^(?:{_INITIALS}|(?:{words})\.)$" if words else rf"^{_INITIALS}$")

    @functools.cached_property
    def _roles(self) -> frozenset[str]:
        return frozenset(role.casefold() for role in self.byline_roles)

    @functools.cached_property
    def _byline(self) -> re.Pattern[str] | None:
        if not self.bylines:
            return None
        return re.compile(rf"(?:{alternation(self.bylines)})(?:\s*:\s*|\s+)\S", re.IGNORECASE)

    @functools.cached_property
    def _appeal(self) -> re.Pattern[str] | None:
        if not self.appeals:
            return None
        # opening a sentence, as the site's own call: "... missile attacks. Become a member";
        # not a quote («Колеги закликають: «Підтримайте редакцію»») or words inside a sentence
        # ("asked viewers to support independent journalism"), which may be the news
        return re.compile(
            rf"(?:^|(?<=[.!?…] ))(?:{alternation(self.appeals)})(?!\w)", re.IGNORECASE
        )

    def without_bylines(self, text: str, removed: list[str] | None = None) -> str:
        """``text`` (a title, a line break, the item's text) without the paragraphs that only
        say who wrote it and where they work: the first, when it opens with a byline phrase and
        is short ("By Marta Hnatiuk, Capital Courier, Kyiv"), and the first or the last, when it
        is a sign-off of a few capitalised words and a comma («Олена Петренко, Київ»); and the
        closing paragraphs that appeal to readers ("Our newsroom in Kyiv keeps working ...
        Become a member"). The city of a newsroom is not where the news happened. An item of
        one paragraph has none. ``removed``, when given, gains each paragraph taken."""
        head, newline, body = text.partition("\n")
        if "\n" not in body:
            return text
        first, _, rest = body.partition("\n")
        teaser = ""
        if "\n" in rest and self._opening.match(first):
            # a teaser above the byline («Читайте також: ...», then «Автор: ...»): the teaser
            # is cut as such, and the byline below it is the first paragraph's (a sign-off of a
            # name of two words: "Missiles Strike Kyiv, Three Dead" below it is a headline)
            teaser, (first, _, rest) = first + "\n", rest.partition("\n")
        pattern = self._byline
        cut = False
        opening = pattern.match(first) if pattern is not None else None
        if (
            opening is not None
            and len(first.split()) <= self.byline_words
            and not _SENTENCE_END.search(first)
            and _names(first[opening.end() - 1 :], self._roles)
        ) or (
            _sign_off(first)
            and _named(first)
            and (not teaser or len(first.strip("\u2013\u2014- ").split(",")[0].split()) == 2)
        ):
            body, cut = teaser + rest, True
            if removed is not None:
                removed.append(first)
        # The last paragraph of the article, above what closes every article of the site (a
        # photo credit, "Subscribe to ...").
        paragraphs = body.split("\n")
        end = len(paragraphs)
        appeals = []
        while end > 1:
            last = paragraphs[end - 1]
            if self._appealing(last) or self._channel_sign(last) or self._bio(last):
                appeals.append(end - 1)
            elif not self._opening.match(last.lstrip()):
                break
            end -= 1
        if end > 1 and _sign_off(paragraphs[end - 1]) and _named(paragraphs[end - 1]):
            appeals.append(end - 1)
        if appeals:
            if removed is not None:
                removed.extend(paragraphs[at] for at in reversed(appeals))
            for at in appeals:  # from the last
                del paragraphs[at]
            body, cut = "\n".join(paragraphs), True
        return head + newline + body if cut else text

    @functools.cached_property
    def _signs(self) -> frozenset[str]:
        return frozenset(word.casefold() for word in self.channel_signs)

    @functools.cached_property
    def _handles(self) -> re.Pattern[str]:
        tags = "|".join(re.escape(tag) for tag in self.channel_tags)
        if not tags:
            return HANDLE
        return re.compile(rf"{HANDLE.pattern}|(?<![\w#])#\w*?(?i:{tags})\w*")

    def without_handles(self, text: str) -> str:
        """``text`` with channels' handles and the tags that name a channel blanked (the same
        length, so that what is found keeps its place); a town's tag is read as its words."""
        if "@" not in text and "#" not in text:
            return text
        return self._handles.sub(lambda found: " " * len(found.group()), text)

    def _channel_sign(self, paragraph: str) -> bool:
        """A channel's signature: "Київ Live | @kyiv_live", «Киевский Оперативный | Подписаться»,
        «Наші канали: Київ Оперативний | Харків Оперативний». Not a line of news that quotes an
        official's handle («Кличко (@vitaliy_klitschko): уламки впали...»), nor a list of towns
        («Харків | Чугуїв | Ізюм»)."""
        if len(paragraph) > self.byline_words * 30:
            return False
        words = paragraph.split()
        if len(words) > self.byline_words:
            return False
        if len(words) <= _HANDLE_LINE_WORDS and HANDLE.search(paragraph):
            return True
        return "|" in paragraph and any(
            w.strip(_QUOTES + ".,:;!👉").casefold() in self._signs for w in words
        )

    def _bio(self, paragraph: str) -> bool:
        """A reporter's bio closing the article: "Olena Marchuk is a reporter at The Kyiv
        Independent based in Kyiv.", «Олена Марчук — журналістка «Київського тижня»»: who
        writes and where they work, not where the news happened. A name of two or three
        capitalised words, "is a" or a dash, and a role of ``byline_roles`` at or for its
        outlet, in a paragraph of at most ``appeal_words`` words."""
        if not self._roles or len(paragraph) > self.appeal_words * 20:
            return False
        if len(paragraph.split()) > self.appeal_words:
            return False
        if self._covers is not None and self._covers.match(paragraph):
            return True  # "Olena Marchuk covers the war in eastern Ukraine from Kharkiv."
        found = _BIO.match(paragraph)
        if found is None:
            return False
        role = found.group("role").casefold()
        return role in self._roles or role.rstrip("s") in self._roles

    @functools.cached_property
    def _covers(self) -> re.Pattern[str] | None:
        if not self.bio_verbs:
            return None
        return re.compile(rf"{_NAME}\s+(?:{alternation(self.bio_verbs)})(?!\w)")

    def _this_month(self, recall: str) -> bool:
        """Whether a recall names the current month ("In December," in December), which may
        tell of today: a month's tally that includes last night's strike ("In December last
        year," names its year, and is not asked)."""
        month = self._month(recall)
        return month is not None and month == datetime.now(UTC).month

    def _month(self, recall: str) -> int | None:
        """The month a recall names («У листопаді»: 11), None for another recall."""
        return self._months.get(recall.split()[-1].casefold())

    @functools.cached_property
    def _today(self) -> re.Pattern[str] | None:
        if not self.today:
            return None
        return re.compile(rf"(?<!\w)(?:{alternation(self.today)})(?!\w)", re.IGNORECASE)

    @functools.cached_property
    def _attributed(self) -> re.Pattern[str] | None:
        if not self.attributions:
            return None
        verbs = "|".join(map(re.escape, self.attributions))
        return re.compile(rf",\s+((?:[\w'’.-]+\s+){{0,4}}?)(?:{verbs})(?!\w)", re.IGNORECASE)

    @functools.cached_property
    def _own_voice(self) -> frozenset[str]:
        return frozenset(word.casefold() for word in self.own_voice)

    def _attributed_to_others(self, paragraph: str) -> bool:
        """Whether a paragraph says someone else made its appeal: ", the mayor wrote", not
        ", our reporters have told" or «, що кажуть очевидці»."""
        pattern = self._attributed
        if pattern is None:
            return False
        own, we = self._own_voice, self._we
        for found in pattern.finditer(paragraph):
            between = {w.strip(".,:;").casefold() for w in found.group(1).split()}
            # "we" in the six words before the verb, across a comma: «ми, як і обіцяли, написали»
            before = {w.strip(".,:;").casefold() for w in paragraph[: found.end()].split()[-7:-1]}
            if not (between & own or before & we):
                return True
        return False

    @functools.cached_property
    def _we(self) -> frozenset[str]:
        return frozenset(word.casefold() for word in self.we)

    def _appealing(self, paragraph: str) -> bool:
        pattern = self._appeal
        if (
            pattern is None
            or len(paragraph) > self.appeal_words * 20  # before splitting a long one
            or len(paragraph.split()) > self.appeal_words
            or pattern.search(paragraph) is None
        ):
            return False
        # "Please consider donating blood at City Hospital No. 17, the mayor wrote": reported
        return not self._attributed_to_others(paragraph)

    @functools.cached_property
    def _opening(self) -> re.Pattern[str]:
        # Every opening is at a sentence's start: a paragraph's, or after a sentence's end, a
        # symbol ("👉 Subscribe to ..."), an opening bracket or quote ("(Reporting by ...",
        # «Читайте також: ...»), or a dash that opens the paragraph ("— Read also: ...").
        # Within a sentence the words are the news: "20 more — including four children — were
        # injured", "urged residents to subscribe to alerts".
        start = (
            r"(?:(?<![^\n])|(?<=[.!?…»”\");] )|(?<=[^\w\s,;:\-\u2013\u2014] )|(?<=[(\[«“„\"'])"
            r"|(?<=^[\-\u2013\u2014] )|(?<=\n[\-\u2013\u2014] )|(?<=_ ))"
        )
        parts = []
        every = self.teasers + self.captions
        if every:
            teasers = alternation(every)
            several = tuple(t for t in every if len(t.split()) > 1)
            single = tuple(t for t in every if len(t.split()) == 1)
            # a colon, a dash or an arrow: "Read also:", "ЧИТАЙТЕ ТАКОЖ —", "Read also ➡️"; one
            # word, a colon or an arrow ("MORE:"): «Раніше — близько 3:00 — дрони вдарили по
            # Харкову» is the news
            if several:
                dash = rf"\s*(?:[:|\u2013\u2014-]|{_ARROW})"
                parts.append(rf"{start}(?P<teaser>{alternation(several)}){dash}")
            if single:
                parts.append(rf"{start}(?P<word>{alternation(single)})\s*(?::|\||{_ARROW})")
            # a paragraph of its own, over the linked headline: "Read also\nDrones hit Kharkiv"
            parts.append(rf"(?<![^\n])(?P<heading>{teasers})[ \t]*(?=\n)")
            # a phrase of two words or more, before a headline's capital: «По теме Дроны
            # атаковали Харьков» (one word would take prose: "More Ukrainian troops arrived")
            if several:
                parts.append(
                    rf"(?<![^\n])(?P<bare>{alternation(several)})[ \t]+(?=(?-i:[A-ZА-ЯІЇЄҐЁ]))"
                )
        if self.credits:
            parts.append(rf"{start}(?P<credit>{alternation(self.credits)})\b")
        # at a sentence's start only: "... hit Kyiv last week, officials said" and "the missile,
        # as previously reported, was shot down over Kyiv" are the news
        if self.recaps:
            parts.append(rf"{start}(?P<recap>{alternation(self.recaps)})\s*[,:]")
        if self.boxes:
            parts.append(rf"{start}(?P<box>{alternation(self.boxes)})\s*[,:|]")
        if self.players:
            parts.append(rf"{start}(?P<player>{alternation(self.players)})\s*[,:|]")
        if self.recalls:
            # With a comma, or a year after the month ("In December last year", «В декабре 2024
            # года»), a recall tells of then. Without either, only a month does (Ukrainian and
            # Russian write none after it), and :meth:`cut` asks the sentence for words of
            # today («У листопаді енергетики відновили ТЕЦ, але цієї ночі її знову атакували
            # ракети» is tonight's news; «Торік відремонтована підстанція знову пошкоджена» too).
            years = alternation(self.last_years) if self.last_years else r"(?!)"
            year = alternation(self.year_nouns) if self.year_nouns else r"(?!)"
            parts.append(
                rf"{start}(?P<recall>{alternation(self.recalls)})"
                rf"(?:(?P<year>\s+(?:of\s+)?(?:{years})|\s+\d{{4}}(?:\s+(?:{year}))?),?|,"
                r"|(?P<nocomma>(?=\s)))"
            )
        return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")", re.IGNORECASE)

    @property
    def phrases(self) -> tuple[str, ...]:
        """Every opening phrase, for the matcher to look for among its terms."""
        return (
            self.teasers
            + self.captions
            + self.credits
            + self.recaps
            + self.recalls
            + self.boxes
            + self.players
        )

    @functools.cached_property
    def _captions(self) -> frozenset[str]:
        return frozenset(" ".join(c.casefold().split()) for c in self.captions)

    @functools.cached_property
    def _openers(self) -> frozenset[str]:
        return frozenset(self.openers)

    def _credit_end(self, body: str, start: int, stop: int) -> int:
        """Where the news starts inside what a caption would take, when a plain-text lead ran
        the photo's credit into it: "Photo: State Emergency Service A Russian glide bomb struck
        Kharkiv" keeps "Russian glide bomb struck Kharkiv". The credit is names (capitalised
        words, and short ones that join them); the news opens with one of ``openers``."""
        for count, token in enumerate(_TOKEN.finditer(body, start, stop)):
            word = token.group()
            if count and word in self._openers:
                return token.start()
            if not (word[:1].isupper() or (count and len(word) <= 3)):
                return stop  # a caption's sentence ("Photo: rescuers at the site ...")
            if _SENTENCE_END.search(word):
                return stop
        return stop

    def cut(self, text: str, removed: list[str] | None = None) -> str:
        """``text`` without its teasers, credits and bylines; its first line (the title) is
        kept. ``removed``, when given, gains each piece taken (for ``explain``)."""
        text = self.without_bylines(text, removed)
        head, newline, body = text.partition("\n")
        if not newline:
            return text
        pieces = []
        pos = 0
        lead_end = body.find("\n")
        for found in self._opening.finditer(body):
            if found.start() < pos:
                continue  # inside what the previous one took
            groups = found.groupdict()
            box = groups.get("box") is not None
            recap = groups.get("recap") is not None or box or groups.get("player") is not None
            recall = found.group("recall") is not None
            if recap and (lead_end < 0 or found.start() < lead_end):
                continue  # «Нагадаємо, ...» opening an update's lead is its news
            if recall and not found.group("year") and self._this_month(found.group("recall")):
                continue  # "In December, Russia has already fired 40 missiles", in December
            nocomma = recall and found.group("nocomma") is not None
            if nocomma and self._month(found.group("recall")) is None:
                continue  # «Торік відремонтована підстанція у Києві знову пошкоджена»
            if recap or recall:
                limit = self.recap_words
            elif groups.get("credit") is None:  # a teaser, in one of its shapes
                limit = self.teaser_words
            else:
                limit = self.credit_words
            stop = found.end()
            for count, token in enumerate(_TOKEN.finditer(body, found.end()), 1):
                if count > 1 and "\n" in body[stop : token.start()]:
                    break  # a paragraph ends the teaser: its linked headline has no full stop
                stop = token.end()
                word = token.group()
                if count >= limit:
                    break
                if recap:
                    continue  # a recap of earlier events runs to the end of its paragraph
                if word.endswith(";") or (
                    # a recalled sentence ends at any full stop: one past "U.S." may be the news
                    _SENTENCE_END.search(word) and (recall or not self._abbreviation.match(word))
                ):
                    break
            if (
                (nocomma or box)
                and self._today is not None
                and self._today.search(body, found.end(), stop)
            ):
                continue  # «У листопаді ... відновили ТЕЦ, але цієї ночі її знову атакували»
            if self.openers and found.group("teaser", "word") != (None, None):
                phrase = " ".join((found.group("teaser") or found.group("word")).casefold().split())
                if phrase in self._captions:
                    stop = self._credit_end(body, found.end(), stop)
            pieces.append(body[pos : found.start()])
            if removed is not None:
                removed.append(body[found.start() : stop])
            pos = stop
        if not pieces:
            return text
        pieces.append(body[pos:])
        return head + newline + " ".join(p.strip() for p in pieces if p.strip())


def alternation(phrases: tuple[str, ...]) -> str:
    """The phrases as one regex alternation, longest first ("Related article" before
    "Related"), any run of spaces between their words, any apostrophe for theirs (the data
    files' phrases: teasers, and the shapes of notplaces.py)."""
    ordered = sorted(phrases, key=len, reverse=True)
    return "|".join(
        r"\s+".join(re.escape(w).replace("'", "['’ʼ]") for w in p.split()) for p in ordered
    )


_QUOTES = "«»\"“”„'’"
_HANDLE_LINE_WORDS = 5  # a channel's name and its handle; more is a sentence
# A name in quotes, from its first letter: «Киевский курьер», "Kyiv Ledger", „Ранок“
_QUOTED = re.compile(r"[«\"“„]\s*(\w)[^«»\"“”„,]*[»\"“”]")
# What may stand for a teaser's colon: an arrow or a pointing hand, as an emoji or not.
_ARROW = "[\u2190-\u21ff\u2794-\u27bf\u2b05-\u2b07\U0001f447-\U0001f449]\ufe0f?"


def _names(text: str, roles: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` is names only: every word capitalised but the short ones that join
    names ("Marta Hnatiuk and Olena Petrenko, Capital Courier, Kyiv") and the ``roles`` of
    those who write ("Kyiv Ledger staff"), not a sentence ("dawn drones had hit Kyiv"); after
    the reporter's name, a job between commas may be in lower case ("Olena Kovalenko, senior
    correspondent, Kyiv")."""

    def capitalised(part: str) -> bool:
        words = [w.strip(_QUOTES + ",:;") for w in part.split()]
        return bool(words) and all(
            w[:1].isupper() or len(w) <= 3 or w.casefold() in roles for w in words if w
        )

    text = _one_word_names(text)
    parts = text.split(",")
    if len(parts) >= 3:
        return capitalised(parts[0]) and capitalised(parts[-1])
    return capitalised(text)


def _one_word_names(text: str) -> str:
    """``text`` with each capitalised name in quotes after its first comma as one capitalised
    word: Ukrainian and Russian capitalise a title's first word only («Олена Савчук, «Київський
    кур'єр»»). Before the comma a quote is what someone said: «В Киеве взрывы», — Кличко."""
    person, comma, rest = text.partition(",")
    if not comma or not _QUOTED.search(rest):
        return text
    return (
        person + comma + _QUOTED.sub(lambda q: "Name" if q.group(1).isupper() else q.group(), rest)
    )


_NAME = r"\s*(?:[A-ZА-ЯІЇЄҐЁ][\w'’-]+\s+){1,2}[A-ZА-ЯІЇЄҐЁ][\w'’-]+"
_BIO = re.compile(
    _NAME + r"(?:\s+is\s+(?:a|an|the)|\s*[\u2013\u2014-])\s+(?:[\w-]+\s+){0,2}?(?P<role>\w+)"
    r"(?:\s+(?:at|for|with|of|in|based)\b|\s+[«\"“]|,|\s+[А-ЯІЇЄҐЁA-Z]|\s+(?:видання|издания))"
)


def _named(sign_off: str) -> bool:
    """Whether a sign-off names a person before its comma (two words or more): «Харків,
    Салтівка» opening a Telegram post, or «Шостка, Сумщина» closing it, says where the news
    is."""
    return len(sign_off.strip("\u2013\u2014- ").split(",")[0].split()) >= 2


def _sign_off(paragraph: str) -> bool:
    """A closing paragraph of at most five capitalised words with a comma and no sentence:
    «Олена Петренко, Київ», "— Marta Hnatiuk, Kyiv", «Олена Петренко, «Київський кур'єр»»."""
    paragraph = _one_word_names(paragraph)
    words = [w for w in (w.strip(_QUOTES + ",\u2013\u2014-") for w in paragraph.split()) if w]
    if not 2 <= len(words) <= 5 or "," not in paragraph or _SENTENCE_END.search(paragraph):
        return False
    return all(w[:1].isupper() for w in words)


@functools.lru_cache(maxsize=1)
def builtin_teasers() -> Teasers:
    """The teasers of ``teasers.yaml`` (read once)."""
    return load(DATA)


def cut_text(text: str) -> str:
    """An item's text (without its title line) less its teasers, credits and bylines, as the
    built-in teasers cut them."""
    return builtin_teasers().cut("\n" + text)[1:]


# teasers.yaml's keys, as Teasers names them: phrase lists per language, and word counts with
# the defaults Teasers gives them
_LISTS = (
    "teasers",
    "captions",
    "credits",
    "bylines",
    "byline_roles",
    "recaps",
    "recalls",
    "abbreviations",
    "openers",
    "appeals",
    "channel_signs",
    "channel_tags",
    "attributions",
    "own_voice",
    "we",
    "last_years",
    "year_nouns",
    "labels",
    "today",
    "bio_verbs",
    "boxes",
    "players",
)
_COUNTS = tuple(
    (f.name, f.default) for f in dataclasses.fields(Teasers) if f.name.endswith("_words")
)


def phrase_lists(
    data: dict, keys: tuple[str, ...], where: str, error: type[ValueError]
) -> dict[str, tuple[str, ...]]:
    """The phrases of each of ``keys`` in ``data``, a list per language ({en: [...], uk:
    [...]}), each as one tuple; ``error`` names ``where`` and the key when one is not that
    shape. (The data files of phrases: teasers, notices.)"""
    lists = {}
    for key in keys:
        by_lang = data.get(key) or {}
        if not isinstance(by_lang, dict) or not all(
            isinstance(v, list) and all(isinstance(p, str) and p.strip() for p in v)
            for v in by_lang.values()
        ):
            raise error(f"{where}: {key}: expected lists of phrases per language")
        lists[key] = tuple(p.strip() for v in by_lang.values() for p in v)
    return lists


def load(path: Path) -> Teasers:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TeaserError(f"{path.name}: expected a mapping")
    unknown = set(data) - set(_LISTS) - {key for key, _ in _COUNTS} - {"months"}
    if unknown:
        raise TeaserError(f"{path.name}: unknown keys {sorted(unknown)}")
    lists = phrase_lists(data, _LISTS, path.name, TeaserError)
    months: list[tuple[str, int]] = []
    for names in (data.get("months") or {}).values():
        if (
            not isinstance(names, list)
            or len(names) != 12
            or not all(isinstance(n, str) and n.strip() for n in names)
        ):
            raise TeaserError(f"{path.name}: months: expected the twelve months per language")
        months += [(n.strip().casefold(), at) for at, n in enumerate(names, 1)]
    counts = {}
    for key, default in _COUNTS:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TeaserError(f"{path.name}: {key}: expected a whole number, 1 or more")
        counts[key] = value
    return Teasers(**lists, **counts, months=tuple(months))
