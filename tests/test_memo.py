"""A bot runs for months and the news never stops bringing new words: what it remembers of
words must stay bounded, or its memory grows until the host kills it."""

from __future__ import annotations

import gc
import random
import tracemalloc

from alerts import config, feeds, memo, stories
from alerts.memo import Memo

_LETTERS = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
}
RULES = """\
feeds:
  - name: Wire
    url: http://127.0.0.1:9/feed.xml
rules:
  - id: strikes
    all: [[strike, удар], [Kharkiv, Харків, Харьков]]
  - id: sumy
    regions: [Sumy]
"""


def test_a_memo_computes_once_and_empties_when_full() -> None:
    calls: list[str] = []

    def upper(key: str) -> str:
        calls.append(key)
        return key.upper()

    table = Memo(upper, limit=3)
    assert [table["a"], table["a"], table["b"], table["c"]] == ["A", "A", "B", "C"]
    assert calls == ["a", "b", "c"]
    assert table["d"] == "D"  # the fourth key: the table was full, and starts again
    assert dict(table) == {"d": "D"}
    table.remember("e", "E!")
    assert table["e"] == "E!" and len(table) == 2


def _feed(rnd: random.Random, first: int, count: int) -> bytes:
    """An RSS body whose items are made of words no item used before (names, numbers,
    misspellings: what months of news bring), beside words every item uses."""
    items = []
    for n in range(first, first + count):
        lang = ("en", "uk", "ru")[n % 3]
        new = [
            "".join(rnd.choice(_LETTERS[lang]) for _ in range(rnd.randint(5, 11)))
            for _ in range(40)
        ]
        title = f"Strike on Kharkiv: {' '.join(w.capitalize() for w in new[:6])}"
        text = f"Удар по Харкову. {' '.join(new[6:20])}. Sumy region: {' '.join(new[20:])}."
        items.append(
            f"<item><title>{title}</title><link>https://example.org/{n}</link>"
            f"<guid>{n}</guid><pubDate>Mon, 07 Dec 2026 10:00:00 GMT</pubDate>"
            f"<description>{text}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def _read(cfg: config.Config, body: bytes) -> int:
    """What a poll does with each item's words: parse, match, sign, weigh."""
    parsed = feeds.parse("Wire", feeds.Fetched(body, url="https://example.org/feed.xml"))
    matched = 0
    for item in parsed.items:
        if cfg.matcher.match(item.text).rules:
            matched += 1
        sig = stories.signature(item.title, item.summary)
        stories._total(sig.keys)
    return matched


def test_reading_new_words_for_ever_holds_a_bounded_memory(monkeypatch) -> None:
    # Every table of answers per word forgets at 100 keys here (50,000 in a bot), so that a
    # few hundred items fill them all; then reading twice as many new words must not grow
    # what Python holds. A table that only grew (as four of them did) keeps every word.
    monkeypatch.setattr(memo, "WORDS", 100)
    cfg = config.parse(RULES)
    rnd = random.Random(7)
    for start in range(0, 200, 50):
        assert _read(cfg, _feed(rnd, start, 50)) == 50  # every item is the strike on Kharkiv
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for start in range(200, 600, 50):
            _read(cfg, _feed(rnd, start, 50))
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # Counted in blocks, not bytes: a table that keeps every word keeps thousands of objects
    # (16,000 new words were read), while the interpreter's table of interned strings may
    # grow once by one large block, whose smaller predecessor was allocated before tracing.
    grown = sorted(after.compare_to(before, "lineno"), key=lambda s: -s.count_diff)
    kept = sum(s.count_diff for s in grown)
    assert kept < 5_000, "\n".join(str(s) for s in grown[:5])
