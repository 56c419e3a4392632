"""Built-in regions: what an operator means by ``regions: [Kharkiv]``, in every form news uses.

Why it is built this way:

- **The data is YAML** (``gazetteer.yaml``), not code, so that a reader who knows the region can
  review and extend it without reading Python: per region its English spellings (old
  transliterations included), its Ukrainian and Russian names, adjectives and "-щина" nouns, and
  the towns the news names in it.
- **Names are inflected here, once, when the gazetteer is built** (pymorphy3, Ukrainian and
  Russian dictionaries), never at match time: "Харків" becomes Харкова, Харкову, Харковом,
  Харкові..., "Харківська" becomes every gender, number and case of the adjective, "Кривий Ріг"
  becomes Кривого Рогу, Кривому Розі... with every word agreeing. The result is a plain list of
  whole-word terms, so the matcher stays a single Aho-Corasick pass and what matched is exactly
  what the text said. Explicit forms are preferred over ``Харків*``, which would also match
  "Харківстар"-like words.
- **Forms that are also ordinary words are case-sensitive**: Суми is also "sums", Сміла "bold",
  Рівне "even". Such an alias carries ``case_sensitive=True``: it matches only where the text
  writes it with a capital first letter, which news always does for a place. A one-word form of
  a name is detected as ambiguous when either dictionary knows it as something else: a parse
  that is not a name (``Geox``, ``Surn``...), an abbreviation or a vocative, and whose lemma is
  not one of the entry's own names in either language, or is the lemma of a name tagged as a
  place but without that tag (Russian "ровно" the adverb beside Ровно). A name the dictionary
  knows only as an adjective (Russian Черноморское) is an ordinary word in every form.
  Adjectives (Харківська) are never made case-sensitive: running text writes them in lower case
  ("у харківських лікарнях"). The Ukrainian dictionary does not tag place names, so names that
  are themselves ordinary nouns (Ізюм, Лиман) are listed by hand under ``common_words`` in the
  YAML, and false alarms (Київ, also a rare plural of "кий") under ``not_common_words``.
- **Where the analyzer fails, the YAML says so**: a name it does not know or inflects wrongly
  gets its forms written out under ``literal``; the tests list every name it only guesses.

Expanding everything takes about two seconds and 25 MB (the two dictionaries), so the result
is kept on disk and built again only when this file, the YAML or the dictionaries change (see
``gazetteer_cache.py``); within a process :func:`builtin_regions` is cached.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).with_name("gazetteer.yaml")

LANGS = ("uk", "ru")
_ENTRY_KEYS = frozenset({"en", "literal", "uk", "ru", "uk_adj", "ru_adj"})
_REGION_KEYS = _ENTRY_KEYS | {"towns"}
_TOP_KEYS = frozenset({"regions", "common_words", "not_common_words", "false_friends", "capital"})
_CAPITAL_KEYS = frozenset({"region", "words", "not_before", "others", "speaking", "country"})
_FALSE_FRIEND_KEYS = frozenset({"reason", "hides", "counts_for", "en", "literal", "uk", "ru"})

# Parses with these grammemes are names (places, people, organisations): capitalised anyway, so
# a collision with them is no reason to require a capital letter.
_PROPER = frozenset({"Geox", "Name", "Surn", "Patr", "Orgn", "Trad"})
# Parses that do not make a form an ordinary word: names (above), abbreviations (ДНР is always
# capitalised), and vocatives, which news never addresses to anything.
_NOT_A_WORD = _PROPER | {"Abbr", "voct"}
_PERSONAL = frozenset({"Name", "Surn", "Patr"})
# Forms not generated: superlatives (Russian Новейшая, Наибелейшая, which are in an adjective's
# lexeme but never in a name) and vocatives (Харкове), which only poems address to a city.
_SKIP = frozenset({"Supr", "Cmp2", "voct"})
# Cases that only some words have, and the case their neighbours in a phrase use instead:
# Russian "в Кривом Рогу" is loc2 for Рог and plain loct for Кривой.
_CASE_FALLBACK = {"gen1": "gent", "gen2": "gent", "acc2": "accs", "loc1": "loct", "loc2": "loct"}
# Both dictionaries spell the Ukrainian apostrophe as ASCII "'".
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'", "`": "'"})
_WORD = re.compile(r"[^\W_]+")


class GazetteerError(ValueError):
    """gazetteer.yaml is malformed or names something the analyzer cannot inflect."""


@dataclass(frozen=True)
class Alias:
    """One term a region is found by, in the rules.yaml term syntax (words separated by spaces).

    ``case_sensitive`` aliases are also ordinary words ("Суми" = sums): they match only where the
    text writes the first letter as a capital.
    """

    term: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class Place:
    """One entry of the gazetteer: a region's own names (its oblast and centre) or one town.

    Rules name regions; grouping reports into stories needs the finer grain, since two reports
    of one oblast may be about two towns (Kupiansk and Chuhuiv are both Kharkiv).
    """

    id: str
    """The region's name for its own entry, else the town's first English name."""
    region: str
    aliases: tuple[Alias, ...]


@dataclass(frozen=True)
class FalseFriend:
    """A name that contains a region's name but is not about the place: an outlet ("Kyiv
    Independent"), the river Dnipro ("across the Dnipro"), a district named after another
    city ("Київський район Харкова"), a football club.

    Plain data, so that any module can reject the same false friends the matcher does: where
    one of ``terms`` is found in a text, the names of region ``hides`` inside it name nothing
    (neither that region nor a rule's term); ``counts_for`` is the region it lies in, when the
    gazetteer knows one.
    """

    reason: str
    """What it is, for people: "a publication, not a place"."""
    hides: str
    counts_for: str | None
    terms: tuple[str, ...]
    """Its names in every form, in the rules.yaml term syntax (words separated by spaces)."""


@dataclass(frozen=True)
class Capital:
    """The region a text may speak of without naming it: "the capital", «столиця». A wire
    dateline ("KYIV (AFP) -") says where a report was filed from, which is not where the news
    happened, unless the text speaks of the capital."""

    region: str
    words: tuple[str, ...]
    """Matched as whole words, case ignored; one ending in ``*`` is a stem, matched at a word's
    start («столиц*»: «столиця», «столиці», «столице»)."""
    not_before: tuple[str, ...] = ()
    """Words after which ``words`` name another capital: "the capital of the region"."""
    others: tuple[str, ...] = ()
    """Other capitals a text may call "the capital" («дрони атакували Москву ... у столиці»):
    a text that names one does not say which it speaks of. Written as ``words`` are."""
    speaking: tuple[str, ...] = ()
    """Words after which one of ``others`` is who spoke, not a place: "Moscow said"."""
    country: tuple[str, ...] = ()
    """The country ``words`` may be followed by («столиця України»); any other name after them
    is another's capital («столиця Слобожанщини», Kharkiv's)."""


@dataclass(frozen=True)
class Gazetteer:
    """Everything gazetteer.yaml expands to."""

    regions: dict[str, tuple[Alias, ...]]
    places: tuple[Place, ...]
    false_friends: tuple[FalseFriend, ...]
    capital: Capital | None = None


@functools.lru_cache(maxsize=1)
def _builtin() -> Gazetteer:
    from . import gazetteer_cache  # here: it names this module's source in its key

    return gazetteer_cache.load(DATA, load_gazetteer)


def builtin_gazetteer() -> tuple[dict[str, tuple[Alias, ...]], tuple[Place, ...]]:
    """Regions with their aliases, and the places they are made of (built once, cached)."""
    data = _builtin()
    return data.regions, data.places


def builtin_regions() -> dict[str, tuple[Alias, ...]]:
    """Every built-in region by its English name, with all its aliases (built once, cached)."""
    return _builtin().regions


def builtin_places() -> tuple[Place, ...]:
    """Every built-in place (each region's own entry and each town), in file order."""
    return _builtin().places


def builtin_false_friends() -> tuple[FalseFriend, ...]:
    """Every built-in false friend (see :class:`FalseFriend`), in file order."""
    return _builtin().false_friends


def builtin_capital() -> Capital | None:
    """The capital region and the words that name it (see :class:`Capital`)."""
    return _builtin().capital


def builtin_names() -> list[str]:
    """The built-in region names, sorted, for ``check`` to list."""
    return sorted(builtin_regions())


def load(path: Path) -> dict[str, tuple[Alias, ...]]:
    """Read a gazetteer file and expand it into aliases per region."""
    return load_gazetteer(path).regions


def load_places(path: Path) -> tuple[dict[str, tuple[Alias, ...]], tuple[Place, ...]]:
    """Read a gazetteer file and expand it into aliases, per region and per place."""
    data = load_gazetteer(path)
    return data.regions, data.places


def load_gazetteer(path: Path) -> Gazetteer:
    """Read a gazetteer file and expand it: aliases per region and per place, false friends."""
    # libyaml's loader when PyYAML has it: the same result, eight times faster on this file.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    if not isinstance(data, dict) or not isinstance(data.get("regions"), dict):
        raise GazetteerError(f"{path.name}: expected a mapping with a regions: section")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise GazetteerError(f"{path.name}: unknown sections {sorted(unknown)}")
    expander = Expander(
        common=_strings(data.get("common_words"), "common_words"),
        not_common=_strings(data.get("not_common_words"), "not_common_words"),
    )
    places: list[Place] = []
    for name, spec in data["regions"].items():
        if not isinstance(name, str) or not isinstance(spec, dict):
            raise GazetteerError(f"{path.name}: region {name!r}: expected a mapping")
        where = f"{path.name}: region {name}"
        _check_keys(spec, _REGION_KEYS, where)
        entries = [spec]
        for town in spec.get("towns") or []:
            if not isinstance(town, dict):
                raise GazetteerError(f"{where}: each town must be a mapping")
            _check_keys(town, _ENTRY_KEYS, where)
            entries.append(town)
        for index, entry in enumerate(entries):
            own = _merge(expander.entry(entry, where))
            place_id = name if index == 0 else _place_id(entry)
            places.append(Place(place_id, name, own))
    regions = regions_of(places)
    false_friends = _false_friends(data.get("false_friends"), regions, expander, path.name)
    capital = _capital(data.get("capital"), regions, path.name)
    unused = (expander.common | expander.not_common) - expander.used
    if unused:
        raise GazetteerError(
            f"{path.name}: common_words/not_common_words name nothing in the file: "
            + ", ".join(sorted(unused))
        )
    return Gazetteer(regions, tuple(places), false_friends, capital)


def _capital(value: Any, regions: dict[str, tuple[Alias, ...]], filename: str) -> Capital | None:
    if value is None:
        return None
    where = f"{filename}: capital"
    if not isinstance(value, dict) or not {"region", "words"} <= set(value) <= _CAPITAL_KEYS:
        raise GazetteerError(
            f"{where}: expected a mapping of region:, words: and, if need be, not_before:, "
            "others:, speaking: and country:"
        )
    if value["region"] not in regions:
        raise GazetteerError(f"{where}: unknown region {value['region']!r}")
    lists = {}
    for key in ("words", "not_before", "others", "speaking", "country"):
        words = value.get(key, [] if key != "words" else None)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise GazetteerError(f"{where}: {key}: expected a list of words")
        lists[key] = tuple(w.strip() for w in words)
    if not lists["words"]:
        raise GazetteerError(f"{where}: words: expected a list of words")
    return Capital(value["region"], **lists)


def _false_friends(
    value: Any, regions: dict[str, tuple[Alias, ...]], expander: Expander, filename: str
) -> tuple[FalseFriend, ...]:
    """The ``false_friends:`` section, expanded; each name must contain a name it hides."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise GazetteerError(f"{filename}: false_friends: expected a list")
    out = []
    for index, spec in enumerate(value, 1):
        where = f"{filename}: false_friends #{index}"
        if not isinstance(spec, dict):
            raise GazetteerError(f"{where}: expected a mapping")
        unknown = set(spec) - _FALSE_FRIEND_KEYS
        if unknown:
            raise GazetteerError(f"{where}: unknown keys {sorted(unknown)}")
        reason, hides, counts_for = spec.get("reason"), spec.get("hides"), spec.get("counts_for")
        if not isinstance(reason, str) or not reason.strip():
            raise GazetteerError(f"{where}: reason: say what it is")
        for key, region in (("hides", hides), ("counts_for", counts_for)):
            if (region is not None or key == "hides") and region not in regions:
                raise GazetteerError(f"{where}: {key}: {region!r} is not a region of the file")
        names = {k: v for k, v in spec.items() if k in _ENTRY_KEYS}
        _check_keys(names, _ENTRY_KEYS, where)
        hidden = {tuple(_term(a.term).casefold().split()) for a in regions[hides]}
        terms: dict[str, None] = {}
        for term, _ in expander.entry(names, where):
            words = tuple(term.casefold().split())
            if not any(
                words[i : i + len(h)] == h for h in hidden for i in range(len(words) - len(h) + 1)
            ):
                raise GazetteerError(f"{where}: {term!r} contains no name of {hides}")
            terms.setdefault(term, None)
        if not terms:
            raise GazetteerError(f"{where}: give its names under en, uk, ru or literal")
        out.append(FalseFriend(reason.strip(), hides, counts_for, tuple(terms)))
    return tuple(out)


def _merge(terms: Iterable[tuple[str, bool]]) -> tuple[Alias, ...]:
    """Aliases from (term, case-sensitive) pairs: one per form whatever its case, spelled as
    first seen; a form that is an ordinary word in any of the entry's languages stays so."""
    table: dict[str, Alias] = {}
    for term, sensitive in terms:
        key = term.casefold()
        old = table.get(key)
        table[key] = Alias(old.term if old else term, sensitive or bool(old and old.case_sensitive))
    return tuple(table.values())


def regions_of(places: Iterable[Place]) -> dict[str, tuple[Alias, ...]]:
    """Each region's aliases: those of its places, merged as one entry's are."""
    terms: dict[str, list[tuple[str, bool]]] = {}
    for place in places:
        terms.setdefault(place.region, []).extend((a.term, a.case_sensitive) for a in place.aliases)
    return {region: _merge(pairs) for region, pairs in terms.items()}


def _place_id(entry: dict[str, Any]) -> str:
    """A town's id: its first English name, or its first name in another language."""
    for key in ("en", "uk", "ru", "literal"):
        if entry.get(key):
            return entry[key][0]
    raise GazetteerError(f"a town has no name: {entry!r}")


def _strings(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GazetteerError(f"{where}: expected a list of strings")
    return frozenset(_fold(v) for v in value)


def _check_keys(spec: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = set(spec) - allowed
    if unknown:
        raise GazetteerError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(allowed)}")
    for key, value in spec.items():
        if key == "towns":
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise GazetteerError(f"{where}: {key}: expected a list of names")


def _fold(text: str) -> str:
    """Comparison key for names and forms: the words of the text, casefolded, space-separated."""
    return " ".join(_WORD.findall(text.translate(_APOSTROPHES).casefold()))


def _term(form: str) -> str:
    """A form as a term: hyphens and apostrophes separate words, as they do in matched text."""
    return " ".join(_WORD.findall(form))


@dataclass(frozen=True)
class _Name:
    """One name as analysed: its forms and the lemmas (dictionary entries) they come from."""

    forms: tuple[str, ...]
    lemmas: dict[str, bool]  # lemma -> whether the dictionary tags it as a place (Geox)
    single: bool  # one word: ambiguity is detected per form; phrases are marked by hand
    adjective: bool  # written in lower case in running text, so never detected: by hand only
    word: bool = False  # the name declines as an ordinary adjective (Russian Черноморское)


class Expander:
    """Inflects names with pymorphy3 and decides which forms must be case-sensitive."""

    def __init__(
        self, common: frozenset[str] = frozenset(), not_common: frozenset[str] = frozenset()
    ):
        import pymorphy3  # here, not at the top: only building the gazetteer needs it

        self.morph = {lang: pymorphy3.MorphAnalyzer(lang=lang) for lang in LANGS}
        self.common = common
        self.not_common = not_common
        self.used: set[str] = set()  # the entries of the two lists that named something
        self._parses: dict[tuple[str, str], list[Any]] = {}

    def parse(self, lang: str, word: str) -> list[Any]:
        key = (lang, word)
        found = self._parses.get(key)
        if found is None:
            found = self._parses[key] = self.morph[lang].parse(word)
        return found

    # --- one entry: a region's own names, or one town --------------------------------------

    def entry(self, spec: dict[str, Any], where: str) -> Iterator[tuple[str, bool]]:
        """Every (term, case_sensitive) of a region's or a town's names."""
        analysed: list[tuple[str, _Name]] = []
        own: dict[str, dict[str, bool]] = {lang: {} for lang in LANGS}
        for lang in LANGS:
            for key, adjective in ((lang, False), (f"{lang}_adj", True)):
                for name in spec.get(key, []):
                    result = self.name(name, lang, adjective=adjective)
                    if result is None:
                        raise GazetteerError(
                            f"{where}: {key}: pymorphy3 cannot inflect {name!r}; "
                            "give its forms under literal"
                        )
                    analysed.append((name, result))
                    own[lang].update(result.lemmas)
        for form in spec.get("en", []):
            yield _term(form), bool(self._manual(form))
        for form in spec.get("literal", []):
            form = form.translate(_APOSTROPHES)
            verdict = self._manual(form)
            if verdict is None:
                verdict = len(_term(form).split()) == 1 and self.is_word(form, own)
            for variant in _variants(form):
                yield _term(variant), verdict
        for name, result in analysed:
            for form in result.forms:
                verdict = self._manual(form, name)
                if verdict is None:
                    verdict = result.word or (
                        result.single and not result.adjective and self.is_word(form, own)
                    )
                for variant in _variants(form):
                    yield _term(variant), verdict

    def _manual(self, form: str, name: str | None = None) -> bool | None:
        """The YAML's verdict on a form, by the form itself or by the name it is a form of."""
        keys = {_fold(form)} | ({_fold(name)} if name else set())
        if keys & self.not_common:
            self.used |= keys & self.not_common
            return False
        if keys & self.common:
            self.used |= keys & self.common
            return True
        return None

    def is_word(self, form: str, own: dict[str, dict[str, bool]]) -> bool:
        """Whether a dictionary knows this form as a word other than the entry's own names.

        ``own`` maps each language to the lemmas of the entry's names. A parse of one of them is
        the name itself, unless that lemma is tagged as a place and this parse is not: then it is
        a homonym (Russian "ровно" the adverb beside Ровно the city). Parses that are names of
        places, people or organisations do not count: those are capitalised too.
        """
        word = form.lower()
        for lang in LANGS:
            if not self.morph[lang].word_is_known(word):
                continue  # cheaper than parsing it: the analyzer's guesses would not count
            other = own[LANGS[1 - LANGS.index(lang)]]
            for p in self.parse(lang, word):
                if not p.is_known or p.tag.grammemes & _NOT_A_WORD:
                    continue
                lemma = p.normal_form
                if own[lang].get(lemma) is False or lemma in other:
                    continue  # the name itself, or its spelling in the other language
                return True
        return False

    # --- inflection -------------------------------------------------------------------------

    def name(self, name: str, lang: str, *, adjective: bool = False) -> _Name | None:
        """All case forms of a name (every gender and number too for an adjective)."""
        name = name.translate(_APOSTROPHES).strip()
        words = re.split(r"[\s-]+", name)
        capital = [w[:1].isupper() for w in words]
        one_token = len(name.split()) == 1
        forms: list[str] = []
        lemmas: dict[str, bool] = {}
        whole = self.choose(name.lower(), lang, adjective=adjective, last=True) if one_token else []
        if whole and (len(words) == 1 or whole[0].is_known):
            forms += self.lexeme(whole, adjective)
            lemmas.update(_lemmas(whole))
        if len(words) > 1:
            # A phrase, or a hyphenated name whose parts both decline (Білгорода-Дністровського):
            # every word is inflected, and the words are combined case by case.
            phrase = self.phrase([w.lower() for w in words], lang, require_known=one_token)
            if phrase is not None:
                combos, word_lemmas = phrase
                forms += [(" " if not one_token else "-").join(c) for c in combos]
                lemmas.update(word_lemmas)
        if not forms and whole:  # an unknown hyphenated name: the analyzer's guess
            forms += self.lexeme(whole, adjective)
            lemmas.update(_lemmas(whole))
        if not forms:
            return None
        forms = [_capitalise(f, capital) for f in forms]
        # A name the dictionary knows only as an adjective (Russian Черноморское, Боровая) has the
        # forms of that adjective, an ordinary word, unless the adjective is tagged as a place.
        word = bool(
            not adjective
            and whole
            and whole[0].is_known
            and whole[0].tag.POS == "ADJF"
            and not whole[0].tag.grammemes & _PROPER
        )
        return _Name(tuple(dict.fromkeys(forms)), lemmas, len(words) == 1, adjective, word)

    def choose(self, word: str, lang: str, *, adjective: bool, last: bool) -> list[Any]:
        """The parses of a name's word in the nominative, preferring a place to a surname.

        The last word of a name is preferably a noun (Ріг), the words before it adjectives
        (Кривий); a dictionary parse beats a guess. All the parses that rank best are kept: a
        dictionary can split one word into several homonymous entries with slightly different
        forms, and only one of them may have the form a place name uses ("у Кривому Розі").
        """
        pool = [
            p
            for p in self.parse(lang, word)
            if p.tag.POS in ("NOUN", "ADJF") and {"nomn", "Fixd"} & p.tag.grammemes
        ]
        if adjective:
            pool = [p for p in pool if p.tag.POS == "ADJF"]
        pool = [p for p in pool if p.is_known] or pool
        if not pool:
            return []
        noun = last and not adjective

        def rank(p: Any) -> tuple[bool, bool, bool, bool]:
            return (
                "Geox" in p.tag,
                (p.tag.POS == "NOUN") is noun,
                not p.tag.grammemes & _PERSONAL,
                p.normal_form == word,
            )

        pool.sort(key=lambda p: (rank(p), p.score), reverse=True)
        if not pool[0].is_known:
            return pool[:1]  # guesses: the analyzer's best one
        best = rank(pool[0])
        head = pool[0].tag
        return [
            p
            for p in pool
            if rank(p) == best and p.tag.number == head.number and p.tag.gender == head.gender
        ]

    def lexeme(self, parses: list[Any], adjective: bool) -> list[str]:
        """The forms of the parses' lexemes that name the same thing.

        An adjective gives every gender, number and case. A name keeps its number (Суми stays
        plural, Харків singular) and, where the lexeme has several, its gender (Кропивницький
        declines like an adjective but has no feminine).
        """
        return [
            f.word
            for p in parses
            for f in p.lexeme
            if f.tag.POS == p.tag.POS
            and not f.tag.grammemes & _SKIP
            and (adjective or _same_referent(p.tag, f.tag))
        ]

    def _cases(self, parses: list[Any]) -> dict[str, list[str]]:
        """A word's forms by case, for combining the words of a phrase."""
        cases: dict[str, list[str]] = {}
        for p in parses:
            if "Fixd" in p.tag:
                cases.setdefault("nomn", []).append(p.word)
                continue
            for f in p.lexeme:
                t = f.tag
                if t.POS == p.tag.POS and not t.grammemes & _SKIP and _same_referent(p.tag, t):
                    cases.setdefault(str(t.case), []).append(f.word)
        return {case: list(dict.fromkeys(forms)) for case, forms in cases.items()}

    def phrase(
        self, words: list[str], lang: str, *, require_known: bool
    ) -> tuple[list[tuple[str, ...]], dict[str, bool]] | None:
        """Every case of a phrase, each word inflected in agreement with the others."""
        groups = []
        for i, word in enumerate(words):
            group = self.choose(word, lang, adjective=False, last=i == len(words) - 1)
            if not group or (require_known and not group[0].is_known):
                return None
            groups.append(group)
        tables = [self._cases(g) for g in groups]
        heads = [g[0].tag for g in groups]
        # An inanimate noun's accusative is its nominative, and so is a masculine or plural
        # adjective's next to it (Кривий Ріг, not Кривого Ріг); a feminine one still changes.
        inanimate = all("inan" in t for t in heads if t.POS == "NOUN")
        combos: list[tuple[str, ...]] = []
        for case in dict.fromkeys(c for t in tables for c in t):
            columns = []
            for table, tag in zip(tables, heads, strict=True):
                use = case
                if "Fixd" in tag:
                    use = "nomn"
                elif case == "accs" and inanimate and tag.POS == "ADJF":
                    use = "nomn" if tag.gender in (None, "masc") else "accs"
                column = table.get(use) or table.get(_CASE_FALLBACK.get(use, use))
                if not column:
                    break
                columns.append(column)
            else:
                combos.extend(itertools.product(*columns))
        if not combos:
            return None
        lemmas: dict[str, bool] = {}
        for g in groups:
            lemmas.update(_lemmas(g))
        return combos, lemmas


def _lemmas(parses: list[Any]) -> dict[str, bool]:
    """The lemmas of a name's parses, each with whether the dictionary tags it as a place."""
    return {p.normal_form: "Geox" in p.tag for p in parses}


def _same_referent(base: Any, tag: Any) -> bool:
    """Whether a form of a name's lexeme names the same thing: same number, same gender."""
    if tag.number != base.number:
        return False
    return not (base.gender and tag.gender and tag.gender != base.gender)


def _capitalise(form: str, capital: list[bool]) -> str:
    """Give a generated (lower-case) form the capitals of the name as written."""
    parts = re.split(r"([\s-]+)", form)
    words = parts[::2]
    for i, word in enumerate(words):
        if i < len(capital) and capital[i] and word:
            words[i] = word[0].upper() + word[1:]
    parts[::2] = words
    return "".join(parts)


def _variants(form: str) -> list[str]:
    """A form and its other spellings: "е" for "ё"; the apostrophe left out, or written as
    U+02BC, the Ukrainian apostrophe, which Unicode counts as a letter (so "Купʼянськ" is one
    word where "Куп'янськ" and "Куп’янськ" are two)."""
    out = [form]
    if "ё" in form or "Ё" in form:
        out.append(form.replace("ё", "е").replace("Ё", "Е"))
    if "'" in form:
        out += [form.replace("'", "\u02bc"), form.replace("'", "")]
    return out


if __name__ == "__main__":  # python -m alerts.gazetteer [REGION...]: see what a region matches
    import sys
    import time

    started = time.perf_counter()
    table = builtin_regions()
    took = time.perf_counter() - started
    for region in sys.argv[1:] or builtin_names():
        aliases = table[region]
        shown = ", ".join(a.term + (" (Aa)" if a.case_sensitive else "") for a in aliases)
        print(f"{region} ({len(aliases)}): {shown}\n")
    total = sum(len(a) for a in table.values())
    print(f"{len(table)} regions, {total} aliases, built in {took:.2f}s")
