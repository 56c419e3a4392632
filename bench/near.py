"""Which default serves best for ``near:`` (and ``where:``), measured on the labeled set.

    python bench/near.py

For each setting, applied to every shipped rule, prints precision and recall of the rules on the
long items of tests/data/matching_labeled.yaml (full-article texts of 1,500 to 8,000
characters) and on all of its items. Not a speed figure: the README quotes it to say why the
default is what it is.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_labeled import evaluate, items, shipped


def main() -> None:
    everything = items()
    long = [i for i in everything if i["cause"] == "long"]
    print(f"{len(long)} long items, {len(everything)} items in all; rules' precision / recall")
    print(f"{'setting':<22} {'long items':>20} {'all items':>20}")
    settings: list[tuple[str, int | str | None, str]] = [("as shipped", "as written", "text")]
    settings += [("near: off", None, "text")]
    settings += [(f"near: {n}", n, "text") for n in (10, 15, 20, 25, 30, 40, 60, 80, 100, 150, 200)]
    settings += [("where: lead", None, "lead"), ("where: title", None, "title")]
    for label, near, where in settings:
        config = shipped(near=near)
        if where != "text":
            rules = tuple(dataclasses.replace(r, where=where) for r in config.rules)
            config = dataclasses.replace(config, rules=rules)  # its matcher is built from these
        cells = []
        for selection in (long, everything):
            score = evaluate(config.matcher, selection).rules
            cells.append(f"{score.precision:.3f} / {score.recall:.3f}")
        print(f"{label:<22} {cells[0]:>20} {cells[1]:>20}")


if __name__ == "__main__":
    main()
