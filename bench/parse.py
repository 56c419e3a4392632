"""Benchmark: turning a fetched body into items, beside feedparser's parse alone.

Run: ``python bench/parse.py`` (no network; one to two minutes on two slow cores).
``--rounds N`` (default 5) sets how many times each body is parsed; ``--feeds N`` (default 200)
how many feeds of the poll workload are built.

For the same bodies, in the same run, per feed:

* ``feedparser.parse`` alone, with the bot's options (no sanitizer, no URI resolution): the
  floor, what the bare fetch + feedparser loop of ``bench/run.py`` pays to parse;
* ``feeds.parse``: what the bot pays, from the fetched body to its items (decoding as feedparser
  would, DOCTYPE removal, reading, normalising every entry);
* of which ``fastfeed.read``, the reader alone, on the bytes ``feeds.parse`` gives it;
* ``feeds.parse(fast=False)``: the same with feedparser reading every feed (the bot before the
  fast reader).

Each body is parsed ``--rounds`` times by each, the four alternated, and the fastest of each is
kept: the machine is shared and noisy, and the least disturbed run is the cost. The sets of
bodies: the feeds ``bench/run.py`` serves in its poll cycle (its generator, its seed: 50 items
each, a fifth of them Atom, conflict and ordinary news in English, Ukrainian and Russian, HTML
summaries), a quarter of them made ill-formed at their very end (the worst case of the
fallback: the reader reads it all before declining), our sample feeds (``examples/feeds``), and
feedparser's test corpus (2,106 small documents, many of them ill-formed or exotic).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts import fastfeed, feeds

ROOT = Path(__file__).resolve().parent.parent


def _feedparser(fetched: feeds.Fetched) -> object:
    # As bench/run.py's floor calls it.
    return feedparser.parse(fetched.body, sanitize_html=False, resolve_relative_uris=False)


def _ours(fetched: feeds.Fetched) -> feeds.Parsed | None:
    try:
        return feeds.parse("bench", fetched)
    except feeds.FetchError:
        return None


def _reference(fetched: feeds.Fetched) -> object:
    try:
        return feeds.parse("bench", fetched, fast=False)
    except feeds.FetchError:
        return None


def _prepared(fetched: feeds.Fetched) -> bytes | None:
    """The bytes feeds.parse hands the reader."""
    headers = {"content-type": fetched.content_type} if fetched.content_type else {}
    try:
        return feeds.strip_doctype(feeds._to_utf8(fetched.body or b"", headers))
    except feeds.FetchError:
        return None


def _read(data: bytes | None) -> object:
    if data is None:
        return None
    try:
        return fastfeed.read(data)
    except fastfeed.Unsure:
        return None


def measure(fetched: list[feeds.Fetched], rounds: int) -> dict[str, float]:
    """Seconds per body for each way, the fastest of ``rounds`` runs per body, summed."""
    prepared = [_prepared(f) for f in fetched]
    ways: dict[str, Callable[[int], object]] = {
        "floor": lambda i: _feedparser(fetched[i]),
        "ours": lambda i: _ours(fetched[i]),
        "read": lambda i: _read(prepared[i]),
        "before": lambda i: _reference(fetched[i]),
    }
    best = {name: [float("inf")] * len(fetched) for name in ways}
    for _ in range(rounds):
        for i in range(len(fetched)):
            for name, way in ways.items():
                started = time.perf_counter()
                way(i)
                best[name][i] = min(best[name][i], time.perf_counter() - started)
    return {name: sum(times) for name, times in best.items()}


def poll_feeds(count: int) -> list[feeds.Fetched]:
    sys.path.insert(0, str(ROOT / "bench"))
    from run import make_feeds  # bench/run.py: the poll cycle's generator

    out = []
    for doc in make_feeds(count, 50, seed=1):
        ctype = "application/atom+xml" if doc.atom else "application/rss+xml"
        out.append(
            feeds.Fetched(
                doc.render(),
                content_type=ctype + "; charset=utf-8",
                url=f"http://127.0.0.1:8080{doc.path}",
            )
        )
    return out


def ill_formed(fetched: list[feeds.Fetched]) -> list[feeds.Fetched]:
    """The same feeds with an undeclared ``&nbsp;`` in the last title (a common defect of real
    feeds): the reader finds out at the end, then feedparser reads it with its loose parser."""
    out = []
    for f in fetched:
        body = f.body or b""
        at = body.rindex(b"</title>")
        out.append(
            feeds.Fetched(body[:at] + b"&nbsp;" + body[at:], content_type=f.content_type, url=f.url)
        )
    return out


def sample_feeds() -> list[feeds.Fetched]:
    paths = sorted((ROOT / "examples" / "feeds").glob("*.xml"))
    return [feeds.Fetched(p.read_bytes(), url=p.as_uri()) for p in paths]


def corpus_feeds() -> list[feeds.Fetched]:
    from tests.conftest import SHARED

    corpus = SHARED / "corpus" / "feedparser-tests"
    paths = [p for p in sorted(corpus.rglob("*")) if p.is_file() and p.name != "LICENSE"]
    return [feeds.Fetched(p.read_bytes(), url=p.as_uri()) for p in paths]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--feeds", type=int, default=200)
    args = parser.parse_args()
    poll = poll_feeds(args.feeds)
    sets = [
        (f"bench/run.py poll feeds, {args.feeds} x 50 items", poll),
        ("the same, ill-formed at the end", ill_formed(poll[: max(1, args.feeds // 4)])),
        ("examples/feeds", sample_feeds()),
    ]
    with contextlib.suppress(OSError):  # the corpus is shared material, beside the checkout
        sets.append(("feedparser's test corpus", corpus_feeds()))
    started = time.monotonic()
    rows = []
    for name, fetched in sets:
        print(f"measuring {name}: {len(fetched)} bodies, {args.rounds} rounds", file=sys.stderr)
        times = measure(fetched, args.rounds)
        readers = [p.reader if p else "error" for p in map(_ours, fetched)]
        rows.append((name, len(fetched), readers.count("fast"), times))
    print(
        f"bench/parse.py: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"best of {args.rounds} rounds per body, {time.monotonic() - started:.0f} s\n"
    )
    head = ("bodies", "read fast", "floor: feedparser", "feeds.parse", "ratio", "of which read")
    head += ("fast=False",)
    lines = [("", *head)]
    for name, n, fast, t in rows:
        per = {k: v / n * 1000 for k, v in t.items()}
        lines.append(
            (
                name,
                f"{n:,}",
                f"{fast:,} ({fast / n:.0%})",
                f"{per['floor']:.3f} ms",
                f"{per['ours']:.3f} ms",
                f"{t['ours'] / t['floor']:.2f}x",
                f"{per['read']:.3f} ms",
                f"{per['before']:.3f} ms ({t['before'] / t['floor']:.2f}x)",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for k, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print("\nper body, fastest of the rounds; ratio = feeds.parse / feedparser.parse on the same")
    print("bodies. In all, per set (seconds):")
    for name, _, _, t in rows:
        print(
            f"  {name}: feedparser {t['floor']:.3f}, feeds.parse {t['ours']:.3f} "
            f"(fastfeed.read {t['read']:.3f}), feeds.parse(fast=False) {t['before']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
