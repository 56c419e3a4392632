"""The expanded gazetteer, kept on disk between runs.

Expanding ``gazetteer.yaml`` with pymorphy3 costs about two seconds and 25 MB (its two
dictionaries) on every start. The result depends only on that file, on the code that expands
it and on the dictionaries, so it is written once, as JSON, and read back on later starts in a
few tens of milliseconds, without importing pymorphy3 at all.

Why it is safe:

- **Keyed by everything it depends on**: a hash of the gazetteer file, of ``gazetteer.py`` (the
  expansion), of this module's format, and the installed versions of pymorphy3 and of both
  dictionaries. The key names the file and is stored in it; a file with another key is never
  read, and is removed when a new one is written. Editing the YAML, upgrading a dictionary or
  changing the code means one rebuild, on the next start.
- **Data, not code**: JSON, checked field by field when read. A corrupt, truncated or tampered
  file is ignored and rebuilt; it cannot run anything (a pickle could).
- **Written atomically**: to a temporary file in the same directory, flushed to disk, then
  renamed over the old one, so a reader sees a whole file or none; two processes building at
  once both write whole files.
- **Where it can be written**: next to the code (``alerts/__pycache__/``, as Python keeps its
  bytecode; a container image builds it there at build time, when the directory is still
  writable), else the user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``, then
  ``conflict-alerts/``). Where neither can be written, the gazetteer is built in memory on each
  start, as before; nothing fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .gazetteer import Alias, FalseFriend, Gazetteer, Place, regions_of

log = logging.getLogger("alerts")

FORMAT = 1
"""Bumped when the JSON layout changes."""
_PACKAGES = ("pymorphy3", "pymorphy3-dicts-uk", "pymorphy3-dicts-ru")
_PREFIX = "gazetteer-"


def default_dirs() -> list[Path]:
    """Where the cache is looked for, and written to, in this order."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [Path(__file__).with_name("__pycache__"), Path(base) / "conflict-alerts"]


def key(path: Path) -> str:
    """The cache key of a gazetteer file: what its expansion depends on."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    digest.update(path.read_bytes())
    digest.update(Path(__file__).with_name("gazetteer.py").read_bytes())
    for package in _PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "none"
        digest.update(f"\n{package} {version}".encode())
    return digest.hexdigest()


def load(
    path: Path, build: Callable[[Path], Gazetteer], dirs: Sequence[Path] | None = None
) -> Gazetteer:
    """The expanded gazetteer of ``path``: from the cache when a valid one exists, else built
    with ``build`` and cached in the first of ``dirs`` that can be written."""
    dirs = default_dirs() if dirs is None else list(dirs)
    wanted = key(path)
    name = f"{_PREFIX}{wanted[:32]}.json"
    for directory in dirs:
        found = _read(directory / name, wanted)
        if found is not None:
            return found
    gazetteer = build(path)
    for directory in dirs:
        if _write(directory, name, wanted, gazetteer):
            break
    return gazetteer


def _read(file: Path, wanted: str) -> Gazetteer | None:
    try:
        data = json.loads(file.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.debug("gazetteer cache %s unreadable, rebuilding: %s", file, exc)
        return None
    try:
        if data.get("format") != FORMAT or data.get("key") != wanted:
            raise ValueError("another key")
        return _restore(data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        log.debug("gazetteer cache %s ignored: %s", file, exc)
        return None


def _write(directory: Path, name: str, wanted: str, gazetteer: Gazetteer) -> bool:
    """Write the cache atomically; False when the directory cannot take it."""
    body = json.dumps(_dump(gazetteer, wanted), ensure_ascii=False, separators=(",", ":"))
    temp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{_PREFIX}", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp's 0600 would hide it from other users
            out.write(body.encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, directory / name)
        temp = None
    except OSError as exc:
        log.debug("gazetteer cache not written to %s: %s", directory, exc)
        return False
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
    for old in directory.glob(f"{_PREFIX}*.json"):  # caches of other keys: stale
        if old.name != name:
            old.unlink(missing_ok=True)
    return True


def _dump(gazetteer: Gazetteer, wanted: str) -> dict[str, Any]:
    def aliases(items: tuple[Alias, ...]) -> list[list[Any]]:
        return [[a.term, a.case_sensitive] for a in items]

    return {
        "format": FORMAT,
        "key": wanted,
        "places": [[p.id, p.region, aliases(p.aliases)] for p in gazetteer.places],
        "false_friends": [
            [f.reason, f.hides, f.counts_for, list(f.terms)] for f in gazetteer.false_friends
        ],
    }


def _restore(data: dict[str, Any]) -> Gazetteer:
    """The gazetteer from its JSON, every field checked; ValueError when anything is off."""

    def text(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"expected text, not {value!r}")
        return value

    def alias(value: Any) -> Alias:
        term, sensitive = value
        if not isinstance(sensitive, bool):
            raise ValueError(f"expected true or false, not {sensitive!r}")
        return Alias(text(term), sensitive)

    places = tuple(
        Place(text(pid), text(region), tuple(alias(a) for a in items))
        for pid, region, items in data["places"]
    )
    friends = tuple(
        FalseFriend(
            text(reason),
            text(hides),
            None if counts_for is None else text(counts_for),
            tuple(text(t) for t in terms),
        )
        for reason, hides, counts_for, terms in data["false_friends"]
    )
    if not places:
        raise ValueError("no places")
    return Gazetteer(regions_of(places), places, friends)
