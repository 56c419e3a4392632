"""Counts in words, for every message the bot prints or sends: "1 feed", "2 feeds".

One helper, so that no message says "1 feeds" or "1 consecutive failures".
"""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """``n`` and the noun for it: ``plural(1, "feed")`` is "1 feed", ``plural(3, "feed")`` is
    "3 feeds"; give ``many`` where adding "s" is wrong (``plural(2, "story", "stories")``)."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
