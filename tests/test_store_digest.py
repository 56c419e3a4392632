"""Outbox semantics and message rendering, without any network."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts import digest
from alerts.config import Rule
from alerts.items import Item
from alerts.store import Entry, Matched, Piece, Store
from alerts.store.records import iso

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RULES = (
    Rule(id="nk", name="North Korean troops", any=("DPRK",), priority="urgent"),
    Rule(id="sumy", name="Sumy <front>", regions=()),
)


def item(n: int, title: str | None = None, link: str | None = "default", when=NOW) -> Item:
    link = f"https://e.example/{n}" if link == "default" else link
    return Item("Feed & Co", f"g{n}", title or f"Title {n}", link, "summary", when)


def ingest(store: Store, *matched: Matched, first: bool = False) -> None:
    store.ingest(
        "Feed & Co",
        "https://e.example/rss",
        now=NOW,
        etag=None,
        last_modified=None,
        body_hash="h",
        seen=[],
        new=list(matched),
        backfill_before=NOW - timedelta(days=1) if first else None,
    )
    store.settle(NOW, frozenset({"nk"}))


def put(
    store: Store, feed: str, n: int, minutes: int, title: str, summary: str = "Officials said."
) -> None:
    """One matched report of its own outlet, ``minutes`` after NOW, ingested."""
    when = NOW + timedelta(minutes=minutes)
    new = Item(feed, f"g{n}", title, f"https://{feed}.example/{n}", summary, when)
    store.ingest(
        feed,
        f"https://{feed}.example/rss",
        now=NOW,
        etag=None,
        last_modified=None,
        body_hash=None,
        seen=[],
        new=[Matched(new, ("sumy",), ())],
        backfill_before=None,
    )


TEXT = digest.Renderer("text", RULES, UTC)


class Fixed(digest.Renderer):
    """Every message has the same body: the test is about what the outbox holds."""

    def digest(self, entries, now):
        return [("body", [e.story_id for e in entries])]


def test_outbox_resends_unconfirmed_and_never_confirmed_twice(tmp_path) -> None:
    store = Store.open(tmp_path)
    store.set_console(True, NOW)
    ingest(store, Matched(item(1), ("sumy",), ()), Matched(item(2), ("nk", "sumy"), ()))
    assert store.chats_with_pending(urgent=True) == [0]
    alert_ids = store.compose(0, urgent=True, renderer=TEXT, now=NOW)
    digest_ids = store.compose(0, urgent=False, renderer=TEXT, now=NOW)
    assert len(alert_ids) == 1 and len(digest_ids) == 1
    # Composing again finds nothing: the queue entries moved into the outbox atomically.
    assert store.compose(0, urgent=False, renderer=TEXT, now=NOW) == []
    store.mark_sent(alert_ids[0], NOW)
    store.close()
    # "Crash" and reopen: the unconfirmed digest is still due, the confirmed alert is not.
    store = Store.open(tmp_path)
    due = store.due(NOW)
    assert [m.id for m in due] == digest_ids
    assert "Title 1" in due[0].body and "Title 2" not in due[0].body
    store.mark_sent(digest_ids[0], NOW)
    assert store.due(NOW) == [] and store.outbox_depth() == 0


def test_an_alert_from_the_store_carries_its_summary_and_the_digest_its_stories(tmp_path) -> None:
    """The urgent pass reads the headline's summary for the alert; the digest pass, which shows
    no summaries, reads the stories without them and still carries each one."""
    store = Store.open(tmp_path)
    store.set_console(True, NOW)
    urgent = Item("Feed & Co", "g1", "Troops cross", "https://e.example/1", "Forty drones.", NOW)
    ingest(store, Matched(urgent, ("nk",), ()), Matched(item(2), ("sumy",), ()))
    (alert,) = store.compose(0, urgent=True, renderer=TEXT, now=NOW)
    (digest_id,) = store.compose(0, urgent=False, renderer=TEXT, now=NOW)
    bodies = {m.id: m.body for m in store.due(NOW)}
    assert "Troops cross" in bodies[alert] and "Forty drones." in bodies[alert]
    assert "Title 2" in bodies[digest_id] and "Troops cross" not in bodies[digest_id]


def test_failed_send_waits_for_its_retry_time(tmp_path) -> None:
    store = Store.open(tmp_path)
    store.set_console(True, NOW)
    ingest(store, Matched(item(1), ("sumy",), ()))
    (oid,) = store.compose(0, urgent=False, renderer=Fixed("text", RULES, UTC), now=NOW)
    store.mark_failed(oid, "boom", NOW + timedelta(minutes=1))
    assert store.due(NOW) == []
    assert [m.id for m in store.due(NOW + timedelta(minutes=2))] == [oid]


def test_backfill_and_duplicates_are_not_queued(tmp_path) -> None:
    store = Store.open(tmp_path)
    store.set_console(True, NOW)
    old = item(1, when=NOW - timedelta(days=3))
    ingest(store, Matched(old, ("sumy",), ()), Matched(item(2), ("sumy",), ()), first=True)
    dup = Item("Other", "x", "Same story", "https://E.example/2?utm_source=rss", "", NOW)
    result = store.ingest(
        "Other",
        "u",
        now=NOW,
        etag=None,
        last_modified=None,
        body_hash=None,
        seen=[],
        new=[Matched(dup, ("sumy",), ())],
        backfill_before=None,
    )
    assert result.duplicates == 1 and store.settle(NOW, frozenset()).queued == 0
    assert [e.title for e in store.pending(0, urgent=False)] == ["Title 2"]


def test_retention_keeps_items_feeds_still_carry(tmp_path) -> None:
    store = Store.open(tmp_path)
    ingest(store, Matched(item(1), (), ()), Matched(item(2), (), ()))
    later = NOW + timedelta(days=40)
    store.ingest(
        "Feed & Co",
        "u",
        now=later,
        etag=None,
        last_modified=None,
        body_hash="h2",
        seen=["g1"],
        new=[],
        backfill_before=None,
    )
    assert store.prune(30, later) == 1
    assert store.known_guids("Feed & Co", ["g1", "g2"]) == {"g1"}


def entry(
    n: int, rules: tuple[str, ...], title: str | None = None, link: str | None = "default"
) -> Entry:
    link = f"https://e.example/{n}" if link == "default" else link
    return Entry(n, "Feed & Co", title or f"Title {n}", link, "summary <b>", NOW, NOW, rules)


def test_an_alert_excerpt_leaves_out_the_headlines_of_other_articles() -> None:
    """Full-article feeds embed other articles' headlines ("Related: ..."): not this news."""
    summary = (
        "Drones circled over Kherson all day, injuring six people. Related: Missile strike on "
        "Kyiv kills two. Residents queue for water at the central market."
    )
    alert = entry(1, ("sumy",), "Inside Kherson: a day under drones")
    alert = replace(alert, summary=summary)
    for text in (
        digest.alert_html(alert, RULES, UTC, NOW),
        digest.alerts_text([alert], RULES, UTC, NOW)[0][0],
    ):
        assert "injuring six people" in text and "Residents queue for water" in text
        assert "Kyiv" not in text, text


@pytest.mark.parametrize(
    ("opening", "gone"), [("Share this: Facebook X Telegram WhatsApp Email Print", "WhatsApp")]
)
def test_an_alert_excerpt_is_not_the_sites_buttons_or_credit(opening: str, gone: str) -> None:
    """A full article's content opens with its share buttons (QA of stop 26)."""
    summary = f"{opening}\nGlide bombs hit Kharkiv."
    alert = replace(entry(1, ("sumy",), "Kharkiv strike"), summary=summary)
    text = digest.alert_html(alert, RULES, UTC, NOW)
    assert "Glide bombs hit Kharkiv" in text and gone not in text, text


def test_digest_groups_under_first_rule_and_names_the_others() -> None:
    sections = digest.group(
        [entry(1, ("sumy",)), entry(2, ("nk", "sumy")), entry(3, ("gone",))], RULES
    )
    assert [s.title for s in sections] == ["North Korean troops", "Sumy <front>", "Other matches"]
    assert sections[0].entries[0][1] == ["Sumy <front>"]


def test_digest_order_does_not_depend_on_the_order_stories_were_stored() -> None:
    """Feeds are polled concurrently, so two stories of the same minute may be stored in either
    order; the digest lists them the same way each time: more outlets, newer, then by source
    and title."""
    older = NOW - timedelta(hours=1)
    stories = [
        Entry(1, "Wire", "Drones downed over Sumy", None, "", NOW, NOW, ("sumy",)),
        Entry(2, "Desk", "Shelling in Sumy", None, "", NOW, NOW, ("sumy",)),
        Entry(3, "Desk", "Blackout in Sumy", None, "", NOW, NOW, ("sumy",)),
        Entry(4, "Wire", "Older report", None, "", older, older, ("sumy",)),
        Entry(
            5,
            "Zeta",
            "Carried twice",
            None,
            "",
            older,
            older,
            ("sumy",),
            (Piece("Wire", "", None),),
        ),
    ]
    want = ["Carried twice", "Blackout in Sumy", "Shelling in Sumy", "Drones downed over Sumy"]
    want.append("Older report")
    for order in (stories, stories[::-1], stories[2:] + stories[:2]):
        (section,) = digest.group(order, RULES)
        assert [e.title for e, _ in section.entries] == want


def test_html_escapes_feed_text_and_renders_only_http_links() -> None:
    evil = entry(1, ("sumy",), title='<script>alert("x")</script> & co', link="javascript:alert(1)")
    ok = entry(2, ("sumy",), link='https://e.example/a?b=1&c="2"')
    ((html, ids),) = digest.digest_html([evil, ok], RULES, ZoneInfo("Europe/Kyiv"), NOW)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; co" in html
    assert "javascript:" not in html
    assert 'href="https://e.example/a?b=1&amp;c=&quot;2&quot;"' in html
    assert "<b>Sumy &lt;front&gt;</b>" in html
    assert "Feed &amp; Co, 12:00" in html  # local time in Europe/Kyiv
    assert ids == [1, 2]
    ((alert, _),) = digest.alerts_html([evil], RULES, UTC, NOW)
    assert "<script>" not in alert and "summary &lt;b&gt;" in alert


def test_an_alert_is_headed_by_its_urgent_rule_whatever_the_file_order() -> None:
    # A missile strike on Kyiv that a background sentence also put under a front rule written
    # earlier in rules.yaml was headed "Attacks on Sumy region"; the digest keeps file order.
    rules = (
        Rule(id="sumy", name="Attacks on Sumy region", regions=()),
        Rule(id="kyiv", name="Missiles on Kyiv", any=("missile",), priority="urgent"),
        Rule(id="nk", name="North Korean troops", any=("DPRK",), priority="urgent"),
    )
    alert = entry(1, ("sumy", "kyiv"))
    html = digest.alert_html(alert, rules, UTC, NOW)
    assert html.startswith("🚨 <b>Missiles on Kyiv</b> · also: Attacks on Sumy region")
    text = digest.alerts_text([alert], rules, UTC, NOW)[0][0]
    assert text.startswith("!!! URGENT · Missiles on Kyiv (also: Attacks on Sumy region)")
    # Later reports bring a rule written earlier: the alert keeps its heading when edited.
    edited = replace(alert, rules=("sumy", "kyiv", "nk"))
    assert digest.alert_html(edited, rules, UTC, NOW).startswith("🚨 <b>Missiles on Kyiv</b>")
    ((section,),) = [digest.group([alert], rules)]
    assert section.title == "Attacks on Sumy region"


def test_html_digest_line_under_a_title_has_one_separator_between_parts() -> None:
    # A story of one outlet that matched two rules: its line had read "Feed, 12:00 ·  · also
    # matched: Sumy".
    alone = entry(1, ("nk", "sumy"))
    ((html, _),) = digest.digest_html([alone], RULES, UTC, NOW)
    assert "<i>Feed &amp; Co, 10:00</i> · also matched: Sumy &lt;front&gt;" in html
    assert "·  ·" not in html and not re.search(r"· *\n", html)
    covered = replace(alone, others=(Piece("Wire", "Later report", "https://w.example/1"),))
    covered = replace(covered, coverage=True)
    ((html, _),) = digest.digest_html([covered], RULES, UTC, NOW)
    assert "(more coverage · Feed &amp; Co, 10:00)</i>\n  also: " in html
    assert "·  ·" not in html


def test_html_digest_splits_between_items_only() -> None:
    entries = [
        entry(n, ("nk",) if n % 2 else ("sumy",), title=f"Story number {n} " + "x" * 150)
        for n in range(120)
    ]
    messages = digest.digest_html(entries, RULES, UTC, NOW)
    assert len(messages) > 3
    seen = []
    for html, ids in messages:
        assert len(html) <= digest.TELEGRAM_LIMIT
        # tags balanced in every message: nothing was cut inside a tag or an item
        for tag in ("a", "b", "i"):
            assert len(re.findall(f"<{tag}[ >]", html)) == html.count(f"</{tag}>")
        assert all(f"Story number {n} " in html for n in ids)
        seen += ids
    assert sorted(seen) == list(range(120))
    assert "(continued)" in messages[1][0]


def test_a_digest_counts_length_as_telegram_does() -> None:
    """Telegram counts UTF-16 units: a digest of emoji and 𝗯𝗼𝗹𝗱-letter headlines (Telegram
    channels write them) measured in code points was refused as too long, and lost."""
    entries = [
        entry(n, ("sumy",), title=f"🔴⚡️ {n} 𝗞𝗵𝗮𝗿𝗸𝗶𝘃: 𝗲𝘅𝗽𝗹𝗼𝘀𝗶𝗼𝗻𝘀 𝗶𝗻 𝘁𝗵𝗲 𝗰𝗶𝘁𝘆 " * 3)
        for n in range(40)
    ]
    messages = digest.digest_html(entries, RULES, UTC, NOW)
    assert all(digest.visible_length(html) <= digest.TELEGRAM_LIMIT for html, _ in messages)
    assert sorted(i for _, ids in messages for i in ids) == list(range(40))


def test_a_story_carried_by_more_outlets_than_a_message_takes_keeps_every_link() -> None:
    others = tuple(
        Piece(
            f"Outlet number {n} of the regional evening press",
            "Title",
            f"https://outlet{n}.example/news/{n}",
        )
        for n in range(150)
    )
    big = replace(entry(1, ("sumy",), title="Missile strike on Sumy"), others=others)
    messages = digest.digest_html([big, entry(2, ("sumy",))], RULES, UTC, NOW)
    assert len(messages) > 1
    assert all(digest.visible_length(html) <= digest.TELEGRAM_LIMIT for html, _ in messages)
    text = "".join(html for html, _ in messages)
    assert all(f"https://outlet{n}.example/news/{n}" in text for n in range(150))
    assert {i for _, ids in messages for i in ids} == {1, 2}


def test_local_time_shows_the_date_when_not_today() -> None:
    tz = ZoneInfo("Europe/Kyiv")
    assert digest.local_time(NOW, tz, NOW) == "12:00"
    assert digest.local_time(NOW - timedelta(days=1), tz, NOW) == "24 Nov 12:00"
    # another year's report, which a feed brought up late, says its year (QA); the last days
    # of December, read on New Year's Day, need none
    assert digest.local_time(NOW.replace(year=2019), tz, NOW) == "25 Nov 2019 12:00"
    new_year = NOW.replace(year=NOW.year + 1, month=1, day=1)
    assert digest.local_time(NOW.replace(month=12, day=31), tz, new_year).count(" ") == 2


def test_settle_writes_every_story_span_and_report_story(tmp_path) -> None:
    """Filing writes its rows together at the end of a settle: each story's first and last
    report times and each report's story and signature must be what filing them one by one
    would write, across two settles, with a backlog report that becomes a story's headline."""
    store = Store.open(tmp_path)
    strike = "Drone strike on Sumy substation leaves 3,000 homes without power"
    put(store, "alpha", 1, 10, strike)
    put(store, "beta", 2, 30, strike)
    assert store.settle(NOW + timedelta(hours=1), frozenset()).joined == 1
    put(store, "gamma", 3, -20, strike)  # published before the story's headline
    put(store, "delta", 4, 50, strike)
    put(store, "omega", 5, 40, "Parliament in Vilnius votes on the 2027 budget")
    result = store.settle(NOW + timedelta(hours=1), frozenset())
    assert (result.matched, result.joined) == (3, 2)

    def at(minutes: int) -> str:
        return iso(NOW + timedelta(minutes=minutes))

    ids = dict(store.db.execute("SELECT guid, id FROM items").fetchall())
    stories = store.db.execute("SELECT id, first_at, last_at FROM stories ORDER BY id").fetchall()
    assert stories == [(ids["g1"], at(-20), at(50)), (ids["g5"], at(40), at(40))]
    filed = store.db.execute("SELECT guid, story_id, signature FROM items ORDER BY guid").fetchall()
    assert [(guid, story) for guid, story, _ in filed] == [
        ("g1", ids["g1"]),
        ("g2", ids["g1"]),
        ("g3", ids["g1"]),
        ("g4", ids["g1"]),
        ("g5", ids["g5"]),
    ]
    assert all(sig and sig.startswith("{") for _, _, sig in filed)


def test_story_index_read_back_from_the_database_is_the_one_filing_built(tmp_path) -> None:
    """A later run (``once``, ``explain``) reads the story index back from the database, only
    the reports of each story the index keeps. What it reads must be the index filing built:
    each story's headline, latest reports, keys, times and place among stories alike."""
    store = Store.open(tmp_path)
    told = "Drone strike on Sumy substation leaves 3,000 homes without power"

    def put_told(feed: str, n: int, minutes: int, title: str) -> None:
        put(store, feed, n, minutes, title, summary=f"{title}.")

    sources = ["officials say", "energy firm says", "utility company says", "repair crews say"]
    for n in range(6):  # twelve outlets tell one story, over two settles, in their own words
        put_told(f"outlet{n:02d}", n, 10 + n, f"{told}, {sources[n % 4]}")
    put_told("vilnius", 100, 20, "Parliament in Vilnius votes on the 2027 budget")
    store.settle(NOW + timedelta(hours=1), frozenset())
    for n in range(6, 12):
        put_told(f"outlet{n:02d}", n, 10 + n, f"{told}, {sources[n % 4]}")
    put_told("riga", 101, 25, "Parliament in Vilnius votes on the 2027 budget, at last")
    # an update between the reports kept: its figures are the story's (read back too)
    put(
        store,
        "outlet99",
        99,
        15,
        "Sumy substation strike: outage rises to 4,500 homes",
        summary="The outage rose to 4,500 homes as a second line failed, officials say.",
    )
    store.settle(NOW + timedelta(hours=1), frozenset())
    built = store._stories

    def state(index) -> dict:
        return {
            sid: (
                story.head[0].item_id,
                [report.item_id for report, _ in story.members],
                sorted(story.keys),
                story.filed,
                index._first_ts[sid],
                index._last_ts[sid],
                index._order[sid],
                sorted(story.told),
            )
            for sid, story in index._stories.items()
        }

    store.forget_stories()
    later = NOW + timedelta(hours=1)
    read = store._story_index(later, later)  # as the next settle or explain reads it
    assert read is not built
    assert sorted(len(s.members) for s in read._stories.values()) == [1, 3]
    keys = {key for story in read._stories.values() for key in story.keys}
    assert {"en:firm", "en:util", "en:crew"} <= keys, keys  # the 2nd-4th reports' words
    assert state(read) == state(built)
    assert any(story.told for story in read._stories.values())
    assert {k: sorted(v) for k, v in read._postings.items()} == {
        k: sorted(v) for k, v in built._postings.items()
    }


@pytest.mark.parametrize(
    ("title", "summary", "excerpt"),
    [
        # a Telegram channel's post (RSSHub): the title is its first line
        (
            "⚡️ Вибухи у Харкові: триває атака дронів",
            "⚡️ Вибухи у Харкові: триває атака дронів\nМешканців закликають перебувати в укриттях.",
            "Мешканців закликають перебувати в укриттях.",
        ),
        # an untitled item, titled by its first words
        (
            "Drones hit a substation in Sumy overnight, cutting power to…",
            "Drones hit a substation in Sumy overnight, cutting power to 12,000 homes, the governor"
            " said.",
            "12,000 homes, the governor said.",
        ),
        # a title a bridge cut inside a word: the word stays whole in the excerpt (QA)
        (
            "Ракета влучила в будинок у Шевченківському районі: п…",
            "Ракета влучила в будинок у Шевченківському районі: пошкоджено дах, є поранені.",
            "пошкоджено дах, є поранені.",
        ),
        # a title that is not the text's opening stays out of it
        ("Substation hit in Sumy", "Drones hit a substation.", "Drones hit a substation."),
    ],
)
def test_an_alert_does_not_repeat_its_title_as_its_excerpt(title, summary, excerpt) -> None:
    alert = replace(entry(1, ("sumy",), title=title), summary=summary)
    html = digest.alert_html(alert, RULES, UTC, NOW)
    assert html.count(digest.esc(title.rstrip("…"))) == 1, html
    assert digest.esc(excerpt) in html
    text = digest.alerts_text([alert], RULES, UTC, NOW)[0][0]
    assert text.count(title.rstrip("…")) == 1, text


def test_a_whole_title_is_taken_from_the_text_only_to_a_words_end() -> None:
    # "port" is not "portside": a title not cut short is the text's opening only word for word
    assert digest._without_title("Drones hit Odesa portside sheds.", "Drones hit Odesa port") == (
        "Drones hit Odesa portside sheds."
    )


def test_a_digest_time_in_the_hour_that_repeats_comes_once() -> None:
    """On the night clocks go back (Kyiv, 25 Oct 2026: 03:00-04:00 twice), a 03:30 digest
    after a digest at 03:05 of the second pass was due at once, and on every check until
    03:30 (QA: seven digests in a minute and a half). Times are compared as instants."""
    from alerts.schedule import DigestSchedule, digest_due, next_digest

    tz = ZoneInfo("Europe/Kyiv")
    schedule = DigestSchedule(at=(time(3, 30),))
    last = datetime(2026, 10, 25, 1, 5, tzinfo=UTC)  # 03:05 EET, the second pass
    nxt = next_digest(schedule, last, tz)
    assert nxt is not None and nxt.astimezone(UTC) > last
    assert not digest_due(schedule, last, last + timedelta(minutes=1), tz)
    # the ordinary case is unchanged: after a digest the day before, 03:30 of the first pass
    day_before = datetime(2026, 10, 24, 0, 30, tzinfo=UTC)
    first = next_digest(schedule, day_before, tz)
    assert first is not None and first.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_an_untitled_posts_excerpt_does_not_repeat_its_title() -> None:
    """A forwarded post's title is its first paragraph after "Forwarded from ...": the
    excerpt, which leaves out the title, had repeated it whole (QA)."""
    summary = (
        "Forwarded From Regional Administration\nShelling hit border villages of Sumy region "
        "overnight.\nBilopillia was hit too."
    )
    snippet = digest._snippet(summary, "Shelling hit border villages of Sumy region overnight.")
    assert snippet == "Bilopillia was hit too."


def test_the_next_digest_waits_for_the_quiet_hours_to_end() -> None:
    from alerts.schedule import parse_quiet, quiet_end

    tz = ZoneInfo("Europe/Kyiv")
    quiet = parse_quiet("23:00-07:00")
    late = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)  # 00:30 in Kyiv
    assert quiet_end(quiet, late, tz).astimezone(UTC) == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    evening = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # 23:30 in Kyiv, before midnight
    assert quiet_end(quiet, evening, tz).astimezone(UTC) == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
