"""What a long-running bot's memory does as the news brings new words, measured.

    python bench/words.py [--reports 16000] [--tree DIR]

Reads reports made of words never seen before (60 each, English, Ukrainian and Russian in
turn) as filing does (signature and weights), and prints the process's resident memory every
2,000 reports beside its memory at the start: the worst case of months of news, where every
table that remembers answers per word fills. ``--tree`` measures another checkout's ``alerts``
(the code before a change, in a worktree). Not a speed figure.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

LETTERS = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
}


def rss_mb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=16_000)
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    args = parser.parse_args()
    sys.path.insert(0, args.tree)
    from alerts import stories

    rnd = random.Random(1)
    stories._total(stories.signature("Drones over Kyiv", "Air defence was active.").keys)
    gc.collect()
    start = rss_mb()
    print(f"{args.tree}: {start} MB at the start (the lexicon open, one report read)")
    began = time.monotonic()
    for n in range(1, args.reports + 1):
        letters = LETTERS[("en", "uk", "ru")[n % 3]]
        words = ["".join(rnd.choice(letters) for _ in range(rnd.randint(5, 12))) for _ in range(60)]
        title = " ".join(w.capitalize() for w in words[:10])
        summary = ". ".join(" ".join(words[i : i + 10]) for i in range(10, 60, 10)) + "."
        stories._total(stories.signature(title, summary).keys)
        if n % 2000 == 0:
            gc.collect()
            print(
                f"{n:>7,} reports, {60 * n:>9,} new words: {rss_mb():>4} MB "
                f"({rss_mb() - start:+} MB), {time.monotonic() - began:.0f} s"
            )


if __name__ == "__main__":
    main()
