"""Answers worth remembering per word, in tables that cannot grow without bound.

Reading a report asks the same questions of its words again and again (a word's folded form,
its stem, its weight, whether the lexicon knows it), and remembering the answers is what makes
reading fast. But a bot runs for months, and news never stops bringing new words: names,
numbers, misspellings, three languages' inflections. Tables that only grew held 300 MB after a
few hundred thousand distinct words, and tables that stopped growing when full kept the words
of the bot's first days forever. So every such table is a :class:`Memo`: it forgets everything
when it is full and starts again from the words the news uses now, at the cost of a few
milliseconds of look-ups once in a long while.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

WORDS = 50_000
"""Answers a table holds before it forgets them. A day of three languages' news uses a few
tens of thousands of word forms; each remembered answer costs 150-300 bytes, and a process has
seven such tables (BENCHMARKS.md, section E, measures them full)."""


class Memo(dict):
    """A dict whose missing keys are computed by ``compute`` and remembered, until it holds
    ``limit`` keys (by default :data:`WORDS`, read when it fills): then it is emptied. Looked
    up as a dict, in C, for every key it knows."""

    def __init__(self, compute: Callable[[Any], Any], limit: int | None = None) -> None:
        super().__init__()
        self.compute = compute
        self.limit = limit

    def __missing__(self, key: Any) -> Any:
        value = self.compute(key)
        self.remember(key, value)
        return value

    def remember(self, key: Any, value: Any) -> None:
        """Keep an answer computed elsewhere (one that needs more than the key), emptying the
        table first when it is full."""
        if len(self) >= (self.limit or WORDS):
            self.clear()
        self[key] = value
