"""The labeled story data (tests/data/story_pairs.yaml, story_sets.yaml) is well formed.

Only the files' shape is checked here, never the grouping: a missing field, a key left out of
a set's stories or a report out of order would otherwise show up as a precision or recall
figure that measures nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).parent / "data"
PAIRS = yaml.safe_load((DATA / "story_pairs.yaml").read_text("utf-8"))["pairs"]
SETS = yaml.safe_load((DATA / "story_sets.yaml").read_text("utf-8"))["sets"]

PAIR_KINDS = {
    "cross-language",
    "paraphrase",
    "template",
    "same-outlet",
    "update",
    "long-text",
    "hard-negative",
}
# A chain or a mix of five outlets needs more than two reports: sets only.
SET_KINDS = PAIR_KINDS | {"chain", "five-outlets"}
GROUPS = {"tuning", "holdout"}
KINDED = [pair for pair in PAIRS if "kind" in pair]
REPORT_FIELDS = {"feed", "published", "title", "summary"}


def when(text: object) -> datetime:
    """An ISO time in UTC written with Z, as feeds give it; anything else is a data error."""
    assert isinstance(text, str) and text.endswith("Z"), f"not an ISO UTC time: {text!r}"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def check_report(report: dict, where: str) -> None:
    missing = REPORT_FIELDS - report.keys()
    assert not missing, f"{where}: missing {sorted(missing)}"
    for field in ("feed", "title", "summary"):
        assert isinstance(report[field], str) and report[field].strip(), f"{where}: {field}"
    when(report["published"])
    # The harness computes these with the real matcher; written ones would hide its errors.
    assert "regions" not in report and "terms" not in report, f"{where}: regions/terms"


def test_pair_ids_are_unique() -> None:
    ids = Counter(pair["id"] for pair in PAIRS)
    assert [i for i, n in ids.items() if n > 1] == []


@pytest.mark.parametrize("pair", KINDED, ids=lambda pair: pair["id"])
def test_pair_is_well_formed(pair: dict) -> None:
    assert pair["kind"] in PAIR_KINDS
    assert pair["label"] in ("same", "different")
    assert pair["group"] in GROUPS
    check_report(pair["a"], f"{pair['id']}.a")
    check_report(pair["b"], f"{pair['id']}.b")
    if pair["a"]["feed"] == pair["b"]["feed"]:
        assert pair["kind"] in ("same-outlet", "template", "update"), pair["id"]
    if pair["kind"] == "same-outlet":
        assert pair["a"]["feed"] == pair["b"]["feed"]
    if pair["kind"] == "hard-negative":
        assert pair["label"] == "different"
    if pair["kind"] == "long-text":
        longest = max(len(pair["a"]["summary"]), len(pair["b"]["summary"]))
        assert 2_000 <= longest <= 10_000, f"{pair['id']}: longest summary {longest}"


def test_every_pair_kind_is_measurable_in_both_groups() -> None:
    """At least 15 pairs of each kind, and each kind in both the tuning and the holdout part.

    Prints the counts per kind, group and label (pytest -s) so a reader sees what the
    precision and recall figures rest on.
    """
    pairs = Counter((pair["kind"], pair["group"], pair["label"]) for pair in KINDED)
    print(f"\nstory_pairs.yaml: {len(PAIRS)} pairs, {len(KINDED)} with a kind")
    print(f"  {'kind':15} {'tuning same/diff':>17} {'holdout same/diff':>18}")
    for kind in sorted(PAIR_KINDS):
        tuning = f"{pairs[kind, 'tuning', 'same']}/{pairs[kind, 'tuning', 'different']}"
        holdout = f"{pairs[kind, 'holdout', 'same']}/{pairs[kind, 'holdout', 'different']}"
        print(f"  {kind:15} {tuning:>17} {holdout:>18}")
    counts = Counter((pair["kind"], pair["group"]) for pair in KINDED)
    for kind in PAIR_KINDS:
        assert counts[kind, "tuning"] + counts[kind, "holdout"] >= 15, kind
        assert counts[kind, "tuning"] and counts[kind, "holdout"], kind
    labels = Counter((pair["kind"], pair["label"]) for pair in KINDED)
    for kind in PAIR_KINDS - {"hard-negative"}:
        assert labels[kind, "same"] and labels[kind, "different"], kind


def test_set_ids_are_unique() -> None:
    ids = Counter(one["id"] for one in SETS)
    assert [i for i, n in ids.items() if n > 1] == []


@pytest.mark.parametrize("one", SETS, ids=lambda one: one["id"])
def test_set_is_well_formed(one: dict) -> None:
    assert one["kind"] in SET_KINDS
    assert one["group"] in GROUPS
    reports = one["reports"]
    assert len(reports) >= 2
    keys = [report["key"] for report in reports]
    assert len(keys) == len(set(keys)), f"{one['id']}: duplicate keys"
    for report in reports:
        check_report(
            {k: v for k, v in report.items() if k != "key"}, f"{one['id']}.{report['key']}"
        )
    times = [when(report["published"]) for report in reports]
    assert times == sorted(times), f"{one['id']}: reports not in publication order"
    grouped = [key for story in one["stories"] for key in story]
    assert sorted(grouped) == sorted(keys), f"{one['id']}: stories must hold every key once"
    assert all(story for story in one["stories"]), f"{one['id']}: empty story"
    if one["kind"] == "five-outlets":
        # One development from 4-6 outlets in at least two scripts, among 2-4 distractors.
        by_key = {report["key"]: report for report in reports}
        largest = [by_key[key] for key in max(one["stories"], key=len)]
        assert 4 <= len(largest) <= 6, one["id"]
        assert len({report["feed"] for report in largest}) == len(largest), one["id"]
        assert len({cyrillic(report["title"]) for report in largest}) == 2, one["id"]
        assert 2 <= len(reports) - len(largest) <= 4, one["id"]
    if one["kind"] == "cross-language":
        by_key = {report["key"]: report for report in reports}
        largest = [by_key[key] for key in max(one["stories"], key=len)]
        assert len(largest) >= 3, one["id"]
        assert len({cyrillic(report["title"]) for report in largest}) == 2, one["id"]
    if one["kind"] == "long-text":
        longest = max(len(report["summary"]) for report in reports)
        assert 2_000 <= longest <= 10_000, f"{one['id']}: longest summary {longest}"
    if one["kind"] == "chain":
        assert len(one["stories"]) >= 2, one["id"]


def test_set_kinds_are_measurable() -> None:
    """At least 30 sets; chains, five-outlet mixes and triples six each, in both groups."""
    sets = Counter((one["kind"], one["group"]) for one in SETS)
    reports = sum(len(one["reports"]) for one in SETS)
    print(f"\nstory_sets.yaml: {len(SETS)} sets, {reports} reports")
    for kind in sorted(SET_KINDS):
        print(f"  {kind:15} tuning {sets[kind, 'tuning']:2}  holdout {sets[kind, 'holdout']:2}")
    counts = Counter(one["kind"] for one in SETS)
    assert len(SETS) >= 30
    for kind in ("chain", "five-outlets", "cross-language"):
        assert counts[kind] >= 6, kind
        assert {one["group"] for one in SETS if one["kind"] == kind} == GROUPS, kind
