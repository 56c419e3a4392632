"""``bot.py stats``: matches per rule per day and messages sent, to find noisy and silent rules.

Pure: the caller reads the rows from the store; days are the operator's days (``timezone``),
not UTC's, so "Tuesday" means what it says in Kyiv.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from .store import parse_iso
from .wording import plural

KINDS = ("alert", "edit", "digest", "notice")
"""The outbox's kinds of message: an edit adds an outlet's link to an alert already sent."""


@dataclass(frozen=True)
class Stats:
    days: tuple[date, ...]
    rules: tuple[str, ...]  # rules.yaml order, then ids no longer in the file
    gone: frozenset[str]  # ids matched in the past but not in rules.yaml any more
    matches: dict[tuple[str, date], int]
    sent: dict[tuple[str, date], int]
    zone: str

    def rule_total(self, rule: str) -> int:
        return sum(self.matches.get((rule, d), 0) for d in self.days)

    def as_json(self) -> dict[str, object]:
        return {
            "timezone": self.zone,
            "days": [d.isoformat() for d in self.days],
            "rules": {
                rule: {d.isoformat(): self.matches.get((rule, d), 0) for d in self.days}
                for rule in self.rules
            },
            "removed_rules": sorted(self.gone),
            "messages_sent": {
                kind: {d.isoformat(): self.sent.get((kind, d), 0) for d in self.days}
                for kind in KINDS
            },
        }

    def render(self) -> str:
        width = max([len("messages sent"), *(len(r) for r in self.rules)]) + 2
        head = "".join(f"{d:%b %d}".rjust(8) for d in self.days)
        out = [
            f"Matches per rule per day, last {plural(len(self.days), 'day')} ({self.zone})",
            "rule".ljust(width) + head + "total".rjust(8),
        ]
        for rule in self.rules:
            counts = [self.matches.get((rule, d), 0) for d in self.days]
            note = ""
            if rule in self.gone:
                note = "  (not in rules.yaml any more)"
            elif not sum(counts):
                note = "  silent"
            out.append(_row(rule, counts, width) + note)
        if not self.rules:
            out.append("(no rules)")
        out.append("")
        out.append("Messages sent")
        for kind in KINDS:
            out.append(_row(f"  {kind}s", [self.sent.get((kind, d), 0) for d in self.days], width))
        totals = [sum(self.sent.get((k, d), 0) for k in KINDS) for d in self.days]
        out.append(_row("  total", totals, width))
        return "\n".join(out)


def _row(label: str, counts: Sequence[int], width: int) -> str:
    return label.ljust(width) + "".join(str(c).rjust(8) for c in counts) + str(sum(counts)).rjust(8)


def tabulate(
    matched: Iterable[tuple[str, str]],
    sent: Iterable[tuple[str, str]],
    rules: Sequence[str],
    days: int,
    now: datetime,
    tz: tzinfo,
) -> Stats:
    """Count ``matched`` (seen_at, rules JSON) and ``sent`` (sent_at, kind) rows per local day.

    ``rules`` are the ids in rules.yaml: every one gets a row, silent ones included (a rule
    that never matches is as worth knowing about as one that always does).
    """
    today = now.astimezone(tz).date()
    span = tuple(today - timedelta(days=n) for n in range(days - 1, -1, -1))
    first = span[0]
    matches: Counter[tuple[str, date]] = Counter()
    seen_rules: set[str] = set()
    for stamp, rules_json in matched:
        when = parse_iso(stamp)
        if when is None:
            continue
        day = when.astimezone(tz).date()
        if day < first or day > today:
            continue
        try:
            ids = json.loads(rules_json or "[]")
        except ValueError:
            continue
        for rule in ids:
            matches[(str(rule), day)] += 1
            seen_rules.add(str(rule))
    counts: Counter[tuple[str, date]] = Counter()
    for stamp, kind in sent:
        when = parse_iso(stamp)
        if when is None:
            continue
        day = when.astimezone(tz).date()
        if first <= day <= today:
            counts[(kind if kind in KINDS else "notice", day)] += 1
    gone = frozenset(seen_rules - set(rules))
    ordered = (*rules, *sorted(gone))
    zone = getattr(tz, "key", str(tz))
    return Stats(span, ordered, gone, dict(matches), dict(counts), zone)


def since(days: int, now: datetime, tz: tzinfo) -> datetime:
    """The start of the first local day of a ``days``-day report, for the store's queries."""
    first = now.astimezone(tz).date() - timedelta(days=days - 1)
    return datetime.combine(first, datetime.min.time(), tz)
