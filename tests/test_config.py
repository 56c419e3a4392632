"""``check``: every problem named with file, line and rule; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts import config as configmod
from alerts import yamlcache

from .conftest import ROOT, bot

GOOD = """\
settings:
  poll_every: 5m
  digest_at: ["08:00", "20:00"]
  timezone: Europe/Kyiv
  backfill: 1d
  fetch_timeout: 30s
  operators: [123456789]
  keep_days: 30
feeds:
  - name: Kyiv Independent
    url: https://example.org/rss
    every: 10m
regions:
  Sumy: [Sumy Oblast, Суми, Сумы, Сумщин*]
rules:
  - id: nk-troops
    name: North Korean troops
    all:
      - [North Korea, North Korean, Pyongyang, DPRK]
      - [troops, soldiers, deploy*]
    none: [football]
    priority: urgent
  - id: sumy
    regions: [Sumy]
    any: [shelling]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(configmod.ConfigError) as err:
        configmod.parse(text, "rules.yaml")
    return err.value.problems


def test_good_file_loads_with_typed_values() -> None:
    cfg = configmod.parse(GOOD, "rules.yaml")
    s = cfg.settings
    assert (s.poll_every, s.backfill, s.fetch_timeout, s.digest_every) == (300, 86400, 30, None)
    assert [t.strftime("%H:%M") for t in s.digest_at] == ["08:00", "20:00"]
    assert s.operators == (123456789,) and s.keep_days == 30 and s.timezone == "Europe/Kyiv"
    assert cfg.feeds[0].every == 600 and cfg.feeds[0].name == "Kyiv Independent"
    assert cfg.rules[0].urgent and not cfg.rules[1].urgent
    assert cfg.rules[0].all[1] == ("troops", "soldiers", "deploy*")
    assert cfg.rules[1].name == "sumy"  # the id stands in for a missing name
    assert cfg.summary() == (
        "rules.yaml: ok: 1 feed, 2 rules (1 urgent), 30 regions: 30 built-in "
        "(Sumy extended in this file)"
    )  # Sumy is a built-in region; the file's list adds to it


def test_unknown_region_names_line_and_rule() -> None:
    text = GOOD.replace("regions: [Sumy]", "regions: [Sumi]")
    (msg,) = problems(text)
    line = text.splitlines().index("    regions: [Sumi]") + 1
    assert msg.startswith(f'rules.yaml:{line}: rule "sumy": unknown region "Sumi"')
    assert 'did you mean "Sumy"' in msg


def test_values_their_yaml_tag_cannot_take_name_line_and_rule() -> None:
    """A value YAML cannot construct (bad base64, a date that does not exist, an unknown tag)
    is a problem on its line, like any other, not a traceback."""
    text = (
        GOOD.replace("  - id: sumy\n", '  - id: sumy\n    name: !!binary "abc"\n')
        .replace("poll_every: 5m", "poll_every: 2026-13-45")
        .replace("- id: nk-troops", "- id: nk-troops\n    priority: !urgent yes")
    )
    lines = text.splitlines()
    binary = lines.index('    name: !!binary "abc"') + 1
    found = problems(text)
    assert [m for m in found if "cannot be read" in m] == [
        f"rules.yaml:{lines.index('  poll_every: 2026-13-45') + 1}: settings: poll_every: "
        "'2026-13-45' cannot be read as !!timestamp (month must be in 1..12); quote it if "
        "it is text",
        f"rules.yaml:{lines.index('    priority: !urgent yes') + 1}: rule "
        '"nk-troops": '
        "'yes' cannot be read as !urgent (could not determine a constructor for the tag "
        "'!urgent'); quote it if it is text",
        f'rules.yaml:{binary}: rule "sumy": name: '
        "'abc' cannot be read as !!binary (failed to decode base64 data: Incorrect padding); "
        "quote it if it is text",
    ]


def test_unknown_field_typo_is_named_with_a_suggestion() -> None:
    text = GOOD.replace("    any: [shelling]", "    keyword: [shelling]")
    msgs = problems(text)
    line = text.splitlines().index("    keyword: [shelling]") + 1
    assert any(
        m.startswith(
            f'rules.yaml:{line}: rule "sumy": unknown field "keyword" (did you mean "any"?)'
        )
        for m in msgs
    ), msgs


def test_yaml_syntax_error_has_a_line() -> None:
    text = GOOD.replace("    any: [shelling]", "    any: [shelling")
    (msg,) = problems(text)
    assert msg.startswith("rules.yaml:") and "YAML syntax error" in msg
    line = int(msg.split(":")[1])
    assert line >= text.splitlines().index("    any: [shelling") + 1


INDENT_OR_DASH = "usually a line indented differently from the lines above it, or a list entry"


@pytest.mark.parametrize(
    ("old", "new", "culprit", "hint"),
    [
        # The second rule without its "-".
        ("  - id: sumy\n", "    id: sumy\n", "    id: sumy", None),
        ("  - id: sumy\n", "  id: sumy\n", "  id: sumy", INDENT_OR_DASH),
        ("  poll_every: 5m\n", "   poll_every: 5m\n", "  digest_at:", INDENT_OR_DASH),
        ("  digest_at:", "   digest_at:", "   digest_at:", "or a line indented further"),
        (
            "name: North Korean troops",
            "name: North Korea: troops",
            "    name: North Korea: troops",
            'usually a colon inside an unquoted term or name (quote it: any: ["Kharkiv: shelling"])',
        ),
        ("    any: [shelling]", "    any [shelling]", "    any [shelling]", "without its colon"),
        ("    any: [shelling]", '    any: ["shelling]', '    any: ["shelling]', "never closed"),
        ("[troops, soldiers,", "[troops soldiers, @", "[troops soldiers, @", "quote it"),
        ("  poll_every: 5m\n", "\tpoll_every: 5m\n", "\tpoll_every: 5m", "indent with spaces"),
        ("any: [shelling]", "any: [shelling\tfire]", "[shelling\tfire]", "quote a term with a tab"),
    ],
)
def test_yaml_syntax_errors_say_what_they_usually_mean(
    old: str, new: str, culprit: str, hint: str | None
) -> None:
    """The parser's words stay (a search finds them), with the line of the mistake and what
    it usually is in a rules file, instead of only "expected <block end>, but found '?'"."""
    text = GOOD.replace(old, new)
    assert text != GOOD
    msgs = problems(text)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if culprit in s)
    if hint is None:  # valid YAML: the rule's "id" twice, which says where a "-" is missing
        assert msgs == [
            f'rules.yaml:{line}: rule "nk-troops": field "id" appears twice '
            '(a new entry starts with "- ")'
        ]
        return
    (msg,) = msgs
    assert msg.startswith(f"rules.yaml:{line}: YAML syntax error: "), msg
    assert "; usually " in msg and hint in msg, msg


def test_the_exact_message_for_a_rule_without_its_dash() -> None:
    text = GOOD.replace("  - id: sumy\n", "  id: sumy\n")
    line = text.splitlines().index("  id: sumy") + 1
    assert problems(text) == [
        f"rules.yaml:{line}: YAML syntax error: expected <block end>, but found '?'; usually a "
        'line indented differently from the lines above it, or a list entry without its "-" '
        '(each feed and each rule starts with "- ")'
    ]
    text = GOOD.replace("any: [shelling]", "any: [Sumy: shelling]")
    line = text.splitlines().index("    any: [Sumy: shelling]") + 1
    assert problems(text) == [
        f'rules.yaml:{line}: rule "sumy": any must be text, not a mapping: a colon followed by a '
        'space makes one, so quote the term (as in "Kharkiv: shelling")'
    ]


def test_duplicate_ids_and_feed_names() -> None:
    text = GOOD.replace("  - id: sumy", "  - id: nk-troops").replace(
        "regions:\n  Sumy",
        "  - name: Kyiv Independent\n    url: https://example.org/2\nregions:\n  Sumy",
    )
    msgs = problems(text)
    lines = text.splitlines()
    feed_line = [i for i, t in enumerate(lines, 1) if t == "  - name: Kyiv Independent"][1]
    rule_line = [i for i, t in enumerate(lines, 1) if t == "  - id: nk-troops"][1]
    assert (
        f'rules.yaml:{feed_line}: feed "Kyiv Independent": duplicate name (first at line 10)'
        in msgs
    )
    assert any(
        m.startswith(f'rules.yaml:{rule_line}: rule "nk-troops": duplicate id') for m in msgs
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    any: [shelling]", '    any: [""]', 'rule "sumy": any: empty term'),
        ("    any: [shelling]", "    any: []", 'rule "sumy": any is an empty list'),
        ("    any: [shelling]", "    any: [Ky*iv]", '"*" may only end a word'),
        (
            "  poll_every: 5m",
            "  poll_every: 5 minutes",
            'settings: poll_every: bad duration "5 minutes"',
        ),
        ("    every: 10m", "    every: 0s", 'feed "Kyiv Independent": every must be more than 0'),
        ("  backfill: 1d", "  backfill: 0", 'settings: backfill must be more than 0, not "0"'),
        ("  timezone: Europe/Kyiv", "  timezone: Europe/Kiyv", 'unknown time zone "Europe/Kiyv"'),
        ("    priority: urgent", "    priority: high", 'rule "nk-troops": bad priority "high"'),
        ("  keep_days: 30", "  keep_days: soon", "keep_days must be a whole number"),
        ("  operators: [123456789]", "  operators: [bob]", '"bob" is not a Telegram user id'),
        ('  digest_at: ["08:00", "20:00"]', '  digest_at: ["8pm"]', 'bad time "8pm"'),
        ("    url: https://example.org/rss", "    url: ftp://example.org/rss", "only http, https"),
        ("    any: [shelling]", "    any: [yes]", "read as a yes/no value"),
    ],
)
def test_each_problem_is_reported_on_its_line(old: str, new: str, expected: str) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    msgs = problems(text)
    line = text.splitlines().index(new) + 1
    assert any(m.startswith(f"rules.yaml:{line}: ") and expected in m for m in msgs), msgs


def test_rule_with_nothing_to_match() -> None:
    text = GOOD.replace("    regions: [Sumy]\n    any: [shelling]\n", "    none: [football]\n")
    msgs = problems(text)
    line = text.splitlines().index("  - id: sumy") + 1
    assert (
        f'rules.yaml:{line}: rule "sumy": nothing to match: give at least one of all, any, regions'
        in msgs
    )


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = (
        GOOD.replace("  poll_every: 5m", "  poll_every: often")
        .replace("regions: [Sumy]", "regions: [Sumi]")
        .replace("    priority: urgent", "    priority: now")
    )
    msgs = problems(text)
    assert len(msgs) == 3
    assert [int(m.split(":")[1]) for m in msgs] == sorted(int(m.split(":")[1]) for m in msgs)


def test_one_minimum_for_digests_and_zero_for_off() -> None:
    """rules.yaml's digest_every takes what /digest every takes, refused in the same words;
    story_window: 0 turns story grouping off, where a zero poll interval means nothing."""
    from alerts.schedule import DIGEST_EVERY

    assert DIGEST_EVERY == "a duration of 1s or more, as in 30m or 1h"
    base = GOOD.replace('  digest_at: ["08:00", "20:00"]\n', "")
    for ok, seconds in (("1m", 60), ("2m", 120), ("1s", 1), ("1h30m", 5400)):
        cfg = configmod.parse(base.replace("  timezone:", f"  digest_every: {ok}\n  timezone:"))
        assert cfg.settings.digest_every == seconds
    for bad in ("0", "0s", "0.5s", "soon"):
        text = base.replace("  timezone:", f"  digest_every: {bad}\n  timezone:")
        line = text.splitlines().index(f"  digest_every: {bad}") + 1
        assert problems(text) == [
            f'rules.yaml:{line}: settings: digest_every must be {DIGEST_EVERY}, not "{bad}"'
        ]
    for off in ("0", "0s", "0h"):
        cfg = configmod.parse(GOOD.replace("  keep_days:", f"  story_window: {off}\n  keep_days:"))
        assert cfg.settings.story_window == 0
    assert configmod.Settings().story_window == 48 * 3600


def test_check_and_the_bot_guess_names_alike() -> None:
    """One suggester: by spelling, else the one id the word begins as a whole part."""
    ids = ["kharkiv-shelling", "sumy", "nk-troops", "energy"]
    assert configmod.suggest("kharkiv", ids) == "kharkiv-shelling"
    assert configmod.suggest("enrgy", ids) == "energy"
    assert configmod.suggest("kh", ids) is None  # not a whole part of any id
    assert configmod.suggest("nk", [*ids, "nk-arms"]) is None  # two would fit: no guess
    text = GOOD.replace(
        "  keep_days: 30", "  keep_days: 30\n  chats:\n    - id: -100\n      rules: [nk]"
    )
    line = text.splitlines().index("      rules: [nk]") + 1
    assert problems(text) == [
        f'rules.yaml:{line}: settings: chat -100: unknown rule "nk" (did you mean "nk-troops"?)'
    ]


def test_digest_every_and_digest_at_are_exclusive() -> None:
    text = GOOD.replace("  timezone:", "  digest_every: 1h\n  timezone:")
    assert any("digest_every or digest_at, not both" in m for m in problems(text))


def test_empty_and_non_mapping_files() -> None:
    assert problems("") == ["rules.yaml:1: the file is empty; it needs feeds and rules"]
    assert "expected sections" in problems("- a\n- b\n")[0]


def test_local_feed_paths_resolve_next_to_the_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "rules.yaml"
    path.parent.mkdir()
    path.write_text(GOOD.replace("https://example.org/rss", "feeds/a.xml"), encoding="utf-8")
    cfg = configmod.load(path)
    assert cfg.feeds[0].location == str(tmp_path / "conf" / "feeds" / "a.xml")
    assert cfg.feeds[0].is_local


@pytest.mark.parametrize("path", ["rules.yaml", "examples/offline.yaml"])
def test_shipped_rule_files_are_valid(path: str) -> None:
    result = bot("check", "--rules", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: ok: ")


# --- regions: adding to a built-in region, replacing it, defining one ---------------------------

HEAD = (
    "feeds:\n  - name: F\n    url: https://example.org/rss\nrules:\n  - id: r\n    regions: [X]\n"
)


def regions_file(regions: str, rule_region: str = "Kharkiv") -> str:
    return HEAD.replace("[X]", f"[{rule_region}]") + "regions:\n" + regions


def test_region_entries_say_what_they_do() -> None:
    cfg = configmod.parse(
        regions_file(
            "  Odesa: {add: [Izmail district]}\n"
            "  Kharkiv:\n    replace: [Kharkiv city]\n"
            "  Sumy: [Sumy Oblast]\n"
            "  Azov Sea: [Azov coast, Азовськ*]\n"
        ),
        "rules.yaml",
    )
    modes = {name: (d.mode, d.aliases, d.line) for name, d in cfg.regions.items()}
    assert modes == {
        "Odesa": ("add", ("Izmail district",), 8),
        "Kharkiv": ("replace", ("Kharkiv city",), 9),
        "Sumy": ("add", ("Sumy Oblast",), 11),  # a list under a built-in name adds too
        "Azov Sea": ("new", ("Azov coast", "Азовськ*"), 12),
    }
    assert cfg.summary() == (
        "rules.yaml: ok: 1 feed, 1 rule (0 urgent), 31 regions: 30 built-in "
        "(Odesa, Sumy extended; Kharkiv replaced in this file), 1 defined in this file"
    )
    terms = {name: {str(t) for t in terms} for name, terms in cfg.region_terms.items()}
    assert {"izmail district", "одесі", "ізмаїла"} <= terms["Odesa"]
    assert terms["Kharkiv"] == {"kharkiv", "kharkiv city"}
    assert terms["Azov Sea"] == {"azov sea", "azov coast", "азовськ*"}


def test_an_added_alias_the_region_has_keeps_its_capital_rule() -> None:
    # "суми" is also "sums": the built-in Sumy counts it only capitalised, and a file that
    # lists it (as older files did) does not make it count in lower case.
    cfg = configmod.parse(regions_file("  Sumy: [Суми, Sumy Oblast]\n", "Sumy"), "rules.yaml")
    assert cfg.matcher.match("Вибухи в Сумах").rules == ("r",)
    assert cfg.matcher.match("великі суми коштів").rules == ()
    assert cfg.matcher.match("Sumy Oblast").rules == ("r",)


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        (
            "  Odessa: {add: [Izmail district]}\n",
            'region "Odessa": add: there is no built-in region "Odessa" (did you mean "Odesa"?); '
            "to define a region of your own, give its aliases as a list",
        ),
        (
            "  Odesa: {add: [Izmail], replace: [Odesa city]}\n",
            'region "Odesa": give add or replace, not both',
        ),
        (
            "  Odesa: {extend: [Izmail]}\n",
            'region "Odesa": unknown field "extend"; known fields: add, replace',
        ),
        ("  Odesa: {}\n", 'region "Odesa": give add: [...] or replace: [...]'),
        ("  Odesa: {add: []}\n", 'region "Odesa": add is an empty list; give at least one term'),
        ("  Odesa: {add: [Ky*iv]}\n", 'region "Odesa": add: "Ky*iv": "*" may only end a word'),
    ],
)
def test_bad_region_entries_name_line_and_region(regions: str, message: str) -> None:
    got = problems(regions_file(regions))
    assert got[0].startswith(f"rules.yaml:8: {message}"), got


def test_replacing_a_region_with_fewer_names_warns() -> None:
    cfg = configmod.parse(regions_file("  Kharkiv: {replace: [Kharkiv city, Харків]}\n"), "r.yaml")
    n = len(configmod.builtin_regions()["Kharkiv"])
    assert cfg.warnings == (
        f'r.yaml:8: warning: region "Kharkiv" replaces the built-in one, which has {n} names '
        "and forms, with 3; write add: instead of replace: to keep the built-in ones",
    )
    assert cfg.matcher.match("Fighting around Kupiansk").rules == ()
    assert cfg.matcher.match("Kharkiv city hall").rules == ("r",)


def test_a_list_under_a_builtin_name_says_it_now_adds() -> None:
    cfg = configmod.parse(regions_file("  Kharkiv: [Kharkov, Kharkiv city hall]\n"), "r.yaml")
    n = len(configmod.builtin_regions()["Kharkiv"])
    assert cfg.warnings == (
        f'r.yaml:8: warning: region "Kharkiv": a list under a built-in region\'s name adds to it '
        f"(1 new of 2; the built-in has {n} names and forms); write add: to say so, or "
        "replace: to use only yours",
    )
    assert cfg.matcher.match("Fighting around Kupiansk").rules == ("r",)
    assert cfg.matcher.match("Kharkiv city hall").rules == ("r",)
    explicit = configmod.parse(regions_file("  Kharkiv: {add: [Kharkiv city hall]}\n"), "r.yaml")
    assert explicit.warnings == ()
    nothing = configmod.parse(regions_file("  Kharkiv: {add: [Харкові, kharkov]}\n"), "r.yaml")
    assert nothing.warnings == (
        'r.yaml:8: warning: region "Kharkiv": the built-in region has every name given here '
        "already; the entry can go",
    )


def test_check_prints_warnings_and_lists_regions_with_their_towns(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(regions_file("  Kharkiv: {replace: [Kharkiv city]}\n  Azov Sea: [Azov]\n"))
    result = bot("check", "--regions", "--rules", str(path))
    assert result.returncode == 0, result.stderr
    assert f'{path}:8: warning: region "Kharkiv" replaces the built-in one' in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{path}: ok: 1 feed, 1 rule (0 urgent), 31 regions: 30 built-in "
        "(Kharkiv replaced in this file), 1 defined in this file"
    )
    assert "  Kharkiv (replaced by this file): 2 names and forms" in lines
    assert "  Azov Sea (defined in this file): 2 names and forms" in lines
    donetsk = next(line for line in lines if line.startswith("  Donetsk (built-in): "))
    assert "towns: Pokrovsk, Kramatorsk" in donetsk


def test_check_cli_reports_problems_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.replace("regions: [Sumy]", "regions: [Sumi]"), encoding="utf-8")
    result = bot("check", "--rules", str(path))
    assert result.returncode == 1
    assert f"{path}:" in result.stderr and 'rule "sumy": unknown region "Sumi"' in result.stderr
    assert "Traceback" not in result.stderr


def test_check_uses_rules_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD, encoding="utf-8")
    result = bot("check", env={"RULES_FILE": str(path)}, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(f"{path}: ok: 1 feed, ")
    missing = bot("check", cwd=tmp_path)
    assert missing.returncode == 1 and "rules.yaml: no such file" in missing.stderr


def test_check_reports_binary_garbage_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    result = bot("check", "--rules", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_root_is_where_bot_lives() -> None:
    assert (ROOT / "bot.py").exists()


# -- a large rules file's tree is kept on disk (alerts/yamlcache.py) --


def _large_rules(broken_at: int | None = None) -> str:
    """A rules file past yamlcache.MIN_SIZE, sharing one list by an alias as the shipped one
    does; rule ``broken_at`` names an unknown region."""
    rules = []
    for n in range(200):
        region = "Atlantis" if n == broken_at else "Sumy"
        words = "*attacks" if n else "&attacks [shelling, shelled, strike*]"
        rules.append(f"  - id: rule-{n:03d}\n    regions: [{region}]\n    any: {words}\n")
    text = GOOD.split("rules:\n", 1)[0] + "rules:\n" + "".join(rules)
    assert len(text) > yamlcache.MIN_SIZE
    return text


def _same_tree(a, b, seen: set) -> bool:
    if (id(a), id(b)) in seen:
        return True
    seen.add((id(a), id(b)))
    if type(a) is not type(b) or a.tag != b.tag or a.start_mark.line != b.start_mark.line:
        return False
    if isinstance(a.value, str):
        return a.value == b.value and a.style == b.style
    if len(a.value) != len(b.value):
        return False
    if isinstance(a, yaml.MappingNode):
        return all(
            _same_tree(ka, kb, seen) and _same_tree(va, vb, seen)
            for (ka, va), (kb, vb) in zip(a.value, b.value, strict=True)
        )
    return all(_same_tree(x, y, seen) for x, y in zip(a.value, b.value, strict=True))


def test_a_large_rules_file_is_read_back_from_its_cache_as_composed(tmp_path: Path) -> None:
    source = (ROOT / "rules.yaml").read_text(encoding="utf-8")
    assert len(source) > yamlcache.MIN_SIZE
    composed = yaml.compose(source, Loader=yaml.SafeLoader)
    first = yamlcache.compose(source, dirs=[tmp_path])
    (cache,) = tmp_path.glob("rules-tree-*.json")
    cached = yamlcache.compose(source, dirs=[tmp_path])
    assert _same_tree(composed, first, set()) and _same_tree(composed, cached, set())
    # the alias stays one node, as the composer made it
    anys = [v for r in cached.value[-1][1].value for k, v in r.value if k.value == "any"]
    assert len(anys) > 2 and len({id(a) for a in anys}) < len(anys)
    # a damaged cache is ignored and written again; nothing fails
    for damage in ('{"key": "x"', '{"key": "%s", "data": [["q", "t", [7], 0, null]]}'):
        cache.write_text(damage.replace("%s", cache.name), encoding="utf-8")
        assert _same_tree(composed, yamlcache.compose(source, dirs=[tmp_path]), set())


def test_a_cached_rules_file_reports_the_same_problems_on_the_same_lines() -> None:
    source = _large_rules(broken_at=77)
    messages = []
    for _ in range(2):  # the second read comes from the cache the first wrote
        with pytest.raises(configmod.ConfigError) as err:
            configmod.parse(source, "big.yaml")
        messages.append(err.value.problems)
    line = source[: source.index("[Atlantis]")].count("\n") + 1
    assert messages[0] == messages[1]
    assert any(m.startswith(f"big.yaml:{line}:") and "Atlantis" in m for m in messages[0])
    good = configmod.parse(_large_rules(), "big.yaml")
    assert len(good.rules) == 200 and good.rules[5].any == good.rules[0].any


def test_an_alias_bomb_is_cached_at_the_size_of_its_text(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 9):
        lines.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]")
    source = "\n".join(lines) + "\n" + "#" * yamlcache.MIN_SIZE + "\n"
    yamlcache.compose(source, dirs=[tmp_path])
    (cache,) = tmp_path.glob("rules-tree-*.json")
    assert cache.stat().st_size < 4000  # 9**9 leaves if each alias were written out
    with pytest.raises(configmod.ConfigError):
        configmod.parse(source, "bomb.yaml")


def test_aliases_that_stand_for_millions_of_entries_are_refused_at_once(tmp_path) -> None:
    """A few lines of aliases (*name) of lists of aliases stand for millions of terms: check
    ran out of memory with a traceback after a minute, and a running bot loaded such a file
    and stopped polling (QA). It is refused like any other error, its line named."""
    lines = ["feeds:", "  - name: F", "    url: http://127.0.0.1:9/f.xml", "rules:"]
    lines += ["  - id: r0", "    any: &l0 [" + ", ".join(["drone"] * 10) + "]"]
    for level in range(1, 7):
        lines += [
            f"  - id: r{level}",
            f"    any: &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]",
        ]
    path = tmp_path / "rules.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = bot("check", "--rules", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "rules.yaml:16: this list, with the aliases (*name) in it, stands for more than" in (
        result.stderr + result.stdout
    )
    cycle = "feeds: &f\n  - name: F\n    url: http://127.0.0.1:9/f.xml\n  - *f\nrules: []\n"
    with pytest.raises(configmod.ConfigError, match=r"rules.yaml:\d+: an alias \(\*name\) inside"):
        configmod.parse(cycle)


def test_check_counts_and_warns_as_the_other_commands_do(tmp_path: Path) -> None:
    # "1 names added", and a mistyped LOG_LEVEL that every command but check named (QA)
    path = tmp_path / "rules.yaml"
    path.write_text(regions_file("  Kharkiv: {add: [Kharkiv city hall]}\n"))
    result = bot("check", "--regions", "--rules", str(path), env={"LOG_LEVEL": "verbose"})
    assert result.returncode == 0, result.stderr
    assert "  Kharkiv (built-in, 1 name added by this file): " in result.stdout
    assert "LOG_LEVEL='verbose' is not one of" in result.stderr


def test_once_keeps_the_files_warnings_out_of_cron_mail(tmp_path: Path) -> None:
    """`once` prints nothing when there is nothing new; a rules file with a warning (a plain
    list under a built-in region's name) made it print the warning on every run (QA)."""
    feed = tmp_path / "feed.xml"
    feed.write_text('<rss version="2.0"><channel><title>t</title></channel></rss>')
    path = tmp_path / "rules.yaml"
    text = regions_file("  Kharkiv: [Kharkiv city hall]\n")
    path.write_text(text.replace("https://example.org/rss", str(feed)))
    assert configmod.load(path).warnings  # the file has its warning
    state = str(tmp_path / "state")
    result = bot("once", "--rules", str(path), "--state", state)
    assert result.returncode == 0 and (result.stdout, result.stderr) == ("", ""), result.stderr
    shown = bot("check", "--rules", str(path))
    assert "warning:" in shown.stderr  # check still says it
