"""Bodies read by the worker process (alerts.reader) give the items and matches read here, a
worker that fails or is busy costs nothing, and a bot killed with kill -9 leaves none behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts import config as configmod
from alerts import feeds, reader
from alerts.feeds import Fetched

from .conftest import ROOT, SHARED, assert_worker_dies_with_parent, bot, rss, write_rules

CORPUS = SHARED / "corpus" / "feedparser-tests"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _config() -> configmod.Config:
    return configmod.load(ROOT / "rules.yaml")


def _here(config: configmod.Config, name: str, fetched: Fetched) -> tuple:
    """What the bot reads of a body without a worker: items, skips, and each item's matches
    (or the error)."""
    try:
        parsed = feeds.parse(name, fetched, NOW)
    except feeds.FetchError as exc:
        return ("error", str(exc))
    found = []
    for item in parsed.items:
        m = config.matcher.match(item.text)
        found.append((m.rules, m.regions, config.topic_terms(m) if m.rules else frozenset()))
    return ("ok", parsed.items, parsed.skipped, parsed.title, found)


async def _there(shared: reader.Reader, name: str, fetched: Fetched) -> tuple | None:
    try:
        got = await shared.read(name, fetched, NOW)
    except feeds.FetchError as exc:
        return ("error", str(exc))
    if got is None:
        return None
    parsed, found = got
    rows = [(f.rules, f.regions, f.terms) for f in found]
    return ("ok", parsed.items, parsed.skipped, parsed.title, rows)


def _bodies() -> list[tuple[str, bytes]]:
    out = [(p.name, p.read_bytes()) for p in sorted((ROOT / "examples" / "feeds").glob("*.xml"))]
    if CORPUS.exists():
        files = [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.name != "LICENSE"]
        out += [(str(p.relative_to(CORPUS)), p.read_bytes()) for p in files]
    return out


def test_the_worker_reads_every_body_as_this_process_does() -> None:
    """Every sample feed and every file of feedparser's test corpus: the same items, skip
    counts, titles and errors, and the same rules, regions and topic terms for each item."""
    config = _config()
    bodies = _bodies()

    async def run() -> tuple[int, int, list[str]]:
        shared = reader.Reader(config.source, config.path, depth=1)
        await shared.start()
        differ, errors = [], 0
        try:
            for name, body in bodies:
                fetched = Fetched(body, url=f"https://news.example/{name}")
                there = await _there(shared, name, fetched)
                assert there is not None, f"{name}: the worker was busy or gone"
                if there != _here(config, name, fetched):
                    differ.append(name)
                errors += there[0] == "error"
        finally:
            await shared.close()
        return shared.read_by_worker, errors, differ

    read, errors, differ = asyncio.run(run())
    assert differ == []
    assert read + errors == len(bodies) and read > 100
    matched = sum(
        1
        for name, body in bodies[:20]
        for rules, _, _ in _here(config, name, Fetched(body, url="https://x.example/"))[-1]
        if rules
    )
    assert matched > 10  # the sample feeds match the shipped rules: the matches are compared


def test_a_busy_or_dead_worker_leaves_the_body_to_this_process() -> None:
    config = _config()
    body = (ROOT / "examples" / "feeds" / os.listdir(ROOT / "examples" / "feeds")[0]).read_bytes()
    fetched = Fetched(body, url="https://news.example/a.xml")

    async def run() -> tuple:
        shared = reader.Reader(config.source, config.path, depth=2)
        await shared.start()
        try:
            # Two bodies fill it; a third is not queued behind them but left to the caller.
            first = [asyncio.ensure_future(shared.read("a", fetched, NOW)) for _ in range(2)]
            await asyncio.sleep(0)
            busy = await shared.read("a", fetched, NOW)
            done = await asyncio.gather(*first)
            os.kill(shared.pid, signal.SIGKILL)
            await asyncio.sleep(0.2)
            gone = await shared.read("a", fetched, NOW)
        finally:
            await shared.close()
        return busy, done, gone

    busy, done, gone = asyncio.run(run())
    assert busy is None and gone is None
    assert all(d is not None and d[0].items for d in done)


def test_a_worker_killed_while_reading_hands_its_bodies_back() -> None:
    config = _config()
    items = [
        {"title": f"Drone attack on Sumy, {n} injured", "guid": f"g{n}", "description": "x " * 200}
        for n in range(300)
    ]
    body = rss(*items).encode()  # 300 items: tens of milliseconds each to parse and match

    async def run() -> list:
        shared = reader.Reader(config.source, config.path, depth=40)
        await shared.start()
        try:
            first = await shared.read("f0", Fetched(body, url="https://x/"), NOW)
            reads = [
                asyncio.ensure_future(shared.read(f"f{n}", Fetched(body, url="https://x/"), NOW))
                for n in range(1, 40)
            ]
            await asyncio.sleep(0)  # each read sends its body and waits for the answer
            assert len(shared._pending) == 39
            os.kill(shared.pid, signal.SIGKILL)  # long before 39 bodies of 300 items are read
            return [first, *await asyncio.gather(*reads)]
        finally:
            await shared.close()

    results = asyncio.run(run())
    # Every read ends, none hangs: the first answered, the rest handed back (None) to be read
    # by the caller.
    assert results[0] is not None and len(results[0][0].items) == 300
    assert results.count(None) > 30 and all(r is None or r[0].items for r in results)


def test_a_killed_bot_leaves_no_reader_behind() -> None:
    code = (
        "import asyncio, sys\n"
        "from alerts import config, reader\n"
        "async def main():\n"
        "    c = config.load('rules.yaml')\n"
        "    r = reader.Reader(c.source, c.path); await r.start()\n"
        "    print(r.pid, flush=True); await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    assert_worker_dies_with_parent(code, "reader worker")


RULES = """\
  - id: sumy
    name: Sumy region
    regions: [Sumy]
    any: [drone*, shelling, attack*]
  - id: grid
    name: Energy
    any: [substation, power outage*, blackout*]
"""


def _stored(state: Path) -> list[tuple]:
    db = sqlite3.connect(state / "alerts.db")
    try:
        return db.execute(
            "SELECT feed, guid, link, title, summary, published, status, rules, regions, terms, "
            "signature IS NOT NULL FROM items ORDER BY feed, guid"
        ).fetchall()
    finally:
        db.close()


def test_once_over_many_feeds_stores_the_same_with_or_without_the_worker(
    feed_server, tmp_path
) -> None:
    """``once`` over more feeds than reader.MIN_FEEDS, as an operator runs it: the worker
    reads some of them, and what is stored and printed is what the bot stores without it."""
    start = datetime.now(UTC) - timedelta(hours=3)
    urls = {}
    for f in range(reader.MIN_FEEDS + 5):
        items = [
            {
                "title": [
                    f"Drone attack on Sumy injures {n + f % 3} people",
                    f"Substation fire in Kharkiv leaves {1000 * (n + 1)} homes without power",
                    f"Parliament debates the {2027 + n} budget",
                ][n % 3],
                "link": f"https://outlet{f}.example/news/{n}",
                "guid": f"o{f}-{n}",
                "description": "Officials said repairs would take days. " * 5,
                "date": start + timedelta(minutes=11 * n + f),
            }
            for n in range(12)
        ]
        if f == 3:  # one feed that is not a feed at all
            urls[f"outlet {f}"] = feed_server.serve(f"/o{f}.xml", "<html><body>moved</body>")
            continue
        urls[f"outlet {f}"] = feed_server.serve(f"/o{f}.xml", rss(*items))
    rules = write_rules(tmp_path / "rules.yaml", urls, RULES)
    runs = {}
    for worker in ("1", "0"):
        state = tmp_path / f"state-{worker}"
        done = bot(
            "once", "--json", "--rules", str(rules), "--state", str(state),
            env={"ALERTS_READER_WORKER": worker, "LOG_LEVEL": "debug"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs[worker] = done
    shared = [ln for ln in runs["1"].stderr.splitlines() if "event=reader_worker" in ln]
    assert shared and int(shared[0].rsplit("feeds=", 1)[1]) > 0  # the worker read some
    assert not any("event=reader_worker" in ln for ln in runs["0"].stderr.splitlines())
    assert _stored(tmp_path / "state-1") == _stored(tmp_path / "state-0")
    assert len(_stored(tmp_path / "state-1")) == 12 * (reader.MIN_FEEDS + 4)

    def delivered(out: str) -> list:
        stories = [json.loads(line) for line in out.splitlines()]
        return sorted(sorted([s["link"], *(a["link"] for a in s.get("also", []))]) for s in stories)

    assert delivered(runs["1"].stdout) == delivered(runs["0"].stdout) != []
    for run in runs.values():  # the broken feed is reported alike
        assert "outlet 3" in run.stderr and "not a feed" in run.stderr.lower()
    # Run again, every feed unchanged (the broken one left out: it is read again each time):
    # no body to read, so no worker is started.
    working = {name: url for name, url in urls.items() if name != "outlet 3"}
    rules = write_rules(tmp_path / "working.yaml", working, RULES)
    again = bot(
        "once", "--rules", str(rules), "--state", str(tmp_path / "state-1"),
        env={"ALERTS_READER_WORKER": "1", "LOG_LEVEL": "debug"},
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert not any("event=reader_worker" in ln for ln in again.stderr.splitlines())


@pytest.mark.parametrize(
    ("value", "on"),
    [("0", False), ("false", False), ("Off", False), ("no", False), ("1", True), ("", True)],
)
def test_the_worker_switch_reads_as_operators_write_it(monkeypatch, value: str, on: bool) -> None:
    # ALERTS_READER_WORKER=false had started the worker: only "0" was off (QA)
    monkeypatch.setenv("ALERTS_READER_WORKER", value)
    monkeypatch.setenv("ALERTS_SIGNER_WORKER", value)
    from alerts import signer

    assert reader.enabled() is on and signer.Signer().workers is on
