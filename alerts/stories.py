"""Grouping reports of one development into stories: the pure decision core.

Within an hour of a strike on Kyiv a dozen outlets report it, in English, Ukrainian and
Russian, each under its own title and link. Subscribers want one alert per development. This
module decides, for a new report, which recent story (if any) it belongs to. It does no I/O:
the store keeps each report's :class:`Signature` and story, and rebuilds a :class:`StoryIndex`.

How the decision is made, and why:

* **Evidence that survives translation.** A report's title and lead (the first
  :data:`LEAD_WORDS` words: bylines and "related article" teasers further down a full-article
  feed are not the event) are read into *keys* with the lexicon (:mod:`alerts.lexicon`): the
  places it names, town by town (the gazetteer's), the actors (countries, armies, leaders,
  organisations), the concepts war news turns on (drone, substation, evacuation, troops...), the
  counts it gives, and, for words the lexicon does not know, their stems within the language.
  "Drones hit Odesa port, two workers wounded" and «Шахеди атакували порт Одеси, двоє поранених»
  share drone, strike, port, Odesa, 2 and injured, though not one word.
* **Precision first.** A missed merge costs a subscriber one extra message; a wrong one can cost
  them the news. So a report joins a story only when it matches the story's *headline report*
  (its earliest), not through a chain of reports each a little like the next; it may contradict
  none of the story's reports; and two reports of one outlet join only when one is the other
  updated (a near-identical title, or an "UPDATE"). Contradictions cost more than any likeness
  earns: different counts in the titles (unless the toll *rose*), different places, different
  third countries or leaders, who owns the drones, different weekdays or parts of the day,
  names one title has that the other report never mentions, a later report that recalls an
  earlier week; hours apart, other towns of one region or other weapons.
* **Time from the reports.** Publication times decide, not when the bot saw the reports: a
  report joins only within :data:`MAX_GAP` of the headline, and beyond :data:`CLOSE` the bar
  rises, so the same template on consecutive nights ("drones attack Kyiv overnight") is two
  stories, and a backlog fetched after downtime groups as the live news did.
* **Candidates come from an inverted index** over the keys, never from a scan: the work per
  report is bounded however many stories the window holds.

Everything is deterministic and independent of Python's string hashing, so a signature stored
today decides the same way after a restart.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from itertools import chain

from .lexicon import (
    ACTOR,
    CONCEPT,
    HIDDEN,
    NUMBER,
    OBLAST_WORDS,
    PERSON,
    PLACE,
    REGION,
    Lexicon,
    builtin_lexicon,
    fold,
    is_cyrillic,
    key_of,
    language,
    skeleton,
    stem,
)
from .memo import Memo
from .teasers import builtin_teasers, cut_text
from .text import clean, dateline

# --------------------------------------------------------------------------------------------
# Tunables, set on the tuning half of tests/data/story_pairs.yaml and story_sets.yaml.

WINDOW = timedelta(hours=48)
"""How long a story stays in the index."""
MAX_GAP = timedelta(hours=30)
"""A report joins a story only if published within this of the story's headline report."""
CLOSE = timedelta(hours=8)
"""Reports closer than this in time are judged on evidence alone; after it the bar rises."""
NEXT_DAY = timedelta(hours=20)
"""Reports this far apart are two days' events, unless one says it updates the other."""
NEXT_NIGHT = timedelta(hours=16)
"""Reports that both say "overnight" this far apart are two nights' events, unless one says it
updates the other: a night's reports come within its night and the morning after."""
THRESHOLD = 0.45
"""Score at or above which a report tells the story of the report it is compared with."""
STRONG = 1.0
"""Cost of a contradiction: different counts, places, owners, leaders, names or weekdays."""
MODERATE = 0.3
"""Cost of weaker contrary evidence: another town of the same region, "again" hours later."""
LATE = 0.3
"""Cost per ``CLOSE`` of time beyond ``CLOSE`` between the reports."""
LEAD_WORDS = 60
"""Words of the summary that count: the lead, not the whole article body."""
SIGNATURE_VERSION = 18
"""Stored signatures of another version are computed again (the lexicon or reading changed)."""

# Weights of the kinds of evidence in the likeness of two reports. A place or a count is rarer
# and more telling than a concept; a word the lexicon does not know counts once it is shared.
_WEIGHTS = {PLACE: 1.5, NUMBER: 1.5, REGION: 0.5, ACTOR: 1.0, PERSON: 1.0, CONCEPT: 1.0}
_LIGHT = 0.25
"""Weight of generic keys and of the rule's own terms: every report a rule matched has them."""
_NAME = 0.1
_PLACE_BONUS = 0.1
_NUMBER_BONUS = 0.12
_LEAD_NUMBERS = 0.25
"""How much figures in the leads count against the titles': leads give different details."""

NAME = "nm:"
"""Key prefix of a capitalised word the lexicon does not know, by its consonants."""
_SKELETON = 5

_THOUSANDS = re.compile(r"(?<=\d)[,\u00a0\u202f ](?=\d{3}\b)")
# "2,5 тисячі", "1.5 thousand": a decimal before a word for thousands.
_DECIMAL_THOUSANDS = re.compile(
    r"\b(\d+)[.,](\d)\s*(?=(?:тисяч|тысяч|тис\b|тыс\b|thousand))", re.IGNORECASE
)
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_SEGMENT = re.compile(r"[.!?:;\"“”«»„|—–()\[\]]+|\s-\s")
_WORD = re.compile(r"[^\W_]+")
# A title that says it is an update of an earlier article: "UPDATE: ...", "... (оновлено)".
_UPDATE_TITLE = re.compile(
    r"^\s*\W*(?:updated?|upd|оновлено|обновлено)\b|[(\[]\s*(?:updated?|upd|оновлено|обновлено)\b",
    re.IGNORECASE,
)
_ADJECTIVE_EN = re.compile(r"(an|ish|ese|ch)$")
_ADJECTIVE_CYR = re.compile(r"(?:ськ|цьк|зьк|ск|цк)[^\W\d_]{1,3}$")
_POSTFIX_ACTORS = frozenset({"рф", "зсу", "всу"})
_NONE: frozenset = frozenset()


def _frozen(items: Iterable) -> frozenset:
    """A frozenset, and when empty the one empty set: most of a signature's dozen small sets
    are empty, a new empty frozenset costs 216 bytes, and the story index holds thousands of
    signatures (about 5 MB on the first poll of 200 feeds)."""
    found = frozenset(items)
    return found if found else _NONE


# --------------------------------------------------------------------------------------------
# Signature


@dataclass(frozen=True)
class Signature:
    """What the decision needs of one report, computed once and stored with the item."""

    lang: str
    keys: frozenset[str]
    """Evidence of title and lead: ``c:drone``, ``a:kp``, ``pl:Kupiansk``, ``rg:Kharkiv``,
    ``#3000``, and stems of other words tagged by language (``en:substat``)."""
    title: frozenset[str]
    """The keys of the title alone."""
    title_words: tuple[str, ...]
    """The title's word stems in order: one outlet's update of its own report is near-identical."""
    numbers: frozenset[str]
    title_numbers: frozenset[str]
    mods: frozenset[str]
    """Whose is what: ``ua:c:drone`` for "Ukrainian drones"."""
    names: frozenset[str]
    """Title words written as names that the lexicon does not know (Novokuibyshevsk)."""
    weekdays: frozenset[int]
    flags: frozenset[str]
    """``update`` (the toll rose; an "UPDATE:" title), ``again`` (another event of a kind),
    ``flash`` (a channel's post of a few words) and the parts of the day."""
    title_arms: frozenset[str] = frozenset()
    """Counts of weapons in the title ("Два КАБи", "80 drones"): compared with each other, not
    with a toll ("4 injured"); not in ``numbers``."""

    @cached_property
    def portable(self) -> frozenset[str]:
        return _portable(self.keys)

    @cached_property
    def portable_title(self) -> frozenset[str]:
        return _portable(self.title)

    @cached_property
    def totals(self) -> tuple[float, float, float]:
        """The weights of ``keys``, ``portable`` and ``portable_title``, computed once."""
        return _total(self.keys), _total(self.portable), _total(self.portable_title)

    @cached_property
    def specific(self) -> frozenset[str]:
        """The keys that are not generic: what a comparison weighs as shared evidence (taken
        once per report, not once per comparison)."""
        specific = self.keys - vocabulary().generic
        return self.keys if len(specific) == len(self.keys) else specific

    @cached_property
    def specific_nonplace(self) -> frozenset[str]:
        """What a report says besides where: concepts, actors, counts, words; not generic."""
        return _frozen(k for k in self.specific if not k.startswith((REGION, PLACE, NAME)))

    @cached_property
    def located(self) -> frozenset[str]:
        """Where a report says it happened: towns, and names the lexicon lacks."""
        return _frozen(k for k in self.keys if k.startswith((PLACE, NAME)))

    @cached_property
    def index_keys(self) -> list[str]:
        """The keys the story index files it under (:func:`index_keys`)."""
        return _index_keys(self)

    @cached_property
    def places(self) -> frozenset[str]:
        """Towns and cities, in title and lead (regions are ``regions``)."""
        return _frozen(k for k in self.keys if k.startswith(PLACE))

    @cached_property
    def title_places(self) -> frozenset[str]:
        return _frozen(k for k in self.title if k.startswith(PLACE))

    @cached_property
    def regions(self) -> frozenset[str]:
        return _frozen(k for k in self.keys if k.startswith(REGION))

    @cached_property
    def title_regions(self) -> frozenset[str]:
        return _frozen(k for k in self.title if k.startswith(REGION))

    @cached_property
    def actors(self) -> frozenset[str]:
        return _frozen(k for k in self.keys if k.startswith(ACTOR))

    @cached_property
    def persons(self) -> frozenset[str]:
        return _frozen(k for k in self.keys if k.startswith(PERSON))

    def to_json(self) -> str:
        # Read from JSON (a worker's answer), the text is that JSON: given once, to store it,
        # then let go (the story index holds thousands of signatures).
        text = self.__dict__.pop("_text", None)
        if text is not None:
            return text
        data = {
            "v": SIGNATURE_VERSION,
            "l": self.lang,
            "k": sorted(self.keys),
            "t": sorted(self.title),
            "tw": list(self.title_words),
            "n": sorted(self.numbers),
            "tn": sorted(self.title_numbers),
            "m": sorted(self.mods),
            "nm": sorted(self.names),
            "w": sorted(self.weekdays),
            "f": sorted(self.flags),
            "ta": sorted(self.title_arms),
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Signature:
        """Read :meth:`to_json` output; raises ``ValueError`` for another version or bad data."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != SIGNATURE_VERSION:
            raise ValueError("signature of another version; recompute it with signature()")
        try:
            # Keys interned, as signature() makes them: the story index holds thousands.
            sig = cls(
                lang=data["l"],
                keys=frozenset(map(sys.intern, data["k"])),
                title=frozenset(map(sys.intern, data["t"])),
                title_words=tuple(data["tw"]),
                numbers=_frozen(data["n"]),
                title_numbers=_frozen(data["tn"]),
                mods=_frozen(data["m"]),
                names=_frozen(data["nm"]),
                weekdays=_frozen(int(w) for w in data["w"]),
                flags=_frozen(data["f"]),
                title_arms=_frozen(data["ta"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed signature: {exc!r}") from exc
        # to_json() would write this text again (one layout, sorted lists): keep it for that.
        sig.__dict__["_text"] = (text if isinstance(text, str) else text.decode("utf-8")).strip()
        return sig

    def to_bytes(self) -> bytes:
        return self.to_json().encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        return cls.from_json(data.decode("utf-8"))


def _prepare(text: str) -> str:
    """Clean and rewrite what word-splitting would break: 1,000; 17th; п'ять; ё; 2 a.m."""
    text = clean(text)
    # (each looked for first with a pattern that scans five times faster)
    if _AM_PM_HINT.search(text):
        text = _AM_PM.sub(_24h, text)  # first: "9:30 p.m." is 21h30
    if ":" in text and _CLOCK_HINT.search(text):
        text = _CLOCK.sub(r"\1h\2", text)
    text = _DECIMAL_THOUSANDS.sub(lambda m: f"{int(m[1]) * 1000 + int(m[2]) * 100} ", text)
    text = _THOUSANDS.sub("", text)
    text = _ORDINAL.sub(r"\1", text)
    text = re.sub(r"(?<=[^\W\d_])['’ʼ`](?=[а-яіїєґ])", "", text, flags=re.IGNORECASE)
    return text.replace("ё", "е").replace("Ё", "Е")


# A clock time is a time of day, not a figure ("at 2 a.m.", «о 13:00»): one word, "2h00" or
# "13h00", which the reading takes for the part of the day it falls in. A full stop after
# "a.m." stays where it ends a sentence.
_CLOCK = re.compile(r"(?<![\d:.,])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")
_AM_PM = re.compile(
    r"(?<![\d:.,])(1[0-2]|0?[1-9])(?:[:.]([0-5]\d))?\s?([ap])\.?\s?m\b(\.(?=\s+[A-ZА-ЯІЇЄҐ]))?",
    re.IGNORECASE,
)
_CLOCK_WORD = re.compile(r"(\d\d?)h\d\d")
_AM_PM_HINT = re.compile(r"\d\s?[ap]\.?\s?m\b", re.IGNORECASE)
_CLOCK_HINT = re.compile(r"\d:[0-5]\d")


def _24h(found: re.Match[str]) -> str:
    hour = int(found[1]) % 12 + (12 if found[3].lower() == "p" else 0)
    return f"{hour}h{found[2] or '00'}{found[4] or ''}"


def _clock_part(hour: int) -> str:
    """The part of the day an hour falls in, as the words for it name it."""
    if 5 <= hour < 11:
        return "morning"
    if 11 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def _title_case(title: str) -> bool:
    """Whether a title Capitalises Every Word (as some outlets do): no names to read then."""
    words = [w for w in _WORD.findall(title)[1:] if len(w) >= 4 and not w.isdigit()]
    return len(words) >= 3 and all(w[0].isupper() for w in words)


@dataclass(slots=True)
class _Token:
    raw: str
    folded: str
    key: str
    in_title: bool
    first: bool  # first word of a sentence or segment
    comma: bool = False  # after a comma: «загинули двоє, тисячі будинків» is not 2,000


def _folded(raw: str) -> tuple[str, str]:
    folded = fold(raw)
    return folded, key_of(folded)


_FOLDED = Memo(_folded)


def _tokens(title: str, lead: str) -> list[_Token]:
    out = []
    cache = _FOLDED
    for text, in_title in ((title, True), (lead, False)):
        for segment in _SEGMENT.split(text):
            first = True
            comma = False
            for raw in _WORD_OR_COMMA.findall(segment):
                if raw == ",":
                    comma = True
                    continue
                if raw[0] in "-\u2011":  # a model's number: "ФАБ-500", "Shahed-136", "F-16"
                    continue
                known = cache[raw]
                out.append(_Token(raw, known[0], known[1], in_title, first, comma))
                first = comma = False
    return out


_WORD_OR_COMMA = re.compile(r"(?<=[^\W\d_])[-\u2011]\d[^\W_]*|[^\W_]+|,")


def _lead(summary: str) -> str:
    """The summary's first words, without a wire dateline ("KYIV, Dec 6 (Wire) - "): where a
    story was filed from is not where it happened, and two stories filed from one capital
    would share it."""
    span = dateline("\n" + summary)
    if span is not None:  # (below a standfirst, the standfirst stays)
        summary = summary[: span[0] - 1] + summary[span[1] - 1 :]
    summary = builtin_teasers().without_handles(summary)  # "@kyiv_operative": a channel
    # Nor another article's headline embedded in it ("Read also: Missile strike on Kyiv kills
    # two"): its place and figures would be taken for this report's. The teasers are cut from
    # the words the lead could take, which a teaser may run past.
    # The line breaks between paragraphs are kept for the cut: where a teaser ends.
    words = _FIRST_WORDS.match(summary)
    lead = cut_text(words.group() if words else "")
    return " ".join(lead.split()[:LEAD_WORDS])


_FIRST_WORDS = re.compile(rf"\s*(?:\S+\s*){{0,{2 * LEAD_WORDS}}}")


def signature(title: str, summary: str, lexicon: Lexicon | None = None) -> Signature:
    """The fingerprint of a report from its plain-text title and summary (only the lead)."""
    lex = lexicon or builtin_lexicon()
    raw_title = title
    title = _prepare(title)
    lead = _prepare(_lead(summary))
    lang = language(title + " " + lead)
    title_case = _title_case(title)
    tokens = _tokens(title, lead)
    keys: set[str] = set()
    title_keys: set[str] = set()
    numbers: set[str] = set()
    title_numbers: set[str] = set()
    title_arms: set[str] = set()
    mods: set[str] = set()
    capital: set[str] = set()
    lower: set[str] = set()
    weekdays: set[int] = set()
    flags: set[str] = set()
    title_words: list[str] = []
    owner: str | None = None  # an actor adjective waiting for its noun
    actor_at = (-9, "")  # the last actor named, and where
    launcher = (-1, "")  # who launched the weapons named until then: "Russia launched 80 drones"
    last_key: str | None = None
    said_at: list[int] = []  # where "said" and its kin are
    after_at: list[int] = []  # where "hours after" and its kin are
    parts: list[tuple[int, str, int]] = []  # where a part of the day is named, which, and how
    # far before "said" it may stand and still say when the news was told
    sentences = 0  # of the lead, begun so far
    since_until = -1  # "since last week": no "past" before this token
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        if tok.first and not tok.in_title:
            sentences += 1
        found, length = _lookup(lex, tokens, i, lang)
        marker = _marker(lex, tokens, i)
        if marker:
            if marker == "said":
                said_at.append(i)
            elif marker == "launch":
                if i - actor_at[0] <= _SUBJECT:
                    launcher = (i + _LAUNCHED, actor_at[1])
            elif marker == "after":
                after_at.append(i)
            elif marker in _DAYPARTS:
                # When the event was, the title and the lead's first sentence say; a later one
                # may tell of another time ("Schools will open at noon").
                if sentences <= 1:
                    parts.append((i, marker, 3))
            elif marker == "since":
                since_until = i + 4  # "since last month's strike": a comparison
            elif marker == "past" and i < since_until:
                pass
            elif marker == "again" and sentences > 1:
                pass  # a second attack says so at once; later, "again" is of something else
            elif marker != "roundup" or tok.in_title:
                flags.add(marker)
        if tok.in_title and tok.folded not in lex.stopwords:
            title_words.append(tok.key if not is_cyrillic(tok.folded) else stem(tok.folded, lang))
        if found:
            after = tokens[i + length] if i + length < n else None
            if after is not None and after.folded in OBLAST_WORDS:
                # "Kharkiv region": the region, not its centre
                found = [_as_region(k, lex) for k in found]
            found = [k for k in found if k != HIDDEN] or [HIDDEN]
            for entry_key in found:
                if entry_key == HIDDEN:
                    break
                _add(entry_key, tok.in_title, keys, title_keys, lex)
                if entry_key.startswith((PLACE, PERSON)) and length == 1:
                    # also by its consonants, as a name the lexicon lacks would be: the
                    # adjective "Глушковский" is then still Glushkovo's, and a leader is
                    # himself, not only his country
                    name = skeleton(tok.folded)[:_SKELETON]
                    if len(name) >= 3:
                        _add(f"{NAME}{name}", tok.in_title, keys, title_keys, lex)
            head = found[0]
            if tok.first:
                launcher = (-1, "")
            if head.startswith(ACTOR):
                actor = head[len(ACTOR) :]
                actor_at = (i + length - 1, actor)
                if tok.folded in _POSTFIX_ACTORS and last_key and not last_key.startswith(ACTOR):
                    mods.add(f"{actor}:{last_key}")  # "беспилотники ВСУ"
                    owner = None
                elif length == 1 and _is_adjective(tok.folded):
                    owner = actor
                else:
                    owner = None
            else:
                if owner and head in lex.owned:
                    mods.add(f"{owner}:{head}")
                elif i <= launcher[0] and head in lex.weapons:
                    mods.add(f"{launcher[1]}:{head}")
                owner = None
            last_key = head
            i += length
            continue
        word = tok.folded
        clock = _CLOCK_WORD.fullmatch(word) if word[0].isdigit() else None
        if clock is not None:
            if sentences <= 1:  # as the words for a part of the day (above)
                # a time opens the sentence that says who told it: «Об 11:30 мер Харкова Ігор
                # Терехов повідомив»
                parts.append((i, _clock_part(int(clock[1])), 6))
            owner = None
            i += 1
            continue
        if word in lex.weekdays:
            weekdays.add(lex.weekdays[word])
            i += 1
            continue
        if word in lex.months_before or tok.key in lex.months_before:
            # "Dec. 8": a date, neither a figure nor a word two reports of one day share
            day = tokens[i + 1] if i + 1 < n else None
            i += 2 if day is not None and day.folded.isdigit() and len(day.folded) <= 2 else 1
            owner = None
            continue
        value = lex.numbers.get(word) or (word if _is_count(word) else None)
        if value is not None:
            after = tokens[i + 1] if i + 1 < n else None
            if after is not None and not after.comma and lex.numbers.get(after.folded) == "1000":
                # "3 тисячі", "3 thousand"; "2500 тисячі" was "2,5 тисячі" already
                value = value if int(value) >= 1000 else str(int(value) * 1000)
                i += 1
            after = tokens[i + 1] if i + 1 < n else None
            if after is None or (after.folded not in lex.units and after.key not in lex.units):
                _add(f"{NUMBER}{value}", tok.in_title, keys, title_keys, lex)
                if _arms(lex, tokens, i + 1, lang):
                    if tok.in_title:
                        title_arms.add(value)
                else:
                    numbers.add(value)
                    if tok.in_title:
                        title_numbers.add(value)
            owner = None
            i += 1
            continue
        if word.isdigit() or word in lex.stopwords or tok.key in lex.stopwords or len(word) < 2:
            if word == "s" and last_key and last_key.startswith(ACTOR):
                owner = last_key[len(ACTOR) :]  # "Ukraine's drones"
            elif word not in ("s",):
                owner = None
            i += 1
            continue
        key = f"{'en' if not is_cyrillic(word) else lang}:{stem(word, lang)}"
        _add(key, tok.in_title, keys, title_keys, lex)
        if tok.raw[0].isupper() and not tok.raw.isupper() and len(word) > 3:
            name = skeleton(word)[:_SKELETON]
            if len(name) >= 3:
                _add(f"{NAME}{name}", tok.in_title, keys, title_keys, lex)
        if tok.raw[0].isupper() and not tok.first and not tok.raw.isupper():
            if not (tok.in_title and title_case) and tok.in_title:
                capital.add(key)
        elif tok.raw[0].islower():
            lower.add(key)
        last_key = key
        i += 1
    for at, part, before in parts:
        # "the governor said on Monday evening", «про це ввечері повідомив»: when the news was
        # told, not when it happened
        if any(-before <= at - said <= 7 for said in said_at):
            continue
        # "hours after a pre-dawn attack": when an earlier event was
        if not any(1 <= at - after <= 6 for after in after_at):
            flags.add(part)
    if _UPDATE_TITLE.search(title):
        flags.add("update")
    if _is_flash(raw_title, summary):
        flags.add("flash")  # «Одесса — взрывы»: a channel's details may follow
    if title.count(";") >= 2:  # "Drones hit Odesa; troops to Kursk; talks resume": a roundup
        flags.add("roundup")
    return Signature(
        lang=lang,
        keys=frozenset(keys),
        title=frozenset(title_keys),
        title_words=tuple(title_words),
        numbers=_frozen(numbers),
        title_numbers=_frozen(title_numbers),
        title_arms=_frozen(title_arms),
        mods=_frozen(mods),
        names=_frozen(capital - lower),
        weekdays=_frozen(weekdays),
        flags=_frozen(flags),
    )


def _as_region(key: str, lex: Lexicon) -> str:
    if key.startswith(PLACE) and key[len(PLACE) :] in lex.oblasts:
        return f"{REGION}{key[len(PLACE) :]}"
    return key


def _add(key: str, in_title: bool, keys: set[str], title_keys: set[str], lex: Lexicon) -> None:
    # One string object per key, whichever report it came from: thousands of signatures in the
    # story index hold the same few thousand keys (10k reports: 43 -> 30 MB).
    key = sys.intern(key)
    keys.add(key)
    if in_title:
        title_keys.add(key)
    if key.startswith(PLACE):
        region = lex.regions.get(key[len(PLACE) :])
        if region:
            region_key = sys.intern(f"{REGION}{region}")
            keys.add(region_key)
            if in_title:
                title_keys.add(region_key)


def _arms(lex: Lexicon, tokens: list[_Token], i: int, lang: str) -> bool:
    """Whether a count before token ``i`` counts weapons: "Два КАБи", "80 attack drones"."""
    for at in range(i, min(i + 2, len(tokens))):
        if tokens[at].in_title != tokens[i - 1].in_title:
            return False
        found, _ = _lookup(lex, tokens, at, lang)
        if found and found[0] in lex.weapons:
            return True
    return False


def _lookup(lex: Lexicon, tokens: list[_Token], i: int, lang: str = "en") -> tuple[list[str], int]:
    """The evidence keys of the longest lexicon phrase starting at token ``i`` (or, for a
    Cyrillic word the tables lack as written, of its stem)."""
    found, length = _phrase(lex, tokens, i)
    # A function word is never a concept by its stem: «у місті» (in the city) is not «міст»
    # (a bridge), though the two share a stem.
    if not found and is_cyrillic(tokens[i].folded) and tokens[i].folded not in lex.stopwords:
        entries = lex.stems.get((lang, stem(tokens[i].folded, lang)))
        if entries:
            return [e.key for e in entries], 1
    return found, length


def _phrase(lex: Lexicon, tokens: list[_Token], i: int) -> tuple[list[str], int]:
    longest = lex.firsts.get(tokens[i].key)
    if longest is None:
        return [], 0
    phrases = lex.phrases
    first = tokens[i]
    for length in range(min(longest, len(tokens) - i), 0, -1):
        window = tokens[i : i + length]
        if length > 1 and window[-1].in_title != first.in_title:
            continue
        entries = phrases.get(tuple([t.key for t in window]))
        if not entries:
            continue
        keys = [e.key for e in entries if not e.capital or first.raw[:1].isupper()]
        if keys:
            return keys, length
    return [], 0


def _marker(lex: Lexicon, tokens: list[_Token], i: int) -> str | None:
    longest = lex.marker_firsts.get(tokens[i].key)
    if longest is None:
        return None
    for length in range(min(longest, len(tokens) - i), 0, -1):
        found = lex.markers.get(tuple([t.key for t in tokens[i : i + length]]))
        if found:
            return found
    return None


def _is_count(word: str) -> bool:
    if not word.isdigit() or (len(word) > 1 and word.startswith("0")):
        return False
    return not (len(word) == 4 and 1900 <= int(word) <= 2100)  # years date the war


def _is_adjective(word: str) -> bool:
    if is_cyrillic(word):
        return _ADJECTIVE_CYR.search(word) is not None
    return _ADJECTIVE_EN.search(word) is not None and len(word) > 4


# --------------------------------------------------------------------------------------------
# Decision


@dataclass(frozen=True)
class Report:
    """What the story decision needs of an item: its text, time, source and what it matched."""

    item_id: int
    title: str
    summary: str
    published: datetime
    """UTC, aware. Use the time the item was first seen when the feed gives none."""
    feed: str
    regions: tuple[str, ...] = ()
    """Region names the matcher found (``Match.regions``)."""
    terms: frozenset[str] = frozenset()
    """Rule terms the matcher found, as strings (``str(term)`` of ``Match.keywords``)."""


@dataclass(frozen=True)
class Decision:
    """Whether two reports tell the same story, with the score and a reason operators can read."""

    same: bool
    score: float
    reason: str


def _apart(gap: float, updates: bool) -> bool:
    """Whether two reports ``gap`` hours apart are told far enough apart to be two events when
    they differ (other towns of one region, other weapons): half of :data:`CLOSE` or more, and
    neither says it updates the other. Minutes after an attack, outlets may mistake a missile
    for a drone or name the region's capital for its village; hours later they would not,
    unless one report corrects the other."""
    return gap >= _hours(CLOSE) / 2 and not updates


def _hours(delta: timedelta) -> float:
    return abs(delta.total_seconds()) / 3600


def _base_weight(key: str) -> float:
    """A key's weight, rule terms aside: generic keys weigh as little as those."""
    if key in vocabulary().generic:
        return _LIGHT
    for prefix, weight in _WEIGHTS.items():
        if key.startswith(prefix):
            return weight
    return 1.0


# Weights by key, each computed on first use: looked up by ``map`` in C afterwards.
_BASE = Memo(_base_weight)
_EXCESS = Memo(lambda key: max(_BASE[key] - _LIGHT, 0.0))
_base = _BASE.__getitem__
_excess = _EXCESS.__getitem__


def _total(keys: frozenset[str]) -> float:
    return sum(map(_base, keys))


def _lightened(keys: frozenset[str], total: float, light: frozenset[str]) -> float:
    """A total with the rule's own terms weighing ``_LIGHT``: they are few, so adjusting a
    stored total costs less than summing the set again."""
    if not light:
        return total
    both = keys & light
    return total - sum(map(_excess, both)) if both else total


def _cosine(
    a: frozenset[str], b: frozenset[str], total_a: float, total_b: float, light: frozenset[str]
) -> float:
    """Weighted cosine of two key sets: shared weight over the geometric mean of the totals
    (each given, as stored with the signature)."""
    both = a & b
    if not both:
        return 0.0
    shared = sum(map(_base, both)) - (sum(map(_excess, both & light)) if light else 0.0)
    ta, tb = _lightened(a, total_a, light), _lightened(b, total_b, light)
    return shared / math.sqrt(ta * tb) if ta > 0 and tb > 0 else 0.0


def _portable(keys: frozenset[str]) -> frozenset[str]:
    """The keys that mean the same in every language: all but the stems of unknown words."""
    portable = frozenset(k for k in keys if not k.startswith(_STEMS))
    return keys if len(portable) == len(keys) else portable


_STEMS = ("en:", "uk:", "ru:")


_TERM_KEYS: dict[str, frozenset[str]] = {}


def term_keys(term: str) -> frozenset[str]:
    """The keys one rule term stands for (``deploy*`` -> c:deploy, ``North Korea`` -> a:kp)."""
    found = _TERM_KEYS.get(term)
    if found is None:
        found = _TERM_KEYS[term] = signature(term.replace("*", ""), "").keys
    return found


@lru_cache(maxsize=4096)
def _term_keys(terms: frozenset[str]) -> frozenset[str]:
    """The keys a report's rule terms stand for, together."""
    out: set[str] = set()
    for term in terms:
        out |= term_keys(term)
    return frozenset(out)


@dataclass(frozen=True)
class Vocabulary:
    """What comparing two signatures needs of the lexicon: which keys are generic (weigh
    little) and which are weapons. A process that reads no text itself (the signatures come
    from :mod:`alerts.signer`'s worker) is given these and never opens the lexicon."""

    generic: frozenset[str]
    weapons: frozenset[str]


_VOCABULARY: list[Vocabulary] = []


def vocabulary() -> Vocabulary:
    if not _VOCABULARY:
        lex = builtin_lexicon()
        _VOCABULARY.append(Vocabulary(lex.generic, lex.weapons))
    return _VOCABULARY[0]


def learn(vocab: Vocabulary | None = None, terms: dict[str, Iterable[str]] | None = None) -> None:
    """Take the vocabulary and rule terms' keys another process read from the same lexicon."""
    if vocab is not None and not _VOCABULARY:
        _VOCABULARY.append(vocab)
    for term, keys in (terms or {}).items():
        _TERM_KEYS.setdefault(term, frozenset(map(sys.intern, keys)))


def _readable(keys: Iterable[str]) -> str:
    """Keys as an operator reads them: "Kupiansk, drone, 3000, substation"."""
    out: list[str] = []
    for key in sorted(keys, key=lambda k: (not k.startswith(PLACE), k)):
        text = key.split(":", 1)[1] if ":" in key else key.lstrip("#")
        if text not in out:
            out.append(text)
    return ", ".join(out[:8]) + (", ..." if len(out) > 8 else "")


def same_story(
    a: Report, sa: Signature, b: Report, sb: Signature, *, max_gap: timedelta = MAX_GAP
) -> Decision:
    """Whether report ``b`` tells the same story as report ``a`` (symmetric in ``a`` and ``b``).

    Likeness of the evidence is the base score; independent pieces of evidence then add to it
    or take from it, and the sum is compared with ``THRESHOLD``. A contradiction costs
    ``STRONG``, more than any likeness earns. Every step is written into ``reason``.
    """
    why: list[str] = []
    score = _score(a, sa, b, sb, max_gap, why)
    if score is None:
        return Decision(False, 0.0, why[0])
    same = score >= THRESHOLD
    verdict = "same story" if same else "another story"
    return Decision(same, round(score, 3), f"{verdict} (score {score:.2f}): " + "; ".join(why))


def _score(
    a: Report,
    sa: Signature,
    b: Report,
    sb: Signature,
    max_gap: timedelta,
    why: list[str] | None = None,
    against: list[str] | None = None,
    told: frozenset[str] = frozenset(),
) -> float | None:
    """The score of :func:`same_story`, None when the reports are too far apart in time.

    ``why`` collects the evidence in words when given; assignment, which compares each report
    with a dozen candidates, passes None and skips the formatting, and stops weighing once the
    comparison cannot reach ``THRESHOLD`` (then the score is ``-STRONG``). ``against`` collects
    the contradictions (what costs ``STRONG``). ``told``: the figures the reports of a story
    ``b`` is checked against gave as updates ("the toll rose to 3"); ``b`` giving one of them
    agrees with the story as it now stands, whatever its earlier reports said.
    """
    try:
        return _weigh(a, sa, b, sb, max_gap, why, against, told)
    except _Hopeless:
        return -STRONG


def _weigh(
    a: Report,
    sa: Signature,
    b: Report,
    sb: Signature,
    max_gap: timedelta,
    why: list[str] | None = None,
    against: list[str] | None = None,
    told: frozenset[str] = frozenset(),
) -> float | None:
    """:func:`_score`'s weighing, which raises :class:`_Hopeless` when deciding."""
    gap = abs(b.published.timestamp() - a.published.timestamp()) / 3600
    if gap > _hours(max_gap):
        if why is not None:
            why.append(f"published {gap:.0f}h apart (more than {_hours(max_gap):.0f}h)")
        return None
    vocab = vocabulary()
    score = 0.0
    deciding = why is None and against is None  # assignment: stop once it cannot reach THRESHOLD
    # A report checked against a story's other reports: only what costs STRONG is asked for.
    contrary_only = why is None and against is not None
    # A report that updates a count ("the toll rose to 28") changes its figures and comes hours
    # later by nature.
    updates = "update" in sa.flags or "update" in sb.flags

    def evidence(delta: float, what: Callable[[], str]) -> None:
        nonlocal score
        score += delta
        if why is not None:
            why.append(f"{what()} {delta:+.2f}")
        if against is not None and delta <= -STRONG:
            against.append(what())
        if deciding and score + _MAX_GAIN < THRESHOLD:
            raise _Hopeless

    if "roundup" in sa.flags or "roundup" in sb.flags:
        # "Ukraine war latest: ...": several developments in one item. Joined to the story of
        # one of them, it would bring the others' rules to that story's alert; alone, its
        # title says what it holds.
        evidence(-2 * STRONG, lambda: "a roundup of several developments")

    if a.feed == b.feed and not _one_article(sa, sb) and not _flash_and_details(a, sa, b, sb):
        evidence(-2 * STRONG, lambda: f"two articles of one outlet ({a.feed})")

    if contrary_only:  # what is shared weighs less than STRONG, whatever it is: not weighed
        light: frozenset[str] = frozenset()
        shared = light
    else:
        light = _term_keys(a.terms) | _term_keys(b.terms)  # each cached, per report
        shared = (sa.specific & sb.specific) - light
        _shared_evidence(sa, sb, shared, light, gap, updates, evidence)

    # Numbers: the titles' if both give some, else title and lead, which weigh less.
    # A count of weapons is compared with a count of weapons, a toll with a toll ("Два КАБи"
    # and "4 injured" do not differ), but a figure one title gives either way is shared:
    # "64 of 87 Russian drones" and "64 Russian drones".
    a_all, b_all = sa.title_numbers | sa.title_arms, sb.title_numbers | sb.title_arms
    if a_all & b_all:
        na, nb, where, weight = a_all, b_all, "titles", 1.0
    elif sa.title_numbers and sb.title_numbers:
        na, nb, where, weight = sa.title_numbers, sb.title_numbers, "titles", 1.0
    elif sa.title_arms and sb.title_arms:
        na, nb, where, weight = sa.title_arms, sb.title_arms, "titles", 1.0
    else:
        na, nb, where, weight = sa.numbers, sb.numbers, "texts", _LEAD_NUMBERS
    if na and nb:
        if na & nb:
            evidence(
                _NUMBER_BONUS * weight, lambda: f"same figures in the {where} ({_join(na & nb)})"
            )
        elif updates:
            if why is not None:
                why.append("figures differ, but one report updates them")
        elif told and not nb.isdisjoint(told):
            if why is not None:
                why.append(f"figures differ, but the story's update gives {_join(nb & told)}")
        elif where == "titles" and not (na.isdisjoint(sb.numbers) or nb.isdisjoint(sa.numbers)):
            # Each title picked another figure of one report, which the other's text gives:
            # "lost 1,165,230 troops since 2022" and «мінус 1 090 окупантів» of one day's post.
            if why is not None:
                why.append("figures differ in the titles, but each report gives the other's")
        else:
            evidence(
                -STRONG * weight,
                lambda: f"different figures in the {where} ({_join(na)} vs {_join(nb)})",
            )

    place_evidence = _places(sa, sb, gap, updates)
    if place_evidence:
        evidence(*place_evidence)

    wa, wb = sa.title & vocab.weapons, sb.title & vocab.weapons
    if wa and wb and wa.isdisjoint(wb) and not (wa & sb.keys or wb & sa.keys):
        # First reports may mistake a missile for a drone; hours later, they would not.
        cost = STRONG if _apart(gap, updates) else MODERATE
        evidence(-cost, lambda: f"other weapons ({_readable(wa)} vs {_readable(wb)})")

    conflict = _mod_conflict(sa.mods, sb.mods)
    if conflict:
        evidence(-STRONG, lambda: f"whose differs ({conflict})")

    third_a = sa.actors - _MAIN_ACTORS
    third_b = sb.actors - _MAIN_ACTORS
    people_a, people_b = sa.persons - _MAIN_PERSONS, sb.persons - _MAIN_PERSONS
    if third_a and third_b and third_a.isdisjoint(third_b):
        evidence(
            -STRONG, lambda: f"different countries ({_readable(third_a)} vs {_readable(third_b)})"
        )
    elif people_a and people_b and people_a.isdisjoint(people_b):
        evidence(
            -STRONG, lambda: f"different leaders ({_readable(people_a)} vs {_readable(people_b)})"
        )

    if sa.lang == sb.lang:
        only_a = sa.names - sb.keys
        only_b = sb.names - sa.keys
        if only_a and only_b:
            evidence(
                -STRONG, lambda: f"different names ({_readable(only_a)} vs {_readable(only_b)})"
            )
        elif sa.names & sb.names:
            evidence(_NAME, lambda: f"same names ({_readable(sa.names & sb.names)})")

    if sa.weekdays and sb.weekdays and sa.weekdays.isdisjoint(sb.weekdays):
        evidence(-STRONG, lambda: "different weekdays")
    parts_a, parts_b = sa.flags & _DAYPARTS, sb.flags & _DAYPARTS
    if (
        parts_a
        and parts_b
        and not updates
        and _apart_in_the_day(parts_a, parts_b)
        and _AFTERMATH.isdisjoint(sa.keys)
        and _AFTERMATH.isdisjoint(sb.keys)
    ):
        # (A report of the search for survivors tells when rescuers worked, not when the
        # strike was: "In the evening, rescuers were still searching the rubble".)
        evidence(
            -STRONG,
            lambda: f"different times of day ({_join(parts_a)} vs {_join(parts_b)})",
        )

    close = _hours(CLOSE)
    if gap > close:
        if updates and not sa.located.isdisjoint(sb.located):
            # "Death toll from Sunday's strike on Odesa rises to 9", a day later: the toll of
            # one town's event is told as long as bodies are found, so lateness costs at most
            # what eight hours cost.
            late = LATE / 2 * min((gap - close) / close, 1.0)
            if not sa.weekdays.isdisjoint(sb.weekdays):
                # ... and one that names the day the story's event was ("Sunday's strike")
                # points back to it: it costs nothing.
                late = 0.0
        else:
            late = (LATE / 2 if updates else LATE) * (gap - close) / close
        evidence(-late, lambda: f"published {gap:.0f}h apart")
        if gap >= _hours(NEXT_DAY) and not updates:
            # The same words a night later are the same template, another night's event.
            evidence(-STRONG, lambda: "a day apart, and no report says it updates the other")
        elif (
            gap >= _hours(NEXT_NIGHT)
            and not updates
            and _OVERNIGHT in sa.keys
            and _OVERNIGHT in sb.keys
        ):
            # "Drones attack Kyiv overnight", a flash each night with the same words and no
            # detail: 19 hours apart is a night apart.
            evidence(-STRONG, lambda: "both overnight, a night apart")
        if "again" in sa.flags or "again" in sb.flags:
            if not updates and _only_later("again", a, sa, b, sb):
                # «Уранці росіяни знову атакували Київ», hours after the night's attack: the
                # later report tells of a second attack, whatever words it shares with the first.
                evidence(-STRONG, lambda: '"again" hours later, and the earlier report does not')
            else:
                evidence(-MODERATE, lambda: '"again", hours later')
    elif why is not None:
        why.append(f"published {gap:.1f}h apart")
    if not updates and _only_later("past", a, sa, b, sb):
        # "Last week's strike on a Kharkiv power plant killed two": an analysis recalling an
        # older event, however alike its place, figures and weapon.
        evidence(-STRONG, lambda: "the later report tells of an earlier week or month")
    if contrary_only:
        return score  # only the contradictions were asked for
    # Likeness last: the contradictions above are cheap, and decide most comparisons alone.
    text = max(
        _cosine(sa.keys, sb.keys, sa.totals[0], sb.totals[0], light),
        _cosine(sa.portable, sb.portable, sa.totals[1], sb.totals[1], light),
    )
    title = _cosine(sa.portable_title, sb.portable_title, sa.totals[2], sb.totals[2], light)
    likeness = max(text, (text + title) / 2)
    if why is not None:
        why.insert(
            0, f"in common: {_readable(shared) or 'nothing telling'} (likeness {likeness:.2f})"
        )
    return score + likeness


def _shared_evidence(
    sa: Signature,
    sb: Signature,
    shared: frozenset[str],
    light: frozenset[str],
    gap: float,
    updates: bool,
    evidence: Callable[[float, Callable[[], str]], None],
) -> None:
    """What two reports have in common, as evidence: too little costs MODERATE or almost
    STRONG, never STRONG itself (unlike, not contrary), so a check for contradictions skips it."""
    # Names the lexicon does not know are mostly places (villages, districts): as places, a
    # shared one says where, not what happened.
    telling = (sa.specific_nonplace & sb.specific_nonplace) - light
    places_shared = not sa.located.isdisjoint(sb.located)
    if not telling and len(_locations(shared)) >= 2:
        # A village and the town it is near, both in each report: where, said precisely twice
        telling = {"two places"}
    # One thing in common besides where is enough when where is precise: two places (a village
    # and its town), or one town within hours, or later when one report updates the other (a
    # toll rises hours later by nature). A front-line town is hit many times a day, so
    # "Kherson" and "drone" half a day apart are two events.
    specific = (
        places_shared and (gap <= _hours(CLOSE) / 2 or updates or len(_locations(shared)) >= 2)
    ) or any(k.startswith(NUMBER) and int(k[1:]) >= 10 for k in telling)
    if not telling:
        # A town and the rule's topic are not an event, unless one report says nothing more
        # than the other ("Explosions in Kharkiv", "Kharkiv: explosions"), or is a flash of it
        # («Одесса — взрывы») told shortly before or after the report that gives its details.
        rest_a = _telling(sa, shared, light)
        rest_b = _telling(sb, shared, light)
        flash = "flash" in sa.flags or "flash" in sb.flags
        if places_shared and flash and gap <= _hours(_FLASH_DETAILS):
            pass
        elif places_shared and not (rest_a and rest_b):
            evidence(-MODERATE, lambda: "only a place in common, and nothing else said")
        elif places_shared and gap <= _hours(CLOSE) / 4:
            # Minutes apart, one place, one topic: as likely one development told twice.
            evidence(-1.5 * MODERATE, lambda: "only a place in common, within the hour")
        else:
            what = "only a place in common" if places_shared else "nothing telling in common"
            evidence(-STRONG + 0.01, lambda: what)  # unlike, not contrary
    elif len(telling) == 1 and not specific:
        evidence(-MODERATE, lambda: "only one thing in common")


class _Hopeless(Exception):
    """A comparison that can no longer reach ``THRESHOLD``, whatever is left to weigh."""


_MAX_GAIN = 1.0 + _NUMBER_BONUS + _PLACE_BONUS + _NAME
"""The most that likeness (at most 1) and the bonuses can add: a running score below
``THRESHOLD - _MAX_GAIN`` is decided."""


def _places(
    sa: Signature, sb: Signature, gap: float = 0.0, updates: bool = False
) -> tuple[float, Callable[[], str]] | None:
    """What the places of two reports say: the same town is evidence for, two towns against
    (other towns of one region ``gap`` hours apart are other events, unless one report
    ``updates`` the other, which may name the village where the first named its town).

    A region (Sumy Oblast, Сумщина) says less than a town or city (Sumy, Bilopillia): "Sumy
    region" and "Bilopillia" do not contradict each other. The titles say where the event was;
    when each names a town the other report never mentions, they are two events, whether the
    towns are in one region (Kramatorsk, Kostiantynivka) or not.
    """

    sa_towns, sb_towns = sa.places, sb.places
    ta, tb = sa.title_places, sb.title_places
    if ta and tb:
        missing_a, missing_b = not (ta & sb.keys), not (tb & sa.keys)
        if (missing_a and missing_b) or (
            (missing_a or missing_b) and sa.title_regions.isdisjoint(sb.title_regions)
        ):
            # Each title's town is nowhere in the other report; or one is, in another region:
            # "Missile strike on Dnipro kills two" is not the Kyiv strike its lead recalls
            # ("...days after the attack on the capital, Kyiv"), though both name Kyiv.
            return -STRONG, lambda: f"different places ({_readable(ta)} vs {_readable(tb)})"
    if sa_towns & sb_towns:
        return _PLACE_BONUS, lambda: f"same place ({_readable(sa_towns & sb_towns)})"
    ra, rb = sa.regions, sb.regions
    if ra and rb and ra.isdisjoint(rb):
        title_a, title_b = sa.title_regions, sb.title_regions
        if title_a and title_b and title_a.isdisjoint(title_b):
            return (
                -STRONG,
                lambda: f"different places ({_readable(title_a)} vs {_readable(title_b)})",
            )
        return None  # places of the leads only: where officials spoke, where a drone came from
    if ra & rb and sa_towns and sb_towns:
        if _apart(gap, updates):
            return (
                -STRONG,
                lambda: (
                    f"other towns ({_readable(sa_towns)} vs {_readable(sb_towns)}), {gap:.0f}h apart"
                ),
            )
        return -MODERATE, lambda: f"other towns ({_readable(sa_towns)} vs {_readable(sb_towns)})"
    if ra & rb:
        return _PLACE_BONUS / 2, lambda: f"same region ({_readable(ra & rb)})"
    return None


def _locations(shared: frozenset[str]) -> set[str]:
    """The distinct places among shared keys: a town and a name its consonants make are one,
    whichever spelling made it ("Zaporozhye" is zprj, the gazetteer's Zaporizhzhia zprjj)."""
    towns = {k[len(PLACE) :] for k in shared if k.startswith(PLACE)}
    skeletons = tuple(skeleton(t)[:_SKELETON] for t in towns)
    names = {
        k
        for k in shared
        if k.startswith(NAME)
        and not any(s.startswith(k[len(NAME) :]) or k[len(NAME) :].startswith(s) for s in skeletons)
    }
    return towns | names


def _telling(sig: Signature, shared: frozenset[str], light: frozenset[str]) -> bool:
    """Whether a report says something beyond the shared keys, places, the rule's topic and
    the generic keys."""
    return bool(sig.specific_nonplace - shared - light)


def _one_article(sa: Signature, sb: Signature) -> bool:
    """Whether two reports of one outlet are one article updated: a near-identical title, or a
    title that says it is an update."""
    if "update" in sa.flags or "update" in sb.flags:
        return True
    wa, wb = set(sa.title_words), set(sb.title_words)
    if not wa or not wb:
        return False
    return len(wa & wb) / len(wa | wb) >= 0.6


def _flash_and_details(a: Report, sa: Signature, b: Report, sb: Signature) -> bool:
    """Whether the earlier of two reports of one outlet is a flash that the later one, soon
    after, may tell in full: a channel's «Одесса — взрывы», then its post on the drones that
    hit the port. Whether it does, the rest of the evidence says; a later post that says
    "again" («Знову вибухи», «Нова атака») tells of another attack."""
    (earlier, first), (later, second) = sorted(((a, sa), (b, sb)), key=lambda r: r[0].published)
    if later.published - earlier.published > _FLASH_DETAILS:
        return False
    return "flash" in first.flags and "again" not in second.flags


def _is_flash(title: str, summary: str) -> bool:
    """Whether a report is a channel's flash: a post (its text opens with its title, as a
    channel's first line; not a headline without a text) of a few words."""
    opening = title.rstrip(" …").removesuffix("...")
    if not opening or not summary.lstrip().startswith(opening):
        return False
    seen: set[str] = set()
    for word in _NONSPACE.finditer(f"{title} {summary}"):  # a long post stops at its 7th word
        seen.add(word.group().casefold())
        if len(seen) > _FLASH_WORDS:
            return False
    return True


_NONSPACE = re.compile(r"\S+")


_FLASH_WORDS = 6
"""Different words of a flash, title (or first line) and text together, at most: «⚡️ Київ —
вибухи, балістика», "Explosions in Kyiv right now"."""
_FLASH_DETAILS = timedelta(minutes=90)

_OVERNIGHT = f"{CONCEPT}overnight"

_SUBJECT = 2
"""An actor this many tokens before "launched" or «атакувала» or nearer is who launched: "Russia
launched", "Russian forces fired", not "Ukraine said drones struck"."""
_LAUNCHED = 6
"""Weapons this many tokens after it or nearer, in its sentence, are the launcher's: "launched 80
attack drones", «атакувала Україну 80 дронами», "struck Kyiv with missiles"."""

_DAYPART_ORDER = {"morning": 0, "afternoon": 1, "evening": 2, "night": 3}
_DAYPARTS = frozenset(_DAYPART_ORDER)
_AFTERMATH = frozenset({f"{CONCEPT}rescue", f"{CONCEPT}rubble"})


def _only_later(flag: str, a: Report, sa: Signature, b: Report, sb: Signature) -> bool:
    """Whether the later of two reports carries ``flag`` ("again", "past") and the earlier
    does not."""
    if flag not in sa.flags and flag not in sb.flags:
        return False
    later, earlier = (sb, sa) if b.published >= a.published else (sa, sb)
    return flag in later.flags and flag not in earlier.flags


def _apart_in_the_day(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two reports' parts of the day cannot be one event's: none in common and none
    next to another (morning and evening, afternoon and night). An attack overnight is
    reported "on Monday morning", one in the late evening "overnight"."""
    if not a.isdisjoint(b):
        return False
    return all((_DAYPART_ORDER[x] - _DAYPART_ORDER[y]) % 4 == 2 for x in a for y in b)


_MAIN_ACTORS = frozenset({f"{ACTOR}ru", f"{ACTOR}ua"})
_MAIN_PERSONS = frozenset({f"{PERSON}ru", f"{PERSON}ua"})


def _mod_conflict(a: frozenset[str], b: frozenset[str]) -> str | None:
    """A thing whose owner differs: "ua:c:drone" in one report, "ru:c:drone" but no
    "ua:c:drone" in the other ("Russia downs Ukrainian drones" vs "Ukraine downs Russian")."""
    if not a or not b:
        return None
    owners_a: dict[str, set[str]] = {}
    owners_b: dict[str, set[str]] = {}
    for mod in a:
        actor, _, head = mod.partition(":")
        owners_a.setdefault(head, set()).add(actor)
    for mod in b:
        actor, _, head = mod.partition(":")
        owners_b.setdefault(head, set()).add(actor)
    for head in sorted(owners_a.keys() & owners_b.keys()):
        if owners_a[head].isdisjoint(owners_b[head]):
            thing = _readable([head])
            return f"{_join(owners_a[head])} {thing} vs {_join(owners_b[head])} {thing}"
    return None


def _join(values: Iterable[str]) -> str:
    return "/".join(sorted(values, key=lambda v: (len(v), v)))


# --------------------------------------------------------------------------------------------
# Index


@dataclass
class _Story:
    id: int
    first: datetime
    head: tuple[Report, Signature]
    """The story's headline report: its earliest. A newcomer must tell its story."""
    members: list[tuple[Report, Signature]]
    """The latest reports besides the headline, which a newcomer may not contradict."""
    keys: set[str]
    filed: int = 0
    told: frozenset[str] = frozenset()
    """The figures its reports gave as updates ("the death toll rose to 3"): a report that
    gives them tells the story as it now stands, not another event. Of every report filed, not
    only the few the index keeps: the sixth outlet's "3 dead" was a new story once the update
    that said so had left them. An index built again from the database reads its update
    reports too."""


def _order(head: Report) -> int:
    """A story's place among stories alike, from its headline: its time to the millisecond,
    then a checksum of its outlet and title, in one integer (compared in C). Two stories with
    one outlet's one title in one millisecond are the only ones it cannot tell apart."""
    checksum = zlib.crc32(f"{head.feed}\0{head.title}".encode())
    return (round(head.published.timestamp() * 1000) << 32) | checksum


def _aware(report: Report) -> None:
    if report.published.tzinfo is None:
        raise ValueError(f"report {report.item_id}: published must be timezone-aware (UTC)")


def index_keys(sig: Signature) -> list[str]:
    return sig.index_keys


def _index_keys(sig: Signature) -> list[str]:
    """The keys a report is filed and looked up under: what it names (places, actors,
    concepts, counts) and its title's words; not the ubiquitous keys, nor the words of its lead,
    which would make postings long and find nothing the rest does not."""
    generic = vocabulary().generic
    keys = {k for k in sig.portable | sig.title if k not in generic and not k.startswith(REGION)}
    return sorted(keys or sig.keys)


class StoryIndex:
    """The recent stories, in an inverted index from evidence keys to stories.

    Fill it by :meth:`add`-ing stored reports oldest first. A lookup costs what the report's
    own keys cost, not what the index holds: its title keys first, then its lead keys, each list
    rarest first, seed the candidate stories, weighted by rarity, until ``seed_budget`` postings
    have been read; keys in more than a tenth of the stories ("drone" on a busy night) never
    seed, they only add weight. Stories sharing fewer than two keys are not candidates, and at
    most ``max_candidates`` are compared in full.
    """

    def __init__(
        self,
        window: timedelta = WINDOW,
        *,
        max_gap: timedelta = MAX_GAP,
        max_candidates: int = 5,
        keep_reports: int = 4,
        seed_budget: int = 600,
    ) -> None:
        self.window = window
        self.max_gap = min(max_gap, window)
        self.max_candidates = max_candidates
        self.keep_reports = max(keep_reports, 1)
        self.seed_budget = seed_budget
        self._stories: dict[int, _Story] = {}
        self._last_ts: dict[int, float] = {}
        self._first_ts: dict[int, float] = {}  # the headline's time, as the time filter reads it
        # How ties between stories are broken: by their headlines (time, outlet, title), never
        # by their ids, which follow the order the feeds answered in.
        self._order: dict[int, int] = {}
        self._postings: dict[str, set[int]] = {}
        self._by_first: list[tuple[datetime, int]] = []

    def __len__(self) -> int:
        return len(self._stories)

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._stories

    def add(self, story_id: int, report: Report, sig: Signature) -> None:
        """File a report under a story: the first report creates it, later ones join it.

        A report published before the headline (a backlog) becomes the headline."""
        _aware(report)
        # What the decisions read of a report is its signature, time, outlet and title; its
        # summary would only hold memory (thousands of reports a window).
        report = replace(report, summary="")
        story = self._stories.get(story_id)
        if story is None:
            story = _Story(story_id, report.published, (report, sig), [], set())
            self._stories[story_id] = story
            self._first_ts[story_id] = self._last_ts[story_id] = report.published.timestamp()
            self._order[story_id] = _order(report)
            heapq.heappush(self._by_first, (story.first, story_id))
        else:
            if report.published < story.first:
                story.members.append(story.head)
                story.head = (report, sig)
                story.first = report.published
                self._first_ts[story_id] = report.published.timestamp()
                self._order[story_id] = _order(report)
                heapq.heappush(self._by_first, (story.first, story_id))
            else:
                story.members.append((report, sig))
            if len(story.members) > self.keep_reports - 1:
                del story.members[0]
            self._last_ts[story_id] = max(self._last_ts[story_id], report.published.timestamp())
        if "update" in sig.flags:
            story.told |= sig.numbers
        if story.filed < self.keep_reports:
            story.filed += 1
            for key in index_keys(sig):
                if key not in story.keys:
                    story.keys.add(key)
                    self._postings.setdefault(key, set()).add(story_id)

    def candidates(self, report: Report, sig: Signature) -> list[int]:
        """Stories sharing rare keys with the report and close enough in time to join it."""
        _aware(report)
        total = len(self._stories)
        if not total:
            return []
        lists = []
        for key in index_keys(sig):
            posting = self._postings.get(key)
            if posting:
                titled = key in sig.title
                rarity = math.log(1 + total / len(posting)) * (2.0 if titled else 1.0)
                lists.append((not titled, len(posting), key, posting, rarity))
        if not lists:
            return []
        lists.sort()  # by titled, size, key: keys are unique, so the sets are never compared
        weight: dict[int, float] = {}
        budget = self.seed_budget
        common = max(total // 10, 50)  # with few stories, every key may seed
        rest = []
        for entry in lists:
            _, size, _, posting, rarity = entry
            if (size > budget or size > common) and weight:
                rest.append(entry)
                continue
            budget -= size
            for sid in posting:
                weight[sid] = weight.get(sid, 0.0) + rarity
        last_ts, order = self._last_ts, self._order
        when = report.published.timestamp()
        gap = self.max_gap.total_seconds()
        keep = 4 * self.max_candidates

        def rank(sid: int) -> tuple[float, float, int]:
            return weight[sid], last_ts[sid], order[sid]

        # The best by weight, then the latest, then the headline, whatever the order the
        # postings gave them in (sets of ids). Only the stories at or above the weight of the
        # 2*keep-th are ranked, and of those that tie with it only the latest.
        ranked = list(weight)
        if len(ranked) > 2 * keep:
            floor = sorted(weight.values(), reverse=True)[2 * keep - 1]
            ranked = [sid for sid, w in weight.items() if w > floor]
            tied = [sid for sid, w in weight.items() if w == floor]
            if len(ranked) + len(tied) > 2 * keep:
                tied.sort(key=order.__getitem__, reverse=True)
                tied.sort(key=last_ts.__getitem__, reverse=True)
                del tied[2 * keep - len(ranked) :]
            ranked += tied
        ranked.sort(key=order.__getitem__, reverse=True)
        ranked.sort(key=last_ts.__getitem__, reverse=True)
        ranked.sort(key=weight.__getitem__, reverse=True)
        best = ranked[: 2 * keep]
        first_ts = self._first_ts
        lo, hi = when - gap, when + gap
        close = [sid for sid in best if lo <= first_ts[sid] <= hi][:keep]
        if len(close) < keep and len(best) < len(weight):
            close = [sid for sid in weight if lo <= first_ts[sid] <= hi]
            close = sorted(close, key=rank, reverse=True)[:keep]  # heapq.nlargest, but in C
        few = frozenset(close)
        for _, _, _, posting, rarity in rest:
            for sid in few.intersection(posting):
                weight[sid] += rarity
        # How many of the report's keys each close story shares, counted in C in one pass.
        shared = Counter(chain.from_iterable(map(few.intersection, [e[3] for e in lists])))
        found = [sid for sid in close if shared[sid] >= 2]
        found.sort(
            key=lambda sid: (weight[sid], shared[sid], last_ts[sid], order[sid]), reverse=True
        )
        return found[: self.max_candidates]

    def _judge(self, story: _Story, report: Report, sig: Signature) -> Decision:
        """A report against a story, in words: its score against the story's headline, unless
        it contradicts one of the story's other reports (then it is below the threshold)."""
        head, hsig = story.head
        why: list[str] = []
        raw = _score(head, hsig, report, sig, self.max_gap, why, told=story.told)
        score = -math.inf if raw is None else round(raw, 3)
        contra = ""
        if score >= THRESHOLD:
            contra = self._contradicted(story, report, sig)
            if contra:
                score = THRESHOLD - STRONG
        same = score >= THRESHOLD
        shown = 0.0 if raw is None else score
        verdict = "same story" if same else "another story"
        reason = f"{verdict} (score {shown:.2f}): " + "; ".join(why) + contra
        return Decision(same, round(shown, 3), reason)

    def _contradicted(self, story: _Story, report: Report, sig: Signature) -> str:
        """What the report contradicts among the story's reports besides its headline, in
        words; empty when nothing."""
        for member, msig in story.members:
            against: list[str] = []
            _score(member, msig, report, sig, self.max_gap, None, against, story.told)
            if against:
                return f"; but contradicts {member.feed}'s report of it: {against[0]}"
        return ""

    def decisions(self, report: Report, sig: Signature) -> list[tuple[int, Decision]]:
        """Each candidate story with the decision against it, best first (for ``explain``)."""
        out = [
            (sid, self._judge(self._stories[sid], report, sig))
            for sid in self.candidates(report, sig)
        ]
        out.sort(key=lambda pair: (-pair[1].score, pair[0]))
        return out

    def assign(
        self, report: Report, sig: Signature, *, explain: bool = True
    ) -> tuple[int | None, Decision | None]:
        """The story this report belongs to and why, or ``(None, None)``: a new story.

        With ``explain=False`` (the pipeline, which stores no reason) the decision is None:
        writing out the winner's evidence in words costs as much as the comparisons."""
        if not self.window:  # story_window: 0, grouping off
            return None, None
        # The best score against a story's headline wins (the earlier candidate on a tie),
        # unless the report contradicts one of that story's other reports: then the next.
        # Checked best first, so the other reports of losing stories are not read at all.
        above = []
        for rank, sid in enumerate(self.candidates(report, sig)):
            story = self._stories[sid]
            head, hsig = story.head
            raw = _score(head, hsig, report, sig, self.max_gap, told=story.told)
            if raw is not None and round(raw, 3) >= THRESHOLD:
                above.append((-round(raw, 3), rank, sid))
        above.sort()
        best_sid: int | None = None
        for _, _, sid in above:
            if not self._contradicted(self._stories[sid], report, sig):
                best_sid = sid
                break
        if best_sid is None or not explain:
            return best_sid, None
        return best_sid, self._judge(self._stories[best_sid], report, sig)

    def expire(self, now: datetime) -> None:
        """Forget the stories whose headline report is older than ``now`` less the window."""
        limit = now - self.window
        heap = self._by_first
        while heap and heap[0][0] < limit:
            first, sid = heapq.heappop(heap)
            story = self._stories.get(sid)
            if story is None or story.first != first:
                continue
            del self._stories[sid]
            del self._last_ts[sid]
            del self._first_ts[sid]
            del self._order[sid]
            for key in story.keys:
                posting = self._postings.get(key)
                if posting is not None:
                    posting.discard(sid)
                    if not posting:
                        del self._postings[key]
