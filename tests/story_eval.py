"""The labeled story data, read as the pipeline reads reports, and scored.

Pairs (``tests/data/story_pairs.yaml``): the earlier report starts a story in an empty index,
the later one is assigned; "joined" is the pipeline's decision. Sets
(``tests/data/story_sets.yaml``): every report of a set goes through one index in publication
order, and each pair of reports counts as a pair (same story or not, as labeled and as decided).

Regions and rule terms, where a pair does not give them, are what the matcher finds with the
shipped ``rules.yaml``, as in the pipeline. ``python -m tests.story_eval`` prints the table and
every wrong decision with its reason (the tool the thresholds were set with).
"""

from __future__ import annotations

import functools
import itertools
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from alerts import config
from alerts.stories import Report, StoryIndex, signature

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def pairs() -> list[dict]:
    return yaml.safe_load((DATA / "story_pairs.yaml").read_text("utf-8"))["pairs"]


@functools.lru_cache(maxsize=1)
def sets() -> list[dict]:
    return yaml.safe_load((DATA / "story_sets.yaml").read_text("utf-8"))["sets"]


@functools.lru_cache(maxsize=1)
def _config():
    return config.load(ROOT / "rules.yaml")


def report(side: dict, item_id: int) -> Report:
    published = datetime.fromisoformat(side["published"].replace("Z", "+00:00"))
    if "regions" in side or "terms" in side:
        regions, terms = tuple(side.get("regions", ())), frozenset(side.get("terms", ()))
    else:
        match = _config().matcher.match(side["title"] + "\n" + side["summary"])
        regions, terms = match.regions, _config().topic_terms(match)
    return Report(item_id, side["title"], side["summary"], published, side["feed"], regions, terms)


@dataclass
class Outcome:
    kind: str
    group: str
    label: str
    joined: bool
    what: str  # the pair's id, or set id and keys
    reason: str = ""


def pair_outcome(pair: dict) -> Outcome:
    a, b = report(pair["a"], 1), report(pair["b"], 2)
    if b.published < a.published:
        a, b = b, a
    index = StoryIndex()
    index.add(a.item_id, a, signature(a.title, a.summary))
    story, decision = index.assign(b, signature(b.title, b.summary))
    if decision is None:
        ranked = index.decisions(b, signature(b.title, b.summary))
        reason = ranked[0][1].reason if ranked else "not a candidate"
    else:
        reason = decision.reason
    kind = pair.get("kind") or "earlier"
    return Outcome(kind, pair["group"], pair["label"], story is not None, pair["id"], reason)


def set_outcomes(labeled: dict) -> list[Outcome]:
    index = StoryIndex()
    story_of: dict[str, int] = {}
    reasons: dict[str, str] = {}
    reports = sorted(
        enumerate(labeled["reports"], 1),
        key=lambda r: (r[1]["published"], r[1]["feed"], r[1]["key"]),
    )
    for item_id, side in reports:
        rep = report(side, item_id)
        sig = signature(rep.title, rep.summary)
        sid, decision = index.assign(rep, sig)
        if sid is None:
            sid = item_id
            ranked = index.decisions(rep, sig)
            reasons[side["key"]] = ranked[0][1].reason if ranked else "not a candidate"
        else:
            reasons[side["key"]] = decision.reason if decision else ""
        index.add(sid, rep, sig)
        story_of[side["key"]] = sid
    truth = {key: n for n, keys in enumerate(labeled["stories"]) for key in keys}
    out = []
    for x, y in itertools.combinations(sorted(story_of), 2):
        label = "same" if truth[x] == truth[y] else "different"
        joined = story_of[x] == story_of[y]
        later = max(
            (x, y), key=lambda k: next(r["published"] for r in labeled["reports"] if r["key"] == k)
        )
        out.append(
            Outcome(
                labeled["kind"],
                labeled["group"],
                label,
                joined,
                f"{labeled['id']}:{x}/{y}",
                reasons[later],
            )
        )
    return out


def outcomes() -> list[Outcome]:
    out = [pair_outcome(p) for p in pairs()]
    for labeled in sets():
        out.extend(set_outcomes(labeled))
    return out


def table(results: list[Outcome]) -> tuple[str, dict[str, tuple[float, float, int, int]]]:
    """Precision and recall per kind (and overall), as text and as figures."""
    by: dict[str, list[Outcome]] = defaultdict(list)
    for r in results:
        by[r.kind].append(r)
        by["all"].append(r)
        by[f"all {r.group}"].append(r)
    figures = {}
    lines = [
        f"{'kind':<16} {'pairs':>5} {'same':>5} {'precision':>9} {'recall':>7} {'fp':>4} {'fn':>4}"
    ]
    for kind in sorted(by, key=lambda k: (k.startswith("all"), k)):
        rs = by[kind]
        tp = sum(r.joined and r.label == "same" for r in rs)
        fp = sum(r.joined and r.label != "same" for r in rs)
        fn = sum(not r.joined and r.label == "same" for r in rs)
        p = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn) if tp + fn else 1.0
        figures[kind] = (p, rec, fp, fn)
        same = sum(r.label == "same" for r in rs)
        lines.append(f"{kind:<16} {len(rs):>5} {same:>5} {p:>9.3f} {rec:>7.3f} {fp:>4} {fn:>4}")
    return "\n".join(lines), figures


if __name__ == "__main__":
    results = outcomes()
    text, _ = table(results)
    print(text)
    group = sys.argv[1] if len(sys.argv) > 1 else None
    for r in results:
        if r.joined != (r.label == "same") and (group is None or r.group == group):
            wrong = "MERGED" if r.joined else "SPLIT "
            print(f"\n{wrong} [{r.kind}/{r.group}] {r.what}\n    {r.reason}")
