"""Data built once and kept on disk between runs: as JSON (the gazetteer, a rules file's YAML
tree), or as a file the caller writes and reads itself (the lexicon's SQLite tables).

What these caches hold depends only on some files, some code and some installed packages, so
it is written once and read back on later starts instead of being built again (which takes
pymorphy3 and seconds).

Why it is safe:

- **Keyed by everything it depends on**: the caller's key names the file and is stored in it;
  a file with another key is never read, and is removed when a new one is written.
- **Data, not code**: JSON, checked field by field by the caller's ``restore``, or SQLite
  tables the caller checks as it reads them. A corrupt, truncated or tampered file is ignored
  and rebuilt; it cannot run anything (a pickle could).
- **Written atomically**: to a temporary file in the same directory, flushed to disk, then
  renamed over the old one, so a reader sees a whole file or none; two processes building at
  once both write whole files.
- **Where it can be written**: next to the code (``alerts/__pycache__/``, as Python keeps its
  bytecode; a container image builds it there at build time, when the directory is still
  writable), else the user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``, then
  ``conflict-alerts/``). Where neither can be written, the data is built in memory on each
  start; nothing fails.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger("alerts")

T = TypeVar("T")


def default_dirs() -> list[Path]:
    """Where caches are looked for, and written to, in this order."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [Path(__file__).with_name("__pycache__"), Path(base) / "conflict-alerts"]


def key(parts: Iterable[bytes | str], packages: Iterable[str] = ()) -> str:
    """A digest of what the data depends on: file contents, code, installed versions."""
    digest = _sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    for package in packages:
        digest.update(f"\n{package} {installed_version(package)}".encode())
    return digest.hexdigest()


def _sha256():
    """SHA-256 from CPython's own module where there is one: hashlib loads OpenSSL first,
    3.6 MB in a worker process that needs no TLS (the same digest either way)."""
    try:
        from _sha2 import sha256  # Python 3.12 and later
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11
        except ImportError:
            from hashlib import sha256
    return sha256()


def installed_version(package: str) -> str:
    """The installed version of ``package``, or "none", as ``importlib.metadata.version`` says
    it, read from the name of its ``.dist-info`` folder: importlib.metadata imports the email
    and zip packages, 6.5 MB in every process that opens a cache (the bot and each of its
    workers). Only a package installed otherwise (an egg) is asked of importlib.metadata."""
    wanted = _normal(package)
    for entry in _dist_infos():
        name, _, version = entry[: -len(".dist-info")].partition("-")
        if _normal(name) == wanted and version:
            return version
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@functools.lru_cache(maxsize=1)
def _dist_infos() -> tuple[str, ...]:
    """The ``.dist-info`` folders on ``sys.path``, in its order (the first found wins, as for
    importlib.metadata)."""
    found: list[str] = []
    for folder in sys.path:
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        found += [n for n in names if n.endswith(".dist-info")]
    return tuple(found)


def load(
    prefix: str,
    wanted: str,
    build: Callable[[], T],
    dump: Callable[[T], Any],
    restore: Callable[[Any], T],
    dirs: Sequence[Path] | None = None,
) -> T:
    """The data of key ``wanted``: from a valid cache file when one exists, else built with
    ``build`` and cached in the first of ``dirs`` that can be written."""
    dirs = default_dirs() if dirs is None else list(dirs)
    name = f"{prefix}{wanted[:32]}.json"
    for directory in dirs:
        found = _read(directory / name, wanted, restore)
        if found is not None:
            return found
    data = build()
    body = {"key": wanted, "data": dump(data)}
    for directory in dirs:
        if _write(directory, prefix, name, body):
            break
    return data


def _read(file: Path, wanted: str, restore: Callable[[Any], T]) -> T | None:
    try:
        data = json.loads(file.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.debug("cache %s unreadable, rebuilding: %s", file, exc)
        return None
    try:
        if data.get("key") != wanted:
            raise ValueError("another key")
        return restore(data["data"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        log.debug("cache %s ignored: %s", file, exc)
        return None


def _write(directory: Path, prefix: str, name: str, body: Any) -> bool:
    """Write a JSON cache file atomically; False when the directory cannot take it."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return _write_file(directory, prefix, name, lambda path: path.write_bytes(text))


def file(
    prefix: str,
    wanted: str,
    suffix: str,
    write: Callable[[Path], None],
    dirs: Sequence[Path] | None = None,
) -> Path | None:
    """The cache file of key ``wanted`` (its name carries the key; the caller checks the whole
    key inside it as it reads), written by ``write(path)`` where none exists yet, into the
    first of ``dirs`` that can take it. None where none can: the caller builds in memory."""
    dirs = default_dirs() if dirs is None else list(dirs)
    name = f"{prefix}{wanted[:32]}{suffix}"
    for directory in dirs:
        if (directory / name).is_file():
            return directory / name
    for directory in dirs:
        if _write_file(directory, prefix, name, write):
            return directory / name
    return None


def _write_file(directory: Path, prefix: str, name: str, write: Callable[[Path], None]) -> bool:
    """Have ``write`` fill a temporary file, then put it in place atomically, and remove the
    caches of other keys; False when the directory cannot take it."""
    temp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        import tempfile  # here: a worker that only reads caches never writes one

        fd, temp = tempfile.mkstemp(prefix=f".{prefix}", suffix=".tmp", dir=directory)
        os.close(fd)
        write(Path(temp))
        with open(temp, "rb") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp's 0600 would hide it from other users
            os.fsync(out.fileno())
        os.replace(temp, directory / name)
        temp = None
    except OSError as exc:
        log.debug("cache not written to %s: %s", directory, exc)
        return False
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
    for old in directory.glob(f"{prefix}*"):  # caches of other keys (or formats): stale
        if old.name != name and not old.name.startswith("."):
            old.unlink(missing_ok=True)
    return True


def discard(path: Path) -> None:
    """Remove a cache file found damaged, so that it is written again."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("cache %s not removed: %s", path, exc)
