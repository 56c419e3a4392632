"""The expanded gazetteer's on-disk cache: used when valid, rebuilt when not, never in the way."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from alerts import gazetteer, gazetteer_cache

from .conftest import ROOT

SMALL = """\
regions:
  Kharkiv:
    en: [Kharkiv]
    uk: [Харків]
    towns:
      - {en: [Kupiansk], uk: [Куп'янськ]}
  Kyiv:
    en: [Kyiv]
    uk_adj: [Київська]
false_friends:
  - {reason: a district, hides: Kyiv, counts_for: Kharkiv, uk: [Київський район]}
"""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "g.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


class Builds:
    """Our own build function, counting how often the cache had to call it."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, path: Path) -> gazetteer.Gazetteer:
        self.count += 1
        return gazetteer.load_gazetteer(path)


def cache_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("gazetteer-*.json"))


def test_built_once_then_read_back_identical(source: Path, tmp_path: Path) -> None:
    build, cache = Builds(), tmp_path / "cache"
    first = gazetteer_cache.load(source, build, [cache])
    (file,) = cache_files(cache)
    second = gazetteer_cache.load(source, build, [cache])
    assert build.count == 1
    assert second == first == gazetteer.load_gazetteer(source)
    assert second.regions["Kharkiv"] == first.regions["Kharkiv"]
    assert stat.S_IMODE(file.stat().st_mode) == 0o644  # readable by the user the bot runs as
    assert not list(cache.glob(".*.tmp"))  # the temporary file was renamed, not left behind


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: "",  # empty
        lambda text: "\x00\xff garbage",
        lambda text: text.replace('"places":[[', '"places":[[7,'),  # a field of the wrong type
        lambda text: text.replace("true", '"yes"', 1).replace("false", '"no"', 1),
        lambda text: json.dumps(_inside(json.loads(text), format=0)),
        lambda text: json.dumps(_inside(json.loads(text), places=[])),
    ],
)
def test_a_damaged_cache_is_ignored_and_rebuilt(source: Path, tmp_path: Path, damage) -> None:
    build, cache = Builds(), tmp_path / "cache"
    expected = gazetteer_cache.load(source, build, [cache])
    (file,) = cache_files(cache)
    file.write_text(damage(file.read_text(encoding="utf-8")), encoding="utf-8")
    assert gazetteer_cache.load(source, build, [cache]) == expected
    assert build.count == 2
    assert gazetteer_cache.load(source, build, [cache]) == expected  # and the rebuilt one holds
    assert build.count == 2


def test_a_changed_gazetteer_gets_a_new_cache_and_the_old_goes(source: Path, tmp_path: Path):
    build, cache = Builds(), tmp_path / "cache"
    gazetteer_cache.load(source, build, [cache])
    (old,) = cache_files(cache)
    source.write_text(SMALL.replace("[Kupiansk]", "[Kupiansk, Kupyansk]"), encoding="utf-8")
    changed = gazetteer_cache.load(source, build, [cache])
    assert build.count == 2
    assert "Kupyansk" in {a.term for a in changed.regions["Kharkiv"]}
    (new,) = cache_files(cache)
    assert new != old


def test_the_key_covers_the_file_the_code_and_the_dictionaries(source, monkeypatch) -> None:
    before = gazetteer_cache.key(source)
    assert gazetteer_cache.key(source) == before  # stable
    monkeypatch.setattr(gazetteer_cache, "_PACKAGES", ("pymorphy3", "pymorphy3-dicts-uk"))
    assert gazetteer_cache.key(source) != before
    monkeypatch.undo()
    monkeypatch.setattr(gazetteer_cache, "FORMAT", gazetteer_cache.FORMAT + 1)
    assert gazetteer_cache.key(source) != before


def test_a_key_in_the_file_must_match_its_name(source: Path, tmp_path: Path) -> None:
    build, cache = Builds(), tmp_path / "cache"
    gazetteer_cache.load(source, build, [cache])
    (file,) = cache_files(cache)
    data = json.loads(file.read_text(encoding="utf-8"))
    file.write_text(json.dumps({**data, "key": "0" * 64}), encoding="utf-8")
    gazetteer_cache.load(source, build, [cache])
    assert build.count == 2


def test_an_unwritable_place_means_no_cache_not_an_error(source: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    build = Builds()
    first = gazetteer_cache.load(source, build, [blocker / "cache"])
    assert first == gazetteer.load_gazetteer(source)
    gazetteer_cache.load(source, build, [blocker / "cache"])
    assert build.count == 2  # built each time, as before there was a cache
    # The next place in the list is used when the first cannot be written.
    second = tmp_path / "second"
    gazetteer_cache.load(source, build, [blocker / "cache", second])
    assert len(cache_files(second)) == 1


def test_a_started_bot_reads_the_cache_without_pymorphy3() -> None:
    code = (
        "import sys; from alerts import gazetteer; "
        "regions = gazetteer.builtin_regions(); "
        "print(len(regions), 'pymorphy3' in sys.modules)"
    )
    runs = _run_twice(code)
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    assert runs[1].stdout.split() == [str(len(gazetteer.builtin_regions())), "False"]


def _run_twice(code: str) -> list[subprocess.CompletedProcess]:
    """``python -c code`` run twice from the project: the second reads the caches the first
    may have written."""
    return [
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        for _ in range(2)
    ]


def _inside(body: dict, **changes: object) -> dict:
    """The cache file with fields of its data changed."""
    return {**body, "data": {**body["data"], **changes}}


def test_the_key_reads_installed_versions_as_importlib_metadata_does() -> None:
    # Read from the .dist-info folders' names: importlib.metadata, and hashlib's OpenSSL, cost
    # a worker process 6 MB it never needs. The digest is the same, so caches written before
    # stay valid.
    import hashlib
    from importlib import metadata

    from alerts import diskcache

    for package in (*gazetteer_cache._PACKAGES, "httpx", "python-telegram-bot", "no-such-pkg"):
        try:
            want = metadata.version(package)
        except metadata.PackageNotFoundError:
            want = "none"
        assert diskcache.installed_version(package) == want, package
    digest = hashlib.sha256(b"text\0")
    digest.update(b"\npymorphy3 " + metadata.version("pymorphy3").encode())
    assert diskcache.key(["text"], ["pymorphy3"]) == digest.hexdigest()


def test_the_signature_worker_loads_neither_openssl_nor_importlib_metadata() -> None:
    code = (
        "import sys, alerts.signer; from alerts.lexicon import builtin_lexicon; "
        "builtin_lexicon(); heavy = ('hashlib', '_hashlib', 'importlib.metadata', 'tempfile'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    runs = _run_twice(code)
    assert runs[1].returncode == 0, runs[1].stderr
    assert runs[1].stdout.strip() == "[]"
