"""The matcher and the shipped rules on a labeled set of invented news (issue 12).

``tests/data/matching_labeled.yaml`` holds short items and full-article texts in English,
Ukrainian and Russian, written for this project, each with the regions its own text names and
the rules of the shipped ``rules.yaml`` it should match. Precision and recall are counted over
(item, label) pairs, for regions and for rules, and both must be at least 0.97. The figures are
printed (``pytest -s``) and named in any failure, with the items that were wrong.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from alerts import config as configmod

ROOT = Path(__file__).resolve().parent.parent
LABELED = ROOT / "tests" / "data" / "matching_labeled.yaml"
TARGET = 0.97
LANGS = ("en", "uk", "ru")


@functools.lru_cache(maxsize=1)
def labeled() -> dict:
    return yaml.safe_load(LABELED.read_text(encoding="utf-8"))


def items() -> list[dict]:
    return labeled()["items"]


def text_of(item: dict) -> str:
    """The item as the bot matches it: its title, a line break, its text as one line."""
    return item["title"] + "\n" + " ".join(p.strip() for p in item["text"])


@dataclasses.dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, got: set[str], want: set[str]) -> None:
        self.tp += len(got & want)
        self.fp += len(got - want)
        self.fn += len(want - got)

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f}, recall {self.recall:.3f} "
            f"({self.tp} right, {self.fp} wrong, {self.fn} missed)"
        )


@dataclasses.dataclass
class Report:
    regions: Score
    rules: Score
    wrong: list[str]


def evaluate(matcher, selection: Iterable[dict]) -> Report:
    regions, rules, wrong = Score(), Score(), []
    for item in selection:
        got = matcher.match(text_of(item))
        got_regions, want_regions = set(got.regions), set(item["regions"])
        got_rules, want_rules = set(got.rules), set(item["rules"])
        regions.add(got_regions, want_regions)
        rules.add(got_rules, want_rules)
        if (got_regions, got_rules) != (want_regions, want_rules):
            wrong.append(
                f"{item['id']}: regions {sorted(got_regions)} (want {sorted(want_regions)}), "
                f"rules {sorted(got_rules)} (want {sorted(want_rules)})"
            )
    return Report(regions, rules, wrong)


def shipped(near: int | str | None = "as written") -> configmod.Config:
    """The shipped rules.yaml; ``near`` set on every rule when given (for measuring it)."""
    config = configmod.load(ROOT / "rules.yaml")
    if near == "as written":
        return config
    rules = tuple(dataclasses.replace(r, near=near) for r in config.rules)
    return dataclasses.replace(config, rules=rules)  # its matcher is compiled from these rules


def test_the_shipped_rules_score_at_the_target_on_the_labeled_set() -> None:
    report = evaluate(shipped().matcher, items())
    summary = f"regions: {report.regions}\nrules:   {report.rules}"
    print(f"\nlabeled set, {len(items())} items\n{summary}")
    for line in report.wrong:
        print("  " + line)
    scores = [report.regions.precision, report.regions.recall]
    scores += [report.rules.precision, report.rules.recall]
    assert min(scores) >= TARGET, summary + "\n" + "\n".join(report.wrong)


def test_the_set_covers_every_cause_in_every_language() -> None:
    seen = {(item["cause"], item["id"].split("-")[0]) for item in items()}
    causes = {"builtin", "forms", "false-friend", "long", "rules", "negative"}
    assert {c for c, _ in seen} == causes
    for cause in causes:
        assert {lang for c, lang in seen if c == cause} == set(LANGS), cause
    lengths = sorted(len(text_of(i)) for i in items() if i["cause"] == "long")
    assert len(lengths) >= 10 and lengths[-1] > 7000, lengths
    every_rule = {r.id for r in shipped().rules}
    assert every_rule <= {r for i in items() for r in i["rules"]}  # each rule has positives


def test_the_labels_name_real_regions_and_rules() -> None:
    config = shipped()
    rule_ids = {r.id for r in config.rules}
    for item in items():
        assert set(item["regions"]) <= set(config.region_terms), item["id"]
        assert set(item["rules"]) <= rule_ids, item["id"]
        assert len(set(item["id"] for item in items())) == len(items())


def test_the_filler_paragraphs_name_nothing() -> None:
    # Long items are padded with these; they must not carry a match of their own.
    matcher = shipped(near=None).matcher
    for lang, paragraphs in labeled()["fillers"].items():
        for paragraph in paragraphs:
            got = matcher.match("Title\n" + paragraph)
            assert (got.regions, got.rules) == ((), ()), (lang, paragraph[:60])


def test_the_north_korea_rule_tells_a_deployment_from_a_football_match() -> None:
    # Narrowing `none: football` so that a deployment housed in a football stadium alerts
    # (en-096) had let a friendly match of North Korea's army players through as an urgent
    # alert, in the offline demo too; and a missile test over the sea is no deployment (en-097).
    # Held to exactly, in both shipped rule files, beside the set's overall score.
    want = {"en-096": True, "uk-096": True, "ru-096": True, "en-097": False}
    want |= {"ru-098": False, "uk-099": False}
    by_id = {item["id"]: item for item in items()}
    for path in (ROOT / "rules.yaml", ROOT / "examples" / "offline.yaml"):
        matcher = configmod.load(path).matcher
        got = {i: "nk-troops" in matcher.match(text_of(by_id[i])).rules for i in want}
        assert got == want, path.name
        # troops training on a soccer pitch are troops (a bare `soccer` had blocked them)
        pitch = (
            "North Korean troops train near Kursk\nSatellite images show North Korean soldiers "
            "drilling on a soccer pitch at a base in Russia's Kursk region."
        )
        assert "nk-troops" in matcher.match(pitch).rules, path.name


@pytest.mark.parametrize("item_id", ["en-120", "en-121", "en-122"])
def test_north_korea_troops_and_russia_must_be_one_development(item_id: str) -> None:
    """The shipped nk-troops rule, on its three terms in one text but in unrelated sentences
    (American troops in South Korea beside sanctions on Russian oil; a missile test with a
    line about Russia), and on a deployment housed at a football club's stadium (QA)."""
    item = next(i for i in items() if i["id"] == item_id)
    got = "nk-troops" in shipped().matcher.match(text_of(item)).rules
    assert got == ("nk-troops" in item["rules"])


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Влучання КАБу в багатоповерхівку в Харкові\nЄ поранені.", "kharkiv-front"),
        ("Сумщина: ворог знову вдарив КАБом по прикордонню\nПострадалих немає.", "sumy-front"),
        ("КАБами по Харькову\nЕсть пострадавшие.", "kharkiv-front"),
        # «авіабомба»: «бомб*» does not take it (QA)
        ("Авіабомба влучила в село на Сумщині\nЗагинула жінка.", "sumy-front"),
        ("Авиабомбы упали на Харьков\nЕсть пострадавшие.", "kharkiv-front"),
        # the noun of the usual flash (QA)
        ("Баллистика по Киеву!\nВзрывы в Шевченковском районе.", "kyiv-missiles"),
    ],
)
def test_the_attack_words_are_read_in_their_forms(text: str, rule: str) -> None:
    # «КАБу», «КАБом» and «вдарив» matched nothing: the rules listed «КАБ», «КАБи», «КАБів» and
    # «удар*» (QA). «КАБ*» would take «кабінет» and «кабель».
    assert rule in shipped().matcher.match(text).rules
