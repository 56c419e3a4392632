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
    alarms: tuple[str, ...] = ()
    impacts: tuple[str, ...] = ()

    @functools.cached_property
    def _openings(self) -> tuple[tuple[str, str], ...]:
        """(the phrase as the word stream writes it, what it is), longest first."""
        found = [(words(p).strip(), "a fundraiser") for p in self.fundraisers]
        found += [(words(p).strip(), "an air-raid alarm or its all-clear") for p in self.alarms]
        return tuple(sorted(found, key=lambda pair: -len(pair[0])))

    @functools.cached_property
    def _impact(self) -> re.Pattern[str] | None:
        if not self.impacts:
            return None
        parts = [
            re.escape(words(w.rstrip("*")).strip()) + (r"\w*" if w.endswith("*") else "")
            for w in self.impacts
        ]
        return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")

    def notice(self, text: str) -> str | None:
        """What ``text`` (a title, a line break, the item's text) is when it is a notice, not
        news: "a fundraiser"; None for news."""
        title = words(text.partition("\n")[0])
        for phrase, what in self._openings:
            if title.startswith(f" {phrase} "):
                if what == "a fundraiser":
                    return what
                impact = self._impact
                if impact is None or impact.search(words(text)) is None:
                    return what
                return None
        return None


def load(path: Path) -> Notices:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or set(data) - {"fundraisers", "alarms", "impacts"}:
        raise NoticeError(f"{path.name}: expected fundraisers, alarms and impacts")
    lists = {}
    for key in ("fundraisers", "alarms", "impacts"):
        phrases = phrase_lists(data, key)
        if phrases is None:
            raise NoticeError(f"{path.name}: {key}: expected lists of phrases per language")
        lists[key] = phrases
    return Notices(**lists)


@functools.lru_cache(maxsize=1)
def builtin_notices() -> Notices:
    """The notices of ``notices.yaml`` (read once)."""
    return load(DATA)
