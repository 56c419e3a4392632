"""Matching item text against every rule at once.

All terms of all rules and regions go into one Aho-Corasick automaton over the word stream
(see :func:`alerts.text.words`), which reports every overlapping hit in a single pass: "Korea"
inside "North Korea" is found as well as the phrase, which leftmost-longest regex alternations
would silently miss. Only the rules that own a hit term are then evaluated. Everything here is
pure and immutable once compiled, so a :class:`Matcher` can be shared between threads.
"""

from __future__ import annotations

import functools
import heapq
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Protocol

import ahocorasick

from . import text as textmod

_TERM_WORD = re.compile(r"[^\W_]+\*?|\*", re.UNICODE)

MAX_TEXT = 100_000
"""Characters of an item's text that are matched. Whole full-article items fit (a long article
is 10,000 to 30,000); past this a hostile feed's item costs no more time."""
LEAD_WORDS = 60
"""``where: lead`` is the title and this many words of the text after it: a paragraph or two."""
WHERE = ("title", "lead", "text")


class TermError(ValueError):
    """A term an operator wrote that cannot be matched; the message says why, for ``check``."""


@dataclass(frozen=True)
class Term:
    """One term as compiled: its words casefolded, and which of them are prefixes (``deploy*``)."""

    words: tuple[str, ...]
    prefix: tuple[bool, ...]
    # Counts only when the text capitalises it: "Суми" the city, not "суми" (sums of money).
    case_sensitive: bool = False

    def __str__(self) -> str:
        return " ".join(
            w + ("*" if p else "") for w, p in zip(self.words, self.prefix, strict=True)
        )


@functools.lru_cache(maxsize=1 << 16)
def parse_term(raw: str, case_sensitive: bool = False) -> Term:
    """Compile a term as written in rules.yaml, or raise :class:`TermError`.

    A ``*`` may only end a word; anything else would be a pattern language, and operators must
    not be able to write a rule that is slow or that surprises them. Cached: loading rules
    compiles every alias of the gazetteer, thousands of them, on each start and reload.
    """
    folded = textmod.clean(raw).casefold()
    stripped = folded.strip()
    if not stripped:
        raise TermError("empty term")
    if re.search(r"\*[^\W_]", stripped):
        raise TermError(f'"{raw}": "*" may only end a word, as in deploy*')
    tokens = _TERM_WORD.findall(stripped)
    if not tokens:
        raise TermError(f'"{raw}" has no letters or digits')
    if "*" in tokens:
        raise TermError(f'"{raw}": "*" must follow the start of a word, as in deploy*')
    words = tuple(t.rstrip("*") for t in tokens)
    prefix = tuple(t.endswith("*") for t in tokens)
    return Term(words, prefix, case_sensitive)


@dataclass(frozen=True)
class RuleSpec:
    """What the matcher needs of a rule: its id and its term sets, by index into the term table."""

    id: str
    all: tuple[tuple[Term, ...], ...] = ()
    any: tuple[Term, ...] = ()
    none: tuple[Term, ...] = ()
    regions: tuple[str, ...] = ()
    near: int | None = None
    """At most this many words between the first words of the hits that make the rule match
    (one per all group, one of any, one region name); None: anywhere in the text."""
    where: str = "text"
    """Where the hits must be: the ``title`` (the text's first line), the ``lead`` (the title
    and the first :data:`LEAD_WORDS` words after it) or the whole ``text``."""


class TeasersLike(Protocol):
    """What the matcher needs of teasers (``teasers.Teasers`` is one)."""

    @property
    def phrases(self) -> tuple[str, ...]: ...

    def cut(self, text: str) -> str: ...

    def without_bylines(self, text: str) -> str: ...

    def without_handles(self, text: str) -> str: ...


class NotPlacesLike(Protocol):
    """What the matcher needs of names found by their shape (``notplaces.NotPlaces`` is one)."""

    @property
    def phrases(self) -> tuple[str, ...]: ...

    def names(self, text: str) -> list[tuple[int, int, str]]: ...


class NoticesLike(Protocol):
    """What the matcher needs of notices (``notices.Notices`` is one)."""

    def notice(self, text: str) -> str | None: ...


class CapitalLike(Protocol):
    """What the matcher needs of the capital (``gazetteer.Capital`` is one)."""

    region: str
    words: tuple[str, ...]
    not_before: tuple[str, ...]
    others: tuple[str, ...]
    speaking: tuple[str, ...]
    country: tuple[str, ...]


class FalseFriendLike(Protocol):
    """What the matcher needs of a false friend (``gazetteer.FalseFriend`` is one)."""

    reason: str
    hides: str
    counts_for: str | None
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Rejection:
    """A name found in the text that was not taken for the region it contains."""

    found: str
    """The name that was found, as the data writes it ("Kyiv Independent")."""
    reason: str
    """What it is instead ("a publication, not a place")."""
    region: str
    """The region it was not taken for."""


@dataclass(frozen=True)
class Match:
    """What one text matched: rule ids in rule order, region names, and the forms found.

    ``found`` maps each term that was hit to the text that matched it (``deploy*`` ->
    ``deployed``), which ``explain`` shows so operators can see why a rule fired.
    """

    rules: tuple[str, ...]
    regions: tuple[str, ...]
    found: dict[Term, str] = field(default_factory=dict)
    keywords: tuple[Term, ...] = ()
    """When a rule matched: the terms found that are rules' keywords, not region names (what
    grouping reports into stories weighs), in no particular order."""
    rejected: tuple[Rejection, ...] = ()
    """False friends found ("Kyiv Independent"), whose region names did not count."""
    blocked: tuple[tuple[str, str], ...] = ()
    """With ``forms=True``: (rule id, why) of rules whose terms were found but that did not
    match: a ``none`` term found, the terms too far apart, or not where the rule looks."""


_NOTHING = Match((), ())
"""What most items match; shared, as a Match is immutable."""


class Matcher:
    """Every rule and region compiled into one automaton.

    Build it once per rules file (a reload builds a new one) and call :meth:`match` per item.
    """

    def __init__(
        self,
        rules: list[RuleSpec],
        regions: dict[str, list[Term]],
        false_friends: Sequence[FalseFriendLike] = (),
        teasers: TeasersLike | None = None,
        capital: CapitalLike | None = None,
        notices: NoticesLike | None = None,
        not_places: NotPlacesLike | None = None,
    ):
        """``regions`` maps each region name to its aliases (the name itself always counts).

        ``false_friends`` are names that contain a region's name but are not about the place
        (see ``gazetteer.FalseFriend``); one naming a region not in ``regions`` is left out.
        ``teasers`` finds what belongs to another article in a text (see ``teasers.py``).
        ``capital``: the region a text may call "the capital" (see ``gazetteer.Capital``).
        ``notices`` tells posts that are not news (a fundraiser, an air-raid alarm), in which
        nothing matches (see ``notices.py``). ``not_places`` finds names that contain a place
        by their shape, an outlet's, a route's or a ship's, which the text is read without (see
        ``notplaces.py``).
        """
        self._notices = notices
        self._terms: dict[Term, int] = {}
        self._region_names = list(regions)
        region_index = {name: i for i, name in enumerate(self._region_names)}
        # term id -> region ids whose aliases include it
        self._term_regions: dict[int, set[int]] = {}
        for rid, (name, aliases) in enumerate(regions.items()):
            for term in [parse_term(name), *aliases]:
                self._term_regions.setdefault(self._id(term), set()).add(rid)
        # region id -> the term ids of its aliases, for telling where a region was named
        self._region_terms: list[set[int]] = [set() for _ in self._region_names]
        for tid, regs in self._term_regions.items():
            for reg in regs:
                self._region_terms[reg].add(tid)
        # false friend term id -> (hidden region id, reason), and its name as written
        self._false_friends: dict[int, list[tuple[int, str]]] = {}
        self._friend_names: dict[int, str] = {}
        for friend in false_friends:
            if friend.hides not in region_index:
                continue
            counts_for = region_index.get(friend.counts_for) if friend.counts_for else None
            for raw in friend.terms:
                tid = self._id(parse_term(raw))
                self._false_friends.setdefault(tid, []).append(
                    (region_index[friend.hides], friend.reason)
                )
                self._friend_names.setdefault(tid, raw)
                if counts_for is not None:  # found, it names the region it is in
                    self._term_regions.setdefault(tid, set()).add(counts_for)
                    self._region_terms[counts_for].add(tid)
        self._capital = (
            _words_pattern(capital.words, capital.not_before, capital.country) if capital else None
        )
        self._other_capitals = (
            _words_pattern(capital.others, capital.speaking) if capital and capital.others else None
        )
        self._capital_region = capital.region if capital else None
        # the phrases that open a teaser: a hit on one sends the text to be cut
        self._teasers = teasers
        self._teaser_tids = frozenset(
            self._id(parse_term(p)) for p in (teasers.phrases if teasers else ())
        )
        # the words of an outlet's, a route's or a ship's name: a hit on one sends the text to
        # be read without such names
        self._not_places = not_places
        self._notplace_tids = frozenset(
            self._id(parse_term(p)) for p in (not_places.phrases if not_places else ())
        )
        # hits that send a text through the slower reading
        self._friend_tids = frozenset(self._false_friends)
        self._special = self._friend_tids | self._teaser_tids | self._notplace_tids

        # term id -> indexes of rules that a hit on it could make match
        self._term_rules: dict[int, set[int]] = {}
        # region id -> indexes of rules that name it
        self._region_rules: dict[int, set[int]] = {}
        # per rule, what evaluating it as a candidate checks: id, none, any, regions, and the
        # "all" groups it is not indexed under
        self._checks: list[
            tuple[str, frozenset[int], frozenset[int], frozenset[int], tuple[frozenset[int], ...]]
        ] = []
        # per rule, when it has near or where: (near, where, the term ids of each thing that
        # must be found: every all group, any, the names of its regions)
        self._positional: list[tuple[int | None, str, tuple[frozenset[int], ...]] | None] = []
        for index, spec in enumerate(rules):
            groups = tuple(frozenset(self._id(t) for t in group) for group in spec.all)
            any_ = frozenset(self._id(t) for t in spec.any)
            none = frozenset(self._id(t) for t in spec.none)
            regions_ = frozenset(region_index[r] for r in spec.regions)
            # Index a rule under one set of terms that it cannot match without, so that a hit on
            # a common word ("troops") does not make every rule that mentions it a candidate.
            # Places are rarer than topics ("Sumy" against "shelling"), so regions come first.
            # A rule indexed under its first "all" group is only ever a candidate when that
            # group was hit, so evaluating it leaves the group out.
            if groups:
                for tid in groups[0]:
                    self._term_rules.setdefault(tid, set()).add(index)
                groups = groups[1:]
            elif regions_:
                for reg in regions_:
                    self._region_rules.setdefault(reg, set()).add(index)
            else:
                for tid in any_:
                    self._term_rules.setdefault(tid, set()).add(index)
            self._checks.append((spec.id, none, any_, regions_, groups))
            required = [frozenset(self._id(t) for t in group) for group in spec.all]
            if any_:
                required.append(any_)
            if regions_:
                required.append(frozenset().union(*(self._region_terms[r] for r in regions_)))
            if spec.where not in WHERE:
                raise ValueError(f"rule {spec.id}: where must be one of {WHERE}")
            near = spec.near if len(required) > 1 else None  # one thing is always near itself
            self._positional.append(
                (near, spec.where, tuple(required)) if near or spec.where != "text" else None
            )

        self._rule_order = {spec.id: index for index, spec in enumerate(rules)}
        self._indexed = frozenset(self._term_regions) | frozenset(self._term_rules)
        self._region_tids = frozenset(self._term_regions)
        rule_tids = frozenset(
            tid for _, none, any_, _, groups in self._checks for tid in none.union(any_, *groups)
        ) | frozenset(self._term_rules)
        # hits that are not keywords: region names, and false friends and teaser phrases that
        # are no rule's term
        self._not_keywords = self._region_tids | (self._special - rule_tids)
        self._automaton = ahocorasick.Automaton()
        keys: dict[str, list[tuple[int, tuple[tuple[str, bool], ...], bool]]] = {}
        for term, tid in self._terms.items():
            key, tail = _key(term)
            keys.setdefault(key, []).append((tid, tail, term.case_sensitive))
        for key, entries in keys.items():
            # Most keys have nothing left to check (whole words and phrases, which end on a
            # space, and single-word prefixes, which start on one): a hit on one is a hit on its
            # terms, and the value is just their ids (a frozenset), which the scan adds to the
            # result in one C call. Keys that need checking (a prefix with words after it, an
            # alias that counts only when capitalised) keep their entries.
            simple = all(not tail and not cased for _, tail, cased in entries)
            if simple:
                value: object = frozenset(tid for tid, _, _ in entries)
            else:
                value = (len(key), tuple(entries))
            self._automaton.add_word(key, value)
        if keys:
            self._automaton.make_automaton()
        self._term_list = list(self._terms)
        # per term id: its key's length, and whether a hit on it needs checking
        self._key_len = [len(_key(t)[0]) for t in self._term_list]
        self._checked = [False] * len(self._term_list)
        for entries in keys.values():
            if not all(not tail and not cased for _, tail, cased in entries):
                for tid, _, _ in entries:  # found through a key that needs checking
                    self._checked[tid] = True

    def _id(self, term: Term) -> int:
        return self._terms.setdefault(term, len(self._terms))

    @property
    def term_count(self) -> int:
        return len(self._terms)

    def hits(self, stream: str, text: str = "") -> dict[int, tuple[int, int]]:
        """Term ids found in a word stream, each with the span of its first occurrence.

        ``text`` is the original text, needed only to check the capitalisation of aliases that
        count only when capitalised.
        """
        found: dict[int, tuple[int, int]] = {}
        if not self._terms:
            return found
        cased: str | None = None
        for end, value in self._automaton.iter(stream):
            if isinstance(value, frozenset):
                # A whole-word key ends on a space; a prefix key runs on to the end of its word.
                stop = end if stream[end] == " " else stream.index(" ", end)
                for tid in value:
                    if tid not in found:
                        found[tid] = (end - len(self._term_key(tid)) + 2, stop)
                continue
            length, entries = value
            start = end - length + 1
            for tid, tail, case_sensitive in entries:
                if tid in found:
                    continue
                if tail or stream[end] != " ":  # a prefix key, or words left to check
                    stop = _verify(stream, end, tail)
                    if stop is None:
                        continue
                else:
                    stop = end
                if case_sensitive:
                    if cased is None:
                        cased = textmod.words_cased(text)
                    if not _capitalised(stream, cased, start + 1):
                        continue
                found[tid] = (start + 1, stop)
        return found

    def _term_key(self, tid: int) -> str:
        return _key(self._term_list[tid])[0]

    def hit_ids(self, stream: str, text: str = "") -> set[int]:
        """The ids of the terms found in a word stream: :meth:`hits` without the spans.

        This is the per-item hot loop of the pipeline, so the common hit (a whole word or
        phrase) costs one set union in C; only keys that need a check go through Python.
        """
        found: set[int] = set()
        if not self._terms:
            return found
        cased: str | None = None
        for end, value in self._automaton.iter(stream):
            if type(value) is frozenset:
                found |= value
                continue
            length, entries = value
            for tid, tail, case_sensitive in entries:
                if tid in found:
                    continue
                if (tail or stream[end] != " ") and _verify(stream, end, tail) is None:
                    continue
                if case_sensitive:
                    if cased is None:
                        cased = textmod.words_cased(text)
                    if not _capitalised(stream, cased, end - length + 2):
                        continue
                found.add(tid)
        return found

    def match(self, text: str, forms: bool = False) -> Match:
        """Match plain text (the title, a line break, and the summary) against every rule.

        ``forms=True`` also reports the form each term was found in and the rules that were
        blocked (for ``explain``); the pipeline does not need them and skips the cost. A wire
        dateline ("KYIV, Dec 6 (Wire) - ") names where the story was filed from, not where it
        happened: it counts only when the rest of the text names no region.
        """
        if self._notices is not None and self._notices.notice(text):
            return _NOTHING
        if self._teasers is not None:
            text = self._teasers.without_handles(self._teasers.without_bylines(text))
        span = textmod.dateline(text)
        if span is None:
            return self._match(text, forms)
        start, end = span
        filed_from = self._match(text[start:end], False).regions
        if not filed_from:
            return self._match(text, forms)  # capitals that are not a place ("BREAKING -")
        rest = text[:start] + " " * (end - start) + text[end:]
        if (
            self._capital is not None
            and self._capital_region in filed_from
            and self._capital.search(rest)
            and not (self._other_capitals and self._other_capitals.search(rest))
        ):
            # "Kyiv (AFP) - Missiles struck the capital ..., while drones hit Odesa": the
            # dateline names the capital the text speaks of (unless the text names another
            # it may speak of: "drones at Moscow ... airports serving the capital")
            return self._match(text, forms)
        without = self._match(rest, forms)
        return without if without.regions else self._match(text, forms)

    def _match(self, text: str, forms: bool) -> Match:
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT].rsplit(" ", 1)[0]
        stream = textmod.words(text)
        hit_ids = self.hit_ids(stream, text)
        if not hit_ids:
            return _NOTHING
        found: dict[Term, str] = {}
        rejected: tuple[Rejection, ...] = ()
        occurrences = None
        if forms or not self._special.isdisjoint(hit_ids):
            # The rare case, and explain: teasers cut out, every occurrence of every term.
            if self._teasers is not None and not self._teaser_tids.isdisjoint(hit_ids):
                cut = self._teasers.cut(text)
                if cut != text:
                    text, stream = cut, textmod.words(cut)
                    hit_ids = self.hit_ids(stream, text)
            if self._not_places is not None and not self._notplace_tids.isdisjoint(hit_ids):
                blanked, names = self._without_not_places(text)
                if names:
                    text, stream = blanked, textmod.words(blanked)
                    hit_ids = self.hit_ids(stream, text)
                    rejected = names if forms else ()
            if forms or not self._friend_tids.isdisjoint(hit_ids):
                occurrences = self._occurrences(stream, text)
                if not self._friend_tids.isdisjoint(occurrences):
                    rejected += self._drop_false_friends(occurrences)
                hit_ids = set(occurrences)
            if forms:
                found = {
                    self._term_list[tid]: stream[spans[0][2] : spans[0][3]]
                    for tid, spans in occurrences.items()  # type: ignore[union-attr]
                }
        indexed = self._indexed.intersection(hit_ids)
        if not indexed:
            # Most items: only words that no rule is indexed under (a rule's later terms).
            return Match((), (), found, (), rejected) if forms or rejected else _NOTHING
        term_regions, term_rules, region_rules = (
            self._term_regions,
            self._term_rules,
            self._region_rules,
        )
        region_ids: set[int] = set()
        candidates: set[int] = set()
        for tid in indexed:
            regs = term_regions.get(tid)
            if regs:
                region_ids |= regs
            rules = term_rules.get(tid)
            if rules:
                candidates |= rules
        for reg in region_ids:
            rules = region_rules.get(reg)
            if rules:
                candidates |= rules
        matched: list[str] = []
        pending: list[int] = []  # rules that matched by their terms, whose places must be read
        blocked: list[tuple[str, str]] = []
        checks, positional = self._checks, self._positional
        span = -1  # the largest distance two words of this text can have, once needed
        for index in sorted(candidates):
            rule_id, none, any_, regions_, groups = checks[index]
            if any_ and any_.isdisjoint(hit_ids):
                continue
            if regions_ and regions_.isdisjoint(region_ids):
                continue
            for group in groups:
                if group.isdisjoint(hit_ids):
                    break
            else:
                if none and not none.isdisjoint(hit_ids):
                    if forms:
                        terms = sorted(str(self._term_list[t]) for t in none & hit_ids)
                        blocked.append((rule_id, "none: " + ", ".join(terms)))
                    continue
                spec = positional[index]
                if spec is not None:
                    if span < 0:
                        span = stream.count(" ") - 2
                    # Any window of a text no longer than the rule's fits: nothing to look up.
                    if spec[1] != "text" or (spec[0] is not None and spec[0] < span):
                        pending.append(index)
                        continue
                matched.append(rule_id)
        if pending:
            reading = _Reading(self, stream, text, occurrences)
            reading.prepare(
                {
                    tid
                    for index in pending
                    for group in positional[index][2]  # type: ignore[index]
                    for tid in group.intersection(hit_ids)
                }
            )
            for index in pending:
                why = reading.misses(positional[index], hit_ids)  # type: ignore[arg-type]
                if not why:
                    matched.append(checks[index][0])
                elif forms:
                    blocked.append((checks[index][0], why))
            matched.sort(key=self._rule_order.__getitem__)
        regions = tuple(sorted(self._region_names[r] for r in region_ids)) if region_ids else ()
        keywords = ()
        if matched:
            keywords = tuple(map(self._term_list.__getitem__, hit_ids - self._not_keywords))
        return Match(tuple(matched), regions, found, keywords, rejected, tuple(blocked))

    def _occurrences(self, stream: str, text: str) -> dict[int, list[tuple[int, int, int, int]]]:
        """Every occurrence of every term found, as (first word, last word, start, stop): word
        indexes into the stream's words, and the span of the occurrence in the stream.

        The same hits as :meth:`hit_ids` (which only says which terms were found), at about
        twice its cost: only texts with a false friend, and ``explain``, need them.
        """
        out: dict[int, list[tuple[int, int, int, int]]] = {}
        if not self._terms:
            return out
        starts = _word_starts(stream)
        cased: str | None = None
        term_list = self._term_list
        for end, value in self._automaton.iter(stream):
            if isinstance(value, frozenset):
                # A whole-word key ends on a space; a prefix key runs on to the end of its word.
                stop = end if stream[end] == " " else stream.index(" ", end)
                start = end - len(_key(term_list[next(iter(value))])[0]) + 2
                span = (bisect_right(starts, start) - 1, bisect_right(starts, stop - 1) - 1)
                for tid in value:
                    out.setdefault(tid, []).append((*span, start, stop))
                continue
            length, entries = value
            start = end - length + 2
            for tid, tail, case_sensitive in entries:
                if tail or stream[end] != " ":  # a prefix key, or words left to check
                    stop = _verify(stream, end, tail)
                    if stop is None:
                        continue
                else:
                    stop = end
                if case_sensitive:
                    if cased is None:
                        cased = textmod.words_cased(text)
                    if not _capitalised(stream, cased, start):
                        continue
                first = bisect_right(starts, start) - 1
                out.setdefault(tid, []).append(
                    (first, bisect_right(starts, stop - 1) - 1, start, stop)
                )
        return out

    def _without_not_places(self, text: str) -> tuple[str, tuple[Rejection, ...]]:
        """``text`` with the outlets', routes' and ships' names in it blanked (a space a character),
        and each with the regions it would have named. A name that holds a false friend
        ("The Kyiv Independent") is left to the false friends, under which a rule term that is
        the whole name still matches."""
        assert self._not_places is not None
        out, rejected, pos = [], [], 0
        for start, end, what in self._not_places.names(text):
            name = text[start:end]
            hits = self.hit_ids(textmod.words(name), name)
            if start < pos or not self._friend_tids.isdisjoint(hits):
                continue
            regions = sorted(
                {self._region_names[r] for tid in hits for r in self._term_regions.get(tid, ())}
            )
            if not regions:
                continue  # "The New York Times", «Українська правда»: no place of ours to hide
            out += [text[pos:start], " " * (end - start)]
            rejected += [Rejection(name, what, region) for region in regions]
            pos = end
        if not rejected:
            return text, ()
        out.append(text[pos:])
        return "".join(out), tuple(dict.fromkeys(rejected))

    def _drop_false_friends(
        self, occurrences: dict[int, list[tuple[int, int, int, int]]]
    ) -> tuple[Rejection, ...]:
        """Remove, in place, the region names inside false friends ("Kyiv" in "The Kyiv
        Independent") and every other term's occurrence over them, unless that term is the
        whole false friend; say what was rejected.

        Linear in the occurrences, whatever a hostile text repeats: each region's names are
        looked up by bisection inside each false friend, and each occurrence is then checked
        against the words hidden under it.
        """
        rejected: dict[Rejection, None] = {}
        # word index -> the (first, last) of the false friends that hid it
        hidden: dict[int, list[tuple[int, int]]] = {}
        names: dict[int, tuple[list[int], list[tuple[int, int]]]] = {}  # region -> names
        for tid in self._friend_tids.intersection(occurrences):
            for region, reason in self._false_friends[tid]:
                if region not in names:
                    spans = sorted(
                        (a, b)
                        for alias in self._region_terms[region].intersection(occurrences)
                        for a, b, _, _ in occurrences[alias]
                    )
                    names[region] = ([a for a, _ in spans], spans)
                firsts, spans = names[region]
                found = False
                for first, last, _, _ in occurrences[tid]:
                    i = bisect_right(firsts, first - 1)
                    while i < len(spans) and spans[i][0] <= last:
                        a, b = spans[i]
                        if b <= last:
                            found = True
                            for word in range(a, b + 1):
                                hidden.setdefault(word, []).append((first, last))
                        i += 1
                if found:
                    name = self._region_names[region]
                    rejected[Rejection(self._friend_names[tid], reason, name)] = None
        if not hidden:
            return ()
        for tid in list(occurrences):
            kept = [o for o in occurrences[tid] if not _hidden(o[0], o[1], hidden)]
            if kept:
                occurrences[tid] = kept
            else:
                del occurrences[tid]
        return tuple(rejected)


def _words_pattern(
    words: tuple[str, ...], not_before: tuple[str, ...] = (), country: tuple[str, ...] = ()
) -> re.Pattern[str]:
    """Words as one pattern: whole words, or a stem where one ends in ``*``; none of them
    followed by one of ``not_before`` ("the capital" but not "the capital of the region"), nor,
    when a ``country`` is given, by a capitalised name other than it («столиця Слобожанщини»
    is Kharkiv, «столиця України» Kyiv)."""

    def alternation(words: tuple[str, ...]) -> str:
        parts = []
        for word in words:
            body = r"\s+".join(map(re.escape, word.rstrip("*").split()))
            parts.append(rf"\b{body}\w*+" if word.endswith("*") else rf"\b{body}\b")
        return "|".join(parts)

    after = rf"(?!\s+(?:{alternation(not_before)}))" if not_before else ""
    if country:
        after += rf"(?!\s+(?!{alternation(country)})(?-i:[A-ZА-ЯІЇЄҐЁ]))"
    return re.compile(rf"(?:{alternation(words)}){after}", re.IGNORECASE)


def _hidden(first: int, last: int, hidden: dict[int, list[tuple[int, int]]]) -> bool:
    """Whether an occurrence lies inside a false friend, over a word it hid, without being
    the whole false friend."""
    for word in range(first, last + 1):
        for a, b in hidden.get(word, ()):
            if a <= first and last <= b and (first, last) != (a, b):
                return True
    return False


class _Reading:
    """Where in one text the terms are, worked out only for the rules with ``near`` or ``where``
    that matched by their terms (most items need none of it)."""

    __slots__ = ("_cutoffs", "_positions", "matcher", "occurrences", "stream", "text")

    def __init__(
        self,
        matcher: Matcher,
        stream: str,
        text: str,
        occurrences: dict[int, list[tuple[int, int, int, int]]] | None,
    ):
        self.matcher = matcher
        self.stream = stream
        self.text = text
        self.occurrences = occurrences
        self._positions: dict[int, list[int]] = {}
        self._cutoffs: dict[str, int | None] = {}

    def prepare(self, tids: set[int]) -> None:
        """Find the first word of every occurrence of these terms: one more pass of the
        automaton, keeping only them (or what the slower reading already found)."""
        if self.occurrences is not None:
            for tid in tids:
                self._positions[tid] = [o[0] for o in self.occurrences.get(tid, ())]
            return
        matcher, stream = self.matcher, self.stream
        if any(matcher._checked[tid] for tid in tids):
            # A term that needs checking (a capital letter, words after a prefix): the full
            # reading, rare enough not to need its own shortcut.
            self.occurrences = matcher._occurrences(stream, self.text)
            self.prepare(tids)
            return
        starts = _word_starts(stream)
        positions: dict[int, list[int]] = {tid: [] for tid in tids}
        key_len = matcher._key_len
        for end, value in matcher._automaton.iter(stream):
            if type(value) is not frozenset or value.isdisjoint(tids):
                continue
            word = bisect_right(starts, end - key_len[next(iter(value))] + 2) - 1
            for tid in value.intersection(tids):
                positions[tid].append(word)
        self._positions.update(positions)

    def misses(
        self, spec: tuple[int | None, str, tuple[frozenset[int], ...]], hit_ids: set[int]
    ) -> str:
        """Why a rule whose terms were all found still does not match; "" when it does."""
        near, where, groups = spec
        cutoff = self.cutoff(where)
        lists = []
        for group in groups:
            positions = sorted(
                p
                for tid in group.intersection(hit_ids)
                for p in self._positions.get(tid, ())
                if cutoff is None or p < cutoff
            )
            if not positions:
                return f"not in the {where}"
            lists.append(positions)
        if near is not None and len(lists) > 1:
            span = _min_span(lists)
            if span > near and not self._headline_and_first_sentence(lists):
                return f"its terms are {span} words apart at the closest (near: {near})"
        return ""

    def _headline_and_first_sentence(self, lists: list[list[int]]) -> bool:
        """Whether the title tells what the first sentence details: the title names all of the
        rule's things but one, which the first sentence names ("More North Korean soldiers
        arrive at the front" over "...3,000 more troops had arrived in the Kursk region", 29
        words apart). A title that names one thing of three ("sanctions on tankers carrying
        Russian oil") is no headline of North Korean troops two sentences later, and a later
        sentence is background ("North Korea test-fires a missile" over "The launch came days
        after Kim hosted Russia's defence minister")."""
        title, first = self.cutoff("title"), self.cutoff("sentence")
        if not title or first is None:
            return False
        rest = [positions for positions in lists if positions[0] >= title]
        return len(rest) == 1 and rest[0][0] < first

    def cutoff(self, where: str) -> int | None:
        """The index of the first word past the title, the lead or the first sentence after
        the title; None for the whole text."""
        if where == "text":
            return None
        if where not in self._cutoffs:
            title, newline, body = self.text.partition("\n")
            words = len(textmod.words(title).split()) if newline else None
            if words is not None and where == "lead":
                words += LEAD_WORDS
            elif words is not None and where == "sentence":
                sentence = _FIRST_SENTENCE.match(body)
                words += len(textmod.words(sentence.group() if sentence else "").split())
            self._cutoffs[where] = words
        return self._cutoffs[where]


# The text's first sentence: to its first full stop (or "!", "?", "…") before a space, or to
# the end of its first paragraph (a feed's text may be cut without one).
_FIRST_SENTENCE = re.compile(r"[^\n]*?[.!?…](?=\s|$)|[^\n]*")


def _word_starts(stream: str) -> list[int]:
    """Where each word starts in a word stream (" w0 w1 ... "), for finding a word's index by
    bisection; built in C calls (a 10,000-character text has 1,500 words)."""
    return list(accumulate(map(_PLUS_ONE, map(len, stream.split())), initial=1))


_PLUS_ONE = (1).__add__


def _min_span(lists: list[list[int]]) -> int:
    """The smallest distance from first to last of one position taken from each sorted list."""
    heap = [(positions[0], i, 0) for i, positions in enumerate(lists)]
    heapq.heapify(heap)
    high = max(positions[0] for positions in lists)
    best = high - heap[0][0]
    while True:
        low, i, j = heapq.heappop(heap)
        best = min(best, high - low)
        if j + 1 == len(lists[i]):
            return best
        nxt = lists[i][j + 1]
        high = max(high, nxt)
        heapq.heappush(heap, (nxt, i, j + 1))


def _key(term: Term) -> tuple[str, tuple[tuple[str, bool], ...]]:
    """The automaton key for a term, and the words left to verify after a hit on it.

    Whole words are keyed with a space on each side. The key stops at the first prefix word
    (which has no trailing space); words after it are checked against the stream on a hit.
    """
    for i, is_prefix in enumerate(term.prefix):
        if is_prefix:
            head = " " + " ".join(term.words[: i + 1])
            tail = tuple(zip(term.words[i + 1 :], term.prefix[i + 1 :], strict=True))
            return head, tail
    return " " + " ".join(term.words) + " ", ()


def _verify(stream: str, end: int, tail: tuple[tuple[str, bool], ...]) -> int | None:
    """Where a hit ends once the words after a prefix are checked; None when they differ.

    ``end`` is the index of the key's last character. A whole-word key ends on a space; a
    prefix key ends inside a word, which runs on to the next space.
    """
    if stream[end] == " ":
        return end
    pos = stream.index(" ", end)
    for word, is_prefix in tail:
        nxt = stream.find(" ", pos + 1)
        if nxt < 0:
            return None
        token = stream[pos + 1 : nxt]
        if not (token.startswith(word) if is_prefix else token == word):
            return None
        pos = nxt
    return pos


def _capitalised(stream: str, cased: str, pos: int) -> bool:
    """Whether the word starting at ``pos`` of the folded stream starts with a capital."""
    if len(cased) == len(stream):
        return cased[pos].isupper()
    # Casefolding changed a length somewhere ("ß" -> "ss"): find the same word by its index.
    index = stream.count(" ", 0, pos) - 1
    parts = cased.split()
    return 0 <= index < len(parts) and parts[index][:1].isupper()
