"""The expanded gazetteer, kept on disk between runs.

Expanding ``gazetteer.yaml`` with pymorphy3 costs about two seconds and 25 MB (its two
dictionaries) on every start. The result depends only on that file, on the code that expands
it and on the dictionaries, so it is written once, as JSON, and read back on later starts in a
few tens of milliseconds, without importing pymorphy3 at all.

How the file is kept safe (keyed, JSON checked field by field, written atomically, where it
can be written) is :mod:`alerts.diskcache`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import diskcache
from .gazetteer import Alias, Capital, FalseFriend, Gazetteer, Place, regions_of

FORMAT = 4
"""Bumped when the JSON layout changes."""
_PACKAGES = ("pymorphy3", "pymorphy3-dicts-uk", "pymorphy3-dicts-ru")
_PREFIX = "gazetteer-"


def default_dirs() -> list[Path]:
    return diskcache.default_dirs()


def key(path: Path) -> str:
    """The cache key of a gazetteer file: what its expansion depends on."""
    code = Path(__file__).with_name("gazetteer.py").read_bytes()
    return diskcache.key([f"format {FORMAT}", path.read_bytes(), code], _PACKAGES)


def load(
    path: Path, build: Callable[[Path], Gazetteer], dirs: Sequence[Path] | None = None
) -> Gazetteer:
    """The expanded gazetteer of ``path``: from the cache when a valid one exists, else built
    with ``build`` and cached (see :mod:`alerts.diskcache`)."""
    return diskcache.load(_PREFIX, key(path), lambda: build(path), _dump, _restore, dirs)


def _dump(gazetteer: Gazetteer) -> dict[str, Any]:
    def aliases(items: tuple[Alias, ...]) -> list[list[Any]]:
        return [[a.term, a.case_sensitive] for a in items]

    return {
        "format": FORMAT,
        "places": [[p.id, p.region, aliases(p.aliases)] for p in gazetteer.places],
        "false_friends": [
            [f.reason, f.hides, f.counts_for, list(f.terms)] for f in gazetteer.false_friends
        ],
        "capital": None
        if gazetteer.capital is None
        else [
            gazetteer.capital.region,
            list(gazetteer.capital.words),
            list(gazetteer.capital.not_before),
            list(gazetteer.capital.others),
            list(gazetteer.capital.speaking),
            list(gazetteer.capital.country),
        ],
    }


def _restore(data: dict[str, Any]) -> Gazetteer:
    """The gazetteer from its JSON, every field checked; ValueError when anything is off."""
    if data.get("format") != FORMAT:
        raise ValueError("another format")

    def text(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"expected text, not {value!r}")
        return value

    def alias(value: Any) -> Alias:
        term, sensitive = value
        if not isinstance(sensitive, bool):
            raise ValueError(f"expected true or false, not {sensitive!r}")
        return Alias(text(term), sensitive)

    places = tuple(
        Place(text(pid), text(region), tuple(alias(a) for a in items))
        for pid, region, items in data["places"]
    )
    friends = tuple(
        FalseFriend(
            text(reason),
            text(hides),
            None if counts_for is None else text(counts_for),
            tuple(text(t) for t in terms),
        )
        for reason, hides, counts_for, terms in data["false_friends"]
    )
    if not places:
        raise ValueError("no places")
    capital = None
    if data["capital"] is not None:
        region, *lists = data["capital"]
        capital = Capital(text(region), *(tuple(text(w) for w in words) for words in lists))
    return Gazetteer(regions_of(places), places, friends, capital)
