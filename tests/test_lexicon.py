"""The concept lexicon (alerts/concepts.yaml, alerts/lexicon.py) and its disk cache."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from alerts import lexicon
from alerts.gazetteer import builtin_false_friends, builtin_places


@pytest.fixture(scope="module")
def built() -> lexicon.Lexicon:
    return lexicon.build(lexicon.DATA, builtin_places(), builtin_false_friends())


def same(a: lexicon.Lexicon, b: lexicon.Lexicon) -> bool:
    """The same tables, whatever order the rows were read back in (a cache's file sorts them)."""

    def whole(lex: lexicon.Lexicon) -> tuple:
        data = lexicon.dump(lex)
        data["phrases"] = sorted(map(repr, data["phrases"]))
        data["stems"] = sorted(map(repr, data["stems"]))
        return data, dict(lex.firsts.items()), lex.longest, lex.marker_firsts

    return whole(a) == whole(b)


def test_the_cache_gives_back_what_was_built(tmp_path: Path, built) -> None:
    first = lexicon._cached([tmp_path])
    (file,) = tmp_path.glob("lexicon-*")
    second = lexicon._cached([tmp_path])
    assert same(first, built) and same(second, built)
    assert file.stat().st_mode & 0o777 == 0o644
    # Looked up a key at a time, as reading a report does, it answers as the built one.
    for words, entries in list(built.phrases.items())[::97]:
        assert second.phrases.get(words) == entries and second.firsts.get(words[0])
    assert second.phrases.get(("no", "such", "phrase")) is None
    assert second.stems.get(("uk", "шахед")) == built.stems.get(("uk", "шахед"))


def _zero_page(body: bytes, page: int) -> bytes:
    return body[: page * 4096] + b"\0" * 4096 + body[(page + 1) * 4096 :]


def _sql(statement: str):
    def damage(file: Path) -> None:
        with closing(sqlite3.connect(file)) as db, db:
            db.execute(statement)

    return damage


@pytest.mark.parametrize(
    "damage",
    [
        lambda file: file.write_bytes(file.read_bytes()[: file.stat().st_size // 2]),  # truncated
        lambda file: file.write_bytes(_zero_page(file.read_bytes(), 500)),  # a page lost
        lambda file: file.write_text("not a database"),
        _sql("UPDATE meta SET v = '1' WHERE k = 'format'"),
        _sql("UPDATE meta SET v = '" + "0" * 64 + "' WHERE k = 'key'"),
        _sql("DELETE FROM phrases WHERE k IN (SELECT k FROM phrases LIMIT 5)"),
        _sql("UPDATE meta SET v = '{\"numbers\": {\"two\": 2}}' WHERE k = 'small'"),
    ],
)
def test_a_damaged_cache_is_built_again(tmp_path: Path, built, damage) -> None:
    lexicon._cached([tmp_path])
    (file,) = tmp_path.glob("lexicon-*")
    damage(file)
    assert same(lexicon._cached([tmp_path]), built)
    (again,) = tmp_path.glob("lexicon-*")  # written anew
    assert same(lexicon.open_tables(again, lexicon.cache_key()), built)


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


def test_markers_stay_few() -> None:
    """Every form of a marker phrase is a marker, so a phrase of three inflected words made
    11,000 of them (8 MB in every process that reads signatures, the signature worker's peak
    26 -> 34 MB). The data's markers are single words and short phrases: a few thousand."""
    from alerts.lexicon import builtin_lexicon

    assert len(builtin_lexicon().markers) < 10_000
