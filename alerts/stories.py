"""Grouping reports of one development into stories: the pure decision core (issue #5).

Within an hour of a strike on Kyiv a dozen outlets report it, each under its own title and link,
and Ukrainian and Russian outlets follow. Subscribers want one alert per *story*, not per item.
This module decides, for a new report, which recent story (if any) it belongs to. It does no I/O:
the caller stores each item's :class:`Signature` and story id in SQLite and rebuilds a
:class:`StoryIndex` from them at start.

How the decision is made, and why:

* **Text.** Title and lead (the first ``LEAD_WORDS`` words of the summary) are cut into words
  as :func:`alerts.text.words` cuts them (casefolded, punctuation dropped), function words are
  dropped and the rest crudely stemmed: English suffixes stripped, Ukrainian and Russian case
  endings stripped and words cut to five letters, so "Russian drones hit Kyiv" and "drone attack
  on Kyiv" share ``dron`` and ``kyiv``, and "Сумах" and "Суми" share ``сум``. A country's words
  become one ("UK", "British", "London" are ``gb``). Similarity is a weighted cosine over these
  stem sets, title and lead together and the title alone; words present in nearly every report
  (Russia, Ukraine, war, officials) weigh a quarter.
* **Candidates** come from an inverted index over those stems, never from a scan: a story is
  found through the rarest stems it shares with the report ("Bilopillia", "Novopavlivka", "390"),
  ranked by how many and how rare, so the work per report is bounded however many stories are
  kept. (MinHash LSH was tried first and measured worse here; see the note at
  :class:`StoryIndex`.)
* **Evidence that separates look-alikes** is added to the text score: a *conflict* costs
  ``STRONG`` (1.0), more than any text similarity earns, because one outlet's reports of two
  events on one template read almost the same. Conflicts: different numbers in the titles
  (casualty or drone counts; in the leads they cost 0.4; nothing when a report says the toll
  *rose*; durations such as "two hours" and years are not counts), who owns what
  ("Ukrainian drones" vs "Russian drones"), different third countries or their leaders (Germany
  vs the US president), names in each title that the other report never mentions (Ryazan vs
  Volgograd), different weekdays. Weaker contrary evidence costs ``MODERATE``: disjoint matcher
  regions, "again" a day later. Shared numbers, names, regions, rule terms and word pairs in the
  same order add a little. Time: a report joins only within ``MAX_GAP`` (36 h) of the story's
  first report, and beyond ``CLOSE`` (12 h) the bar rises by ``LATE`` per 12 h.

Everything is deterministic and nothing depends on Python's randomised string hashing or on the
iteration order of sets, so a signature stored today decides the same way after a restart.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from .text import clean

# --------------------------------------------------------------------------------------------
# Tunables. Thresholds were set on tests/data/story_pairs.yaml; see tests/test_stories.py.

WINDOW = timedelta(hours=48)
"""How long a story stays in the index."""
MAX_GAP = timedelta(hours=36)
"""A report joins a story only if published within this of the story's first report."""
CLOSE = timedelta(hours=12)
"""Reports closer than this in time are judged on evidence alone; after it the bar rises."""
THRESHOLD = 0.4
"""Score at or above which two reports are the same story."""
STRONG = 1.0
"""Cost of a conflict: different counts, owners, leaders, names or weekdays."""
MODERATE = 0.3
"""Cost of weaker contrary evidence: different regions, "again" a day later."""
LATE = 0.25
"""Cost per ``CLOSE`` of time beyond ``CLOSE`` between the reports."""
BIGRAM = 0.04
"""Bonus per shared ordered word pair (at most three count)."""
NAME = 0.1
"""Bonus per shared name in the titles (at most two count)."""
NUMBER = 0.12
"""Bonus for a shared number in the titles (half in the leads)."""
REGION = 0.05
TERMS = 0.05
TITLE_WEIGHT = 2.0
"""How much more a stem of the new report's title counts than one of its lead, in the index."""

LEAD_WORDS = 40
"""Words of the summary that count: the lead, not the whole article body."""

SIGNATURE_VERSION = 1
"""Stored signatures of another version are recomputed (the stemmer or lexicons changed)."""

# --------------------------------------------------------------------------------------------
# Lexicons. Small on purpose: they encode what a wire editor knows, not a language model.


def _split(text: str) -> tuple[str, ...]:
    """Words of a lexicon written as running text."""
    return tuple(text.split())


_STOP_EN = _split("""
a an the of in on at to for with by as from into onto over under after before during about
against between through amid amidst near off up out and or but nor so yet if than then that this
these those there here it its is are was were be been being has have had do does did will would
could should may might can must shall not no he she they them their his her we our you your i me
my who whom whose which what when where why how all any both each few more most other some such
only own same too very s t just also says said say saying told tells tell according report
reports reported reportedly latest amid while since until via per least what's live updates
update watch video news photos explainer analysis opinion
""")
# Ukrainian and Russian function words, and reporting verbs ("said", "reported").
_STOP_CYR = _split("""
в у на з із зі до від по за про і й та що як не це його її їх їхні після під над для при через
між біля без або але чи вже ще також бо щоб коли де хто який яка яке які якого якої цей ця ці
цього цієї той та те ті їй йому вони він вона воно ми ви я о об при від між повідомив повідомила
повідомили заявив заявила заявили сказав сказала каже кажуть написав зазначив во с со к ко о об
от из а но и что чтобы как не это его ее её их после под над для при через между около без или
ли уже еще ещё также тоже когда где кто который которая которое которые этот эта эти этого той
тот те ей ему они он она оно мы вы я сообщил сообщила сообщили заявил заявила заявили сказал
сказала рассказал отметил по данным
""")
_STOP = frozenset(_STOP_EN) | frozenset(_STOP_CYR)

_NUMBER_WORDS = {
    # "one" is left out: "one of the", "one year" are not counts.
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    # Ukrainian (apostrophes removed: п'ять -> пять)
    **dict.fromkeys(["два", "дві", "двох", "двоє", "двома"], "2"),
    **dict.fromkeys(["три", "трьох", "троє", "трьома"], "3"),
    **dict.fromkeys(["чотири", "чотирьох", "четверо"], "4"),
    **dict.fromkeys(["пять", "пяти", "пятеро", "пятьох"], "5"),
    **dict.fromkeys(["шість", "шести", "шестеро", "шістьох"], "6"),
    **dict.fromkeys(["сім", "семи", "семеро", "сімох"], "7"),
    **dict.fromkeys(["вісім", "восьми", "восьмеро"], "8"),
    **dict.fromkeys(["девять", "девяти", "девятеро"], "9"),
    **dict.fromkeys(["десять", "десяти", "десятеро"], "10"),
    # Russian (ё folded to е)
    **dict.fromkeys(["две", "двух", "двое"], "2"),
    **dict.fromkeys(["трех", "трое"], "3"),
    **dict.fromkeys(["четыре", "четырех"], "4"),
    **dict.fromkeys(["шесть"], "6"),
    **dict.fromkeys(["семь"], "7"),
    **dict.fromkeys(["восемь"], "8"),
}

_WEEKDAYS = {
    **{
        d: i
        for i, d in enumerate(_split("monday tuesday wednesday thursday friday saturday sunday"))
    },
    **dict.fromkeys(["понеділок", "понеділка"], 0),
    **dict.fromkeys(["вівторок", "вівторка"], 1),
    **dict.fromkeys(["середа", "середу", "середи"], 2),
    **dict.fromkeys(["четвер", "четверга"], 3),
    **dict.fromkeys(["пятниця", "пятницю", "пятниці"], 4),
    **dict.fromkeys(["субота", "суботу", "суботи"], 5),
    **dict.fromkeys(["неділя", "неділю", "неділі"], 6),
    **dict.fromkeys(["понедельник", "понедельника"], 0),
    **dict.fromkeys(["вторник", "вторника"], 1),
    **dict.fromkeys(["среда", "среду", "среды"], 2),
    **dict.fromkeys(["четверг", "четверга"], 3),
    **dict.fromkeys(["пятница", "пятницу", "пятницы"], 4),
    **dict.fromkeys(["суббота", "субботу", "субботы"], 5),
    **dict.fromkeys(["воскресенье", "воскресенья"], 6),
}
_MONTHS = frozenset(
    _split("january february march april may june july august september october november december")
)

# Words that say a report updates an earlier one ("death toll rises to 5"): a changed count is
# then news about the same event, not a different event. Prefixes of casefolded words.
_UPDATE = (
    "toll",
    "rise",
    "rose",
    "risen",
    "climb",
    "increas",
    "зросл",
    "зріс",
    "збільш",
    "возрос",
    "выросл",
    "вырос",
    "увелич",
)
# Units after a number that make it a duration, distance or share rather than a count of
# people, drones or missiles. Prefixes of casefolded words.
_UNITS = (
    "hour",
    "day",
    "week",
    "month",
    "year",
    "minute",
    "km",
    "kilomet",
    "mile",
    "metre",
    "meter",
    "percent",
    "per",
    "годин",
    "день",
    "дн",
    "доб",
    "тиж",
    "місяц",
    "рок",
    "рік",
    "хвилин",
    "відсот",
    "час",
    "недел",
    "месяц",
    "год",
    "лет",
    "минут",
    "процент",
)
# Words that say this is another event of the same kind ("attack Sumy again").
_AGAIN = (
    "again",
    "another",
    "fresh",
    "renewed",
    "знову",
    "вкотре",
    "черг",
    "снова",
    "вновь",
    "очередн",
)

# Actors: countries with their capitals and institutions, and their leaders, and a few
# organisations. English words are matched whole; Cyrillic ones by prefix, because of case
# endings. "us" is only the country when written "US" (rewritten to "USA" before casefolding).
_ACTOR_WORDS: dict[str, str] = {
    "ru": "russia russian russians moscow kremlin",
    "ua": "ukraine ukrainian ukrainians",
    "us": "usa american americans washington pentagon",
    "de": "germany german germans berlin bundeswehr",
    "gb": "britain british uk london",
    "fr": "france french paris",
    "pl": "poland polish warsaw",
    "kp": "pyongyang dprk",
    "cn": "china chinese beijing",
    "by": "belarus belarusian minsk",
    "tr": "turkey turkish turkiye ankara",
    "it": "italy italian rome",
    "hu": "hungary hungarian budapest",
    "ir": "iran iranian tehran",
    "eu": "eu brussels",
    "nato": "nato",
    "un": "un iaea",
}
# People who speak for an actor. Two reports naming different leaders of third countries
# ("Zelensky meets Trump" vs "Zelensky meets Merz") are about different meetings.
_PERSON_WORDS: dict[str, str] = {
    "ru": "putin peskov lavrov shoigu belousov gerasimov zakharova medvedev",
    "ua": (
        "zelensky zelenskyy zelenskiy zelenska sybiha syrskyi svyrydenko shmyhal yermak umerov "
        "budanov"
    ),
    "us": "trump vance rubio hegseth witkoff kellogg biden",
    "de": "merz scholz pistorius wadephul",
    "gb": "starmer healey lammy",
    "fr": "macron barrot",
    "pl": "tusk nawrocki sikorski duda",
    "kp": "kim",
    "cn": "xi",
    "by": "lukashenko",
    "tr": "erdogan fidan",
    "it": "meloni",
    "hu": "orban",
    "eu": "kallas leyen costa",
    "nato": "rutte",
    "un": "grossi guterres",
}
_ACTOR_PREFIXES: dict[str, tuple[str, ...]] = {
    "ru": ("рос", "рф", "москв", "кремл"),
    "ua": ("україн", "украин", "зсу", "всу"),
    "us": ("сша", "америк", "вашингтон", "пентагон"),
    "de": ("німеч", "німецьк", "герман", "немецк", "берлін", "берлин"),
    "gb": ("британ", "лондон"),
    "fr": ("франц", "париж"),
    "pl": ("польщ", "польськ", "польск", "польш", "варшав"),
    "kp": ("кндр", "пхеньян", "північнокор", "северокор"),
    "cn": ("кита", "пекін", "пекин"),
    "by": ("білорус", "беларус", "белорус", "мінськ", "минск"),
    "tr": ("туреч", "турц", "анкар"),
    "eu": ("євросоюз", "евросоюз", "брюссел"),
    "nato": ("нато",),
    "un": ("оон", "магате", "магатэ"),
}
_PERSON_PREFIXES: dict[str, tuple[str, ...]] = {
    "ru": ("путін", "путин", "пєсков", "песков", "лавров", "медведєв", "медведев"),
    "ua": ("зеленськ", "зеленск", "сирськ", "сырск", "сибіг", "сибиг", "свириденк"),
    "us": ("трамп", "віткоф", "уиткоф", "рубіо", "рубио", "венс", "вэнс", "байден"),
    "de": ("мерц", "шольц", "пісторіус", "писториус"),
    "gb": ("стармер",),
    "fr": ("макрон",),
    "pl": ("туск", "навроцьк", "навроцк"),
    "cn": ("цзіньпін", "цзиньпин"),
    "by": ("лукашенк",),
    "tr": ("ердоган", "эрдоган"),
    "nato": ("рютте",),
}
# Two-word actors, joined before lookup.
_ACTOR_PAIRS = {
    ("north", "korea"): "kp",
    ("north", "korean"): "kp",
    ("north", "koreans"): "kp",
    ("white", "house"): "us",
    ("european", "union"): "eu",
    ("united", "states"): "us",
    ("united", "kingdom"): "gb",
    ("united", "nations"): "un",
}
_ACTOR_EXACT = {w: (a, False) for a, words in _ACTOR_WORDS.items() for w in words.split()}
_ACTOR_EXACT.update({w: (a, True) for a, words in _PERSON_WORDS.items() for w in words.split()})
_ACTOR_CYR = [(p, (a, False)) for a, ps in _ACTOR_PREFIXES.items() for p in ps]
_ACTOR_CYR += [(p, (a, True)) for a, ps in _PERSON_PREFIXES.items() for p in ps]
_ACTOR_CYR.sort(key=lambda entry: len(entry[0]), reverse=True)
# Nationality adjectives and possessives that say whose something is ("Ukrainian drones").
_ADJECTIVES_EN = frozenset(
    _split(
        "russian ukrainian german american british french polish korean chinese belarusian "
        "turkish italian hungarian iranian"
    )
)
_ADJECTIVE_CYR = re.compile(r"(?:ськ|цьк|зьк|ск|цк)[^\W\d_]")  # adjective suffix and an ending
# Short genitive actor names that follow the noun they qualify ("дрони РФ", "беспилотники ВСУ").
_POSTFIX_ACTORS = frozenset({"рф", "зсу", "всу"})
# Nouns used as modifiers: ownership passes through them ("Russian air defences" -> defences).
_COMPOUND = (
    "air",
    "sea",
    "naval",
    "attack",
    "combat",
    "ballist",
    "cruise",
    "guided",
    "oil",
    "energy",
    "border",
    "armed",
    "special",
    "long",
    "ударн",
    "бойов",
    "боев",
    "крилат",
    "крылат",
    "балісти",
    "баллисти",
    "нафт",
    "нефт",
    "енерг",
    "энерг",
    "повітрян",
    "воздушн",
    "морськ",
    "морск",
)
# Whose officials or media said it is attribution, not part of the event.
_NOT_OWNED_WORDS = """
official officials authorities media sources source government ministry president leader leaders
spokesman spokeswoman state overnight night morning влада влади офіційні джерела уряд
міністерство президент вночі власти официальные источники правительство министерство президент
ночью
"""

# Spelling variants of the places that dominate the feeds, folded to one form.
_ALIASES = {
    "kiev": "kyiv",
    "kharkov": "kharkiv",
    "odessa": "odesa",
    "zaporizhia": "zaporizhzhia",
    "zaporozhye": "zaporizhzhia",
    "lvov": "lviv",
    "nikolaev": "mykolaiv",
    "київ": "kyiv",
    "києва": "kyiv",
    "києві": "kyiv",
    "києвом": "kyiv",
    "киев": "kyiv",
    "киева": "kyiv",
    "киеве": "kyiv",
    "киевом": "kyiv",
    "киеву": "kyiv",
    "києву": "kyiv",
}

# Ukrainian and Russian noun/adjective/verb endings, longest first; one is stripped.
_CYR_ENDINGS = tuple(
    sorted(
        set(
            _split("""
            ями ами ові еві ого ому ими іми ого ому его ему ими ыми их іх ий ій ої ою ею ах ях
            ам ям ом ем ів їв ей ов ев ую юю ая яя ое ее ые ие ых ым им ой ый ться лися лась
            лось лись ли ла ло ти ть ся сь а я у ю і и о е ї ь й ы э є
            """)
        ),
        key=len,
        reverse=True,
    )
)
_CYR_VOWELS = frozenset("аяуюіиоеїьйыэє")

# Weight of words that nearly every report here contains.
_GENERIC_WORDS = _split("""
ru ua war military forces force official officials region regional oblast people country city
government minister ministry president attack attacks росія росії російські російських україна
україни українські українських війна війни військові область області люди людей місто міста
россия россии российские российских украина украины украинские украинских война войны военные
область области люди людей город города рф зсу всу
""")
_GENERIC_WEIGHT = 0.25

# --------------------------------------------------------------------------------------------
# Normalisation


def _is_cyrillic(word: str) -> bool:
    return "\u0400" <= word[0] <= "\u04ff"


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem of one casefolded word, so that case endings and plurals do not split it.

    Cyrillic: strip one case or verb ending, keep five letters, drop trailing vowels ("Сумах",
    "Суми" -> "сум"; "дронів", "дрони" -> "дрон"). Latin: strip -ing/-ed/-s and a final -e and
    keep six letters ("drones", "drone" -> "dron"; "ukrainian", "ukraine" -> "ukrain"). Crude,
    but the same on both sides, which is what similarity needs.
    """
    alias = _ALIASES.get(word)
    if alias:
        return alias
    if word.isdigit():
        return word
    if _is_cyrillic(word):
        for ending in _CYR_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                word = word[: -len(ending)]
                break
        word = word[:5]
        while len(word) > 3 and word[-1] in _CYR_VOWELS:
            word = word[:-1]
        return word
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith(("ied", "ies")):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiousy":
        word = word[:-1]  # "expelled", "expels"; "shelling", "shells"; "kills", "killed"
    return word[:6]


_THOUSANDS = re.compile(r"(?<=\d)[,\u00a0\u202f ](?=\d{3}\b)")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_US = re.compile(r"\bU\.S\.(?:A\.)?|\bUSA?\b")
_UK = re.compile(r"\bU\.K\.|\bUK\b")
_EU = re.compile(r"\bEU\b|\bЄС\b|\bЕС\b")
_CYR_APOSTROPHE = re.compile(r"(?<=[^\W\d_])['’ʼ`](?=[а-яіїєґ])", re.IGNORECASE)
# Segments: a capital after one of these starts a sentence and says nothing about names.
_SEGMENT = re.compile(r"[.!?:;\"“”«»„|—–()\[\]]+|\s-\s")
_WORD = re.compile(r"[^\W_]+")


def _prepare(text: str) -> str:
    """Clean and rewrite what word-splitting would break: 1,000; 17th; U.S.; п'ять; ё."""
    text = clean(text)
    text = _THOUSANDS.sub("", text)
    text = _ORDINAL.sub(r"\1", text)
    text = _US.sub(" USA ", text)
    text = _UK.sub(" UK ", text)
    text = _EU.sub(" EU ", text)
    text = _CYR_APOSTROPHE.sub("", text)
    return text.replace("ё", "е").replace("Ё", "Е")


def _tokens(text: str, in_title: bool, title_case: bool) -> list[tuple[str, bool, bool, bool]]:
    """Words as (casefolded, in title, capitalised as a name would be, written in lower case).

    "Capitalised as a name would be" means an initial capital that is not at the start of a
    sentence, not in an all-capitals word (acronyms such as ПВО are common nouns) and not in a
    Title Case title, where every word has one.
    """
    out = []
    for segment in _SEGMENT.split(text):
        first = True
        for raw in _WORD.findall(segment):
            upper = raw[0].isupper()
            capital = upper and not first and not raw.isupper() and not (in_title and title_case)
            first = False
            out.append((raw.casefold(), in_title, capital, not upper))
    return out


def _title_case(title: str) -> bool:
    """Whether a title Capitalises Every Word (as the Kyiv Independent does): no names then."""
    words = [w for w in _WORD.findall(title)[1:] if len(w) >= 4 and not w.isdigit()]
    if len(words) < 3:
        return False
    # Every longer word: one lower-case word ("village") shows an ordinary sentence-case title
    # whose capitals are names ("Shelling of Bilopillia village in Sumy Oblast").
    return all(w[0].isupper() for w in words)


def _lead(summary: str) -> str:
    words = summary.split()
    return " ".join(words[:LEAD_WORDS])


def _actor(word: str) -> tuple[str, bool] | None:
    """The actor a word names and whether it names a person: "merz" -> ("de", True)."""
    found = _ACTOR_EXACT.get(word)
    if found or not _is_cyrillic(word):
        return found
    for prefix, entry in _ACTOR_CYR:
        if word.startswith(prefix):
            return entry
    return None


def _content_stem(word: str) -> str:
    """The stem a content word counts as: its actor for a country's words, else :func:`stem`.

    "UK", "British" and "London" are all ``gb``, so two reports that name the country
    differently still share the word; a person keeps a stem of their own.
    """
    found = _actor(word)
    return found[0] if found and not found[1] else stem(word)


_GENERIC = frozenset(_content_stem(w) for w in _GENERIC_WORDS)
_NOT_OWNED = frozenset(_content_stem(w) for w in _NOT_OWNED_WORDS.split())


def _is_adjective(word: str) -> bool:
    if not _is_cyrillic(word):
        return word in _ADJECTIVES_EN
    return _ADJECTIVE_CYR.search(word, 3) is not None


# --------------------------------------------------------------------------------------------
# Signature


@dataclass(frozen=True)
class Signature:
    """What the decision needs of one report, computed once and stored with the item.

    All sets hold strings so that the signature is plain JSON (see :meth:`to_json`); stems are
    those of :func:`stem`, so a change to the stemmer needs ``SIGNATURE_VERSION`` bumped and
    signatures recomputed.
    """

    title: frozenset[str]
    """Content stems of the title."""
    lead: frozenset[str]
    """Content stems of title and lead together."""
    bigrams: frozenset[str]
    """Ordered pairs of adjacent content stems ("ru dron"): word order, hence some direction."""
    title_numbers: frozenset[str]
    numbers: frozenset[str]
    """Numbers in title and lead, years left out (they date the war, not the event)."""
    mods: frozenset[str]
    """Whose is what: "ua:dron" for "Ukrainian drones", "ru:strik" for "Russia's strikes"."""
    actors: frozenset[str]
    """Countries and organisations named: "de" for Germany, Berlin or Merz."""
    persons: frozenset[str]
    """The actors of the people named: "de" for Merz, "us" for Trump."""
    names: frozenset[str]
    """Title stems written as names (capitalised mid-sentence): places, people, ships."""
    weekdays: frozenset[int]
    flags: frozenset[str]
    """"update" (the toll rose) and "again" (another event of the kind)."""

    def to_json(self) -> str:
        """Compact JSON for storage; :meth:`from_json` reads it back equal."""
        data = {
            "v": SIGNATURE_VERSION,
            "t": sorted(self.title),
            "l": sorted(self.lead),
            "b": sorted(self.bigrams),
            "tn": sorted(self.title_numbers),
            "n": sorted(self.numbers),
            "m": sorted(self.mods),
            "a": sorted(self.actors),
            "p": sorted(self.persons),
            "nm": sorted(self.names),
            "w": sorted(self.weekdays),
            "f": sorted(self.flags),
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Signature:
        """Read :meth:`to_json` output; raises ``ValueError`` for another version or bad data."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != SIGNATURE_VERSION:
            raise ValueError("signature of another version; recompute it with signature()")
        try:
            return cls(
                title=frozenset(data["t"]),
                lead=frozenset(data["l"]),
                bigrams=frozenset(data["b"]),
                title_numbers=frozenset(data["tn"]),
                numbers=frozenset(data["n"]),
                mods=frozenset(data["m"]),
                actors=frozenset(data["a"]),
                persons=frozenset(data["p"]),
                names=frozenset(data["nm"]),
                weekdays=frozenset(int(w) for w in data["w"]),
                flags=frozenset(data["f"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed signature: {exc!r}") from exc

    def to_bytes(self) -> bytes:
        return self.to_json().encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        return cls.from_json(data.decode("utf-8"))


def _is_number(word: str) -> bool:
    return word.isdigit() and not (len(word) > 1 and word.startswith("0"))


def _is_year(word: str) -> bool:
    return len(word) == 4 and 1900 <= int(word) <= 2100


def signature(title: str, summary: str) -> Signature:
    """The fingerprint of a report from its plain-text title and summary (only the lead counts)."""
    title = _prepare(title)
    lead = _prepare(_lead(summary))
    tcase = _title_case(title)
    tokens = _tokens(title, True, tcase) + _tokens(lead, False, False)

    stems_title: set[str] = set()
    stems_all: set[str] = set()
    numbers: set[str] = set()
    title_numbers: set[str] = set()
    mods: set[str] = set()
    actors: set[str] = set()
    persons: set[str] = set()
    weekdays: set[int] = set()
    flags: set[str] = set()
    capital: set[str] = set()
    lower: set[str] = set()
    content: list[tuple[str, bool]] = []  # (stem, in title), in order, stopwords dropped
    last_actor: str | None = None  # the actor the previous content word named
    owner: str | None = None  # an adjective or possessive waiting for its noun
    owned = 0  # nouns it has qualified so far
    prev_word = ""
    prev_title = True

    for i, (word, in_title, is_capital, is_lower) in enumerate(tokens):
        if in_title != prev_title:
            owner, prev_word, prev_title = None, "", in_title
        pair_actor = _ACTOR_PAIRS.get((prev_word, word))
        prev_word = word
        if pair_actor:
            # "North Korea": the actor replaces the first word, counted already
            actors.add(pair_actor)
            if content and content[-1][1] == in_title:
                first_word = content.pop()[0]
                stems_all.discard(first_word)
                stems_title.discard(first_word)
            stems_all.add(pair_actor)
            if in_title:
                stems_title.add(pair_actor)
            content.append((pair_actor, in_title))
            owner, owned = (pair_actor, 0) if word.startswith("korean") else (None, 0)
            last_actor = pair_actor
            continue
        if word in _WEEKDAYS:
            weekdays.add(_WEEKDAYS[word])
            continue
        if word in _MONTHS:
            continue
        if word.startswith(_UPDATE):
            flags.add("update")
        if word.startswith(_AGAIN):
            flags.add("again")
        word = _NUMBER_WORDS.get(word, word)
        if word.isdigit():
            if not _is_number(word) or _is_year(word):
                owner = None
                continue
            after = tokens[i + 1][0] if i + 1 < len(tokens) else ""
            if not after.startswith(_UNITS):  # "two hours", "30 days" are not counts
                numbers.add(word)
                if in_title:
                    title_numbers.add(word)
        if word in _STOP or (len(word) == 1 and not word.isdigit()):
            if word == "s" and last_actor:
                # "Ukraine's drones": the possessive makes the country a modifier
                owner, owned = last_actor, 0
            else:
                owner = None  # "Ukrainian drones over the Bryansk region": stop at "over"
            continue
        found = _actor(word)
        actor = found[0] if found else None
        s = actor if found and not found[1] else stem(word)  # as _content_stem(word)
        if found:
            actors.add(actor)
            if found[1]:
                persons.add(actor)
            if word in _POSTFIX_ACTORS and content and last_actor is None:
                mods.add(f"{actor}:{content[-1][0]}")  # "беспилотники ВСУ"
                owner = None
            elif _is_adjective(word):
                owner, owned = actor, 0
            else:
                owner = None
        elif owner and not word.isdigit():
            if s not in _NOT_OWNED:
                mods.add(f"{owner}:{s}")
            owned += 1
            # "Russian air defences": a compound modifier passes ownership to the next noun
            if owned >= 2 or not word.startswith(_COMPOUND):
                owner = None
        if is_capital and not found:
            capital.add(s)
        if is_lower:
            lower.add(s)
        stems_all.add(s)
        if in_title:
            stems_title.add(s)
        content.append((s, in_title))
        last_actor = actor

    bigrams = {
        f"{a} {b}" for (a, at), (b, bt) in itertools.pairwise(content) if at == bt and a != b
    }
    names = (capital - lower) & stems_title
    return Signature(
        title=frozenset(stems_title),
        lead=frozenset(stems_all),
        bigrams=frozenset(bigrams),
        title_numbers=frozenset(title_numbers),
        numbers=frozenset(numbers),
        mods=frozenset(mods),
        actors=frozenset(actors),
        persons=frozenset(persons),
        names=frozenset(names),
        weekdays=frozenset(weekdays),
        flags=frozenset(flags),
    )


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
    """Rule terms the matcher found, as strings (``str(term)`` of ``Match.found``'s keys)."""


@dataclass(frozen=True)
class Decision:
    """Whether two reports tell the same story, with the score and a reason operators can read."""

    same: bool
    score: float
    reason: str


def _cosine(a: frozenset[str], b: frozenset[str], light: frozenset[str] = frozenset()) -> float:
    """Weighted cosine of two stem sets: shared weight over the geometric mean of the totals.

    ``light`` stems weigh as little as generic words: the rule's own terms, which every report
    a rule matched contains ("North Korea", "troops"), so they say what the topic is, not which
    event; two short titles sharing only them are two events on one topic.
    """
    if not a or not b:
        return 0.0
    both = a & b
    if not both:
        return 0.0
    # Each stem weighs 1, or _GENERIC_WEIGHT when it is generic or light. Counted with set
    # operations, the sums are the same as added stem by stem (1 and 1/4 add without rounding).
    return _weight_sum(both, light) / math.sqrt(_weight_sum(a, light) * _weight_sum(b, light))


def _weight_sum(stems: frozenset[str], light: frozenset[str]) -> float:
    lighter = len(stems & _GENERIC) + (len((stems & light) - _GENERIC) if light else 0)
    return (len(stems) - lighter) + lighter * _GENERIC_WEIGHT


@lru_cache(maxsize=4096)
def _term_stems(terms: frozenset[str]) -> frozenset[str]:
    """The stems a set of rule terms (``deploy*``, ``north korean``) stand for in signatures."""
    out: set[str] = set()
    for term in terms:
        out |= _one_term_stems(term)
    return frozenset(out)


@lru_cache(maxsize=16384)
def _one_term_stems(term: str) -> frozenset[str]:
    # Cached per term as well: the sets above are unions of two reports' terms, so they seldom
    # repeat, while the terms (the rules' own) are few and come back in every comparison.
    return signature(term.replace("*", ""), "").title


def _mod_conflict(a: frozenset[str], b: frozenset[str]) -> str | None:
    """A thing whose owner differs: "ua:dron" in one report, "ru:dron" but no "ua:dron" in the
    other ("Russia downs Ukrainian drones" vs "Ukraine downs Russian drones")."""
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
            return f"{_join(owners_a[head])} {head} vs {_join(owners_b[head])} {head}"
    return None


_MAIN_ACTORS = frozenset({"ru", "ua"})


def _hours(delta: timedelta) -> float:
    return abs(delta.total_seconds()) / 3600


def _join(values: frozenset[str] | set[str]) -> str:
    return "/".join(sorted(values, key=lambda v: (len(v), v)))


def same_story(
    a: Report, sa: Signature, b: Report, sb: Signature, *, max_gap: timedelta = MAX_GAP
) -> Decision:
    """Whether report ``b`` tells the same story as report ``a`` (symmetric in ``a`` and ``b``).

    The text similarity of the stems is the base score; independent pieces of evidence then add
    to it or take from it, and the sum is compared with ``THRESHOLD``. A *conflict* (different
    counts, whose drones, which leader, which town, which weekday) costs ``STRONG``: more than
    any text similarity can make up, because two reports of different events by the same
    outlet on the same template read almost the same. Additive evidence rather than a trained
    model because the evidence is few, strong and explainable: every step ends up in ``reason``.
    """
    why: list[str] = []
    score = _score(a, sa, b, sb, max_gap, why)
    if score is None:
        return Decision(False, 0.0, why[0])
    same = score >= THRESHOLD
    verdict = "same story" if same else "different story"
    return Decision(same, round(score, 3), f"{verdict} (score {score:.2f}): " + "; ".join(why))


def _score(
    a: Report,
    sa: Signature,
    b: Report,
    sb: Signature,
    max_gap: timedelta,
    why: list[str] | None = None,
) -> float | None:
    """The score of :func:`same_story`, None when the reports are too far apart in time.

    Each step is written out into ``why`` when it is given; story assignment, which compares
    every report with a dozen candidates, passes None and skips the formatting, which cost as
    much as the scoring.
    """
    gap = _hours(b.published - a.published)
    if gap > _hours(max_gap):
        if why is not None:
            why.append(f"reported {gap:.0f}h apart (more than {_hours(max_gap):.0f}h)")
        return None

    light = _term_stems(a.terms | b.terms)
    t_title = _cosine(sa.title, sb.title, light)
    t_lead = _cosine(sa.lead, sb.lead, light)
    text = max(t_lead, (t_title + t_lead) / 2)
    score = text
    if why is not None:
        why.append(f"text {text:.2f}")

    # Each piece of evidence adds ``delta``; ``what`` is a function making its text, called
    # only when the reason is wanted.
    def evidence(delta: float, what: Callable[[], str]) -> None:
        nonlocal score
        score += delta
        if why is not None:
            why.append(f"{what()} {delta:+.2f}")

    # Short reports can read alike on a single word besides the rule's own ("Convoy drivers
    # interviewed" and "Aid convoy delayed by damaged bridge, drivers say"). Reports of one
    # event share more than that: all but one same-story pair of the labeled set share three
    # or more. One word in common costs less than a conflict, so that two short reports saying
    # the same (that one pair: "Explosions in Kharkiv", "Kharkiv: explosions") still join.
    common = len((sa.lead & sb.lead) - _GENERIC - light)
    if common == 0:
        evidence(-STRONG, lambda: "no content word in common")
    elif common == 1:
        evidence(-MODERATE, lambda: "one content word in common")

    shared_bigrams = len(sa.bigrams & sb.bigrams)
    if shared_bigrams:
        evidence(
            BIGRAM * min(shared_bigrams, 3),
            lambda: f"{shared_bigrams} word pairs in the same order",
        )

    shared_names = sa.names & sb.names
    if shared_names:
        evidence(NAME * min(len(shared_names), 2), lambda: f"same names ({_join(shared_names)})")

    # Numbers: the titles' if both have some, else title and lead, which weigh less.
    if sa.title_numbers and sb.title_numbers:
        na, nb, where, weight = sa.title_numbers, sb.title_numbers, "title", 1.0
    else:
        na, nb, where, weight = sa.numbers, sb.numbers, "text", 0.4
    if na and nb:
        if na & nb:
            evidence(NUMBER * weight, lambda: f"same numbers in {where} ({_join(na & nb)})")
        elif "update" in sa.flags or "update" in sb.flags:
            if why is not None:
                why.append("numbers differ but one report updates the count")
        else:
            evidence(
                -STRONG * weight,
                lambda: f"numbers differ in {where} ({_join(na)} vs {_join(nb)})",
            )

    conflict = _mod_conflict(sa.mods, sb.mods)
    if conflict:
        evidence(-STRONG, lambda: f"who did what differs ({conflict})")

    third_a, third_b = sa.actors - _MAIN_ACTORS, sb.actors - _MAIN_ACTORS
    people_a, people_b = sa.persons - _MAIN_ACTORS, sb.persons - _MAIN_ACTORS
    if third_a and third_b and third_a.isdisjoint(third_b):
        evidence(-STRONG, lambda: f"different actors ({_join(third_a)} vs {_join(third_b)})")
    elif people_a and people_b and people_a.isdisjoint(people_b):
        evidence(-STRONG, lambda: f"different leaders ({_join(people_a)} vs {_join(people_b)})")

    only_a = sa.names - sb.lead
    only_b = sb.names - sa.lead
    if only_a and only_b:
        evidence(-STRONG, lambda: f"different names ({_join(only_a)} vs {_join(only_b)})")

    if sa.weekdays and sb.weekdays and sa.weekdays.isdisjoint(sb.weekdays):
        evidence(-STRONG, lambda: "different weekdays")

    if a.regions and b.regions:
        ra, rb = set(a.regions), set(b.regions)
        if ra & rb:
            evidence(REGION, lambda: f"same region ({', '.join(sorted(ra & rb))})")
        elif not shared_names:  # a shared place name in the titles outweighs "Kyiv says"
            evidence(
                -MODERATE,
                lambda: f"different regions ({', '.join(sorted(ra))} vs {', '.join(sorted(rb))})",
            )

    if a.terms and b.terms:
        overlap = len(a.terms & b.terms) / len(a.terms | b.terms)
        if overlap:
            evidence(TERMS * overlap, lambda: f"same rule terms {overlap:.0%}")

    close = _hours(CLOSE)
    if gap > close:
        evidence(-LATE * (gap - close) / close, lambda: f"{gap:.0f}h apart")
        if "again" in sa.flags or "again" in sb.flags:
            evidence(-MODERATE, lambda: '"again" the next day')
    elif why is not None:
        why.append(f"{gap:.1f}h apart")
    return score


# --------------------------------------------------------------------------------------------
# Index


@dataclass
class _Story:
    id: int
    first: datetime
    last: datetime
    members: list[tuple[Report, Signature]]
    """The first report and the latest ``keep_reports - 1``: what a newcomer is compared with."""
    stems: set[str]
    """Stems the story is filed under in the inverted index."""
    first_ts: float = 0.0
    filed: int = 0
    """Reports whose stems were filed (at most ``keep_reports``)."""


def _aware(report: Report) -> None:
    if report.published.tzinfo is None:
        raise ValueError(f"report {report.item_id}: published must be timezone-aware (UTC)")


def index_stems(sig: Signature) -> list[str]:
    """The stems a report is filed and looked up under: its stems less the ubiquitous ones."""
    stems = sig.lead - _GENERIC
    return sorted(stems or sig.lead)


class StoryIndex:
    """The recent stories, in an inverted index from stems to stories, for :meth:`assign`.

    In memory only: rebuild it at start by :meth:`add`-ing the stored reports of the last
    ``window`` with their stored signatures and story ids, oldest first.

    A lookup costs what the report's own stems cost, not what the index holds. Its title stems
    come first, then its lead stems, each list rarest first; their postings seed the candidate
    stories, weighted by rarity (a title stem counting ``TITLE_WEIGHT`` times), until
    ``seed_budget`` postings have been read. Stems in more than a tenth of the stories ("drone",
    "Kyiv" on a busy night) never seed: they only add weight to the few stories kept. Stories
    sharing fewer than two stems are not candidates, and at most ``max_candidates`` are compared
    in full, each against its first and latest reports.

    Why not MinHash LSH, which was built first: reports of one story by different outlets share
    only 12-25% of their stems (Jaccard) in the labeled pairs, where 64 bands of 2 rows catch a
    pair with probability 0.6-0.95, so the index alone would have lost about two of the 56
    same-story pairs; and 64 bucket keys per report make some 640,000 entries for 10,000
    one-report stories, against under 300,000 postings here. For texts of 10-40 stems the exact
    sets are smaller than the MinHash that would estimate them, and the decision uses them.
    """

    def __init__(
        self,
        window: timedelta = WINDOW,
        *,
        max_gap: timedelta = MAX_GAP,
        max_candidates: int = 16,
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
        """Each story's latest report's time as a timestamp, kept apart from the stories so
        that ranking can read it from C."""
        self._postings: dict[str, set[int]] = {}
        self._by_first: list[tuple[datetime, int]] = []

    def __len__(self) -> int:
        return len(self._stories)

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._stories

    def add(self, story_id: int, report: Report, sig: Signature) -> None:
        """File a report under a story: the first report creates it, later ones join it.

        Only the first and the latest reports are kept for comparison and only the first
        ``keep_reports`` add stems to the index, so a story with hundreds of reports costs no
        more than one with a few.
        """
        _aware(report)
        story = self._stories.get(story_id)
        if story is None:
            story = _Story(story_id, report.published, report.published, [], set())
            story.first_ts = report.published.timestamp()
            self._stories[story_id] = story
            heapq.heappush(self._by_first, (story.first, story_id))
        elif report.published < story.first:
            story.first = report.published
            story.first_ts = report.published.timestamp()
            heapq.heappush(self._by_first, (story.first, story_id))
        if report.published >= story.last:
            story.last = report.published
            self._last_ts[story_id] = report.published.timestamp()
        story.members.append((report, sig))
        if len(story.members) > self.keep_reports:
            del story.members[1]
        if story.filed < self.keep_reports:
            story.filed += 1
            for stem in index_stems(sig):
                if stem not in story.stems:
                    story.stems.add(stem)
                    self._postings.setdefault(stem, set()).add(story_id)

    def candidates(self, report: Report, sig: Signature) -> list[int]:
        """Stories sharing rare stems with the report and close enough in time to join it.

        Best first: by the summed rarity (``log(1 + stories / postings)``) of the stems
        shared, then by the number shared, then the most recent.
        """
        _aware(report)
        total = len(self._stories)
        if not total:
            return []
        lists = []
        for stem in index_stems(sig):
            posting = self._postings.get(stem)
            if posting:
                titled = stem in sig.title
                rarity = math.log(1 + total / len(posting)) * (TITLE_WEIGHT if titled else 1.0)
                lists.append((not titled, len(posting), stem, posting, rarity))
        if not lists:
            return []
        # The title's stems first (what reports of one event share most), rarest first.
        lists.sort(key=lambda entry: entry[:3])

        # Seed: the stories sharing those stems, weighted by rarity, until ``seed_budget``
        # postings have been read; stems in more than a tenth of the stories never seed.
        weight: dict[int, float] = {}
        budget = self.seed_budget
        common = max(total // 10, 1)
        rest = []
        for entry in lists:
            _, size, _, posting, rarity = entry
            if (size > budget or size > common) and weight:
                rest.append(entry)
                continue
            budget -= size
            for sid in posting:
                weight[sid] = weight.get(sid, 0.0) + rarity
        stories, last_ts = self._stories, self._last_ts
        when = report.published.timestamp()
        gap = self.max_gap.total_seconds()
        keep = 4 * self.max_candidates

        # The best seeded (the most recent first among equals) that are close enough in time.
        def rank(sid: int) -> tuple[float, float, int]:
            return weight[sid], last_ts[sid], sid

        if len(weight) <= 2 * keep:
            best: Iterable[int] = weight
        else:
            # As nlargest(2 * keep, weight, key=rank) for the hundreds of stories seeded, by
            # three stable sorts on plain keys, all in C: by id, then by the latest report's
            # time, then by weight; each keeps the order of the one before among its equals.
            ranked = sorted(weight, reverse=True)
            ranked.sort(key=last_ts.__getitem__, reverse=True)
            ranked.sort(key=weight.__getitem__, reverse=True)
            best = ranked[: 2 * keep]
        close = [sid for sid in best if abs(when - stories[sid].first_ts) <= gap][:keep]
        if len(close) < keep and len(best) < len(weight):  # most of the best are too old
            close = [sid for sid in weight if abs(when - stories[sid].first_ts) <= gap]
            close = heapq.nlargest(keep, close, rank)

        # Complete the weights of those few with the stems that did not seed, and count the
        # stems each shares: set intersections in C, each as long as the few, not the posting.
        few = frozenset(close)
        for _, _, _, posting, rarity in rest:
            for sid in few.intersection(posting):
                weight[sid] += rarity
        shared: Counter[int] = Counter()
        for entry in lists:
            shared.update(few.intersection(entry[3]))
        return heapq.nlargest(
            self.max_candidates,
            (sid for sid in close if shared[sid] >= 2),
            key=lambda sid: (weight[sid], shared[sid], last_ts[sid], sid),
        )

    def decisions(self, report: Report, sig: Signature) -> list[tuple[int, Decision]]:
        """Each candidate story with the decision against its closest report, best first.

        For ``explain``: it shows why a report did or did not join the stories it resembles.
        """
        out = []
        for sid in self.candidates(report, sig):
            best: Decision | None = None
            for member, msig in self._stories[sid].members:
                decision = same_story(member, msig, report, sig, max_gap=self.max_gap)
                if best is None or decision.score > best.score:
                    best = decision
            if best is not None:
                out.append((sid, best))
        out.sort(key=lambda pair: pair[1].score, reverse=True)
        return out

    def assign(self, report: Report, sig: Signature) -> tuple[int | None, Decision | None]:
        """The story this report belongs to and why, or ``(None, None)``: a new story.

        The story :meth:`decisions` would put first, found by scores alone: only the winner's
        reason is written out.
        """
        best_sid: int | None = None
        best_member: tuple[Report, Signature] | None = None
        best_score = 0.0
        for sid in self.candidates(report, sig):
            for member in self._stories[sid].members:
                raw = _score(member[0], member[1], report, sig, self.max_gap)
                # Ranked as Decision.score is, rounded, and the first of equals kept.
                score = 0.0 if raw is None else round(raw, 3)
                if best_sid is None or score > best_score:
                    best_sid, best_member, best_score = sid, member, score
        if best_member is None:
            return None, None
        decision = same_story(best_member[0], best_member[1], report, sig, max_gap=self.max_gap)
        if not decision.same:
            return None, None
        return best_sid, decision

    def expire(self, now: datetime) -> None:
        """Forget the stories whose first report is older than the window."""
        limit = now - self.window
        heap = self._by_first
        while heap and heap[0][0] < limit:
            first, sid = heapq.heappop(heap)
            story = self._stories.get(sid)
            if story is None or story.first != first:
                continue  # stale entry: the story is gone or an earlier report moved its start
            del self._stories[sid]
            del self._last_ts[sid]
            for stem in story.stems:
                posting = self._postings.get(stem)
                if posting is not None:
                    posting.discard(sid)
                    if not posting:
                        del self._postings[stem]
