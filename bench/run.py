"""Measured speed: the bot's figures beside their floors, against local servers on 127.0.0.1.

    python bench/run.py            # every figure, full size (about half an hour, most of it
                                   # bench/matching.py checking itself against its reference)
    python bench/run.py --quick    # smaller, under a minute; without matching and stories
    python bench/run.py --only poll,fanout,memory,latency,matching,stories

Nothing is mocked: feeds are served over HTTP by a small aiohttp server in a process of its own,
Telegram by ``tests/fake_telegram.py`` (the local Bot API server the tests use) in another, and
the bot runs its real code (``Service``, ``Store``, httpx, feedparser, python-telegram-bot).

1. Poll cycle. N feeds of 50 items each (written here: conflict news in English, Ukrainian and
   Russian with a share of ordinary news, a few percent carried by two feeds), about 30 rules on
   the built-in regions. The bot's first cycle (``Service.poll_all`` on an empty store: fetch,
   parse, match, store) beside the floor, a bare loop that only fetches with httpx (same
   concurrency, 10) and parses with feedparser. Then the bot's second cycle, where every feed
   answers 304 to its ETag, beside its first. Best of R runs each, alternated.
2. Digest fan-out. A digest owed to N chats, sent by ``Service.send_digests`` through the bot's
   Telegram sink (PTB with its rate limiter, as with TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL)
   to the local Bot API server, which answers 429 beyond 30 messages in any second. The rate is
   measured from the call to the last message accepted, and shown as a share of 30 a second.
3. Peak memory. ``bot.py once`` over 1,000 local feeds of 50 items (0.4% of them from the last
   day, the rest older than the backfill: a first poll) with a state pre-filled with 10,000
   subscribed chats, started from a tiny spawner so that ru_maxrss is the bot's own. Floor:
   ``bot.py check`` on the same rules (the interpreter, the libraries and the matcher).
4. Latency. ``bot.py run`` as a subprocess, polling 20 feeds every P seconds; one feed gains an
   urgent item and the time until the Bot API server records the alert is taken, at a random
   moment of the poll cycle, several times. Floor: the poll interval (the wait for the next poll).

5. The poll cycle as the operator runs it (``--only process``, issue 13). ``bot.py once`` as a
   process over 200 feeds x 50 recent items with 306 rules, beside a process that fetches the
   same feeds with httpx and parses them with feedparser (``bench/floor.py``); then again with
   every feed unchanged (304); then again with 10 feeds changed, one new item each (what a bot
   under cron runs most). Peak RSS of the bot, and of the bot with its worker processes.

``matching`` and ``stories`` run ``bench/matching.py`` and ``bench/stories.py`` and show their
output after the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
TELEGRAM_LIMIT = 30  # messages a second, overall

# ------------------------------------------------------------------------------------------
# Text: conflict news written for this benchmark (templates and word lists, nothing copied).
# ------------------------------------------------------------------------------------------

EN_PLACES = [
    "Kharkiv", "Kupiansk", "Vovchansk", "Izium", "Sumy", "Shostka", "Okhtyrka", "Konotop",
    "Bilopillia", "Kyiv", "Brovary", "Bila Tserkva", "Chernihiv", "Nizhyn", "Pokrovsk",
    "Kramatorsk", "Sloviansk", "Kostiantynivka", "Druzhkivka", "Zaporizhzhia", "Kherson",
    "Mykolaiv", "Odesa", "Izmail", "Dnipro", "Nikopol", "Kryvyi Rih", "Pavlohrad", "Poltava",
    "Kremenchuk", "Belgorod", "Kursk", "Bryansk", "Sevastopol", "Lviv", "Vinnytsia",
]  # fmt: skip
EN_RU_REGIONS = ["Belgorod", "Kursk", "Bryansk", "Rostov", "Voronezh", "Krasnodar"]
EN_NEUTRAL_PLACES = ["Uzhhorod", "Ternopil", "Rivne", "Lutsk", "Chernivtsi", "Warsaw", "Vilnius"]
EN_FACILITIES = [
    "an energy facility", "a substation", "a fuel depot", "a grain warehouse", "a railway depot",
    "an apartment block", "a school", "a hospital", "a supermarket", "a bus station",
]  # fmt: skip
EN_ACTORS = ["Russian", "Russia's", "Enemy", "Overnight", "Shahed"]

EN_ATTACK = [
    "{actor} drone attack on {place} injures {n}",
    "Missile strike on {place} kills {n}, governor says",
    "Overnight shelling damages homes in {place}",
    "Glide bombs hit {place}; {n} wounded, dozens of windows blown out",
    "Explosions heard in {place} as air raid alert sounds",
    "{place}: drone debris sparks fire at {facility}",
    "Ballistic missile attack on {place} damages {facility}",
    "Power outages in {place} after strike on a substation",
    "Russian forces press assault near {place}, military says",
    "{n} civilians injured as artillery shells {place} suburbs",
    "Drones target {place} for the third night in a row",
]
EN_THEMES = [
    "IAEA experts report drone strike near Zaporizhzhia nuclear power plant",
    "North Korean soldiers deployed to the Kursk front, Ukrainian intelligence says",
    "Pyongyang ships more artillery shells to Russia, Seoul says",
    "Prisoner exchange brings {n} Ukrainian defenders home",
    "Ceasefire talks: delegations to meet again next week, Kremlin says",
    "EU agrees new sanctions package targeting Russian oil revenues",
    "Grain ship leaves Odesa port despite drone threat",
    "Ukraine receives another Patriot air defence system",
    "Air defence shot down {m} of {k} drones overnight, air force says",
    "Evacuation of families with children ordered near {place}",
    "Refinery on fire in Russia's {ru_region} region after drone attack",
    "Blackout schedules return as power grid repairs continue",
    "Kyiv and Moscow trade accusations over stalled peace talks",
    "Partisans claim sabotage on railway line in occupied Crimea",
]
EN_NEUTRAL = [
    "Central bank holds key rate at {pct}% as inflation eases",
    "Farmers expect a late harvest after a cold spring",
    "National football team names squad for autumn qualifiers",
    "Heavy snow disrupts roads in the west; drivers urged to take care",
    "New bridge opens to traffic in {neutral}",
    "Film festival in Lviv opens with a documentary premiere",
    "Parliament debates pension reform bill",
    "Tech start-up raises funding for farm sensors",
    "Railway adds extra night trains for the holidays",
    "Museum reopens after restoration of its main hall",
    "Hospital in {neutral} opens rehabilitation centre for veterans",
    "Exporters report record honey shipments to the EU",
    "City council approves budget for school renovations in {neutral}",
    "Marathon in {neutral} draws thousands of runners",
]
EN_SENTENCES = [
    "The regional governor said {n} people were taken to hospital, including a child.",
    "Emergency crews worked through the night to put out the fire.",
    "Air defence units were active over the region, officials said.",
    "Several apartment blocks, a school and a number of cars were damaged.",
    "Residents were urged to stay in shelters until the all-clear.",
    "The air force said {m} drones were intercepted and {r} lost on radar.",
    "Power was restored to most households by the morning.",
    "It was the {ord} attack on the city this week.",
    "Police opened an investigation into the circumstances.",
    "The ministry said talks would continue at the level of advisers.",
    "Officials gave no further details.",
    "The statement could not be independently verified.",
]
EN_NEUTRAL_SENTENCES = [
    "Organisers expect more visitors than last year.",
    "The decision takes effect at the start of next month.",
    "Analysts said the figures were in line with expectations.",
    "Tickets are available online and at the box office.",
    "The project is funded by a regional development programme.",
    "Local residents welcomed the change.",
]

UK_LOC = [
    "Харкові", "Сумах", "Києві", "Одесі", "Херсоні", "Дніпрі", "Запоріжжі", "Миколаєві",
    "Чернігові", "Полтаві", "Краматорську", "Покровську", "Кременчуці", "Нікополі",
]  # fmt: skip
UK_GEN = [
    "Харківщини", "Сумщини", "Донеччини", "Запорізької області", "Херсонщини", "Одещини",
    "Дніпропетровщини", "Чернігівщини", "Київщини", "Миколаївщини",
]  # fmt: skip
UK_ATTACK = [
    "Нічна атака дронів на {loc_acc}: є постраждалі",
    "Ворог обстріляв прикордонні громади {gen}, поранено {n} людей",
    "Вибухи в {loc}: у місті оголошено повітряну тривогу",
    "Сили ППО збили {m} з {k} ударних дронів над {gen_short}",
    "Удар по енергетичній інфраструктурі {gen}: частина споживачів без світла",
    "Російські війська атакували {loc_acc} балістичними ракетами",
    "Обстріл {gen}: пошкоджено житлові будинки та школу",
]
UK_SENTENCES = [
    "Про це повідомив начальник обласної військової адміністрації.",
    "На місці працюють рятувальники та поліція.",
    "Пошкоджено житлові будинки, автомобілі та лінії електропередачі.",
    "Жителів закликають не ігнорувати сигнали повітряної тривоги.",
    "Постраждалим надають медичну допомогу.",
    "Інформація про загиблих уточнюється.",
]
UK_NEUTRAL = [
    "Уряд ухвалив зміни до програми доступних кредитів для бізнесу",
    "У Львові відкрився фестиваль вуличної їжі",
    "Синоптики прогнозують похолодання та дощі на вихідних",
    "Збірна України з футболу розпочала підготовку до матчу",
    "Мінцифри запустило нову послугу в застосунку",
    "В Ужгороді відновили історичний міст через річку",
    "Фермери розпочали посівну кампанію раніше звичайного",
]
UK_NEUTRAL_SENTENCES = [
    "Про це повідомили в пресслужбі міської ради.",
    "Зміни наберуть чинності з наступного місяця.",
    "Організатори очікують кількох тисяч відвідувачів.",
]
RU_LOC = ["Белгороде", "Курске", "Брянске", "Харькове", "Донецке", "Херсоне", "Севастополе"]
RU_GEN = ["Белгородской области", "Курской области", "Брянской области", "Харьковской области"]
RU_ATTACK = [
    "Беспилотники атаковали нефтебазу в {loc}",
    "В {loc} прогремели взрывы, объявлена воздушная тревога",
    "Губернатор: при обстреле {gen} ранены {n} человек",
    "ПВО сбила {m} беспилотников над {gen}",
    "Удар по подстанции в {loc}: часть города без электроснабжения",
]
RU_SENTENCES = [
    "Об этом сообщил губернатор региона.",
    "На месте работают экстренные службы.",
    "Повреждены жилые дома и автомобили.",
    "Информация о пострадавших уточняется.",
]
RU_NEUTRAL = [
    "В Москве открылась выставка современного искусства",
    "Цены на бензин выросли за неделю",
    "Синоптики обещают снег в выходные",
    "В Петербурге завершился международный экономический форум",
]
RU_NEUTRAL_SENTENCES = ["Об этом сообщает пресс-служба.", "Подробности пока не приводятся."]
UK_ACC = {
    "Харкові": "Харків",
    "Сумах": "Суми",
    "Києві": "Київ",
    "Одесі": "Одесу",
    "Херсоні": "Херсон",
    "Дніпрі": "Дніпро",
    "Запоріжжі": "Запоріжжя",
    "Миколаєві": "Миколаїв",
    "Чернігові": "Чернігів",
    "Полтаві": "Полтаву",
    "Краматорську": "Краматорськ",
    "Покровську": "Покровськ",
    "Кременчуці": "Кременчук",
    "Нікополі": "Нікополь",
}
ORDINALS = ["second", "third", "fourth", "fifth"]


def _fill(rnd: random.Random, template: str) -> str:
    k = rnd.randint(20, 90)
    return template.format(
        actor=rnd.choice(EN_ACTORS),
        place=rnd.choice(EN_PLACES),
        facility=rnd.choice(EN_FACILITIES),
        ru_region=rnd.choice(EN_RU_REGIONS),
        neutral=rnd.choice(EN_NEUTRAL_PLACES),
        n=rnd.randint(2, 30),
        m=k - rnd.randint(0, 8),
        k=k,
        r=rnd.randint(1, 9),
        pct=rnd.choice(["13.5", "14", "14.5", "15.5"]),
        ord=rnd.choice(ORDINALS),
        loc=rnd.choice(UK_LOC),
        loc_acc=UK_ACC[rnd.choice(UK_LOC)],
        gen=rnd.choice(UK_GEN),
        gen_short=rnd.choice(UK_GEN),
    )


def _summary(rnd: random.Random, sentences: list[str], link: str) -> str:
    """A summary as feeds carry it: HTML paragraphs, entities, sometimes a link."""
    picked = [_fill(rnd, s) for s in rnd.sample(sentences, k=min(len(sentences), 3))]
    text = f"<p>{' '.join(picked[:2])}</p>"
    if len(picked) > 2:
        text += f"<p>{picked[2]}&nbsp;&#8212; <em>updated</em></p>"
    if rnd.random() < 0.5:
        text += f'<p><a href="{link}">Read more&hellip;</a></p>'
    return text


def news_item(rnd: random.Random, lang: str) -> tuple[str, str]:
    """(title, summary template) for one item; about 40% of them match some rule."""
    roll = rnd.random()
    if lang == "uk":
        if roll < 0.40:
            loc = rnd.choice(UK_LOC)
            title = rnd.choice(UK_ATTACK).format(
                loc=loc,
                loc_acc=UK_ACC[loc],
                gen=rnd.choice(UK_GEN),
                gen_short=rnd.choice(UK_GEN),
                n=rnd.randint(2, 20),
                m=rnd.randint(10, 40),
                k=rnd.randint(40, 60),
            )
            return title, "uk"
        return rnd.choice(UK_NEUTRAL), "uk-neutral"
    if lang == "ru":
        if roll < 0.40:
            title = rnd.choice(RU_ATTACK).format(
                loc=rnd.choice(RU_LOC),
                gen=rnd.choice(RU_GEN),
                n=rnd.randint(2, 20),
                m=rnd.randint(5, 40),
            )
            return title, "ru"
        return rnd.choice(RU_NEUTRAL), "ru-neutral"
    if roll < 0.30:
        return _fill(rnd, rnd.choice(EN_ATTACK)), "en"
    if roll < 0.42:
        return _fill(rnd, rnd.choice(EN_THEMES)), "en"
    return _fill(rnd, rnd.choice(EN_NEUTRAL)), "en-neutral"


SENTENCES = {
    "en": EN_SENTENCES,
    "en-neutral": EN_NEUTRAL_SENTENCES,
    "uk": UK_SENTENCES,
    "uk-neutral": UK_NEUTRAL_SENTENCES,
    "ru": RU_SENTENCES,
    "ru-neutral": RU_NEUTRAL_SENTENCES,
}


@dataclass
class Entry:
    title: str
    link: str
    guid: str
    summary: str
    date: datetime


@dataclass
class FeedDoc:
    name: str
    path: str  # the URL path on the feed server
    lang: str
    atom: bool
    entries: list[Entry] = field(default_factory=list)

    def render(self) -> bytes:
        return (_atom if self.atom else _rss)(self).encode("utf-8")


def _rss(feed: FeedDoc) -> str:
    host = f"https://{feed.path.strip('/').replace('/', '-')}.example"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{escape(feed.name)}</title><link>{host}/</link>"
        f"<description>News from {escape(feed.name)}</description><language>{feed.lang}</language>"
        f"<lastBuildDate>{format_datetime(datetime.now(UTC))}</lastBuildDate>"
    ]
    for e in feed.entries:
        parts.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
            f'<guid isPermaLink="false">{escape(e.guid)}</guid>'
            f"<pubDate>{format_datetime(e.date)}</pubDate><category>News</category>"
            f"<description>{escape(e.summary)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts)


def _atom(feed: FeedDoc) -> str:
    host = f"https://{feed.path.strip('/').replace('/', '-')}.example"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>{escape(feed.name)}</title><id>{host}/</id><link href="{host}/"/>'
        f"<updated>{datetime.now(UTC).isoformat()}</updated>"
    ]
    for e in feed.entries:
        parts.append(
            f"<entry><title>{escape(e.title)}</title>"
            f'<link rel="alternate" href="{escape(e.link)}"/><id>{escape(e.guid)}</id>'
            f"<published>{e.date.isoformat()}</published><updated>{e.date.isoformat()}</updated>"
            f'<summary type="html">{escape(e.summary)}</summary></entry>'
        )
    parts.append("</feed>")
    return "".join(parts)


def make_feeds(
    count: int, items: int, seed: int, *, fresh: float = 1.0, prefix: str = "wire"
) -> list[FeedDoc]:
    """``count`` feeds of ``items`` items. ``fresh`` is the share of items of the last 20 hours;
    the others are two to ten days old (older than the backfill of a first poll)."""
    rnd = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    shared: list[Entry] = []  # wire copy carried by more than one feed
    feeds = []
    for f in range(count):
        lang = rnd.choices(["en", "uk", "ru"], weights=[60, 25, 15])[0]
        feed = FeedDoc(
            f"{prefix} {f:04d}", f"/feeds/{prefix}-{f:04d}.xml", lang, rnd.random() < 0.2
        )
        for i in range(items):
            if shared and rnd.random() < 0.03:
                feed.entries.append(rnd.choice(shared))
                continue
            title, kind = news_item(rnd, lang)
            link = f"https://{prefix}{f:04d}.example/news/{i:03d}-{rnd.getrandbits(40):010x}"
            if rnd.random() < fresh:
                date = now - timedelta(minutes=rnd.randint(1, 20 * 60))
            else:
                date = now - timedelta(hours=rnd.randint(48, 240))
            entry = Entry(
                title, link, f"{prefix}-{f}-{i}", _summary(rnd, SENTENCES[kind], link), date
            )
            feed.entries.append(entry)
            if lang == "en" and rnd.random() < 0.05:
                shared.append(entry)
        feeds.append(feed)
    return feeds


REGION_RULES = [
    ("Kyiv", "kyiv"), ("Kharkiv", "kharkiv"), ("Sumy", "sumy"), ("Chernihiv", "chernihiv"),
    ("Poltava", "poltava"), ("Dnipropetrovsk", "dnipro"), ("Donetsk", "donetsk"),
    ("Luhansk", "luhansk"), ("Zaporizhzhia", "zaporizhzhia"), ("Kherson", "kherson"),
    ("Mykolaiv", "mykolaiv"), ("Odesa", "odesa"), ("Crimea", "crimea"), ("Kursk", "kursk"),
    ("Belgorod", "belgorod"), ("Bryansk", "bryansk"), ("Lviv", "lviv"),
]  # fmt: skip
ATTACK_TERMS = (
    "[shelling, shelled, strike*, struck, attack*, assault*, drone*, bomb*, missile*, explosion*,"
    " обстріл*, атак*, удар*, дрон*, безпілотник*, бомб*, вибух*, ракет*, штурм*,"
    " обстрел*, беспилотник*, взрыв*, ракет*]"
)
THEME_RULES = """\
  - id: nk-troops
    name: North Korean troops and arms for Russia
    all:
      - [North Korea, North Korean, Pyongyang, DPRK, Північн* Коре*, КНДР, Северн* Коре*]
      - [troops, soldiers, deploy*, artillery shells, ammunition, missile*, військ*, солдат*,
         войск*, военн*, снаряд*]
    none: [football, soccer]
    priority: urgent
  - id: kyiv-missiles
    name: Missile attacks on Kyiv
    regions: [Kyiv]
    any: [ballistic, missile*, Iskander*, Kinzhal*, ракет*, балістичн*, баллистическ*]
    priority: urgent
  - id: znpp
    name: Zaporizhzhia nuclear power plant
    any: [ZNPP, IAEA, nuclear power plant, ЗАЕС, МАГАТЕ, ЗАЭС, МАГАТЭ]
    priority: urgent
  - id: air-defence
    name: Air defence
    any: [Patriot, air defence, air defense, shot down, intercepted, ППО, збили, збито, ПВО,
          сбила, сбиты]
  - id: energy
    name: Energy infrastructure and blackouts
    any: [power grid, power outage*, blackout*, substation*, energy facilit*, енергетичн*,
          знеструм*, без світла, подстанци*, электроснабжени*]
  - id: talks
    name: Ceasefire and peace talks
    any: [ceasefire, truce, peace talks, peace deal, negotiat*, перемир*, переговор*]
  - id: prisoners
    name: Prisoner exchanges
    any: [prisoner exchange, prisoner swap, обмін полоненими, обмен пленными]
  - id: sanctions
    name: Sanctions
    all: [[sanction*, санкці*, санкци*], [Russia*, Росі*, Росси*]]
  - id: grain
    name: Black Sea shipping and grain
    any: [grain ship, grain corridor, port of Odesa, Odesa port]
  - id: refineries
    name: Strikes on refineries and fuel depots
    any: [refinery, refineries, fuel depot, oil depot, нафтобаз*, НПЗ, нефтебаз*]
  - id: evacuation
    name: Evacuations
    any: [evacuat*, евакуац*, эвакуац*]
  - id: civilians-killed
    name: Civilians killed
    all: [[killed, kills, dead, загинул*, загибл*, погиб*], [civilian*, people, children,
          мирн*, людей, людина]]
  - id: crimea-partisans
    name: Sabotage and partisans
    any: [partisan*, sabotage, saboteur*, партизан*, диверсі*, диверси*]
  - id: hospitals
    name: Attacks on hospitals and schools
    all: [[hospital, school, лікарн*, школ*, больниц*], [strike*, attack*, shelling, удар*,
          обстріл*, атак*, обстрел*]]
"""


def rules_yaml(feeds: list[tuple[str, str]], settings: str) -> str:
    lines = ["settings:", *("  " + s for s in settings.strip().splitlines()), "feeds:"]
    for name, url in feeds:
        lines += [f"  - name: {name}", f"    url: {url}"]
    lines.append("rules:")
    lines.append(THEME_RULES.rstrip())
    for region, slug in REGION_RULES:
        lines += [
            f"  - id: {slug}-front",
            f"    name: Attacks in {region} region",
            f"    regions: [{region}]",
            f"    any: {ATTACK_TERMS}",
        ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# Servers, each in a process of its own so that neither takes the bot's event loop or GIL.
# ------------------------------------------------------------------------------------------


def _exit_when_parent_goes() -> None:
    def watch() -> None:
        with contextlib.suppress(Exception):
            while sys.stdin.buffer.read(1):
                pass
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def serve_feeds(directory: str) -> None:
    """Child process: serves every ``*.xml`` of ``directory`` at /feeds/NAME with ETags and
    gzip; ``PUT /feeds/NAME`` replaces a feed; ``GET /_stats`` counts answers."""
    from aiohttp import web

    bodies: dict[str, tuple[bytes, bytes, str, str]] = {}
    counts = {"200": 0, "304": 0}
    changes: dict[str, dict[str, float | None]] = {}

    def put(path: str, raw: bytes) -> None:
        etag = '"' + hashlib.sha1(raw).hexdigest()[:20] + '"'
        ctype = "application/atom+xml" if b"<feed" in raw[:300] else "application/rss+xml"
        bodies[path] = (raw, gzip.compress(raw, 6), etag, ctype + "; charset=utf-8")

    for p in sorted(Path(directory).glob("*.xml")):
        put("/feeds/" + p.name, p.read_bytes())

    async def get(request: web.Request) -> web.StreamResponse:
        entry = bodies.get(request.path)
        if entry is None:
            return web.Response(status=404)
        raw, gz, etag, ctype = entry
        if request.headers.get("If-None-Match") == etag:
            counts["304"] += 1
            return web.Response(status=304, headers={"ETag": etag})
        counts["200"] += 1
        change = changes.get(request.path)
        if change is not None and change["served"] is None:
            change["served"] = time.time()
        headers = {"ETag": etag, "Content-Type": ctype, "Cache-Control": "max-age=60"}
        body = raw
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers["Content-Encoding"] = "gzip"
            body = gz
        return web.Response(body=body, headers=headers)

    async def replace(request: web.Request) -> web.Response:
        put(request.path, await request.read())
        changes[request.path] = {"put": time.time(), "served": None}
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({**counts, "changes": changes})

    async def reset(request: web.Request) -> web.Response:
        counts.update({"200": 0, "304": 0})
        changes.clear()
        return web.Response(text="ok")

    app = web.Application(client_max_size=64 * MB)
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_reset", reset)
    app.router.add_get("/feeds/{name}", get)
    app.router.add_put("/feeds/{name}", replace)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.Event().wait()

    _exit_when_parent_goes()
    asyncio.run(main())


def serve_telegram() -> None:
    """Child process: tests/fake_telegram.py, driven by one JSON command per stdin line."""
    from tests.fake_telegram import FakeTelegram

    fake = FakeTelegram().start_in_thread()
    print(json.dumps({"base_url": fake.base_url, "token": fake.token}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req["cmd"]
        out: dict = {"ok": True}
        if cmd == "rate":
            fake.rate_limit(per_second=req.get("per_second"))
        elif cmd == "clear":
            fake.clear()
        elif cmd == "stats":
            sent = fake.sent
            times = sorted(r["time"] for r in sent)
            out = {
                "sent": len(sent),
                "chats": len({r["chat_id"] for r in sent}),
                "too_many": fake.too_many_count,
                "errors": len(fake.errors),
                "first": times[0] if times else None,
                "last": times[-1] if times else None,
                "max_in_1s": _max_in_window(times, 1.0),
            }
        elif cmd == "find":
            hits = [r["time"] for r in fake.sent if req["text"] in r["plain_text"]]
            out = {"time": min(hits) if hits else None}
        print(json.dumps(out), flush=True)
    fake.stop_thread()


def _max_in_window(times: list[float], width: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - width:
            start += 1
        best = max(best, end - start + 1)
    return best


class Child:
    """A server in a process of its own; the first line it prints says where it listens."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.hello = self.proc.stdout.readline().strip()
        if not self.hello:
            raise RuntimeError(f"server {args} did not start")

    def ask(self, **req: object) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class FeedServer(Child):
    def __init__(self, feeds: list[FeedDoc]):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
        for feed in feeds:
            (self.dir / Path(feed.path).name).write_bytes(feed.render())
        super().__init__("--serve-feeds", str(self.dir))
        self.port = int(self.hello.split()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _call(self, method: str, path: str, data: bytes | None = None) -> bytes:
        req = urllib.request.Request(self.url(path), data=data, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()

    def stats(self) -> dict:
        return json.loads(self._call("GET", "/_stats"))

    def reset(self) -> None:
        self._call("POST", "/_reset", b"")

    def replace(self, feed: FeedDoc) -> None:
        self._call("PUT", feed.path, feed.render())

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: str
    floor: str
    ratio: str
    target: str
    ok: bool | None
    notes: list[str] = field(default_factory=list)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


# ------------------------------------------------------------------------------------------
# 1. Poll cycle
# ------------------------------------------------------------------------------------------

POLL_SETTINGS = """\
poll_every: 5m
digest_every: 1h
timezone: Europe/Kyiv
backfill: 1d
fetch_timeout: 30s
"""


async def _floor_cycle(urls: list[str], concurrency: int) -> tuple[float, int]:
    """Only what any poller must do: fetch every feed with httpx, parse it with feedparser."""
    import feedparser
    import httpx

    from alerts.service import FETCH_CONCURRENCY

    assert concurrency == FETCH_CONCURRENCY
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        slots = asyncio.Semaphore(concurrency)

        async def one(url: str) -> int:
            async with slots:
                response = await http.get(url)
                response.raise_for_status()
                body = response.content
            parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
            return len(parsed.entries)

        started = time.perf_counter()
        counts = await asyncio.gather(*(one(u) for u in urls))
        return time.perf_counter() - started, sum(counts)


async def _bot_cycles(rules_path: Path, state_dir: Path) -> dict:
    from alerts.config import load
    from alerts.service import Service
    from alerts.sinks import ConsoleSink
    from alerts.store import Store

    config = load(rules_path)
    store = Store.open(state_dir, timedelta(seconds=config.settings.story_window))
    store.set_console(True, datetime.now(UTC))  # as ``bot.py once`` without a token
    service = Service(config, store, ConsoleSink(io.StringIO()))
    try:
        started = time.perf_counter()
        first = await service.poll_all(force=True)
        t_first = time.perf_counter() - started
        started = time.perf_counter()
        second = await service.poll_all(force=True)
        t_second = time.perf_counter() - started
    finally:
        await service.close()
        store.close()
    failed = [o for o in first + second if not o.ok]
    if failed:
        raise RuntimeError(f"feeds failed: {[(o.feed, o.reason) for o in failed[:5]]}")
    if any(o.unchanged for o in first) or not all(o.unchanged for o in second):
        raise RuntimeError("first cycle should find everything new, the second nothing")
    return {
        "first": t_first,
        "second": t_second,
        "new": sum(o.result.new for o in first),
        "matched": sum(o.result.matched for o in first),
        "duplicates": sum(o.result.duplicates for o in first),
        "joined": sum(o.result.joined for o in first),
    }


def bench_poll(feed_count: int, rounds: int) -> list[Row]:
    _say(f"poll cycle: {feed_count} feeds x 50 items, best of {rounds}")
    docs = make_feeds(feed_count, 50, seed=1)
    server = FeedServer(docs)
    tmp = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    try:
        urls = [server.url(d.path) for d in docs]
        rules = tmp / "rules.yaml"
        rules.write_text(rules_yaml([(d.name, server.url(d.path)) for d in docs], POLL_SETTINGS))
        floors, firsts, seconds = [], [], []
        info: dict = {}
        for r in range(rounds):
            t_floor, entries = asyncio.run(_floor_cycle(urls, 10))
            floors.append(t_floor)
            assert entries == feed_count * 50, entries
            server.reset()
            info = asyncio.run(_bot_cycles(rules, tmp / f"state{r}"))
            stats = server.stats()
            assert stats["304"] == feed_count and stats["200"] == feed_count, stats
            firsts.append(info["first"])
            seconds.append(info["second"])
            _say(
                f"  round {r + 1}: floor {t_floor:.2f}s, bot first {info['first']:.2f}s, "
                f"second (304) {info['second']:.3f}s"
            )
            shutil.rmtree(tmp / f"state{r}", ignore_errors=True)
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    floor, first, second = min(floors), min(firsts), min(seconds)
    items = feed_count * 50
    new_note = (
        f"{info['new']:,} new items stored, {info['matched']:,} matched "
        f"({info['joined']:,} joined a story), {info['duplicates']:,} duplicates across feeds; "
        f"bot {items / first:,.0f} items/s, floor {items / floor:,.0f} items/s; "
        f"runs: floor {', '.join(f'{x:.2f}' for x in floors)} s; "
        f"bot {', '.join(f'{x:.2f}' for x in firsts)} s"
    )
    return [
        Row(
            f"poll cycle, {feed_count} feeds x 50 items, all new",
            _fmt_s(first),
            f"{_fmt_s(floor)} (httpx + feedparser)",
            f"{first / floor:.2f}x",
            "<= 1.3x",
            first / floor <= 1.3,
            [new_note],
        ),
        Row(
            f"poll cycle, {feed_count} feeds, all 304",
            _fmt_s(second),
            f"{_fmt_s(first)} (first cycle)",
            f"{second / first:.1%}",
            "< 10%",
            second / first < 0.10,
            [f"runs: {', '.join(f'{x:.3f}' for x in seconds)} s"],
        ),
    ]


# ------------------------------------------------------------------------------------------
# 1b. A poll cycle as the operator runs it: the whole ``bot.py once`` process
# ------------------------------------------------------------------------------------------

BROAD_RULES = 300
CHANGED_FEEDS = 10
"""Feeds given one new item each for the process bench's third pass."""
BROAD_WORDS = 5


def broad_rules(feeds: list[FeedDoc], seed: int) -> str:
    """300 broad rules, each ``all: [[updated], [five common words]]``: on these feeds about 95%
    of the items match some rule, and a matched item about 80 of them (what issue 13 measured:
    a heavy but possible rules file, where matching and grouping meet nearly every item)."""
    df: Counter[str] = Counter()
    for feed in feeds:
        for e in feed.entries:
            df.update(set(re.findall(r"\w+", f"{e.title} {e.summary}".casefold())))
    total = sum(len(f.entries) for f in feeds)
    pool = [
        w
        for w, n in df.most_common(400)
        if len(w) > 3 and n / total < 0.5 and w != "updated" and not w.startswith(("http", "href"))
    ]
    rnd = random.Random(seed)
    lines = []
    for k in range(BROAD_RULES):
        words = ", ".join(rnd.sample(pool, BROAD_WORDS))
        lines += [f"  - id: broad-{k:03d}", f"    all: [[updated], [{words}]]"]
    return "\n".join(lines) + "\n"


def _resident(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    """The process's descendants, less those caught between their fork and their exec: such a
    child still runs its parent's program (the same command line) in its parent's memory, and
    counting its RSS would count the parent's pages twice (a bot of 128 MB read as 184 MB)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            kids = []
        parent = _cmdline(p)
        out += [k for k in kids if _cmdline(k) != parent]
        todo += kids
    return out


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _spawn(args: list[str], timeout: float) -> tuple[int, str, float, int, float, int]:
    """Run ``python ARGS`` from a bare spawner: exit code, stderr, seconds, own peak RSS, CPU,
    and the peak of the RSS of the process and its children together (the signature worker
    of alerts/signer.py), sampled every 20 ms from /proc."""
    from tests.peak_rss import _SPAWNER

    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SPAWNER, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_clean_env(),
    )
    together = 0
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        if time.monotonic() - started > timeout:
            proc.kill()
            raise subprocess.TimeoutExpired(args, timeout)
        # The spawner's own few MB do not count: only what it runs.
        together = max(together, sum(_resident(p) for p in _descendants(proc.pid)))
        time.sleep(0.02)
    reader.join()
    elapsed = time.monotonic() - started
    err, _, last = "".join(errors).rstrip().rpartition("\n")
    fields = dict(kv.split("=") for kv in last.split())
    own = int(fields["PEAK_RSS_KB"]) * 1024
    return proc.returncode, err, elapsed, own, float(fields["CPU_S"]), max(together, own)


def bench_process(feed_count: int, rounds: int) -> list[Row]:
    _say(
        f"poll cycle as a process: bot.py once, {feed_count} feeds x 50 items (all recent), "
        f"{BROAD_RULES + 6} rules; best of {rounds}"
    )
    docs = make_feeds(feed_count, 50, seed=11, fresh=1.0)
    server = FeedServer(docs)
    tmp = Path(tempfile.mkdtemp(prefix="bench-process-"))
    try:
        urls = tmp / "urls.txt"
        urls.write_text("\n".join(server.url(d.path) for d in docs) + "\n")
        theme = THEME_RULES.split("  - id: prisoners")[0]  # the first six themes
        rules = tmp / "rules.yaml"
        text = rules_yaml([(d.name, server.url(d.path)) for d in docs], POLL_SETTINGS)
        text = text.split("rules:\n", 1)[0] + "rules:\n" + theme + broad_rules(docs, 5)
        rules.write_text(text)
        bot = str(ROOT / "bot.py")
        floors, firsts, seconds, peaks, cpus, togethers = [], [], [], [], [], []
        thirds: list[float] = []
        third_peaks: list[tuple[int, int]] = []
        summary = ""
        for r in range(rounds):
            code, err, t_floor, floor_peak, _, _ = _spawn(
                [str(ROOT / "bench" / "floor.py"), str(urls)], 600
            )
            assert code == 0, err
            floors.append(t_floor)
            server.reset()
            state = tmp / f"state{r}"
            once = [bot, "once", "--rules", str(rules), "--state", str(state)]
            code, err, t_first, peak1, cpu1, all1 = _spawn(once, 1800)
            if code != 0:
                raise RuntimeError(f"bot.py once failed ({code}):\n{err[-3000:]}")
            code, err2, t_second, peak2, _, all2 = _spawn(once, 600)
            assert code == 0, err2
            db = sqlite3.connect(state / "alerts.db")
            matched, stories = db.execute(
                "SELECT count(*), count(DISTINCT story_id) FROM items WHERE status = 'matched'"
            ).fetchone()
            db.close()
            summary = f"{matched:,} reports matched, grouped into {stories:,} stories"
            # What a bot under cron runs most: a few feeds changed, one new item each (an
            # update of a report already told, so it joins its story), the rest unchanged.
            changed = random.Random(r).sample(docs, CHANGED_FEEDS)
            for i, doc in enumerate(changed):
                told = docs[(7 * i + r) % len(docs)].entries[i]
                doc.entries.insert(
                    0,
                    Entry(
                        f"{told.title} (update)",
                        f"{told.link}?update={r}",
                        f"update-{r}-{i}",
                        told.summary,
                        datetime.now(UTC).replace(microsecond=0),
                    ),
                )
                server.replace(doc)
            code, err3, t_third, peak3, _, all3 = _spawn(once, 600)
            assert code == 0, err3
            for doc in changed:  # as they were, for the next round's first pass
                del doc.entries[0]
                server.replace(doc)
            thirds.append(t_third)
            third_peaks.append((peak3, all3))
            firsts.append(t_first)
            seconds.append(t_second)
            peaks.append(max(peak1, peak2))
            togethers.append(max(all1, all2))
            cpus.append(cpu1)
            _say(
                f"  round {r + 1}: floor {t_floor:.2f}s ({floor_peak / MB:.0f} MB), once "
                f"{t_first:.2f}s ({cpu1:.2f}s CPU, {peak1 / MB:.0f} MB, with its worker "
                f"{all1 / MB:.0f} MB), again {t_second:.2f}s ({peak2 / MB:.0f} MB), "
                f"{CHANGED_FEEDS} changed {t_third:.2f}s ({peak3 / MB:.0f} MB, with its workers "
                f"{all3 / MB:.0f} MB)"
            )
            shutil.rmtree(state, ignore_errors=True)
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    floor, first, second, peak = min(floors), min(firsts), min(seconds), min(peaks)
    together = min(togethers)
    runs = (
        f"runs: floor {', '.join(f'{x:.2f}' for x in floors)} s; once "
        f"{', '.join(f'{x:.2f}' for x in firsts)} s (CPU {', '.join(f'{x:.2f}' for x in cpus)} s); "
        f"unchanged {', '.join(f'{x:.2f}' for x in seconds)} s; "
        f"{CHANGED_FEEDS} changed {', '.join(f'{x:.2f}' for x in thirds)} s"
    )
    third = min(thirds)
    third_own = min(own for own, _ in third_peaks)
    third_all = min(together for _, together in third_peaks)
    return [
        Row(
            f"bot.py once, {feed_count} feeds x 50 recent items, {BROAD_RULES + 6} rules",
            _fmt_s(first),
            f"{_fmt_s(floor)} (process: httpx + feedparser)",
            f"{first / floor:.2f}x",
            "<= 1.0x",
            first / floor <= 1.0,
            [summary, runs],
        ),
        Row(
            f"bot.py once again, {feed_count} feeds unchanged",
            _fmt_s(second),
            f"{_fmt_s(floor)} (the same floor)",
            f"{second / floor:.2f}x",
            "<= 0.25x",
            second / floor <= 0.25,
            [],
        ),
        Row(
            f"bot.py once again, {CHANGED_FEEDS} of {feed_count} feeds changed (one new item each)",
            _fmt_s(third),
            f"{_fmt_s(floor)} (the same floor)",
            f"{third / floor:.2f}x",
            "-",
            None,
            [
                f"what a bot under cron runs most; peak RSS {third_own / MB:.0f} MB, with its "
                f"workers {third_all / MB:.0f} MB (no target)"
            ],
        ),
        Row(
            "peak RSS of bot.py once (either pass)",
            f"{peak / MB:.0f} MB",
            f"{together / MB:.0f} MB with its worker",
            f"{together / MB:.0f} MB",
            "<= 150 MB",
            together <= 150 * MB,
            [
                "the bot's own peak (wait4), and the peak of the bot and its signature worker "
                "together (sampled from /proc every 20 ms): the target is held to the second"
            ],
        ),
    ]


# ------------------------------------------------------------------------------------------
# 2. Digest fan-out
# ------------------------------------------------------------------------------------------

FANOUT_SETTINGS = """\
poll_every: 5m
digest_every: 1h
timezone: Europe/Kyiv
backfill: 1d
fetch_timeout: 30s
"""


def _fill_chats(state_dir: Path, count: int, first_id: int) -> None:
    """Chats as ``/start`` leaves them (every rule, default schedule), written in bulk."""
    from alerts.store import Store, iso

    store = Store.open(state_dir)
    stamp = iso(datetime.now(UTC) - timedelta(days=3))
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO chats(id, kind, title, active, rules, created_at, last_digest_at) "
            "VALUES(?, 'private', ?, 1, NULL, ?, ?)",
            [(first_id + i, f"Subscriber {i}", stamp, stamp) for i in range(count)],
        )
    store.close()


async def _fanout(rules_path: Path, state_dir: Path, telegram: Child, chats: int) -> dict:
    from alerts.config import load
    from alerts.service import Service
    from alerts.store import Store
    from alerts.telegram import TelegramSink, build_application

    tg = json.loads(telegram.hello)
    config = load(rules_path)
    store = Store.open(state_dir, timedelta(seconds=config.settings.story_window))
    app = build_application(tg["token"], tg["base_url"])
    await app.initialize()
    service = Service(config, store, TelegramSink(app.bot))
    try:
        outcomes = await service.poll_all(force=True)  # queues the digest for every chat
        assert all(o.ok for o in outcomes), outcomes
        owed = len(await service.db(store.chats_with_pending, False))
        assert owed == chats, (owed, chats)
        telegram.ask(cmd="clear")
        telegram.ask(cmd="rate", per_second=TELEGRAM_LIMIT)
        started = time.time()
        sent = await service.send_digests()
        elapsed = time.time() - started
        depth = await service.db(store.outbox_depth)
        made = store.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        gave_up = store.db.execute(
            "SELECT count(*) FROM outbox WHERE gave_up_at IS NOT NULL"
        ).fetchone()[0]
    finally:
        await service.close()
        await app.shutdown()
        store.close()
    stats = telegram.ask(cmd="stats")
    return {
        "elapsed": elapsed,
        "started": started,
        "sent": sent,
        "made": made,
        "depth": depth,
        "gave_up": gave_up,
        **stats,
    }


def bench_fanout(chats: int) -> list[Row]:
    _say(f"digest fan-out: {chats:,} chats at {TELEGRAM_LIMIT}/s (>= {chats / 30:.0f} s)")
    docs = make_feeds(2, 6, seed=2, prefix="desk")
    # A digest of a few stories, one message per chat.
    docs[0].entries = [
        Entry(t, f"https://desk.example/{i}", f"d{i}", s, datetime.now(UTC) - timedelta(hours=i))
        for i, (t, s) in enumerate(
            [
                ("Drone attack on Kharkiv damages an energy facility", "<p>Two injured.</p>"),
                ("Glide bombs hit Kostiantynivka; 4 wounded", "<p>Homes damaged.</p>"),
                ("Air defence shot down 41 of 47 drones overnight", "<p>Debris fell.</p>"),
                ("Farmers expect a late harvest after a cold spring", "<p>Rain.</p>"),
            ],
            start=1,
        )
    ]
    docs[1].entries = []
    server = FeedServer(docs)
    telegram = Child("--serve-telegram")
    tmp = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    try:
        rules = tmp / "rules.yaml"
        rules.write_text(rules_yaml([(d.name, server.url(d.path)) for d in docs], FANOUT_SETTINGS))
        state = tmp / "state"
        _fill_chats(state, chats, 10_000_001)
        r = asyncio.run(_fanout(rules, state, telegram, chats))
    finally:
        telegram.close()
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    rate = r["sent"] / r["elapsed"]
    share = rate / TELEGRAM_LIMIT
    window = (
        (r["sent"] - 1) / (r["last"] - r["first"]) if r["first"] and r["last"] > r["first"] else 0
    )
    clean = (
        r["sent"] == r["made"] == r["chats"] == chats
        and r["depth"] == 0
        and r["gave_up"] == 0
        and r["too_many"] == 0
    )
    return [
        Row(
            f"digest fan-out, {chats:,} chats",
            f"{rate:.1f} msg/s",
            f"{TELEGRAM_LIMIT} msg/s (the limit; {chats / TELEGRAM_LIMIT:.0f} s)",
            f"{share:.1%}",
            ">= 90%, no 429, none lost",
            share >= 0.90 and clean,
            [
                f"{r['sent']:,} sent to {r['chats']:,} chats in {r['elapsed']:.1f} s "
                f"(from send_digests() to its return, composing included); "
                f"{r['too_many']} answered 429; outbox left {r['depth']}, gave up {r['gave_up']}; "
                f"first accepted {r['first'] - r['started']:.2f} s after the call; "
                f"between first and last accepted {window:.1f} msg/s; "
                f"most in any 1 s window at the server: {r['max_in_1s']}"
            ],
        )
    ]


# ------------------------------------------------------------------------------------------
# 3. Peak memory
# ------------------------------------------------------------------------------------------


def _measured(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, float, int]:
    """Run ``bot.py ARGS``: exit code, stderr, seconds, and its own peak RSS in bytes."""
    from tests.peak_rss import run_bot

    m = run_bot(args, env, timeout, capture_stdout=False)
    return m.code, m.stderr, m.seconds, m.peak


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "RULES_FILE", "STATE_DIR")
    }


def bench_memory(feed_count: int, chats: int, fresh: float) -> list[Row]:
    _say(f"peak memory: bot.py once, {feed_count} feeds x 50 items, {chats:,} subscribers")
    docs = make_feeds(feed_count, 50, seed=3, fresh=fresh)
    server = FeedServer(docs)
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        rules = tmp / "rules.yaml"
        rules.write_text(rules_yaml([(d.name, server.url(d.path)) for d in docs], POLL_SETTINGS))
        state = tmp / "state"
        _fill_chats(state, chats, 20_000_001)
        # once says nothing when every feed answered; its summary is a log line at INFO.
        env = {**_clean_env(), "LOG_LEVEL": "INFO"}
        code, err, _, floor = _measured(["check", "--rules", str(rules)], env, 120)
        assert code == 0, err
        code, err, elapsed, peak = _measured(
            ["once", "--rules", str(rules), "--state", str(state)], env, 1800
        )
        if code != 0:
            raise RuntimeError(f"bot.py once failed ({code}):\n{err[-3000:]}")
        summary = next(
            (
                line.split(' summary="', 1)[1].removesuffix('"')
                for line in err.splitlines()
                if "event=once_done" in line
            ),
            "",
        )
        db = sqlite3.connect(state / "alerts.db")
        queued = db.execute("SELECT count(*) FROM queue").fetchone()[0]
        messages = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        db.close()
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return [
        Row(
            f"peak RSS, {feed_count:,} feeds, {chats:,} subscribers",
            f"{peak / MB:.0f} MB",
            f"{floor / MB:.0f} MB (bot.py check)",
            f"{peak / MB:.0f} MB",
            "< 200 MB",
            peak < 200 * MB,
            [
                f"bot.py once took {elapsed:.1f} s: {summary}; {queued:,} stories queued for "
                f"chats, {messages:,} messages delivered (console)"
            ],
        )
    ]


# ------------------------------------------------------------------------------------------
# 4. Latency from a feed changing to the alert accepted by the Bot API
# ------------------------------------------------------------------------------------------

_LATENCY_CHAT = 7001
# Urgent news, each a different event (a report of a story already alerted is not alerted
# again: it goes to the next digest as an update).
_URGENT = [
    ("Ballistic missiles hit Kyiv's Obolon district overnight", "Windows were blown out."),
    ("North Korean soldiers seen near Sudzha, Kursk region", "Intelligence released photos."),
    ("IAEA: drone struck a training centre at the ZNPP", "No radiation rise was recorded."),
    ("Pyongyang sends artillery shells by rail, Seoul says", "Satellite images show wagons."),
    ("Iskander strike on Brovary near Kyiv injures eight", "A warehouse burned for hours."),
    ("МАГАТЕ: на ЗАЕС знову зникло зовнішнє живлення", "Працюють дизель-генератори."),
    ("Балістичні ракети над Києвом: уламки впали на Дарницю", "Постраждалих госпіталізовано."),
    ("КНДР перекинула до Курської області нових солдатів", "Про це заявили в розвідці."),
]


def bench_latency(poll: int, samples: int, feed_count: int = 20) -> list[Row]:
    _say(f"latency: bot.py run, {feed_count} feeds polled every {poll}s, {samples} changes")
    rnd = random.Random(4)
    docs = make_feeds(feed_count, 50, seed=4, prefix="live")
    from alerts.config import load

    probe = Path(tempfile.mkdtemp(prefix="bench-rules-")) / "rules.yaml"
    probe.write_text(rules_yaml([("probe", "http://127.0.0.1:9/probe.xml")], POLL_SETTINGS))
    config = load(probe)
    shutil.rmtree(probe.parent)
    urgent = {r.id for r in config.rules if r.urgent}
    for doc in docs:  # nothing that matches an urgent rule until the benchmark adds it
        doc.entries = [
            e
            for e in doc.entries
            if not urgent & set(config.matcher.match(f"{e.title} {e.summary}").rules)
        ]
    assert samples <= len(_URGENT)
    server = FeedServer(docs)
    telegram = Child("--serve-telegram")
    tg = json.loads(telegram.hello)
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    settings = POLL_SETTINGS.replace("poll_every: 5m", f"poll_every: {poll}s") + (
        f"chats:\n  - id: {_LATENCY_CHAT}\n"
    )
    rules = tmp / "rules.yaml"
    rules.write_text(rules_yaml([(d.name, server.url(d.path)) for d in docs], settings))
    env = {
        **_clean_env(),
        "TELEGRAM_BOT_TOKEN": tg["token"],
        "TELEGRAM_API_URL": tg["base_url"],
        "LOG_LEVEL": "WARNING",
    }
    bot = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "run", "--rules", str(rules), "--state",
         str(tmp / "state")],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    latencies, pipeline = [], []
    try:
        deadline = time.monotonic() + 60
        while server.stats()["200"] + server.stats()["304"] < 2 * feed_count:
            if bot.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bot.py run did not poll: {bot.stderr.read()[-2000:]}")
            time.sleep(0.2)
        time.sleep(poll)
        for n in range(samples):
            # A random moment of the poll cycle, and a second after the last alert: the chat
            # takes one message a second, and that wait is not what is measured here.
            time.sleep(1 + rnd.uniform(0, poll))
            doc = docs[n % len(docs)]
            title, lead = _URGENT[n]
            link = f"https://live.example/alert/{n}"
            doc.entries.insert(0, Entry(title, link, f"alert-{n}", lead, datetime.now(UTC)))
            server.replace(doc)
            changed = time.time()
            deadline = time.monotonic() + poll * 3 + 10
            while (found := telegram.ask(cmd="find", text=title)["time"]) is None:
                if bot.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"no alert for {title!r}: {bot.stderr.read()[-2000:]}")
                time.sleep(0.01)
            served = server.stats()["changes"][doc.path]["served"]
            latencies.append(found - changed)
            pipeline.append(found - served)
            _say(
                f"  change {n + 1}: alert accepted {found - changed:.2f} s after the change "
                f"({found - served:.2f} s after the feed was fetched)"
            )
        stats = telegram.ask(cmd="stats")
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(timeout=40)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()
        telegram.close()
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    worst = max(latencies)
    target = poll + 1.0
    return [
        Row(
            f"latency, feed change -> alert accepted (poll {poll}s)",
            f"{worst:.2f} s max",
            f"{poll} s (poll interval)",
            f"{worst - poll:+.2f} s",
            f"< {target:.0f} s",
            worst < target and stats["sent"] == samples and not stats["too_many"],
            [
                f"{samples} changes: median {statistics.median(latencies):.2f} s, max "
                f"{worst:.2f} s; fetch of the changed feed -> alert accepted: median "
                f"{statistics.median(pipeline):.3f} s, max {max(pipeline):.3f} s; "
                f"the scheduler adds up to 10% jitter to the interval"
            ],
        )
    ]


# ------------------------------------------------------------------------------------------
# The other benches
# ------------------------------------------------------------------------------------------


def run_script(name: str, quick: bool) -> str:
    _say(f"{name}: bench/{name}.py" + (" --quick" if quick and name == "matching" else ""))
    args = [sys.executable, str(ROOT / "bench" / f"{name}.py")]
    if quick and name == "matching":
        args.append("--quick")
    if quick and name == "stories":
        args += ["--stories", "2000", "--items", "500"]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    return (
        f"$ {' '.join(['python', *args[1:]]).replace(str(ROOT) + '/', '')}\n"
        + (proc.stdout + proc.stderr).rstrip()
    )


# ------------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    head = ("figure", "measured", "floor", "ratio", "target", "pass?")
    cells = [
        (r.figure, r.value, r.floor, r.ratio, r.target, "-" if r.ok is None else "yes" if r.ok else "NO")
        for r in rows
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for c in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
    return "\n".join(lines)


ALL = ("poll", "process", "fanout", "memory", "latency", "matching", "stories")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument(
        "--only",
        help=f"comma-separated, from: {','.join(ALL)} (default: all; with --quick, all but "
        "matching and stories, whose own checks take minutes)",
    )
    parser.add_argument("--serve-feeds", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--serve-telegram", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_feeds:
        serve_feeds(args.serve_feeds)
        return 0
    if args.serve_telegram:
        serve_telegram()
        return 0
    q = args.quick
    if args.only:
        only = {s.strip() for s in args.only.split(",") if s.strip()}
    else:
        only = set(ALL) - ({"matching", "stories"} if q else set())
    unknown = only - set(ALL)
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))}")
    started = time.monotonic()
    rows: list[Row] = []
    extra: list[str] = []
    steps: list[tuple[str, Callable[[], None]]] = [
        ("poll", lambda: rows.extend(bench_poll(100 if q else 500, 1 if q else 3))),
        ("process", lambda: rows.extend(bench_process(50 if q else 200, 1 if q else 3))),
        ("fanout", lambda: rows.extend(bench_fanout(300 if q else 5000))),
        (
            "memory",
            lambda: rows.extend(
                bench_memory(200 if q else 1000, 2000 if q else 10_000, fresh=0.004)
            ),
        ),
        ("latency", lambda: rows.extend(bench_latency(2 if q else 5, 3 if q else 8))),
        ("matching", lambda: extra.append(run_script("matching", q))),
        ("stories", lambda: extra.append(run_script("stories", q))),
    ]
    for name, step in steps:
        if name in only:
            step()
    cores = os.cpu_count()
    print(
        f"bench/run.py{' --quick' if q else ''}: {cores} cores, Python "
        f"{sys.version.split()[0]}, {time.monotonic() - started:.0f} s\n"
    )
    if rows:
        print(table(rows))
        print()
        for r in rows:
            for note in r.notes:
                print(f"* {r.figure}: {note}")
    for text in extra:
        print()
        print(text)
    skipped = [name for name in ("matching", "stories") if name not in only]
    if skipped:
        print(
            f"\nNot run: {', '.join(f'bench/{n}.py' for n in skipped)} "
            f"(python bench/run.py --only {','.join(skipped)})"
        )
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
