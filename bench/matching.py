"""How fast items are matched against 100, 1,000 and 10,000 rules, beside the raw automaton scan.

    python bench/matching.py            # the full run
    python bench/matching.py --quick    # smaller, for a quick look
    python bench/matching.py --parts    # where the time of one match goes, at 1,000 rules
    python bench/matching.py --long     # full-article items (10,000 characters) beside short ones

The matcher is built as the bot builds it: every rule with the default ``near`` (so long items
are read for where their terms are) and the built-in teaser phrases.

For each rule count it prints, measured in the same run on one core:
  * match:  items/s through ``Matcher.match`` (word stream, automaton, rule evaluation);
  * scan:   items/s of the raw automaton scan alone over the same items' word streams (the floor);
  * ratio:  match / scan, i.e. how many times slower the whole match is than the bare scan;
  * stream: items/s of building the word stream alone (``words()``: casefold, separators), which
    the scan's floor takes as given;
  * (match-stream)/scan: what matching costs beyond building the stream, against the scan.
Before timing, every item's result is checked against :func:`reference_match`, a simple matcher
written for clarity, so the figures are for a matcher that is right.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.config import DEFAULT_NEAR
from alerts.matcher import Matcher, RuleSpec, Term, parse_term
from alerts.teasers import builtin_teasers
from alerts.text import words, words_reference

PLACES = [
    "Kyiv",
    "Kharkiv",
    "Sumy",
    "Odesa",
    "Kherson",
    "Zaporizhzhia",
    "Pokrovsk",
    "Kupiansk",
    "Kursk",
    "Belgorod",
    "Crimea",
    "Mariupol",
    "Donetsk",
    "Bakhmut",
    "Dnipro",
    "Lviv",
    "Київ",
    "Харків",
    "Суми",
    "Одеса",
    "Херсон",
    "Запоріжжя",
    "Покровськ",
    "Курськ",
    "Киев",
    "Харьков",
    "Сумы",
    "Одесса",
    "Херсон",
    "Запорожье",
    "Покровск",
    "Белгород",
]
WORDS_EN = (
    "troops soldiers drones missiles strike strikes shelling attack attacks artillery air defence "
    "ceasefire talks negotiations blackout substation power grid energy infrastructure brigade "
    "offensive counteroffensive frontline village villages civilians injured killed wounded "
    "evacuation refinery depot warehouse bridge railway port grain corridor sanctions aid package "
    "fighter jets tanks ammunition shells mobilisation recruits prisoners exchange deal summit "
    "pledged delivered intercepted downed launched advanced repelled captured liberated"
).split()
WORDS_UK = (
    "війська солдати дрони ракети удар удари обстріл атака артилерія ппо перемир'я переговори "
    "знеструмлення підстанція енергетика бригада наступ контрнаступ фронт село села цивільні "
    "поранені загиблі евакуація нафтобаза склад міст залізниця порт зерно санкції допомога "
    "винищувачі танки боєприпаси снаряди мобілізація полонені обмін збито перехоплено звільнено"
).split()
WORDS_RU = (
    "войска солдаты дроны ракеты удар удары обстрел атака артиллерия пво перемирие переговоры "
    "обесточивание подстанция энергетика бригада наступление фронт село сёла мирные раненые "
    "погибшие эвакуация нефтебаза склад мост железная дорога порт зерно санкции помощь "
    "истребители танки боеприпасы снаряды мобилизация пленные обмен сбиты перехвачены"
).split()
FILLER = (
    "the a of in on at and to from after before during officials said according report reports "
    "local authorities regional governor overnight morning evening week month statement"
).split()
# Function words and common news words, as FILLER is for English. (Until 2026-12-01 the
# Ukrainian and Russian items were padded with the first twelve topic words instead, so that
# seven words in ten of a Cyrillic item were rule terms: no news reads like that.)
FILLER_UK = (
    "у в на з із до від по за про і та що як після під над для через біля також уже ще "
    "місцеві влада повідомили заявив області районі громаді вночі вранці увечері тижня "
    "даними джерела чиновники мешканці"
).split()
FILLER_RU = (
    "в на с из до от по за про и что как после под над для через около также уже ещё "
    "местные власти сообщили заявил области районе ночью утром вечером недели данным "
    "источники чиновники жители"
).split()
SYLLABLES_EN = "no vo ha ri ka lo pi dni ste pa ro mi zhy to be la ky su ol ga dy an ko".split()
SYLLABLES_UK = "но во ха рі ка ло пі дні сте па ро мі жи то бе ла ки су ол га ди ан ко".split()


def entities(n: int, seed: int) -> list[tuple[str, str]]:
    """Invented place names, each in Latin and Cyrillic spelling: what large rule sets key on
    (an operator following every town of a front line writes one rule per town)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < n:
        idx = [rng.randrange(len(SYLLABLES_EN)) for _ in range(rng.randint(3, 4))]
        en = "".join(SYLLABLES_EN[i] for i in idx).capitalize() + rng.choice(
            ["ivka", "sk", "ne", "ove"]
        )
        if en in seen:
            continue
        seen.add(en)
        uk = "".join(SYLLABLES_UK[i] for i in idx).capitalize() + rng.choice(["івка", "ськ", "не"])
        out.append((en, uk))
    return out


DOMAIN = [w for w in WORDS_EN + WORDS_UK + WORDS_RU if w.isalpha()]


def make_rules(n: int, seed: int = 1) -> tuple[list[RuleSpec], dict[str, list[Term]]]:
    """Rule sets shaped like real ones: most rules key on a place or actor, some on topics."""
    rng = random.Random(seed)
    ents = entities(n, seed)
    regions = {
        f"Region {i}": [parse_term(en), parse_term(uk), parse_term(uk[:-1] + "*")]
        for i, (en, uk) in enumerate(ents[: max(5, n // 10)])
    }
    names = list(regions)
    rules = []
    for i in range(n):
        en, uk = ents[i]
        kind = rng.random()
        topic = tuple(
            parse_term(w if rng.random() < 0.7 else w[:5] + "*") for w in rng.sample(DOMAIN, 3)
        )
        near = DEFAULT_NEAR
        if i < 20:  # a few topic rules, as every rule set has
            rules.append(RuleSpec(f"rule-{i}", (topic[:1], topic[1:]), (), near=near))
        elif kind < 0.6:  # a place and what happened there
            rules.append(
                RuleSpec(f"rule-{i}", ((parse_term(en), parse_term(uk)), topic), near=near)
            )
        elif kind < 0.8:  # a region and what happened there
            rules.append(RuleSpec(f"rule-{i}", (), topic, (), (rng.choice(names),), near=near))
        else:  # an actor, in any of its spellings, but not in sport
            rules.append(
                RuleSpec(
                    f"rule-{i}",
                    (),
                    (parse_term(f"{en} {rng.choice(DOMAIN)}"), parse_term(uk)),
                    (parse_term("football"),),
                    near=near,
                )
            )
    return rules, regions


def build(rules: list[RuleSpec], regions: dict[str, list[Term]]) -> Matcher:
    """The matcher as the bot builds it (its teaser phrases included)."""
    return Matcher(rules, regions, teasers=builtin_teasers())


def make_long_items(n: int, seed: int = 3, n_entities: int = 1000, chars: int = 10_000):
    """Full-article texts: a title line, then short items run together to ``chars``
    characters, one language per article."""
    short = make_items(n * 40, seed=seed, n_entities=n_entities)
    by_lang = [short[lang::3] for lang in range(3)]
    out = []
    for i in range(n):
        pool = by_lang[i % 3]
        title, parts, size = pool[(i * 7) % len(pool)], [], 0
        k = i
        while size < chars:
            text = pool[k % len(pool)]
            parts.append(text)
            size += len(text) + 1
            k += 1
        out.append(title + "\n" + " ".join(parts)[:chars])
    return out


def make_items(n: int, seed: int = 2, rules_seed: int = 1, n_entities: int = 1000) -> list[str]:
    """Title-and-lead texts of realistic length, in English, Ukrainian and Russian; most name
    one place, as news does, so some items match and most do not."""
    rng = random.Random(seed)
    ents = entities(n_entities, rules_seed)
    items = []
    for i in range(n):
        lang = i % 3
        vocab = (WORDS_EN, WORDS_UK, WORDS_RU)[lang]
        filler = (FILLER, FILLER_UK, FILLER_RU)[lang]
        parts = []
        for _ in range(rng.randint(28, 45)):
            r = rng.random()
            if r < 0.04:
                en, uk = (
                    rng.choice(ents) if rng.random() < 0.5 else entities(1, rng.randrange(10**6))[0]
                )
                parts.append(en if lang == 0 else uk)
            elif r < 0.07:
                parts.append(rng.choice(PLACES))
            elif r < 0.3:
                parts.append(rng.choice(vocab))
            else:
                parts.append(rng.choice(filler))
        text = " ".join(parts)
        items.append(text[:1].upper() + text[1:] + ".")
    return items


def reference_match(rules: list[RuleSpec], regions: dict[str, list[Term]], text: str):
    """The semantics, written plainly: word lists and loops, no automaton."""
    tokens = words_reference(text).split()

    def at(term: Term) -> list[int]:
        n = len(term.words)
        return [
            i
            for i in range(len(tokens) - n + 1)
            if all(
                tokens[i + k].startswith(w) if p else tokens[i + k] == w
                for k, (w, p) in enumerate(zip(term.words, term.prefix, strict=True))
            )
        ]

    def found(term: Term) -> bool:
        return bool(at(term))

    def close(rule: RuleSpec) -> bool:
        """Whether one hit of every required group fits in a window of ``near`` words."""
        groups = [list(group) for group in rule.all]
        if rule.any:
            groups.append(list(rule.any))
        if rule.regions:
            groups.append([t for r in rule.regions for t in [parse_term(r), *regions[r]]])
        if rule.near is None or len(groups) < 2:
            return True
        positions = [sorted({p for t in group for p in at(t)}) for group in groups]
        return any(
            all(any(start <= p <= start + rule.near for p in ps) for ps in positions)
            for start in {p for ps in positions for p in ps}
        )

    mentioned = {
        name
        for name, aliases in regions.items()
        if any(found(t) for t in [parse_term(name), *aliases])
    }
    matched = []
    for rule in rules:
        if any(found(t) for t in rule.none):
            continue
        if rule.any and not any(found(t) for t in rule.any):
            continue
        if rule.regions and not set(rule.regions) & mentioned:
            continue
        if all(any(found(t) for t in group) for group in rule.all) and close(rule):
            matched.append(rule.id)
    return tuple(matched), tuple(sorted(mentioned))


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def run(
    rule_counts: list[int], n_items: int, check: int, repeat: int, long: bool = False
) -> list[dict]:
    rows = []
    for n in rule_counts:
        items = (
            make_long_items(n_items, n_entities=n) if long else make_items(n_items, n_entities=n)
        )
        rules, regions = make_rules(n)
        started = time.perf_counter()
        matcher = build(rules, regions)
        build_s = time.perf_counter() - started
        for text in items[:check]:
            got = matcher.match(text)
            want = reference_match(rules, regions, text)
            assert (got.rules, got.regions) == want, (text, got, want)
        streams = [words(t) for t in items]
        automaton = matcher._automaton

        def scan(streams=streams, automaton=automaton) -> None:
            for s in streams:
                for _ in automaton.iter(s):
                    pass

        def match(items=items, matcher=matcher) -> None:
            for t in items:
                matcher.match(t)

        def stream(items=items) -> None:
            for t in items:
                words(t)

        t_scan = best_of(scan, repeat)
        t_match = best_of(match, repeat)
        t_stream = best_of(stream, repeat)
        matched = sum(1 for t in items if matcher.match(t).rules)
        rows.append(
            {
                "rules": n,
                "terms": matcher.term_count,
                "build_s": build_s,
                "match_per_s": n_items / t_match,
                "scan_per_s": n_items / t_scan,
                "ratio": t_match / t_scan,
                "stream_per_s": n_items / t_stream,
                "ratio_given_stream": (t_match - t_stream) / t_scan,
                "matched_share": matched / n_items,
            }
        )
    return rows


def parts(n_rules: int, n_items: int, repeat: int) -> list[tuple[str, float]]:
    """Microseconds per item of each step of ``Matcher.match``, beside the raw scan."""
    items = make_items(n_items, n_entities=n_rules)
    rules, regions = make_rules(n_rules)
    matcher = build(rules, regions)
    streams = [words(t) for t in items]
    automaton = matcher._automaton
    pairs = list(zip(streams, items, strict=True))

    def scan() -> None:
        for s in streams:
            for _ in automaton.iter(s):
                pass

    def stream() -> None:
        for t in items:
            words(t)

    def hit_ids() -> None:
        for s, t in pairs:
            matcher.hit_ids(s, t)

    def match() -> None:
        for t in items:
            matcher.match(t)

    us = {
        name: best_of(fn, repeat) / n_items * 1e6
        for name, fn in (("scan", scan), ("stream", stream), ("hits", hit_ids), ("match", match))
    }
    hits = sum(1 for s in streams for _ in automaton.iter(s)) / n_items
    rows = [
        (f"raw scan of the word stream (the floor; {hits:.1f} hits per item)", us["scan"]),
        ("building the word stream (words())", us["stream"]),
        ("collecting the hit term ids (hit_ids(): the scan and a set union per hit)", us["hits"]),
        (
            "evaluating the candidate rules (the rest of match())",
            us["match"] - us["stream"] - us["hits"],
        ),
        ("match() in all", us["match"]),
    ]
    try:  # the other automaton, when installed beside the project (not a dependency)
        import ahocorasick_rs
    except ImportError:
        return rows
    other = ahocorasick_rs.AhoCorasick(list(automaton.keys()))

    def scan_rs() -> None:
        for s in streams:
            other.find_matches_as_indexes(s, overlapping=True)

    per_item = best_of(scan_rs, repeat) / n_items * 1e6
    rows.append(("ahocorasick-rs, installed: the same keys' hits, all in one call", per_item))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer items and repeats")
    parser.add_argument("--parts", action="store_true", help="the steps of one match, timed")
    parser.add_argument("--long", action="store_true", help="10,000-character items too")
    args = parser.parse_args()
    if args.parts:
        rows = parts(1000, 20000, 7)
        scan_us = rows[0][1]
        print("1000 rules, 20000 items; microseconds per item, and against the raw scan")
        for name, value in rows:
            print(f"{name:<76} {value:6.2f} us {value / scan_us:5.2f}x")
        return
    if args.long:
        # Long items beside short ones, with the same rules, in the same run.
        counts = [100, 1000]
        short_n, long_n, check, repeat = (3000, 100, 10, 3) if args.quick else (20000, 1000, 20, 5)
        short = run(counts, short_n, check, repeat)
        long = run(counts, long_n, check, repeat, long=True)
        print(
            f"short: {short_n} items of ~35 words; long: {long_n} items of 10,000 characters "
            f"(~1,500 words); results checked against the reference matcher on {check} items"
        )
        print(
            f"{'rules':>6} {'items':>6} {'match items/s':>14} {'scan items/s':>13} "
            f"{'match/scan':>10} {'match chars/s':>14} {'matched':>8}"
        )
        for kind, rows, chars in (("short", short, 260), ("long", long, 10_000)):
            for r in rows:
                print(
                    f"{r['rules']:>6} {kind:>6} {r['match_per_s']:>14,.0f} "
                    f"{r['scan_per_s']:>13,.0f} {r['ratio']:>9.2f}x "
                    f"{r['match_per_s'] * chars:>14,.0f} {r['matched_share']:>7.0%}"
                )
        return
    n_items, check, repeat = (3000, 200, 3) if args.quick else (20000, 1000, 5)
    rows = run([100, 1000, 10000], n_items, check, repeat)
    print(
        f"items: {n_items} (en/uk/ru, ~35 words each); results checked against the reference "
        f"matcher on {check} items per rule set"
    )
    print(
        f"{'rules':>6} {'terms':>6} {'build':>8} {'match items/s':>14} {'scan items/s':>13} "
        f"{'match/scan':>10} {'stream items/s':>15} {'(match-stream)/scan':>20} {'matched':>8}"
    )
    for r in rows:
        print(
            f"{r['rules']:>6} {r['terms']:>6} {r['build_s']:>7.2f}s {r['match_per_s']:>14,.0f} "
            f"{r['scan_per_s']:>13,.0f} {r['ratio']:>9.2f}x {r['stream_per_s']:>15,.0f} "
            f"{r['ratio_given_stream']:>19.2f}x {r['matched_share']:>7.0%}"
        )


if __name__ == "__main__":
    main()
