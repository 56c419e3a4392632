"""Names that contain a place but say where nothing happened, found by their shape: an
outlet's ("the Kyiv Morning Herald", «Сумська правда»), a route's ("the Kyiv–Warsaw night
train", «траса Київ – Одеса») and a ship's ("the landing ship Novocherkassk"). Listing every
outlet, route and ship would never end; their shapes are few. The words that make the shapes
are data (``notplaces.yaml``).

The matcher reads a text with those of these names that hold a region's name blanked out
(each character a space, so what follows keeps its place), and ``explain`` says what it set
aside (``Matcher._without_not_places``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .teasers import alternation, phrase_lists

DATA = Path(__file__).with_name("notplaces.yaml")

OUTLET = "a publication's name, not a place"
ROUTE = "a route named by its ends, not a place"
VESSEL = "a ship's name, not a place"
PERSON = "a person's name, not a place"

_UPPER = "A-ZА-ЯІЇЄҐЁ"
_WORD = r"[\w'’-]+"
_DASH = r"\s?[–—-]\s?"


class NotPlacesError(ValueError):
    """notplaces.yaml is malformed."""


@dataclass(frozen=True)
class NotPlaces:
    media: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    vessels: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()
    named_after: tuple[str, ...] = ()

    @functools.cached_property
    def _english_media(self) -> str:
        return alternation(tuple(w for w in self.media if w.isascii())) or "(?!)"

    @functools.cached_property
    def _outlet(self) -> re.Pattern[str]:
        # one to three capitalised words and a capitalised word of the media, in the text
        return re.compile(
            rf"(?<![\w'’-])(?:[A-Z]{_WORD}\s+){{1,3}}(?:{self._english_media})(?![\w'’-])"
        )

    @functools.cached_property
    def _title_outlet(self) -> re.Pattern[str]:
        # ... in a title only as its ending, the outlet an aggregator names
        return re.compile(
            rf"\s[-–—|]\s+((?:The\s+)?(?:[A-Z]{_WORD}\s+){{1,3}}(?:{self._english_media}))\s*$"
        )

    @functools.cached_property
    def _stems(self) -> tuple[str, ...]:
        return tuple(w.casefold() for w in self.media if not w.isascii())

    @functools.cached_property
    def _route(self) -> re.Pattern[str]:
        ascii_words = alternation(tuple(w for w in self.routes if w.isascii())) or "(?!)"
        other = alternation(tuple(w for w in self.routes if not w.isascii())) or "(?!)"
        ends = rf"[{_UPPER}]{_WORD}{_DASH}[{_UPPER}]{_WORD}"
        return re.compile(
            rf"(?<![\w'’-])(?P<en>[A-Z][\w'’]+{_DASH}[A-Z][\w'’]+)(?:\s+[A-Za-z]+)?\s+"
            rf"(?i:{ascii_words})(?![\w'’-])"
            # (a word may stand between: «поезд Интерсити Киев – Харьков», «потяг № 91 ...»)
            rf"|(?<![\w'’-])(?i:{other})\s+(?:№\s?\d+\s+|[\w+]+\s+)?(?P<other>{ends})(?![\w'’-])"
        )

    @property
    def phrases(self) -> tuple[str, ...]:
        """The words of the shapes, as rule terms, for the matcher to look for: it reads a text
        for these names only when one is in it."""
        stems = tuple(f"{w}*" for w in self.media if not w.isascii())
        english = tuple(w for w in self.media if w.isascii())
        return english + stems + self.routes + self.vessels + self.persons + self.named_after

    @functools.cached_property
    def _vessel(self) -> re.Pattern[str]:
        english = alternation(tuple(w for w in self.vessels if w.isascii())) or "(?!)"
        other = alternation(tuple(w for w in self.vessels if not w.isascii())) or "(?!)"
        # English: "the [Black Sea Fleet] landing ship Novocherkassk", a name not joined to the
        # next word ("a tanker Odesa-bound"); Ukrainian and Russian: a name in quotes
        return re.compile(
            rf"(?<![\w'’-])(?i:the)\s+(?:[\w'’-]+\s+){{0,4}}?(?i:{english})\s+"
            rf"(?P<name>[A-Z][\w'’]+(?:\s[A-Z][\w'’]+)?)(?![\w'’-])"
            rf"|(?<![\w'’-])(?i:{other})\s+[«“„\"]\s*"
            rf"(?P<quoted>[{_UPPER}][^«»“”„\"\n]{{1,40}}?)\s*[»”“\"]"
        )

    @functools.cached_property
    def _person(self) -> re.Pattern[str]:
        first = alternation(self.persons) or "(?!)"
        after = alternation(self.named_after) or "(?!)"
        return re.compile(
            rf"(?<![\w'’-])(?:{first})\s+(?P<surname>[{_UPPER}][\w'’-]+)"
            rf"|(?<![\w'’-])(?i:{after})\s+(?P<eponym>[{_UPPER}][\w'’-]+)"
        )

    def names(self, text: str) -> list[tuple[int, int, str]]:
        """Where such names are in ``text`` (a title, a line break, the item's text), as
        (start, end, what it is), in order."""
        found: list[tuple[int, int, str]] = []
        title_end = text.find("\n")
        title_end = len(text) if title_end < 0 else title_end
        if self.routes:
            for m in self._route.finditer(text):
                group = "en" if m.group("en") else "other"
                found.append((m.start(group), m.end(group), ROUTE))
        if self.vessels:
            for m in self._vessel.finditer(text):
                group = "name" if m.group("name") else "quoted"
                found.append((m.start(group), m.end(group), VESSEL))
        if self.persons or self.named_after:
            for m in self._person.finditer(text):
                group = "surname" if m.group("surname") else "eponym"
                found.append((m.start(group), m.end(group), PERSON))
        if self.media:
            tail = self._title_outlet.search(text, 0, title_end)
            if tail is not None:
                found.append((tail.start(1), tail.end(1), OUTLET))
            for m in self._outlet.finditer(text, title_end):
                found.append((m.start(), m.end(), OUTLET))
            if self._stems:
                for m in _QUOTED.finditer(text):
                    if self._quoted_outlet(m.group(1)):
                        found.append((m.start(1), m.end(1), OUTLET))
        found.sort()
        return found

    def _quoted_outlet(self, name: str) -> bool:
        words = name.split()
        return (
            0 < len(words) <= 3
            and name[:1].isupper()
            and not any(w.casefold() in _PREPOSITIONS for w in words)
            and any(w.casefold().startswith(self._stems) for w in words)
        )


# A name in quotes, the opening quote after a space or a line's start: «Сумська правда»,
# “Київська правда”, "Киевские ведомости", „Ранок“ (not an apostrophe)
_QUOTED = re.compile(r"(?:^|(?<=[\s(]))[«“„\"]([^«»“”„\"\n]{2,60})[»”“\"]", re.MULTILINE)


# A quoted sentence has them, a publication's name does not: «Жизнь в Харькове продолжается»,
# «Погані новини з Херсона».
_PREPOSITIONS = frozenset(
    "в у з із зі на до по під від для про за над при о об с со из от к под".split()
)


@functools.cache
def builtin_not_places() -> NotPlaces:
    """The shapes of ``notplaces.yaml`` (read once)."""
    return load(DATA)


def load(path: Path) -> NotPlaces:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise NotPlacesError(f"{path.name}: expected a mapping")
    keys = ("media", "routes", "vessels", "persons", "named_after")
    unknown = set(data) - set(keys)
    if unknown:
        raise NotPlacesError(f"{path.name}: unknown keys {sorted(unknown)}")
    return NotPlaces(**phrase_lists(data, keys, path.name, NotPlacesError))
