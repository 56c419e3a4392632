"""When a chat's digest is due, and whether it is in its quiet hours. Pure functions.

Due-ness is computed from when the chat last received a digest rather than stored as a "next
time", so a change of schedule (a reload of rules.yaml, a ``/digest`` command, a new time zone)
takes effect at once without any stored state to fix up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from .durations import format_duration

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

MIN_DIGEST_EVERY = 1.0
"""The shortest digest interval, for rules.yaml's ``digest_every`` and ``/digest every`` alike:
the digest job looks at most once a second, and a chat's interval is kept in whole seconds."""
DIGEST_EVERY = f"a duration of {format_duration(MIN_DIGEST_EVERY)} or more, as in 30m or 1h"
"""How both places say what a digest interval may be."""


def parse_clock(text: str) -> time | None:
    m = _CLOCK.match(text.strip())
    return time(int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True)
class DigestSchedule:
    """Either every ``every`` seconds, or at the ``at`` local times; ``off`` means urgent only."""

    every: float | None = None
    at: tuple[time, ...] = ()
    off: bool = False

    def describe(self, tz_name: str) -> str:
        if self.off:
            return "off (urgent alerts only)"
        if self.at:
            return "at " + ", ".join(t.strftime("%H:%M") for t in self.at) + f" ({tz_name})"
        return f"every {format_duration(self.every or 3600)}"


def next_digest(schedule: DigestSchedule, last: datetime, tz: tzinfo) -> datetime | None:
    """The first digest time strictly after ``last``; None when digests are off."""
    if schedule.off:
        return None
    if not schedule.at:
        return last + timedelta(seconds=schedule.every or 3600)
    local = last.astimezone(tz)
    for day in range(0, 3):
        date = (local + timedelta(days=day)).date()
        for at in sorted(schedule.at):
            # Build the wall-clock time in the zone; normalising through UTC handles DST gaps.
            candidate = datetime.combine(date, at, tzinfo=tz)
            candidate = candidate.astimezone(last.tzinfo).astimezone(tz)
            # Compared as instants: two times of one zone compare as wall-clock times, which
            # ignores which pass of the hour that repeats in autumn each is in (a 03:30 digest
            # after a 03:05 in the second pass was due at once, on every check for an hour).
            if candidate.astimezone(UTC) > last.astimezone(UTC):
                return candidate
    return None  # unreachable with at least one time


def digest_due(schedule: DigestSchedule, last: datetime, now: datetime, tz: tzinfo) -> bool:
    nxt = next_digest(schedule, last, tz)
    return nxt is not None and nxt <= now


def parse_quiet(text: str) -> tuple[time, time] | None:
    """``23:00-07:00`` as a pair of times; None when malformed or empty."""
    parts = text.replace(" ", "").split("-")
    if len(parts) != 2:
        return None
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start is None or end is None or start == end:
        return None
    return start, end


def in_quiet(quiet: tuple[time, time] | None, now: datetime, tz: tzinfo) -> bool:
    """Whether ``now`` falls inside the quiet window, which may wrap past midnight."""
    if not quiet:
        return False
    start, end = quiet
    clock = now.astimezone(tz).time().replace(second=0, microsecond=0)
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def quiet_end(quiet: tuple[time, time], now: datetime, tz: tzinfo) -> datetime:
    """When the quiet window that ``now`` falls in ends."""
    local = now.astimezone(tz)
    end = datetime.combine(local.date(), quiet[1], tzinfo=tz)
    if end.astimezone(UTC) <= now.astimezone(UTC):
        end = datetime.combine(local.date() + timedelta(days=1), quiet[1], tzinfo=tz)
    return end.astimezone(UTC).astimezone(tz)  # through UTC: a time in a DST gap exists after
