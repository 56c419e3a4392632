"""Feed dates that feedparser misreads, read right: a handler registered with feedparser.

Outlets' sites write RFC 822 dates with the zone names of their own region ("EET", "MSK"),
which feedparser's table lacks and so reads as UTC (an item two or three hours in the future,
sorted first as the newest), and dates in their site's locale ("Вт, 01 гру 2026 15:32:45
+0200"), which it cannot read at all (the item counts as undated: `backfill` does not hold it
back, and it is shown with the time it was fetched). Both readers (``fastfeed`` and feedparser)
parse dates with feedparser's handlers, so one registered handler serves both. The zones and
the months' names are data, in ``dates.yaml``.
"""

from __future__ import annotations

import calendar
import re
import time
from pathlib import Path

import feedparser
import yaml


def _load() -> tuple[dict[str, int], dict[str, int]]:
    data = yaml.safe_load(Path(__file__).with_name("dates.yaml").read_text(encoding="utf-8"))
    zones = {name.casefold(): int(hours) for name, hours in data["zones"].items()}
    months = {
        name.casefold(): int(month) for month, names in data["months"].items() for name in names
    }
    return zones, months


_ZONES, _MONTHS = _load()

# [weekday,] day month year hh:mm[:ss] [zone]; the month a word of letters (any alphabet)
_DATE = re.compile(
    r"^\s*(?:[^\W\d_]+\.?,?\s+)?(\d{1,2})\s+([^\W\d_]+)\.?,?\s+(\d{4}),?\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?\s*$"
)


def parse(value: str) -> time.struct_time | None:
    """The date in UTC as feedparser's handlers give it; None to leave it to feedparser."""
    match = _DATE.match(value)
    if match is None:
        return None
    day, month_name, year, hour, minute, second, zone = match.groups()
    month_name = month_name.casefold()
    month = _MONTHS.get(month_name)
    if month is None:
        return None
    english = month_name.isascii()
    if zone is None or zone[0] in "+-":
        if english:
            return None  # an ordinary RFC 822 date: feedparser's own
        offset = 0 if zone is None else _offset(zone)
    else:
        hours = _ZONES.get(zone.casefold())
        if hours is None:
            return None
        offset = hours * 3600
    if not 1 <= int(day) <= 31 or int(hour) > 23 or int(minute) > 59:
        return None
    try:
        stamp = calendar.timegm(
            (int(year), month, int(day), int(hour), int(minute), int(second or 0), 0, 0, 0)
        )
    except (ValueError, OverflowError):
        return None
    return time.gmtime(stamp - offset)


def _offset(zone: str) -> int:
    digits = zone[1:].replace(":", "")
    seconds = int(digits[:2]) * 3600 + int(digits[2:]) * 60
    return -seconds if zone[0] == "-" else seconds


feedparser.registerDateHandler(parse)
