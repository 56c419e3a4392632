"""Signatures read by the worker process (alerts.signer) are the ones read here, the stories
they make are the same, and a worker that fails or whose parent dies costs nothing."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta

from alerts import stories
from alerts.items import Item
from alerts.signer import Signer
from alerts.store import Matched, Store
from alerts.stories import signature

from .conftest import assert_worker_dies_with_parent
from .story_eval import report, sets
from .test_delivery import ingest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _texts() -> list[tuple[str, str, str]]:
    out = []
    for group in sets():
        for side in group["reports"]:
            terms = sorted(report(side, 0).terms)
            out.append((side["title"], side["summary"], json.dumps(terms, ensure_ascii=False)))
    return out


def test_the_worker_reads_every_signature_as_this_process_does() -> None:
    texts = _texts()
    signer = Signer(min_batch=1)
    try:
        got = list(signer.signatures(texts))
    finally:
        signer.close()
    assert signer.used_worker == len(texts)
    assert got == [signature(title, summary) for title, summary, _ in texts]


def test_the_worker_teaches_the_rule_terms_keys_as_read_here() -> None:
    texts = _texts()
    terms = sorted({t for _, _, js in texts for t in json.loads(js)})
    assert terms, "the labeled sets match some rule terms"
    saved = dict(stories._TERM_KEYS)
    stories._TERM_KEYS.clear()
    try:
        signer = Signer(min_batch=1)
        try:
            list(signer.signatures(texts))
        finally:
            signer.close()
        learned = {t: stories._TERM_KEYS.get(t) for t in terms}
        stories._TERM_KEYS.clear()
        assert learned == {t: stories.term_keys(t) for t in terms}
    finally:
        stories._TERM_KEYS.clear()
        stories._TERM_KEYS.update(saved)


def test_a_worker_that_dies_midway_leaves_the_rest_to_this_process() -> None:
    # Enough texts that the worker, whose answers are read as they come, is still reading
    # (a second or more of work) when it is killed after its fifth answer.
    texts = _texts() * 40
    signer = Signer(min_batch=1)
    read = signer.signatures(texts)
    first = [next(read) for _ in range(5)]
    os.kill(signer._proc.pid, signal.SIGKILL)
    rest = list(read)
    signer.close()
    assert first + rest == [signature(title, summary) for title, summary, _ in texts]
    assert 5 <= signer.used_worker < len(texts)


def test_the_worker_exits_once_it_has_answered_the_whole_batch() -> None:
    """Its answers are read as they come and its input closed after the last: the worker is
    gone long before the filing has used every signature, so the two processes' memory does
    not add up while the filing goes on."""
    texts = _texts()
    signer = Signer(min_batch=1)
    try:
        read = signer.signatures(texts)
        first = next(read)
        proc = signer._proc
        assert proc.wait(timeout=60) == 0  # with 162 signatures still unread here
        rest = list(read)
    finally:
        signer.close()
    assert [first, *rest] == [signature(title, summary) for title, summary, _ in texts]
    assert signer.used_worker == len(texts)


def test_a_small_batch_is_read_here_without_a_worker() -> None:
    signer = Signer()
    got = list(signer.signatures(_texts()[:3]))
    assert signer._proc is None and signer.used_worker == 0
    assert len(got) == 3


def _store_with_the_labeled_reports(path) -> Store:
    """Every report of the labeled story sets, stored as the polls store them, each set a week
    after the one before so that sets cannot meet in one story (a window that holds them all)."""
    store = Store.open(path, story_window=timedelta(days=400))
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for n, group in enumerate(sets()):
        start = report(group["reports"][0], 0).published
        for side in group["reports"]:
            rep = report(side, 0)
            when = base + timedelta(days=7 * n) + (rep.published - start)
            guid = f"{group['id']}/{side['key']}"
            link = f"https://x.example/{guid}"
            item = Item(side["feed"], guid, side["title"], link, side["summary"], when)
            ingest(store, side["feed"], Matched(item, ("rule",), rep.regions, rep.terms), now=when)
    return store


def _grouping(store: Store) -> set[frozenset[str]]:
    rows = store.db.execute("SELECT guid, story_id FROM items WHERE status = 'matched'").fetchall()
    by_story: dict[int, set[str]] = {}
    for guid, story in rows:
        by_story.setdefault(story, set()).add(guid)
    return {frozenset(g) for g in by_story.values()}


def test_stories_are_the_same_whichever_process_read_the_signatures(tmp_path) -> None:
    now = datetime(2027, 12, 1, tzinfo=UTC)
    here = _store_with_the_labeled_reports(tmp_path / "here")
    there = _store_with_the_labeled_reports(tmp_path / "there")
    here.settle(now, frozenset())
    signer = Signer(min_batch=1)
    try:
        there.settle(now, frozenset(), signer)
    finally:
        signer.close()
    assert signer.used_worker > 100
    grouped = _grouping(here)
    assert sum(len(story) > 1 for story in grouped) >= 30
    assert _grouping(there) == grouped


def test_a_killed_bot_leaves_no_worker_behind() -> None:
    code = (
        "import sys, time\n"
        "from alerts.signer import Signer\n"
        "s = Signer(min_batch=1); s.start(); print(s._proc.pid, flush=True); time.sleep(60)\n"
    )
    assert_worker_dies_with_parent(code, "signature worker")
