"""Start-up: how long ``bot.py check`` takes, and its peak memory, with and without the
gazetteer cache, beside a floor measured in the same run.

    python bench/startup.py                    # 7 rounds
    python bench/startup.py --before /tmp/old  # also an older checkout of the bot, for comparison
                                               # (git archive COMMIT | tar -x -C /tmp/old)

Each round runs, one after the other so that noise hits them alike:
  * floor: ``bot.py --version``: the interpreter and every import of the command line, no rules;
  * warm:  ``bot.py check`` with the cache written by an earlier run (every later start);
  * cold:  ``bot.py check`` with no cache (the first start; it writes the cache again);
  * before: ``bot.py check`` of the older checkout, when given.
Printed: the median wall time and the largest peak RSS of each. The user cache directory is a
temporary one, so that only the cache beside the code (alerts/__pycache__/) counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.peak_rss import ROOT, run_bot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path, help="an older checkout to time beside")
    args = parser.parse_args()
    caches = ROOT / "alerts" / "__pycache__"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "XDG_CACHE_HOME": home}
        cases: dict[str, tuple[list[str], Path]] = {
            "floor (bot.py --version)": (["--version"], ROOT),
            "check, warm cache": (["check"], ROOT),
            "check, no cache (first start)": (["check"], ROOT),
        }
        if args.before:
            cases["check, before (" + str(args.before) + ")"] = (["check"], args.before)
        results: dict[str, list] = {name: [] for name in cases}
        run_bot(["check"], env, 120)  # writes the cache the warm runs read
        for _ in range(args.runs):
            for name, (argv, root) in cases.items():
                if "no cache" in name:
                    for file in caches.glob("gazetteer-*.json"):
                        file.unlink()
                measured = run_bot(argv, env, 120, root=root)
                if measured.code != 0:
                    raise SystemExit(f"{name}: exit {measured.code}: {measured.stderr[-500:]}")
                results[name].append(measured)
    floor = statistics.median(m.seconds for m in results["floor (bot.py --version)"])
    print(f"{args.runs} rounds; median wall time, largest peak RSS")
    print(f"{'':<48} {'seconds':>8} {'- floor':>8} {'peak RSS':>9}")
    for name, runs in results.items():
        seconds = statistics.median(m.seconds for m in runs)
        peak = max(m.peak for m in runs) / 2**20
        print(f"{name:<48} {seconds:8.2f} {seconds - floor:8.2f} {peak:7.0f} MB")


if __name__ == "__main__":
    main()
