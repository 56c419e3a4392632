"""Story signatures read on the second core.

Filing a report into its story needs its signature (:func:`alerts.stories.signature`), which
costs about as much as the filing itself. Signatures depend on nothing but the report's text
and the built-in lexicon, so a large batch (the first poll, a backlog after downtime) is read by
a worker process while this one files the reports already read: on two cores the signatures
cost no time at all. A small batch, the usual case of a running bot, is read here: a worker
would cost more to start (about half a second) than it saves.

The worker is a plain child process fed one JSON line per report on its stdin (title, summary,
the rule terms it matched), answering one signature JSON line per report on its stdout, in
order. It also sends what comparing signatures needs of the lexicon (the generic keys, the
weapons, the keys of each rule term, once), so this process never loads the lexicon. It exits
when its stdin closes, so a bot killed with ``kill -9`` leaves no worker behind; if it fails in
any way, the rest of the batch is read here. The results are the same either way: the worker runs the same function on
the same text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import switched_off
from .stories import Signature, Vocabulary, learn, signature, term_keys

log = logging.getLogger(__name__)

MIN_BATCH = 400
"""Reports in a batch from which a worker pays: about 0.5 s of start-up on the second core
against about 0.25 ms per signature saved on this one."""


def worker_env() -> dict[str, str]:
    """The environment of a worker process (``python -m alerts.<module>``): this one's, with
    the package's directory on PYTHONPATH, so that it imports this very code."""
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


class Signer:
    """Signatures for batches of reports, in order; a worker process for large batches.

    ``start()`` may be called early (when a poll cycle has found many new reports) so the
    worker has loaded the lexicon by the time the batch is filed; ``close()`` stops it.
    """

    def __init__(self, *, workers: bool = True, min_batch: int = MIN_BATCH) -> None:
        self.workers = workers and not switched_off("ALERTS_SIGNER_WORKER")
        self.min_batch = min_batch
        self._proc: subprocess.Popen | None = None
        self.used_worker = 0  # signatures the worker returned, over the signer's life

    def start(self) -> None:
        if not self.workers or self._proc is not None:
            return
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "alerts.signer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=worker_env(),
            )
        except OSError as exc:
            log.warning("signature worker could not start (%s); reading signatures here", exc)
            self.workers = False

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def signatures(self, texts: Sequence[tuple[str, str, str]]) -> Iterator[Signature]:
        """The signature of each (title, summary, rule terms as a JSON list), in order."""
        if self.workers and len(texts) >= self.min_batch:
            self.start()
        proc = self._proc
        if proc is None:
            for title, summary, _ in texts:
                yield signature(title, summary)
            return
        # Each text is let go once its signature is used: a batch of thousands of full-article
        # summaries is then held only as long as the filing needs it.
        pending: list[tuple[str, str, str] | None] = list(texts)
        del texts
        # _from_worker closes a worker that stopped short (or whose reader stopped reading).
        done = yield from self._from_worker(proc, pending)
        for at in range(done, len(pending)):
            title, summary, _ = pending[at] or ("", "", "")
            pending[at] = None
            yield signature(title, summary)

    def _from_worker(
        self, proc: subprocess.Popen, texts: list[tuple[str, str, str] | None]
    ) -> Iterator[Signature]:
        """Yield the worker's answers while a thread feeds it; returns how many it answered.

        Another thread reads the answers as they come, not as the filing uses them, and closes
        the worker's input once every answer is in: the worker exits then, well before the
        filing ends, so the two processes' memory does not add up while the filing grows its
        own (an answer waiting here is a few hundred bytes)."""
        stop, fed = threading.Event(), threading.Event()
        answers: queue.SimpleQueue[bytes] = queue.SimpleQueue()

        def feed() -> None:
            try:
                dumps = json.JSONEncoder(ensure_ascii=False).encode
                for title, summary, terms in texts:
                    if stop.is_set():
                        return
                    line = f"[{dumps(title)},{dumps(summary)},{terms or '[]'}]\n"
                    proc.stdin.write(line.encode("utf-8"))
                proc.stdin.flush()
            except (OSError, ValueError):
                pass  # the worker died or was closed; the reader sees it and takes over
            finally:
                fed.set()

        def collect() -> None:
            answered = 0
            try:
                while answered < len(texts) and not stop.is_set():
                    line = proc.stdout.readline()
                    if not line:
                        break
                    answers.put(line)
                    answered += not line.startswith(b'{"learn"')
                if answered == len(texts):
                    fed.wait()
                    proc.stdin.close()  # every answer is in: the worker exits
            except (OSError, ValueError):
                pass  # the worker died or was closed
            finally:
                answers.put(b"")

        feeder = threading.Thread(target=feed, name="signer-feed", daemon=True)
        collector = threading.Thread(target=collect, name="signer-answers", daemon=True)
        feeder.start()
        collector.start()
        done = 0
        try:
            for at in range(len(texts)):
                line = answers.get()
                try:
                    while line.startswith(b'{"learn"'):
                        _learn(json.loads(line)["learn"])
                        line = answers.get()
                    sig = Signature.from_json(line)
                except (ValueError, KeyError, TypeError):
                    log.warning("signature worker stopped answering; reading signatures here")
                    break
                texts[at] = None
                done += 1
                self.used_worker += 1
                yield sig
        finally:
            stop.set()
            if done < len(texts):
                self.close()  # unblocks the feeder and the collector
            feeder.join()
            collector.join()
        return done


def _learn(data: dict) -> None:
    vocab = data.get("vocabulary")
    learn(
        Vocabulary(frozenset(vocab["generic"]), frozenset(vocab["weapons"])) if vocab else None,
        data.get("terms"),
    )


def _serve() -> None:
    """The worker: one signature JSON line out for each [title, summary, terms] line in, after
    a ``learn`` line with what the other process cannot know without the lexicon."""
    from .lexicon import builtin_lexicon

    lex = builtin_lexicon()
    sys.stdin.reconfigure(encoding="utf-8")
    sys.stdout.reconfigure(encoding="utf-8")
    out = sys.stdout

    def send(data: dict) -> None:
        out.write(json.dumps({"learn": data}, ensure_ascii=False) + "\n")

    send({"vocabulary": {"generic": sorted(lex.generic), "weapons": sorted(lex.weapons)}})
    known: set[str] = set()
    for line in sys.stdin:
        title, summary, terms = json.loads(line)
        new = [t for t in terms if t not in known]
        if new:
            known.update(new)
            send({"terms": {t: sorted(term_keys(t)) for t in new}})
        out.write(signature(title, summary, lex).to_json() + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()
