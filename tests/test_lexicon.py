"""The concept lexicon (alerts/concepts.yaml, alerts/lexicon.py) and its disk cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts import lexicon
from alerts.gazetteer import builtin_false_friends, builtin_places


@pytest.fixture(scope="module")
def built() -> lexicon.Lexicon:
    return lexicon.build(lexicon.DATA, builtin_places(), builtin_false_friends())


def same(a: lexicon.Lexicon, b: lexicon.Lexicon) -> bool:
    return lexicon.dump(a) == lexicon.dump(b) and (a.firsts, a.longest) == (b.firsts, b.longest)


def test_the_cache_gives_back_what_was_built(tmp_path: Path, built) -> None:
    first = lexicon._cached([tmp_path])
    (file,) = tmp_path.glob("lexicon-*.json")
    second = lexicon._cached([tmp_path])
    assert same(first, built) and same(second, built)
    assert file.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    "damage",
    [
        lambda body: body[: len(body) // 2],  # truncated
        lambda body: json.dumps(
            {**json.loads(body), "data": {**json.loads(body)["data"], "format": 0}}
        ),
        lambda body: json.dumps(
            {**json.loads(body), "data": {**json.loads(body)["data"], "numbers": {"two": 2}}}
        ),
        lambda body: json.dumps({**json.loads(body), "key": "0" * 64}),
    ],
)
def test_a_damaged_cache_is_built_again(tmp_path: Path, built, damage) -> None:
    lexicon._cached([tmp_path])
    (file,) = tmp_path.glob("lexicon-*.json")
    file.write_text(damage(file.read_text(encoding="utf-8")), encoding="utf-8")
    assert same(lexicon._cached([tmp_path]), built)
    assert same(lexicon.restore(json.loads(file.read_text(encoding="utf-8"))["data"]), built)


def test_an_unwritable_place_means_no_cache(tmp_path: Path, built) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert same(lexicon._cached([blocked / "cache"]), built)


def test_every_word_form_and_language_finds_its_concept(built) -> None:
    def keys(word: str) -> set[str]:
        return {e.key for e in built.phrases.get((lexicon.key_of(lexicon.fold(word)),), [])}

    assert "c:drone" in keys("безпілотниками") and "c:drone" in keys("беспилотников")
    assert "c:drone" in keys("drones") and "c:drone" in keys("БпЛА")
    assert "pl:Kharkiv" in keys("Харкові") and "rg:Kharkiv" in keys("Харківщини")
    assert "pl:Kursk" in keys("Курске") and "rg:Kursk" in keys("Курской")
    assert built.numbers[lexicon.fold("п'ятеро")] == "5"
