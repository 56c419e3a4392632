"""Posts that are not news of an event: a channel's fundraiser, an air-raid alarm or its
all-clear. They name a weapon and a place ("Загроза застосування балістичного озброєння" over
Kyiv), so rules would take them for attacks; the matcher matches nothing in them. The phrases
are data (``notices.yaml``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .teasers import phrase_lists
from .text import words

DATA = Path(__file__).with_name("notices.yaml")


class NoticeError(ValueError):
    """notices.yaml is malformed."""


@dataclass(frozen=True)
class Notices:
    fundraisers: tuple[str, ...] = ()
    money: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    threats: tuple[str, ...] = ()
    impacts: tuple[str, ...] = ()

    @functools.cached_property
    def _openings(self) -> tuple[tuple[str, str], ...]:
        """(the phrase as the word stream writes it, what it is), longest first."""
        found = [(words(p).strip(), "a fundraiser") for p in self.fundraisers]
        found += [(words(p).strip(), "an air-raid alarm or its all-clear") for p in self.alarms]
        return tuple(sorted(found, key=lambda pair: -len(pair[0])))

    @functools.cached_property
    def _money(self) -> re.Pattern[str]:
        return _any_of(self.money, symbols=True)

    @functools.cached_property
    def _threat(self) -> re.Pattern[str]:
        return _any_of(self.threats)

    @functools.cached_property
    def _impact(self) -> re.Pattern[str]:
        return _any_of(self.impacts)

    def notice(self, text: str) -> str | None:
        """What ``text`` (a title, a line break, the item's text) is when it is a notice, not
        news: "a fundraiser"; None for news."""
        title = words(text.partition("\n")[0])
        for phrase, what in self._openings:
            if title.startswith(f" {phrase} "):
                if what == "a fundraiser":
                    return what if self._money.search(text.casefold()) else None
                stream = words(text)
                if self._threat.search(stream) and not self._impact.search(stream):
                    return what
                return None
        return None


def load(path: Path) -> Notices:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or set(data) - set(_KEYS):
        raise NoticeError(f"{path.name}: expected {', '.join(_KEYS)}")
    return Notices(**phrase_lists(data, _KEYS, path.name, NoticeError))


_KEYS = ("fundraisers", "money", "alarms", "threats", "impacts")


def _any_of(phrases: tuple[str, ...], symbols: bool = False) -> re.Pattern[str]:
    """One pattern for the phrases, as whole words of the word stream (a trailing * takes any
    ending); with ``symbols``, one-character phrases ("$") are looked for in the casefolded
    text instead."""
    parts = [
        re.escape(words(p.rstrip("*")).strip()) + (r"\w*" if p.endswith("*") else "")
        for p in phrases
        if not (symbols and len(p) == 1)
    ]
    words_part = r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)" if parts else r"(?!x)x"
    signs = "".join(re.escape(p) for p in phrases if symbols and len(p) == 1)
    return re.compile(words_part + (f"|[{signs}]" if signs else ""))


@functools.lru_cache(maxsize=1)
def builtin_notices() -> Notices:
    """The notices of ``notices.yaml`` (read once)."""
    return load(DATA)
