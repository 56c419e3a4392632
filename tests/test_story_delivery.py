"""One story, one alert: reports of one event by several outlets reach a subscriber once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from alerts import digest
from alerts.config import Rule
from alerts.store import Entry, Piece

from .conftest import ROOT, bot, hours_ago, rss, write_rules
from .ledger import Ledger
from .test_telegram import ALICE, RULES, SETTINGS, Bot

SUMY = [
    (
        "Wire",
        "Russian glide bombs hit Sumy Oblast village, three injured",
        "Three civilians were injured when Russian aircraft dropped glide bombs on a village in "
        "Sumy Oblast, the regional administration said.",
    ),
    (
        "Ledger",
        "Three wounded as glide bombs strike village in Sumy region",
        "Regional officials in Sumy said three people were wounded after guided aerial bombs hit "
        "a border village overnight.",
    ),
    (
        "Courier",
        "Sumy Oblast: guided bombs injure three in border village",
        "A border village in Sumy Oblast was hit by guided aerial bombs, injuring three "
        "residents, according to the regional military administration.",
    ),
]
TROOPS = [
    (
        "Wire",
        "North Korea sends 3,000 more troops to Russia, Seoul says",
        "South Korea's spy agency said Pyongyang has sent about 3,000 additional troops to Russia.",
    ),
    (
        "Ledger",
        "Seoul: Pyongyang dispatched another 3,000 soldiers to Russia",
        "North Korea has dispatched roughly 3,000 more soldiers to Russia, South Korean "
        "intelligence told lawmakers.",
    ),
    (
        "Courier",
        "DPRK deploys 3,000 additional troops to Russia - South Korean intelligence",
        "South Korean intelligence says North Korea deployed some 3,000 more troops to support "
        "Russia's war.",
    ),
]
SETTINGS_6S = SETTINGS.replace("digest_every: 2s", "digest_every: 6s")
STORY_RULES = RULES.replace("any: [shelling, drone*]", "any: [shelling, drone*, bomb*]")
REGIONS = "  Sumy: [Sumy Oblast, Sumy region]\n"


def report(n: int, feed: str, title: str, summary: str, minutes: int) -> dict:
    return {
        "title": title,
        "description": summary,
        "link": f"https://{feed.lower()}.example/{n}",
        "guid": f"{feed}-{n}",
        "date": hours_ago(1) + timedelta(minutes=minutes),
    }


class ThreeFeeds(Bot):
    """The Telegram test bot, with three outlets instead of one."""

    def __init__(self, tmp_path, feed_server, fake, settings=SETTINGS_6S):
        super().__init__(tmp_path, feed_server, fake, settings)
        urls = {
            name: feed_server.serve(f"/{name}.xml", rss()) for name in ("Wire", "Ledger", "Courier")
        }
        write_rules(self.rules_path, urls, STORY_RULES, REGIONS, settings)

    def publish_to(self, feed: str, *items: dict) -> None:
        self.feed_server.serve(f"/{feed}.xml", rss(*items))


async def test_one_event_from_three_feeds_is_one_digest_entry_with_three_links(
    tmp_path, feed_server, fake
) -> None:
    async with ThreeFeeds(tmp_path, feed_server, fake) as b:
        await b.command(ALICE, "/start")
        since = len(fake.sent)
        for n, (feed, title, summary) in enumerate(SUMY):
            b.publish_to(feed, report(n, feed, title, summary, 10 * n))
        msg = await fake.wait_for("Digest", timeout=20, chat_id=ALICE, since=since)
        text = msg["text"]
        assert text.count("<b>Sumy front</b>") == 1
        assert "1 new story" in text
        for n, (feed, _, _) in enumerate(SUMY):
            assert f"https://{feed.lower()}.example/{n}" in text
        # listed once, under the title of its first report, with the other outlets beside it
        assert SUMY[0][1] in text and SUMY[1][1] not in text and SUMY[2][1] not in text
        assert ">Ledger</a>" in text and ">Courier</a>" in text
        await asyncio.sleep(7)  # a later digest does not repeat it
    later = "\n".join(m["text"] for m in fake.sent_to(ALICE)[since:])
    assert later.count("glide bombs") == 1


async def test_urgent_event_from_three_feeds_is_one_alert_edited_to_carry_every_link(
    tmp_path, feed_server, fake
) -> None:
    async with ThreeFeeds(tmp_path, feed_server, fake) as b:
        await b.command(ALICE, "/start")
        since = len(fake.sent)
        b.publish_to("Wire", report(0, *TROOPS[0], 0))
        alert = await fake.wait_for("3,000 more troops", timeout=10, chat_id=ALICE, since=since)
        # The other outlets follow after the alert went out: no second alert; the alert is
        # edited to carry their links.
        b.publish_to("Ledger", report(1, *TROOPS[1], 15))
        # Courier's report reads like Ledger's more than like Wire's: publish it once Ledger's
        # is stored, not leave which joins first to the race between two feeds' polls.
        for _ in range(200):
            if await b.service.db(b.store.known_guids, "Ledger", ["Ledger-1"]):
                break
            await asyncio.sleep(0.05)
        b.publish_to("Courier", report(2, *TROOPS[2], 30))
        links = ["https://ledger.example/1", "https://courier.example/2"]
        await fake.wait_for(
            lambda m: m["message_id"] == alert["message_id"] and all(u in m["text"] for u in links),
            timeout=20,
            chat_id=ALICE,
            since=since,
        )
        await asyncio.sleep(7)  # a digest comes and goes (every 6 s): nothing more of it
    ledger = Ledger()
    for m in fake.sent_to(ALICE)[since:]:
        ledger.send(ALICE, m["message_id"], m["text"])  # each message as it reads now
    assert ledger.repeated(ALICE) == [] and ledger.violations == []
    sent = [m["text"] for m in fake.sent_to(ALICE)[since:]]
    alerts = [t for t in sent if t.startswith("🚨")]
    assert len(alerts) == 1 and all(u in alerts[0] for u in ["https://wire.example/0", *links])
    assert TROOPS[0][1] in alerts[0]  # the first report stays the headline
    assert [e["chat_id"] for e in fake.edits] and all(e["chat_id"] == ALICE for e in fake.edits)


def test_digest_orders_by_outlets_then_newest_and_caps_each_rule() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    rules = (Rule(id="sumy", name="Sumy front", regions=()),)

    def story(n: int, outlets: int, hours: float) -> Entry:
        when = now - timedelta(hours=hours)
        others = tuple(
            Piece(f"Outlet {k}", "", f"https://o{k}.example/{n}") for k in range(outlets - 1)
        )
        return Entry(
            n,
            "Wire",
            f"Story {n}",
            f"https://w.example/{n}",
            "",
            when,
            when,
            ("sumy",),
            others,
            False,
            when,
        )

    entries = [story(1, 1, 1), story(2, 3, 5), story(3, 1, 0.5), story(4, 2, 2), story(5, 1, 3)]
    (section,) = digest.group(entries, rules, cap=3)
    assert [e.story_id for e, _ in section.entries] == [2, 4, 3]
    assert section.more == 2
    ((html, ids),) = digest.digest_html(entries, rules, UTC, now, cap=3)
    assert ids == [2, 4, 3]  # the two left out stay queued
    assert "… and 2 more; send /now to see them" in html
    ((text, _),) = digest.digest_text(entries, rules, UTC, now, cap=3)
    assert "… and 2 more; they come in the next digest" in text


def test_digest_max_leaves_the_rest_for_the_next_digest(feed_server, tmp_path) -> None:
    items = [
        {
            "title": f"Shelling of {place} village in Sumy Oblast",
            "guid": str(n),
            "link": f"https://w.example/{n}",
        }
        for n, place in enumerate(
            ["Bilopillia", "Krasnopillia", "Velyka Pysarivka", "Myropillia", "Khotin"]
        )
    ]
    settings = "settings:\n  digest_max: 2\n  backfill: 1d\n"
    rules = write_rules(
        tmp_path / "rules.yaml",
        {"Wire": feed_server.serve("/w.xml", rss(*items))},
        "  - id: sumy\n    name: Sumy front\n    regions: [Sumy]\n    any: [shelling]\n",
        settings=settings,
    )
    state = tmp_path / "state"
    first = bot("once", "--rules", str(rules), "--state", str(state))
    assert first.returncode == 0, first.stderr
    assert "Sumy front (2)" in first.stdout and "… and 3 more" in first.stdout
    second = bot("once", "--rules", str(rules), "--state", str(state))
    assert "Sumy front (2)" in second.stdout and "… and 1 more" in second.stdout
    third = bot("once", "--rules", str(rules), "--state", str(state))
    assert "Sumy front (1)" in third.stdout and "more" not in third.stdout
    shown = first.stdout + second.stdout + third.stdout
    for item in items:
        assert shown.count(item["title"]) == 1


def test_explain_says_which_story_an_item_would_join(feed_server, tmp_path) -> None:
    first = [report(0, *SUMY[0], 0)]
    url = feed_server.serve("/w.xml", rss(*first))
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, STORY_RULES, REGIONS)
    state = tmp_path / "state"
    assert bot("once", "--rules", str(rules), "--state", str(state)).returncode == 0
    other = tmp_path / "ledger.xml"
    other.write_text(
        rss(
            report(1, *SUMY[1], 10),
            report(2, "Ledger", "Kharkiv metro reopens after repairs", "Trains run again.", 20),
        )
    )
    result = bot("explain", "--rules", str(rules), "--state", str(state), "--json", str(other))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    story = lines[0]["story"]
    assert story["joins"] is True and story["title"] == SUMY[0][1]
    assert "same story" in story["reason"]
    # the evidence, in words: what the reports share, and how far apart they were published
    assert "in common: 3, glide-bomb, Sumy" in story["reason"]
    assert "published 0.2h apart" in story["reason"]
    assert lines[0]["other_stories"] == []  # one story stored: nothing else to compare
    assert lines[1]["story"] is None  # matched no rule: no story to join
    text = bot("explain", "--rules", str(rules), "--state", str(state), str(other)).stdout
    assert "story: joins #" in text and SUMY[0][1] in text


def test_explain_reads_a_feed_of_the_rules_under_its_name_as_once_does(feed_server, tmp_path):
    # Two articles of one outlet are two stories. explain read a feed of the rules under its
    # URL, so it said "joins" where once sent a second alert (QA of stop 23).
    first = report(0, *SUMY[0], 0)
    url = feed_server.serve("/w.xml", rss(first))
    rules = write_rules(tmp_path / "rules.yaml", {"Wire": url}, STORY_RULES, REGIONS)
    state = tmp_path / "state"
    assert bot("once", "--rules", str(rules), "--state", str(state)).returncode == 0
    own = report(1, "Wire", *SUMY[1][1:], 10)  # the same news, the same outlet's other article
    feed_server.serve("/w.xml", rss(first, own))
    result = bot("explain", "--rules", str(rules), "--state", str(state), "--json", url)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    story = lines[1]["story"]
    assert story["joins"] is False and "two articles of one outlet (Wire)" in story["reason"]
    once = bot("once", "--rules", str(rules), "--state", str(state), "--json")
    delivered = [json.loads(line) for line in once.stdout.splitlines()]
    assert [(d["kind"], d["title"]) for d in delivered] == [("digest", SUMY[1][1])]  # a story


def test_root() -> None:
    assert (ROOT / "alerts" / "stories.py").exists()


def _google_news(*items: tuple[int, str, str, str]) -> str:
    """A Google News feed of (n, outlet, title, summary) items, each naming its <source>."""
    parts = []
    for n, outlet, title, summary in items:
        when = format_datetime(hours_ago(1) + timedelta(minutes=10 * n))
        parts.append(
            f"<item><title>{escape(title)} - {outlet}</title>"
            f"<link>https://news.google.com/rss/articles/CBMi{n}?oc=5</link>"
            f'<guid isPermaLink="false">CBMi{n}</guid><pubDate>{when}</pubDate>'
            f'<source url="https://{outlet.lower()}.example">{outlet}</source>'
            f"<description>{escape(summary)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Google News'
        "</title>" + "".join(parts) + "</channel></rss>"
    )


def test_an_aggregators_outlets_are_outlets_of_one_story(feed_server, tmp_path) -> None:
    """A Google News feed carries many outlets' reports, each naming its outlet in <source>:
    two of one event are one alert naming both, not two alerts of "one outlet" (QA of stop
    26: two urgent alerts, each naming only the search feed). Two searches that carry two
    reports through one syndicator (MSN) are two outlets too, as two feeds always were."""
    one = _google_news((0, *TROOPS[0]), (1, *TROOPS[1]))
    syndicated = [
        _google_news((0, "MSN", *TROOPS[0][1:])),
        _google_news((1, "MSN", *TROOPS[1][1:])),
    ]
    for feeds, sources in (
        ({"Google News troops": feed_server.serve("/g.xml", one)}, ("Wire", ["Ledger"])),
        (
            {
                f"Search {n}": feed_server.serve(f"/s{n}.xml", body)
                for n, body in enumerate(syndicated)
            },
            ("MSN", ["MSN"]),
        ),
    ):
        state = tmp_path / f"state-{sources[0]}"
        rules = write_rules(tmp_path / "rules.yaml", feeds, RULES)
        result = bot("once", "--json", "--rules", str(rules), "--state", str(state))
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(d["kind"], d["source"]) for d in lines] == [("alert", sources[0])], lines
        assert [a["source"] for a in lines[0]["also"]] == sources[1]
