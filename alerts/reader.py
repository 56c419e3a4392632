"""Feed bodies parsed and matched on the second core.

A poll cycle over many feeds (``once``, a first start, a backlog) spends most of its time in
Python reading bodies: parsing, normalising and matching every item against every rule, all
under one interpreter lock while the second core idles. A worker process takes part of that
work: the poll hands it a fetched body and gets back the parsed items with what the rules
found in each, while this process goes on fetching and storing. The worker reads the same rules
text with the same code, so its answers are the ones this process would give
(``tests/test_reader.py`` holds it to that over feedparser's own test feeds).

How it stays safe:

- **Never waits on the worker.** At most :data:`DEPTH` bodies are with it at once; a poll that
  finds it full reads its body here, as without a worker. So the two processes share the work
  by how fast each goes, and a slow worker only means less shared.
- **Fails to here.** A worker that cannot start, dies, or answers garbage is dropped, and every
  body it held is read here. A body the worker could not read for a reason other than "not a
  feed" is also read here again, so that errors and their tracebacks are exactly this
  process's own.
- **Leaves nothing behind.** The worker reads its requests from its stdin and exits when that
  closes, so a bot killed with ``kill -9`` leaves no worker running.
- **Logs are kept.** What parsing logs in the worker (entries skipped, with the reason) comes
  back with the answer and is logged here, under the same logger.

The worker is started in a cycle of at least :data:`MIN_FEEDS` feeds, when the first changed
body arrives (a cycle of 304s starts none), and stopped after the cycle; a bot polling a feed
at a time reads it here (starting a worker costs more than one feed does).
``ALERTS_READER_WORKER=0`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import struct
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from . import feeds, switched_off
from .feeds import Fetched, Parsed

log = logging.getLogger(__name__)

MIN_FEEDS = 20
"""Feeds in a cycle from which the worker pays: it takes about half a second of the other
core to start, about what parsing and matching ten busy feeds cost."""
DEPTH = 3
"""Bodies with the worker at once: one it reads, the next ones waiting, so it never idles
between two; more would only hold bodies in memory while this process could read them."""
_HEADER = struct.Struct("!I")


@dataclass(frozen=True)
class Found:
    """What the rules found in one item: the worker's share of :meth:`Matcher.match` and
    :meth:`Config.topic_terms`."""

    rules: tuple[str, ...]
    regions: tuple[str, ...]
    terms: frozenset[str]


def enabled() -> bool:
    return not switched_off("ALERTS_READER_WORKER")


class Reader:
    """A worker process that parses and matches fetched bodies for one rules text.

    ``read()`` returns None when the worker is busy or gone: the caller reads the body itself.
    """

    def __init__(self, source: str, path: str | Path, *, depth: int = DEPTH) -> None:
        self.source = source
        self.path = str(path)
        self.depth = depth
        self.read_by_worker = 0  # bodies the worker answered, over the reader's life
        self.started = False  # a worker process was started
        self._proc: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._seq = 0
        self._dead = False
        self._starting: asyncio.Future | None = None

    async def start(self) -> None:
        """Start the worker (``read()`` does it with the first body: a cycle in which every
        feed answers 304 never starts one)."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await self._starting

    async def _start(self) -> None:
        if self._proc is not None or self._dead:
            return
        from .signer import worker_env  # here: the worker itself needs none of the signer

        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "alerts.reader",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=worker_env(),
            )
            self.started = True
            self._send({"source": self.source, "path": self.path})
        except (OSError, ValueError) as exc:
            log.warning("feed reader worker could not start (%s); reading feeds here", exc)
            self._dead = True
            return
        self._pump = asyncio.create_task(self._answers())

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def read(
        self, feed_name: str, fetched: Fetched, now: datetime
    ) -> tuple[Parsed, list[Found]] | None:
        """The parsed body and what the rules found in each item; raises
        :class:`feeds.FetchError` as :func:`feeds.parse` does. None: read it here."""
        if self._proc is None and not self._dead:
            await self.start()
        proc = self._proc
        if self._dead or proc is None or len(self._pending) >= self.depth:
            return None
        self._seq += 1
        seq = self._seq
        future = asyncio.get_running_loop().create_future()
        self._pending[seq] = future
        try:
            self._send((seq, feed_name, fetched, now))
            await proc.stdin.drain()
            answer = await future
        except (OSError, ValueError, ConnectionError):
            self._fail()
            return None
        finally:
            self._pending.pop(seq, None)
        if answer is None:
            return None
        kind, value, found, records = answer
        for name, level, message in records:
            logging.getLogger(name).log(level, message)
        if kind == "fetch":
            raise feeds.FetchError(value)
        if kind != "ok":
            return None  # read again here: the error, and its traceback, are this process's
        self.read_by_worker += 1
        return value, [Found(*f) for f in found]

    def _send(self, message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(_HEADER.pack(len(data)) + data)

    async def _answers(self) -> None:
        """Hand each answer to the read() waiting for it, until the worker stops."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            while True:
                header = await proc.stdout.readexactly(_HEADER.size)
                body = await proc.stdout.readexactly(_HEADER.unpack(header)[0])
                seq, *answer = pickle.loads(body)
                future = self._pending.get(seq)
                if future is not None and not future.done():
                    future.set_result(tuple(answer))
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError, ValueError):
            pass
        except Exception as exc:  # garbage from the worker must not stop the polls
            log.warning("feed reader worker answered garbage (%s); reading feeds here", exc)
        self._fail()

    def _fail(self) -> None:
        """The worker is gone: every body it held is read here."""
        if not self._dead and self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        self._dead = True
        for future in self._pending.values():
            if not future.done():
                future.set_result(None)

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._dead = True
        with contextlib.suppress(OSError, ValueError):
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout=5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._pump is not None:
            await self._pump


def _recv(stream: BinaryIO) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    return pickle.loads(stream.read(_HEADER.unpack(header)[0]))


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def _serve() -> None:
    """The worker: for each (seq, feed name, fetched body, now) on stdin, the parsed items and
    what the rules found in each, on stdout."""
    from . import config as configmod

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    setup = _recv(stdin)
    if setup is None:
        return
    config = configmod.parse(setup["source"], setup["path"])
    matcher = config.matcher
    records = _Records()
    logging.getLogger().addHandler(records)
    logging.getLogger().setLevel(logging.INFO)
    while (request := _recv(stdin)) is not None:
        seq, name, fetched, now = request
        records.records = []
        try:
            parsed = feeds.parse(name, fetched, now)
            found = []
            for item in parsed.items:
                m = matcher.match(item.text)
                terms = config.topic_terms(m) if m.rules else frozenset()
                found.append((m.rules, m.regions, terms))  # tuples: __main__.Found is not ours
            answer: tuple = (seq, "ok", parsed, found, records.records)
        except feeds.FetchError as exc:
            answer = (seq, "fetch", str(exc), None, records.records)
        except Exception as exc:  # read again by the bot, which logs it as its own
            answer = (seq, "error", f"{type(exc).__name__}: {exc}", None, [])
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(_HEADER.pack(len(data)) + data)
        stdout.flush()


if __name__ == "__main__":
    _serve()
