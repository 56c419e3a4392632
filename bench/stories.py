"""Benchmark: the cost per item of story assignment with 10,000 stories in the window.

Run: ``python bench/stories.py`` (no network; well under a minute on two slow cores).

It fills a :class:`alerts.stories.StoryIndex` with synthetic stories spread over 44 hours, then
feeds it new reports, half of them other outlets' reports of recent stories, half new stories,
and prints per item, side by side from the same run:

* ``signature()`` alone: the floor, what reading the text costs whatever the index;
* ``candidates()``: the index lookup;
* ``assign() + add()``: what the pipeline pays per item beyond the signature;
* a full scan (``same_story()`` against every stored story) for a few items: what the index
  saves.

The text is generated here: 600 invented place names drawn with a skew (a few cities carry most
of the news), six kinds of event and four kinds of outcome each phrased three ways, and a long
tail of 8,000 invented words drawn with a Zipf law, so that the postings see the skew of real
news (every other story says "drone", few say "Bilopillia").

The join counts are a smoke test, not a measure of accuracy (tests/data/story_pairs.yaml is).
The generator's vocabulary is poor: with skewed places, six kinds of event and four outcomes, a
"new" story is often the same kind of event in the same place a few hours apart, or in the town
another story's lead names, and its text cannot tell them apart.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.stories import Report, Signature, StoryIndex, same_story, signature

_CONSONANTS = "bdfghklmnprstvz"
_VOWELS = "aeiou"
_EVENTS = [
    ("drone attack on", "drones hit", "drone strike on"),
    ("missile strike on", "missiles hit", "ballistic missile attack on"),
    ("shelling of", "artillery hits", "shells hit"),
    ("glide bomb attack on", "guided bombs hit", "aerial bombs dropped on"),
    ("explosions in", "blasts heard in", "explosions rock"),
    ("power outage in", "blackout hits", "energy facility damaged in"),
]
_ACTORS = ["Russian", "Ukrainian", "Russia's", "Ukraine's", ""]
_OUTCOMES = [
    ("kills {n}", "{n} killed", "{n} dead"),
    ("injures {n}", "{n} injured", "{n} wounded"),
    ("damages homes", "houses damaged", "residential buildings damaged"),
    ("no casualties", "nobody hurt", "no injuries reported"),
]
_LEADS = [
    "officials said",
    "the regional governor said",
    "the military administration reported",
    "emergency services said",
    "according to local authorities",
]


def _words(rng: random.Random, count: int, syllables: tuple[int, int]) -> list[str]:
    """Invented words of consonant-vowel syllables, distinct in their first six letters."""
    out: dict[str, str] = {}
    while len(out) < count:
        n = rng.randint(*syllables)
        word = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(n))
        out.setdefault(word[:6], word)
    words = sorted(out.values())
    rng.shuffle(words)
    return words


def _zipf(count: int, offset: int) -> list[float]:
    """Zipf weights, flattened at the head by ``offset`` (stop words are gone already)."""
    return [1 / (rank + offset) for rank in range(count)]


@dataclass(frozen=True)
class Facts:
    """One event, from which several outlets' reports are written."""

    event: int
    outcome: int
    actor: str
    place: str
    town: str
    count: int
    detail: tuple[str, ...]


class Corpus:
    """Synthetic wire copy: skewed places, a domain vocabulary and a Zipf long tail."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.places = [w.capitalize() for w in _words(self.rng, 600, (3, 5))]
        self.place_weights = _zipf(len(self.places), 20)
        self.tail = _words(self.rng, 8000, (2, 5))
        self.tail_weights = _zipf(len(self.tail), 50)

    def _filler(self, k: int) -> list[str]:
        return self.rng.choices(self.tail, self.tail_weights, k=k)

    def story(self) -> Facts:
        rng = self.rng
        place, town = rng.choices(self.places, self.place_weights, k=2)
        return Facts(
            event=rng.randrange(len(_EVENTS)),
            outcome=rng.randrange(len(_OUTCOMES)),
            actor=rng.choice(_ACTORS),
            place=place,
            town=town,
            count=rng.choice([2, 3, 4, 5, 7, 9, 12, 14, 20, 40, 64, 87]),
            detail=tuple(self._filler(5)),
        )

    def report(self, facts: Facts, item_id: int, when: datetime) -> Report:
        """One outlet's report of the event: its own phrasing, order and filler words."""
        rng = self.rng
        event = rng.choice(_EVENTS[facts.event])
        outcome = rng.choice(_OUTCOMES[facts.outcome]).format(n=facts.count)
        if rng.random() < 0.5:
            title = f"{facts.actor} {event} {facts.place} {outcome}"
        else:
            title = f"{facts.place}: {outcome} after {facts.actor} {event} the city"
        words = rng.sample(facts.detail, 3) + self._filler(rng.randint(10, 30))
        rng.shuffle(words)
        summary = (
            f"{event.capitalize()} {facts.place} near {facts.town}, {outcome}, "
            f"{rng.choice(_LEADS)}. {' '.join(words)}."
        )
        return Report(item_id, " ".join(title.split()), summary, when, f"feed{rng.randrange(40)}")


def run(stories: int, items: int, scans: int, seed: int) -> list[tuple[str, float, str]]:
    corpus = Corpus(seed)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    span = timedelta(hours=44)
    index = StoryIndex()
    facts: list[Facts] = []
    stored: list[tuple[Report, Signature]] = []
    t0 = time.perf_counter()
    for sid in range(stories):
        f = corpus.story()
        facts.append(f)
        report = corpus.report(f, sid, start + span * (sid / stories))
        sig = signature(report.title, report.summary)
        stored.append((report, sig))
        index.add(sid, report, sig)
    fill = time.perf_counter() - t0
    postings = sum(len(p) for p in index._postings.values())

    now = start + span
    new: list[Report] = []
    new_facts: list[Facts] = []
    for i in range(items):
        when = now + timedelta(seconds=i)
        if i % 2:  # another outlet's report of one of the last 2,000 stories
            f = facts[corpus.rng.randrange(max(stories - 2000, 0), stories)]
        else:
            f = corpus.story()
        new_facts.append(f)
        new.append(corpus.report(f, 10**6 + i, when))

    t0 = time.perf_counter()
    sigs = [signature(r.title, r.summary) for r in new]
    t_sig = (time.perf_counter() - t0) / items

    t0 = time.perf_counter()
    sizes = [len(index.candidates(r, s)) for r, s in zip(new, sigs, strict=True)]
    t_cand = (time.perf_counter() - t0) / items

    t0 = time.perf_counter()
    for r, s in zip(new[:scans], sigs[:scans], strict=True):
        for report, sig in stored:
            same_story(report, sig, r, s)
    t_scan = (time.perf_counter() - t0) / scans

    joined = [0, 0]  # new stories, follow-ups
    elsewhere = 0  # new stories that joined a story about another place
    next_id = stories
    t0 = time.perf_counter()
    for i, (r, s) in enumerate(zip(new, sigs, strict=True)):
        sid, _ = index.assign(r, s, explain=False)
        if sid is None:
            sid, next_id = next_id, next_id + 1
            facts.append(new_facts[i])
        else:
            joined[i % 2] += 1
            elsewhere += i % 2 == 0 and facts[sid].place != new_facts[i].place
        index.add(sid, r, s)
    t_assign = (time.perf_counter() - t0) / items

    us = 1e6
    half = items // 2
    return [
        (
            "stories in the window",
            stories,
            f"filled in {fill:.1f}s; {postings:,} postings over {len(index._postings):,} stems",
        ),
        ("signature() per item (floor)", t_sig * us, "µs"),
        (
            "candidates() per item",
            t_cand * us,
            f"µs; {statistics.mean(sizes):.1f} candidates on average, at most {max(sizes)}",
        ),
        (
            "assign() + add() per item",
            t_assign * us,
            f"µs; {(t_sig + t_assign) / t_sig:.1f}x the floor with the signature",
        ),
        (
            "full scan per item (no index)",
            t_scan * us,
            f"µs; {t_scan / t_assign:.0f}x assign() + add(), measured on {scans} items",
        ),
        (
            "follow-ups that joined their story",
            joined[1],
            f"of {half} (synthetic paraphrases; a smoke test)",
        ),
        (
            "new stories that joined one",
            joined[0],
            f"of {items - half}: {joined[0] - elsewhere} in the same place, {elsewhere} about "
            "another (often named in its lead)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--scans", type=int, default=10, help="items timed with a full scan")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rows = run(args.stories, args.items, args.scans, args.seed)
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'value':>10}  note")
    for name, value, note in rows:
        shown = f"{value:>10.1f}" if isinstance(value, float) else f"{value:>10,}"
        print(f"{name:<{width}}  {shown}  {note}")


if __name__ == "__main__":
    main()
