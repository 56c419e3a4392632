"""Counts in words: no message says "1 feeds", and a digest's heading counts what it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts import digest
from alerts.config import Rule
from alerts.store import Entry, Piece
from alerts.wording import plural

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
RULES = (Rule(id="sumy", name="Sumy front"),)


def test_plural() -> None:
    assert plural(1, "feed") == "1 feed"
    assert plural(0, "feed") == "0 feeds"
    assert plural(2, "consecutive failure") == "2 consecutive failures"
    assert plural(1, "new story", "new stories") == "1 new story"
    assert plural(5, "new story", "new stories") == "5 new stories"


def entry(n: int, update: bool = False) -> Entry:
    """A story, or (``update``) more coverage of one: a new outlet's report of it."""
    when = NOW - timedelta(minutes=n)
    link = f"https://w.example/{n}"
    others = (Piece("Desk", f"Story {n}, retold", f"https://d.example/{n}"),) if update else ()
    return Entry(n, "Wire", f"Story {n}", link, "", when, when, ("sumy",), others, update, when)


def headings(entries: list[Entry]) -> tuple[str, str]:
    (text, _), *_ = digest.digest_text(entries, RULES, ZoneInfo("UTC"), NOW)
    (html, _), *_ = digest.digest_html(entries, RULES, ZoneInfo("UTC"), NOW)
    return text.splitlines()[0], html.splitlines()[0]


def test_a_digest_heading_counts_new_stories_and_more_coverage_apart() -> None:
    text, html = headings([entry(1, update=True)])
    assert text == "=== Digest: more coverage of 1 story · 25 Nov 2026 12:00 UTC ==="
    assert html == "<b>Digest</b> · more coverage of 1 story"
    text, html = headings([entry(1), entry(2), entry(3, update=True), entry(4, update=True)])
    assert html == "<b>Digest</b> · 2 new stories, more coverage of 2 stories"
    assert text.startswith("=== Digest: 2 new stories, more coverage of 2 stories · ")
    assert headings([entry(1)])[1] == "<b>Digest</b> · 1 new story"
