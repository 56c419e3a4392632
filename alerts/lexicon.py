"""The words of war news as language-independent evidence, for grouping reports into stories.

Why it is built this way:

- **The knowledge is data** (``concepts.yaml`` for concepts, actors, leaders, number words and
  function words; ``gazetteer.yaml`` for places), so a reviewer who reads Ukrainian or Russian
  can check and extend it without reading Python.
- **Word forms come from well-kept libraries, once.** English words are reduced by the Snowball
  stemmer (PyStemmer, C), on both sides: "drones" and "drone" are ``drone``. Ukrainian and
  Russian entries are expanded into every form of their lexeme by the pymorphy3 dictionaries
  when the lexicon is built (дрон -> дрони, дронів, дронами...), as the gazetteer does for place
  names, so reading a report is dictionary lookups of the words as written, with no morphology
  at run time: pymorphy3 costs 130-260 us a word, a lookup well under one. Words the lexicon
  does not know are compared within one language by a stem: Snowball for English and Russian,
  a suffix cut for Ukrainian (Snowball has no Ukrainian stemmer).
- **Places are the gazetteer's**, town by town (:func:`alerts.gazetteer.builtin_places`), with
  the forms it generated, so "під Покровськом", "near Pokrovsk" and "под Покровском" are one
  place, and a form that is also an ordinary word (Суми, "sums") counts only when capitalised.

The result is a :class:`Lexicon`: tables from word sequences (up to :data:`MAX_PHRASE` words) to
evidence keys, built once per process (:func:`builtin_lexicon`).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import Stemmer
import yaml

from .memo import Memo

log = logging.getLogger("alerts")

DATA = Path(__file__).with_name("concepts.yaml")
MAX_PHRASE = 4
LANGS = ("en", "uk", "ru")

_WORD = re.compile(r"[^\W_]+")
_APOSTROPHES = re.compile("['’ʼ`]")
_UK_LETTERS = frozenset("іїєґ")
_RU_LETTERS = frozenset("ыэъё")

# Evidence key prefixes.
CONCEPT, ACTOR, PERSON, PLACE, REGION, NUMBER = "c:", "a:", "p:", "pl:", "rg:", "#"
HIDDEN = "-"
"""The key of a phrase that is evidence of nothing (a false friend: "Kyiv Independent")."""


# The stemmers' own caches are off (0): the Memos in front of them remember stems, and a
# second copy of 10,000 words a stemmer is memory for nothing.
@functools.lru_cache(maxsize=1)
def _english() -> Any:
    return Stemmer.Stemmer("english", 0)


@functools.lru_cache(maxsize=1)
def _russian() -> Any:
    return Stemmer.Stemmer("russian", 0)


_UK_ENDINGS = tuple(
    sorted(
        set(
            """
            ями ами ові еві ого ому ими іми его ему ими их іх ий ій ої ою ею ах ях ам ям ом ем ів
            їв ей ов ев ую юю ая яя ое ее ые ие ых ым им ой ый ться лися лась лось лись ли ла ло
            ти ть ся сь а я у ю і и о е ї ь й є
            """.split()
        ),
        key=len,
        reverse=True,
    )
)


def fold(word: str) -> str:
    """A word as the tables key it: casefolded, ё as е, apostrophes dropped (п'ять -> пять)."""
    folded = word.casefold()
    if not folded.isascii():
        folded = _APOSTROPHES.sub("", folded).replace("ё", "е")
    return folded


def is_cyrillic(word: str) -> bool:
    return "\u0400" <= word[:1] <= "\u04ff"


def _stem(key: tuple[str, str]) -> str:
    word, lang = key
    if not is_cyrillic(word):
        return _english().stemWord(word)
    if lang == "ru":
        return _russian().stemWord(word)
    for ending in _UK_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)][:6]
    return word[:6]


_STEMS = Memo(_stem)


def stem(word: str, lang: str) -> str:
    """A word's stem within its language, for words the lexicon does not know."""
    return _STEMS[word, lang]


_CYRILLIC = re.compile("[\u0400-\u04ff]")


def language(text: str) -> str:
    """en, uk or ru: Cyrillic text is Ukrainian when it has more letters only Ukrainian uses
    (і, ї, є, ґ) than letters only Russian uses (ы, э, ъ, ё)."""
    folded = text.casefold()
    cyrillic = len(_CYRILLIC.findall(folded))
    if cyrillic * 2 < len(folded.strip()) * 0.3:
        return "en"
    uk = sum(folded.count(ch) for ch in _UK_LETTERS)
    ru = sum(folded.count(ch) for ch in _RU_LETTERS)
    return "uk" if uk > ru else "ru"


@dataclass(frozen=True)
class Entry:
    """What a word sequence is evidence of: its key, and for a place whether it counts only
    when the text writes it with a capital."""

    key: str
    capital: bool = False


@dataclass
class Lexicon:
    """Word sequences (tuples of keys as :func:`key_of` makes them) to evidence.

    Built, every table is a dict; read from the cache (:func:`open_tables`), ``phrases``,
    ``firsts`` and ``stems`` are :class:`_Table` s, which answer ``get`` alike."""

    phrases: dict[tuple[str, ...], list[Entry]] = field(default_factory=dict)
    stopwords: set[str] = field(default_factory=set)
    units: set[str] = field(default_factory=set)
    months_before: set[str] = field(default_factory=set)  # "Dec. 8": the number is a date
    numbers: dict[str, str] = field(default_factory=dict)
    weekdays: dict[str, int] = field(default_factory=dict)
    markers: dict[tuple[str, ...], str] = field(default_factory=dict)
    generic: frozenset[str] = frozenset()
    regions: dict[str, str] = field(default_factory=dict)  # place id -> region
    oblasts: set[str] = field(default_factory=set)  # places that are a whole region
    owned: frozenset[str] = frozenset()  # concepts whose owner tells two events apart
    weapons: frozenset[str] = frozenset()
    stems: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    """(language, stem) -> entries of single Cyrillic words, for forms no dictionary gave."""
    longest: int = 1

    firsts: dict[str, int] = field(default_factory=dict)
    """First word of a phrase -> the longest phrase it starts: most words start none, and
    reading a report then costs one lookup a word."""
    marker_firsts: dict[str, int] = field(default_factory=dict)

    def add(self, words: tuple[str, ...], entry: Entry) -> None:
        entries = self.phrases.setdefault(words, [])
        if entry not in entries:
            entries.append(entry)
        self.longest = max(self.longest, len(words))
        self.firsts[words[0]] = max(self.firsts.get(words[0], 0), len(words))


OBLAST_WORDS = frozenset(
    """region oblast province regional область області обл регіон регіону регион региона
    областi областю области областью""".split()
)
"""Words after a region's centre that make it the region: "Kharkiv region", "Сумская область"."""
_OBLAST_EN = re.compile(r"\b(oblast|region|province)\b", re.IGNORECASE)


def _oblast_forms(expand: _Expander) -> set[str]:
    """Every form of the gazetteer's names that name a region rather than its centre: the
    adjectives (Харківська, Харьковской) and the "-щина" nouns (Харківщина, Донетчины)."""
    from .gazetteer import DATA as GAZETTEER

    data = yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))
    forms: set[str] = set()
    for spec in data["regions"].values():
        for lang in ("uk", "ru"):
            names = list(spec.get(f"{lang}_adj") or [])
            names += [n for n in spec.get(lang) or [] if n.endswith(("щина", "чина"))]
            for name in names:
                for word in _WORD.findall(name):
                    forms.update(expand.forms(word, lang))
    return forms


def _key(word: str) -> str:
    return word if is_cyrillic(word) else _english().stemWord(word)


_KEYS = Memo(_key)


def key_of(word: str) -> str:
    """How a folded word is looked up: its English stem, or a Cyrillic form as written."""
    return _KEYS[word]


_BUILT: list[Lexicon] = []
_BUILDING = threading.Lock()


def builtin_lexicon() -> Lexicon:
    """The concepts of ``concepts.yaml`` and the places of the gazetteer, built once per
    process. Polls match in worker threads: the lock makes the first ones wait for one build
    instead of each building its own (twenty builds at once were 400 MB)."""
    if _BUILT:
        return _BUILT[0]
    with _BUILDING:
        if not _BUILT:
            _BUILT.append(_cached())
    return _BUILT[0]


FORMAT = 3
"""Bumped when the cached layout changes (2: SQLite tables instead of one JSON document)."""
_PACKAGES = ("pymorphy3", "pymorphy3-dicts-uk", "pymorphy3-dicts-ru", "PyStemmer")
_SEP = "\x1f"
"""Between the words of a phrase key in the file (words are letters and digits only)."""


def _cached(dirs: Any = None) -> Lexicon:
    """The built-in lexicon from its disk cache (:mod:`alerts.diskcache`), built on a miss:
    building takes pymorphy3 and a second or two.

    The cache is an SQLite file, and its three large tables (48,000 phrases, the words that
    start them, the stems of Cyrillic words) are read a key at a time as reports ask for them,
    and remembered: a run that reads ten new reports asks a few thousand keys, not the
    60 MB and 0.35-0.5 s of reading the whole lexicon."""
    from . import diskcache
    from .gazetteer import builtin_false_friends, builtin_places

    wanted = cache_key()
    built: list[Lexicon] = []

    def lexicon() -> Lexicon:
        if not built:
            built.append(build(DATA, builtin_places(), builtin_false_friends()))
        return built[0]

    def write(path: Path) -> None:
        try:
            write_tables(lexicon(), path, wanted)
        except sqlite3.Error as exc:
            raise OSError(f"cannot write {path}: {exc}") from exc

    for _attempt in range(2):
        path = diskcache.file("lexicon-", wanted, ".sqlite", write, dirs)
        if path is None:
            break
        try:
            return open_tables(path, wanted)
        except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
            log.debug("lexicon cache %s damaged, building it again: %s", path, exc)
            diskcache.discard(path)
    return lexicon()


def cache_key() -> str:
    """What the built-in lexicon depends on: concepts.yaml, this code, the gazetteer's key and
    the dictionaries' and stemmer's versions."""
    from . import diskcache, gazetteer_cache
    from .gazetteer import DATA as GAZETTEER

    return diskcache.key(
        [
            f"format {FORMAT}",
            DATA.read_bytes(),
            Path(__file__).read_bytes(),
            gazetteer_cache.key(GAZETTEER),
        ],
        _PACKAGES,
    )


def write_tables(lex: Lexicon, path: Path, key: str) -> None:
    """The lexicon as SQLite tables, keyed: the small parts as one JSON value, the three large
    tables a row per key."""
    small = dump(lex)
    del small["phrases"], small["stems"]
    conn = sqlite3.connect(path)
    try:
        conn.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
            "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID; "
            "CREATE TABLE phrases(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID; "
            "CREATE TABLE firsts(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID; "
            "CREATE TABLE stems(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;"
        )
        conn.executemany(
            "INSERT INTO phrases VALUES(?, ?)",
            ((_SEP.join(ws), json.dumps(_entries(es))) for ws, es in lex.phrases.items()),
        )
        conn.executemany("INSERT INTO firsts VALUES(?, ?)", lex.firsts.items())
        conn.executemany(
            "INSERT INTO stems VALUES(?, ?)",
            ((f"{lang}{_SEP}{w}", json.dumps(_entries(es))) for (lang, w), es in lex.stems.items()),
        )
        meta = {
            "format": str(FORMAT),
            "key": key,
            "small": json.dumps(small, ensure_ascii=False),
            "longest": str(lex.longest),
            "counts": json.dumps([len(lex.phrases), len(lex.firsts), len(lex.stems)]),
        }
        conn.executemany("INSERT INTO meta VALUES(?, ?)", meta.items())
        conn.commit()
    finally:
        conn.close()


def open_tables(path: Path, key: str) -> Lexicon:
    """The lexicon of a file :func:`write_tables` wrote with this ``key``: its small parts read
    and checked now, its large tables read as they are asked (ValueError when anything is off).
    The file is opened read-only and immutable: nothing writes it once it is in place, and a
    read-only directory (a container's) needs no lock files."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        # Its key and its tables' row counts (which walks every page of their trees, 10 ms)
        # are those written; each row is checked as it is read.
        meta = dict(conn.execute("SELECT k, v FROM meta").fetchall())
        if meta.get("format") != str(FORMAT) or meta.get("key") != key:
            raise ValueError("another format or key")
        counts = json.loads(meta["counts"])
        tables = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in _TABLES]
        if counts != tables:
            raise ValueError(f"tables of {tables} rows, not {counts}")
        lex = restore({**json.loads(meta["small"]), "phrases": [], "stems": []}, partial=True)
        lock = threading.Lock()
        lex.phrases = _Table(conn, lock, "phrases", _SEP.join, _decode_entries)
        lex.firsts = _Table(conn, lock, "firsts", str, _decode_length)
        lex.stems = _Table(conn, lock, "stems", _SEP.join, _decode_entries)
        lex.longest = int(meta["longest"])
    except BaseException:
        conn.close()
        raise
    return lex


_TABLES = ("phrases", "firsts", "stems")


def _decode_entries(text: Any) -> list[Entry]:
    out = []
    for key, capital in json.loads(text):
        if not isinstance(key, str) or not isinstance(capital, bool):
            raise ValueError(f"malformed entry {key!r}, {capital!r}")
        out.append(Entry(key, capital))
    if not out:
        raise ValueError("no entries")
    return out


def _decode_length(value: Any) -> int:
    if not isinstance(value, int) or not 0 < value <= 16:
        raise ValueError(f"malformed phrase length {value!r}")
    return value


class _Table:
    """One of the lexicon's large tables, read from its file a key at a time, each answer
    (found or not) remembered. Lookups are what reading a report does: ``get``."""

    __slots__ = ("_conn", "_decode", "_flat", "_lock", "_memo", "_sql", "name")

    def __init__(
        self,
        conn: sqlite3.Connection,
        lock: threading.Lock,
        name: str,
        flat: Callable[[Any], str],
        decode: Callable[[Any], Any],
    ) -> None:
        self._conn, self._lock, self.name = conn, lock, name
        self._sql = f"SELECT v FROM {name} WHERE k = ?"
        self._flat, self._decode = flat, decode
        self._memo = Memo(self._read)  # found or not: the words of news repeat

    def get(self, key: Any, default: Any = None) -> Any:
        found = self._memo[key]
        return default if found is None else found

    def __getitem__(self, key: Any) -> Any:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None

    def _read(self, key: Any) -> Any:
        try:
            with self._lock:
                row = self._conn.execute(self._sql, [self._flat(key)]).fetchone()
            return None if row is None else self._decode(row[0])
        except (sqlite3.Error, ValueError, TypeError) as exc:
            # The file was checked when opened; a page damaged since costs this one word.
            log.warning("lexicon cache unreadable at %s %r: %s", self.name, key, exc)
            return None

    def items(self) -> Iterator[tuple[Any, Any]]:
        """Every row, decoded (for comparing a cache with what was built; reading reports
        never asks for this)."""
        with self._lock:
            rows = self._conn.execute(f"SELECT k, v FROM {self.name}").fetchall()
        for flat, value in rows:
            key = flat if self._flat is str else tuple(flat.split(_SEP))
            yield key, self._decode(value)

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute(f"SELECT count(*) FROM {self.name}").fetchone()[0]


def _entries(entries: list[Entry]) -> list[list[Any]]:
    return [[e.key, e.capital] for e in entries]


def dump(lex: Lexicon) -> dict[str, Any]:
    """The lexicon as plain JSON data."""
    return {
        "format": FORMAT,
        "phrases": [[list(words), _entries(entries)] for words, entries in lex.phrases.items()],
        "stopwords": sorted(lex.stopwords),
        "units": sorted(lex.units),
        "months_before": sorted(lex.months_before),
        "numbers": lex.numbers,
        "weekdays": lex.weekdays,
        "markers": [[list(words), marker] for words, marker in lex.markers.items()],
        "generic": sorted(lex.generic),
        "regions": lex.regions,
        "oblasts": sorted(lex.oblasts),
        "owned": sorted(lex.owned),
        "weapons": sorted(lex.weapons),
        "stems": [[lang, word, _entries(entries)] for (lang, word), entries in lex.stems.items()],
    }


def restore(data: dict[str, Any], partial: bool = False) -> Lexicon:
    """The lexicon from :func:`dump`'s data, every field checked (ValueError when off); with
    ``partial``, the phrases may be absent (:func:`open_tables` reads them from their table)."""
    if data.get("format") != FORMAT:
        raise ValueError("another format")

    def text(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected text, not {value!r}")
        return value

    def words(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected words, not {value!r}")
        return tuple(map(text, value))

    def entries(value: Any) -> list[Entry]:
        out = []
        for key, capital in value:
            if not isinstance(capital, bool):
                raise ValueError(f"expected true or false, not {capital!r}")
            out.append(Entry(text(key), capital))
        return out

    def mapping(value: Any, kind: type) -> dict:
        if not isinstance(value, dict) or not all(isinstance(v, kind) for v in value.values()):
            raise ValueError("malformed mapping")
        return {text(k): v for k, v in value.items()}

    lex = Lexicon()
    for ws, es in data["phrases"]:
        for entry in entries(es):
            lex.add(words(ws), entry)
    lex.stopwords = set(map(text, data["stopwords"]))
    lex.units = set(map(text, data["units"]))
    lex.months_before = set(map(text, data["months_before"]))
    lex.numbers = mapping(data["numbers"], str)
    lex.weekdays = mapping(data["weekdays"], int)
    for ws, marker in data["markers"]:
        phrase = words(ws)
        lex.markers[phrase] = text(marker)
        lex.marker_firsts[phrase[0]] = max(lex.marker_firsts.get(phrase[0], 0), len(phrase))
    lex.generic = frozenset(map(text, data["generic"]))
    lex.regions = mapping(data["regions"], str)
    lex.oblasts = set(map(text, data["oblasts"]))
    lex.owned = frozenset(map(text, data["owned"]))
    lex.weapons = frozenset(map(text, data["weapons"]))
    lex.stems = {(text(lang), text(word)): entries(es) for lang, word, es in data["stems"]}
    if not lex.phrases and not partial:
        raise ValueError("no phrases")
    return lex


def build(path: Path, places: Iterable[Any] = (), false_friends: Iterable[Any] = ()) -> Lexicon:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    expand = _Expander()
    lex = Lexicon()
    for section, prefix in (("concepts", CONCEPT), ("actors", ACTOR), ("persons", PERSON)):
        for name, langs in (data.get(section) or {}).items():
            for phrase in expand.entries(langs):
                lex.add(phrase, Entry(f"{prefix}{name}"))
    for lang in LANGS:
        # Officials quoted on every event of their city (sources:) are left out like stopwords.
        unsaid = f"{data['stopwords'][lang]} {(data.get('sources') or {}).get(lang) or ''}"
        for word in unsaid.split():
            lex.stopwords.update(w[0] for w in expand.phrase(word, lang) if len(w) == 1)
        for word in data["units"][lang]:
            lex.units.update(w[0] for w in expand.phrase(word, lang) if len(w) == 1)
        for word in (data.get("months_before") or {}).get(lang) or ():
            lex.months_before.update(w[0] for w in expand.phrase(word, lang) if len(w) == 1)
    for value, langs in data["numbers"].items():
        for phrase in expand.entries(langs):
            if len(phrase) == 1:
                lex.numbers[phrase[0]] = str(value)
    for value, langs in data["weekdays"].items():
        for phrase in expand.entries(langs):
            lex.weekdays[phrase[0]] = int(value)
    for marker, langs in data["markers"].items():
        for phrase in expand.entries(langs):
            lex.markers[phrase] = marker
            lex.marker_firsts[phrase[0]] = max(lex.marker_firsts.get(phrase[0], 0), len(phrase))
    lex.generic = frozenset(
        f"{ACTOR}{g}" if g in (data.get("actors") or {}) else f"{CONCEPT}{g}"
        for g in data.get("generic") or ()
    )
    oblast_forms = _oblast_forms(expand) if places else set()
    for place in places:
        lex.regions[place.id] = place.region
        whole = place.id == place.region  # a region's own entry: its oblast and its centre
        if whole:
            lex.oblasts.add(place.id)
        for alias in place.aliases:
            words = tuple(key_of(fold(w)) for w in _WORD.findall(alias.term))
            if not words:
                continue
            # The oblast (Харківщина, Харківська область, Kharkiv Oblast) is a region; its
            # centre (Харків, Kharkiv) is a city like any other town.
            oblast = bool(_OBLAST_EN.search(alias.term)) or fold(alias.term) in oblast_forms
            key = f"{REGION}{place.region}" if whole and oblast else f"{PLACE}{place.id}"
            lex.add(words, Entry(key, alias.case_sensitive))
    for friend in false_friends:
        # "Kyiv Independent", "Shakhtar Donetsk", "Київський район" (of Kharkiv): read as one
        # phrase, so that the city inside is not taken for the place; where the gazetteer knows
        # the region it lies in, it counts for that region.
        key = f"{REGION}{friend.counts_for}" if friend.counts_for else HIDDEN
        for term in friend.terms:
            words = tuple(key_of(fold(w)) for w in _WORD.findall(term))
            if words:
                lex.add(words, Entry(key))
    for name, spec in (data.get("places") or {}).items():
        lex.regions.setdefault(name, spec.get("region", name))
        for lang, names in spec.items():
            if lang == "region":
                continue
            for text in names:
                # Written with a capital here: counts only when capitalised there (Orel, Орел
                # the town; орел, an eagle). A common noun here ("столиця") counts as written.
                capital = str(text)[:1].isupper() and lang != "literal"
                if lang == "literal":
                    phrases = [tuple(key_of(fold(w)) for w in _WORD.findall(str(text)))]
                else:
                    phrases = expand.phrase(str(text), lang)
                for phrase in phrases:
                    lex.add(phrase, Entry(f"{PLACE}{name}", capital))
    lex.owned = frozenset(f"{CONCEPT}{c}" for c in data.get("ownership") or ())
    lex.weapons = frozenset(f"{CONCEPT}{c}" for c in data.get("weapons") or ())
    # A form the dictionaries did not give (Шахеди: the guesser declined Шахед otherwise) is
    # still found by its stem, unless the stem is shared by entries that disagree.
    for words, entries in lex.phrases.items():
        if len(words) == 1 and is_cyrillic(words[0]) and not any(e.capital for e in entries):
            for lang in ("uk", "ru"):
                key = (lang, stem(words[0], lang))
                old = lex.stems.get(key)
                lex.stems[key] = entries if old in (None, entries) else []
    lex.stems = {k: v for k, v in lex.stems.items() if v}
    return lex


class _Expander:
    """Every form of a lexicon entry, as tuples of lookup keys."""

    def __init__(self) -> None:
        import pymorphy3  # here: only building the lexicon needs the dictionaries

        self.morph = {lang: pymorphy3.MorphAnalyzer(lang=lang) for lang in ("uk", "ru")}

    def entries(self, langs: dict[str, list[str]]) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for lang, words in langs.items():
            for entry in words:
                out.extend(self.phrase(str(entry), lang))
        return list(dict.fromkeys(out))

    def phrase(self, text: str, lang: str) -> list[tuple[str, ...]]:
        words = _WORD.findall(_APOSTROPHES.sub("", text))
        if not words:
            return []
        if lang == "en" or not is_cyrillic(words[0]):
            return [tuple(_english().stemWord(fold(w)) for w in words)]
        columns = [self.forms(w, lang) for w in words]
        combos = itertools.islice(itertools.product(*columns), 4000)
        return [tuple(c) for c in combos]

    @functools.lru_cache(maxsize=20_000)  # noqa: B019 - one expander per build
    def forms(self, word: str, lang: str) -> tuple[str, ...]:
        """Every form of a Ukrainian or Russian word; a word the dictionary does not know (an
        abbreviation) as written."""
        morph = self.morph[lang]
        lower = word.lower()
        if word.isupper() and len(word) > 1:  # an abbreviation: БпЛА, ЗАЕС
            return (fold(word),)
        parses = morph.parse(lower)
        known = [p for p in parses if p.is_known]
        if known:
            chosen = [p for p in known if p.normal_form == lower] or known[:1]
        else:  # a word the dictionary lacks (Шахед): inflected as the words it resembles
            chosen = [p for p in parses if p.tag.POS == "NOUN"][:1] or parses[:1]
        forms = {fold(word)}
        for parse in chosen:
            forms.update(fold(f.word) for f in parse.lexeme)
        return tuple(sorted(forms))


_TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "e", "ж": "zh",
        "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n",
        "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh",
        "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ы": "y", "ъ": "", "э": "e",
        "ю": "iu", "я": "ia",
    }
)  # fmt: skip
# Sounds every transliteration writes its own way, to one letter each; vowels left out.
_SOUNDS = [("shch", "w"), ("sch", "w"), ("sh", "w"), ("ch", "c"), ("zh", "j"), ("kh", "x"),
           ("ts", "c"), ("tz", "c"), ("h", "g"), ("j", "i"), ("w", "v")]  # fmt: skip
_VOWELS = re.compile("[aeiouy]+")


def skeleton(word: str) -> str:
    """A name's consonants in Latin letters, so that one name spelled in English, Ukrainian or
    Russian, in any case, has one key: Shevchenko, Шевченка, Шевченко -> ``wvcn``. Names the
    gazetteer does not know (villages, people, ships) are then still shared across languages."""
    latin = fold(word).translate(_TRANSLIT)
    for sound, letter in _SOUNDS[:-2]:
        latin = latin.replace(sound, letter)
    return _VOWELS.sub("", latin)
