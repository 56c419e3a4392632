"""Reading rules.yaml into typed settings, feeds, regions and rules, with errors an operator can act on.

The file is composed into YAML nodes rather than loaded into plain dicts so that every value keeps
its line number: a problem is reported as ``rules.yaml:14: rule "sumy": unknown region "Sumi"``,
never as a traceback. Validation collects every problem before giving up, so one ``check`` run
shows them all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from . import text as textmod
from . import yamlcache
from .durations import parse_duration
from .gazetteer import (
    Alias,
    FalseFriend,
    builtin_capital,
    builtin_false_friends,
    builtin_regions,
)
from .matcher import WHERE, Match, Matcher, RuleSpec, Term, TermError, parse_term
from .notices import builtin_notices
from .notplaces import builtin_not_places
from .schedule import DIGEST_EVERY, MIN_DIGEST_EVERY
from .teasers import builtin_teasers
from .wording import plural

PRIORITIES = ("urgent", "normal")
DEFAULT_NEAR = 100
"""Words at most between the hits that make a rule match, unless the rule says otherwise
(``near: 30``, ``near: off``): about a paragraph. Chosen by ``bench/near.py`` on the labeled
set (the README has the figures): shorter windows lose reports whose title names the place
and whose lead, sixty words on, the attack; longer ones let in an unrelated paragraph."""
MAX_NEAR = 1000
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ChatConfig:
    """A chat that receives digests without anyone sending /start: a channel, a group."""

    id: int
    rules: tuple[str, ...] | None = None  # None: every rule
    topic: int | None = None  # a forum topic's message_thread_id
    line: int = 0


@dataclass(frozen=True)
class Settings:
    """The ``settings:`` section; durations are in seconds."""

    poll_every: float = 300.0
    digest_every: float | None = 3600.0
    digest_at: tuple[time, ...] = ()
    timezone: str = "UTC"
    backfill: float = 86400.0
    fetch_timeout: float = 30.0
    operators: tuple[int, ...] = ()
    keep_days: int = 30
    chats: tuple[ChatConfig, ...] = ()
    story_window: float = 48 * 3600.0  # reports join a story first reported this recently; 0: off
    digest_max: int = 10  # stories per rule in one digest; the rest wait for the next
    http_port: int | None = None  # /healthz and /metrics; off unless set
    http_host: str = "127.0.0.1"
    feed_alert_after: float = 3600.0  # operators hear of a feed failing this long

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Feed:
    """A feed to poll. ``url`` is as written; ``location`` is an http(s) URL or an absolute path."""

    name: str
    url: str
    location: str
    every: float | None = None
    line: int = 0

    @property
    def is_local(self) -> bool:
        return not self.location.startswith(("http://", "https://"))


@dataclass(frozen=True)
class Rule:
    """A rule as the operator wrote it, with its terms kept as written for display."""

    id: str
    name: str
    all: tuple[tuple[str, ...], ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    priority: str = "normal"
    line: int = 0
    near: int | None = DEFAULT_NEAR  # None: anywhere in the item
    where: str = "text"

    @property
    def urgent(self) -> bool:
        return self.priority == "urgent"


@dataclass(frozen=True)
class RegionDef:
    """A ``regions:`` entry of the rules file.

    ``mode`` says what it does: ``add`` names to the built-in region of the same name (a list
    under a built-in name, or ``{add: [...]}``), ``replace`` it (``{replace: [...]}``), or define
    a ``new`` region under a name the gazetteer does not have.
    """

    name: str
    aliases: tuple[str, ...]
    mode: str
    line: int = 0


@dataclass(frozen=True)
class Config:
    """A validated rules file and the matcher compiled from it."""

    path: Path
    settings: Settings
    feeds: tuple[Feed, ...]
    regions: dict[str, RegionDef]  # the regions: entries of the rules file
    rules: tuple[Rule, ...]
    # every region the matcher knows (built-in and file), with its aliases compiled
    region_terms: dict[str, tuple[Term, ...]] = field(default_factory=dict, repr=False)
    # things that load but are probably not what the operator meant, as path:line: warning: ...
    warnings: tuple[str, ...] = ()
    # the text it was read from, so that a worker process (alerts.reader) reads the same rules
    source: str = field(default="", repr=False, compare=False)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @cached_property
    def matcher(self) -> Matcher:
        """The rules compiled, on first use: a run whose feeds are all unchanged matches
        nothing, and compiling a few hundred rules is 30-50 ms of its start. The rules are
        validated already, so building it cannot fail (``check`` builds it all the same)."""
        matcher = build_matcher(self.rules, self.region_terms)
        friends = feed_false_friends(self.feeds, matcher, self.region_terms)
        return build_matcher(self.rules, self.region_terms, friends) if friends else matcher

    @cached_property
    def _requiring(self) -> dict[Term, tuple[frozenset[str], str]]:
        """Each term of an ``all`` group, with the rules that require it and the term as text
        (written once here: with hundreds of rules, every matched item has dozens of them)."""
        out: dict[Term, set[str]] = {}
        for r in self.rules:
            for group in r.all:
                for t in group:
                    out.setdefault(parse_term(t), set()).add(r.id)
        return {term: (frozenset(rules), str(term)) for term, rules in out.items()}

    def topic_terms(self, match: Match) -> frozenset[str]:
        """The terms found that every report of the matched rules must have (their ``all``
        groups: "North Korea" and "troops" for nk-troops): they say what the topic is, not
        which development, so grouping weighs them little. Terms of ``any`` lists (substation,
        evacuation) are the development's own words and weigh fully."""
        requiring = self._requiring
        matched = None
        out = []
        for term in match.keywords:
            found = requiring.get(term)
            if found:
                matched = matched or frozenset(match.rules)
                if not found[0].isdisjoint(matched):
                    out.append(found[1])
        return frozenset(out)

    def poll_interval(self, feed: Feed) -> float:
        return feed.every or self.settings.poll_every

    def summary(self) -> str:
        urgent = sum(1 for r in self.rules if r.urgent)
        return (
            f"{self.path}: ok: {plural(len(self.feeds), 'feed')}, "
            f"{plural(len(self.rules), 'rule')} ({urgent} urgent), {self.regions_summary()}"
        )

    def regions_summary(self) -> str:
        """How many regions rules can name, and what the file did to the built-in ones."""
        own = [d.name for d in self.regions.values() if d.mode == "new"]
        builtin = len(self.region_terms) - len(own)
        changes = []
        for mode, verb in (("add", "extended"), ("replace", "replaced")):
            names = [d.name for d in self.regions.values() if d.mode == mode]
            if names:
                shown = ", ".join(names) if len(names) <= 3 else f"{len(names)} of them"
                changes.append(f"{shown} {verb}")
        text = f"{len(self.region_terms)} regions: {builtin} built-in"
        if changes:
            text += f" ({'; '.join(changes)} in this file)"
        if own:
            text += f", {len(own)} defined in this file"
        return text


class ConfigError(Exception):
    """Every problem found in a rules file, each already formatted as ``path:line: message``."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The name someone probably meant: the closest by spelling (``Sumi`` for ``Sumy``), else
    the only one that begins with the word as a whole part (``kharkiv`` for
    ``kharkiv-shelling``). One suggester for ``check`` and for the bot's commands, so both
    guess alike."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return close[0]
    folded = word.casefold()
    starts = [c for c in choices if re.match(rf"{re.escape(folded)}\b", c.casefold())]
    return starts[0] if len(starts) == 1 else None


def load(path: str | Path) -> Config:
    """Read and validate a rules file, raising :class:`ConfigError` with every problem in it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [
                f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
            ]
        ) from None
    return parse(source, path)


def parse(source: str, path: str | Path = "rules.yaml") -> Config:
    """Validate rules-file text; ``path`` names it in messages and anchors relative feed paths."""
    return _Reader(Path(path)).read(source)


# --- implementation -------------------------------------------------------------------------

_SECTIONS = ("settings", "feeds", "regions", "rules")
_SETTINGS = (
    "poll_every",
    "digest_every",
    "digest_at",
    "timezone",
    "backfill",
    "fetch_timeout",
    "operators",
    "keep_days",
    "chats",
    "story_window",
    "digest_max",
    "http_port",
    "http_host",
    "feed_alert_after",
)
_CHAT_FIELDS = ("id", "rules", "topic")
_FEED_FIELDS = ("name", "url", "every")
_RULE_FIELDS = ("id", "name", "all", "any", "none", "regions", "priority", "near", "where")
_REGION_FIELDS = ("add", "replace")
# Words operators reach for that mean one of our fields; difflib cannot guess these.
_SYNONYMS = {
    "keyword": "any",
    "keywords": "any",
    "terms": "any",
    "exclude": "none",
    "not": "none",
    "region": "regions",
    "title": "name",
    "level": "priority",
    "link": "url",
    "interval": "every",
}
_DURATION_HINT = "write a number and a unit, as in 30s, 5m, 2h or 1d"
_ZERO = re.compile(r"^\s*0+(?:\.0*)?\s*[smhd]?\s*$")


MAX_ENTRIES = 500_000
"""What a rules file may stand for, its aliases (``*name``) read out: ten times a 2 MB file of
plain lists. Twenty aliases of a list of twenty aliases of a list... is a few lines that stand
for millions, which reading would take gigabytes of memory and minutes for."""


def _expansion_problem(root: yaml.Node) -> str | None:
    """``LINE: what is wrong`` when the tree, its aliases read out, holds more than
    :data:`MAX_ENTRIES` entries or an alias inside what it names; None when it is fine.
    Counted once per node, so the count costs what the file's length does."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            children = _children(node)
            total = 1 + sum(size[id(child)] for child in children)
            if total > MAX_ENTRIES:
                return (
                    f"{node.start_mark.line + 1}: this list, with the aliases (*name) in it, "
                    f"stands for more than {MAX_ENTRIES:,} entries; write out what the rules "
                    "need"
                )
            size[key] = total
            continue
        if key in size:
            continue
        if key in open_:
            return f"{node.start_mark.line + 1}: an alias (*name) inside the list it names"
        open_.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Reader:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[tuple[int, str]] = []
        self.warnings: list[tuple[int, str]] = []
        # (node, where, rule id) of rules named in settings.chats, checked once rules are read
        self._chat_rule_refs: list[tuple[yaml.Node, str, str]] = []
        self._constructor = yaml.SafeLoader("")

    def error(self, node: yaml.Node | int, message: str) -> None:
        line = node if isinstance(node, int) else node.start_mark.line + 1
        self.problems.append((line, message))

    def read(self, source: str) -> Config:
        try:
            # The Python composer, not libyaml's: libyaml accepts what it refuses (a tab inside
            # a flow list) and words errors its own way, and the hints below are written for
            # its words. A large file it accepted is not composed again (yamlcache).
            root = yamlcache.compose(source)
        except yaml.MarkedYAMLError as exc:
            raise ConfigError([f"{self.path}:{_yaml_problem(exc)}"]) from None
        except yaml.YAMLError as exc:
            raise ConfigError([f"{self.path}:1: YAML error: {exc}"]) from None
        if root is None:
            raise ConfigError([f"{self.path}:1: the file is empty; it needs feeds and rules"])
        problem = _expansion_problem(root)
        if problem:
            raise ConfigError([f"{self.path}:{problem}"])
        if not isinstance(root, yaml.MappingNode):
            raise ConfigError(
                [f"{self.path}:1: expected sections {', '.join(_SECTIONS)} at the top level"]
            )
        sections = self.mapping(root, _SECTIONS, "")
        settings = self.settings(sections.get("settings"))
        feeds = self.feeds(sections.get("feeds"))
        builtin = builtin_regions()
        regions = self.regions(sections.get("regions"), builtin)
        known = {**dict.fromkeys(builtin), **dict.fromkeys(regions)}
        rules = self.rules(sections.get("rules"), known)
        ids = [r.id for r in rules]
        for node, where, rule_id in self._chat_rule_refs:
            if rule_id not in ids:
                hint = suggest(rule_id, ids)
                suggestion = f' (did you mean "{hint}"?)' if hint else ""
                self.error(node, f'{where}unknown rule "{rule_id}"{suggestion}')
        if "feeds" not in sections:
            self.error(root, "no feeds: section; add at least one feed")
        if "rules" not in sections:
            self.error(root, "no rules: section; add at least one rule")
        if self.problems:
            self.problems.sort(key=lambda p: p[0])
            raise ConfigError([f"{self.path}:{line}: {msg}" for line, msg in self.problems])
        return Config(
            self.path,
            settings,
            tuple(feeds),
            regions,
            tuple(rules),
            _region_terms(builtin, regions),
            tuple(f"{self.path}:{line}: warning: {msg}" for line, msg in self.warnings),
            source,
        )

    # -- generic shapes --

    def mapping(self, node: yaml.Node, allowed: tuple[str, ...], where: str) -> dict:
        """Keys to value nodes; unknown and duplicate keys are reported with a suggestion."""
        out: dict[str, yaml.Node] = {}
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{where}expected a mapping of fields")
            return out
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.error(key_node, f"{where}a field name must be text")
                continue
            if key in out:
                # An entry's first field twice: most often the next entry without its "-".
                starts = ' (a new entry starts with "- ")' if key in ("id", "name") else ""
                self.error(key_node, f'{where}field "{key}" appears twice{starts}')
                continue
            if allowed and key not in allowed:
                hint = suggest(key, allowed)
                if not hint and _SYNONYMS.get(key) in allowed:
                    hint = _SYNONYMS[key]
                suggestion = f' (did you mean "{hint}"?)' if hint else ""
                self.error(
                    key_node,
                    f'{where}unknown field "{key}"{suggestion}; known fields: {", ".join(allowed)}',
                )
                continue
            out[key] = value_node
        return out

    def scalar(self, node: yaml.Node, where: str = "") -> Any:
        """A scalar's value as YAML reads it (2.5 a number, yes a boolean); a value its tag
        cannot take (``!!binary "abc"``, ``2026-13-45``, an unknown ``!tag``) is reported on
        its line and read as the text written."""
        if not isinstance(node, yaml.ScalarNode):
            return node
        try:
            # One constructor for the whole file: making one per scalar was 40-50 ms of
            # reading a file of 300 rules.
            return self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            self._constructor = yaml.SafeLoader("")  # the failed one may still hold the node
            problem = getattr(exc, "problem", None) or str(exc)
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.error(
                node,
                f"{where}{node.value!r} cannot be read as {tag} ({problem}); quote it if it is "
                "text",
            )
            return node.value

    def text(self, node: yaml.Node, where: str, what: str) -> str | None:
        """A scalar read as text; numbers are accepted, booleans and nulls are likely mistakes."""
        value = self.scalar(node, f"{where}{what}: ")
        if isinstance(value, bool) or value is None:
            shown = "empty" if value is None else f"{node.value!r}, read as a yes/no value"
            self.error(node, f"{where}{what} is {shown}; write it as text (quote it)")
            return None
        if isinstance(value, (int, float)):
            return str(node.value)
        if isinstance(node, yaml.MappingNode):
            self.error(
                node,
                f"{where}{what} must be text, not a mapping: a colon followed by a space makes "
                'one, so quote the term (as in "Kharkiv: shelling")',
            )
            return None
        if not isinstance(value, str):
            self.error(node, f"{where}{what} must be text, not a list or mapping")
            return None
        return value

    def term(self, node: yaml.Node, where: str, what: str) -> str | None:
        raw = self.text(node, where, what)
        if raw is None:
            return None
        try:
            parse_term(raw)
        except TermError as exc:
            self.error(node, f"{where}{what}: {exc}")
            return None
        return raw

    def term_list(self, node: yaml.Node, where: str, what: str) -> tuple[str, ...] | None:
        """A list of terms; a single term is accepted as a one-item list."""
        if isinstance(node, yaml.ScalarNode):
            t = self.term(node, where, what)
            return (t,) if t is not None else None
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{where}{what} must be a list of terms")
            return None
        if not node.value:
            self.error(node, f"{where}{what} is an empty list; give at least one term")
            return None
        out = []
        for item in node.value:
            if isinstance(item, yaml.SequenceNode):
                self.error(item, f"{where}{what} takes terms, not nested lists")
                continue
            t = self.term(item, where, what)
            if t is not None:
                out.append(t)
        return tuple(out)

    def duration(
        self, node: yaml.Node, where: str, what: str, zero: str | None = None
    ) -> float | None:
        """Seconds. A zero (``0``, ``0s``, ``0m``...) is a well-formed duration: it is 0.0 where
        ``zero`` says what 0 means (``"off"``), and otherwise refused as such, not as a typo."""
        value = self.scalar(node, f"{where}{what}: ")
        seconds = parse_duration(value)
        if seconds is None and _ZERO.match(str(value)):
            if zero is not None:
                return 0.0
            self.error(node, f'{where}{what} must be more than 0, not "{node.value}"')
            return None
        if seconds is None:
            self.error(node, f'{where}{what}: bad duration "{node.value}"; {_DURATION_HINT}')
        return seconds

    # -- sections --

    def settings(self, node: yaml.Node | None) -> Settings:
        if node is None:
            return Settings()
        if isinstance(node, yaml.ScalarNode) and node.value == "":
            return Settings()
        fields = self.mapping(node, _SETTINGS, "settings: ")
        values: dict[str, Any] = {}
        for name in ("poll_every", "backfill", "fetch_timeout", "story_window", "feed_alert_after"):
            if name in fields:
                # 0 turns story grouping off; for the others "off" means nothing sensible.
                zero = "off" if name == "story_window" else None
                seconds = self.duration(fields[name], "settings: ", name, zero=zero)
                if seconds is not None:
                    values[name] = seconds
        if "digest_every" in fields and "digest_at" in fields:
            self.error(fields["digest_at"], "settings: give digest_every or digest_at, not both")
        if "digest_every" in fields:
            node = fields["digest_every"]
            seconds = parse_duration(self.scalar(node))
            if seconds is None or seconds < MIN_DIGEST_EVERY:
                # The same words as /digest every, which takes the same durations.
                self.error(
                    node, f'settings: digest_every must be {DIGEST_EVERY}, not "{node.value}"'
                )
            else:
                values["digest_every"] = seconds
        if "digest_at" in fields:
            times = self.clock_list(fields["digest_at"])
            if times:
                values["digest_at"] = times
                values["digest_every"] = None
        if "timezone" in fields:
            tz = self.text(fields["timezone"], "settings: ", "timezone")
            if tz is not None:
                try:
                    ZoneInfo(tz)
                    values["timezone"] = tz
                except (ZoneInfoNotFoundError, ValueError):
                    self.error(
                        fields["timezone"],
                        f'settings: unknown time zone "{tz}"; use an IANA name such as '
                        "Europe/Kyiv or UTC",
                    )
        if "operators" in fields:
            ops = self.int_list(fields["operators"], "settings: operators", "a Telegram user id")
            if ops is not None:
                values["operators"] = ops
        if "keep_days" in fields:
            days = self.scalar(fields["keep_days"])
            if isinstance(days, bool) or not isinstance(days, int) or days < 1:
                self.error(
                    fields["keep_days"],
                    f'settings: keep_days must be a whole number of days, 1 or more, not "'
                    f'{fields["keep_days"].value}"',
                )
            else:
                values["keep_days"] = days
        if "chats" in fields:
            values["chats"] = self.chats(fields["chats"])
        if "digest_max" in fields:
            cap = self.scalar(fields["digest_max"])
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                self.error(
                    fields["digest_max"],
                    f'settings: digest_max must be a whole number, 1 or more, not "'
                    f'{fields["digest_max"].value}"',
                )
            else:
                values["digest_max"] = cap
        if "http_port" in fields:
            port = self.scalar(fields["http_port"])
            if port is None:
                pass  # written but empty: the listener stays off
            elif isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                self.error(
                    fields["http_port"],
                    f'settings: http_port must be a port number from 1 to 65535, not "'
                    f'{fields["http_port"].value}"',
                )
            else:
                values["http_port"] = port
        if "http_host" in fields:
            host = self.text(fields["http_host"], "settings: ", "http_host")
            if host is not None:
                if not host.strip() or any(c.isspace() for c in host):
                    self.error(
                        fields["http_host"],
                        f'settings: http_host "{host}" is not a host name or address; '
                        "use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
                    )
                else:
                    values["http_host"] = host
        return Settings(**values)

    def chats(self, node: yaml.Node) -> tuple[ChatConfig, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, "settings: chats must be a list, each entry with an id")
            return ()
        out = []
        seen: set[int] = set()
        for item in node.value:
            fields = self.mapping(item, _CHAT_FIELDS, "settings: chats: ")
            if "id" not in fields:
                if isinstance(item, yaml.MappingNode):
                    self.error(item, "settings: chats: an entry has no id")
                continue
            chat_id = self.scalar(fields["id"])
            if isinstance(chat_id, bool) or not isinstance(chat_id, int) or chat_id == 0:
                self.error(
                    fields["id"],
                    f'settings: chats: "{fields["id"].value}" is not a Telegram chat id '
                    "(a channel or group id such as -1001234567890)",
                )
                continue
            where = f"settings: chat {chat_id}: "
            if chat_id in seen:
                self.error(fields["id"], f"{where}listed twice")
                continue
            seen.add(chat_id)
            rules = None
            if "rules" in fields:
                rnode = fields["rules"]
                items = rnode.value if isinstance(rnode, yaml.SequenceNode) else [rnode]
                rules = tuple(
                    t for t in (self.text(r, where, "rules") for r in items) if t is not None
                )
                self._chat_rule_refs.extend(
                    (r, where, rid) for r, rid in zip(items, rules, strict=False)
                )
            topic = None
            if "topic" in fields:
                topic = self.scalar(fields["topic"])
                if isinstance(topic, bool) or not isinstance(topic, int) or topic <= 0:
                    self.error(
                        fields["topic"], f"{where}topic must be a forum topic's id (a number)"
                    )
                    topic = None
            out.append(ChatConfig(chat_id, rules, topic, item.start_mark.line + 1))
        return tuple(out)

    def clock_list(self, node: yaml.Node) -> tuple[time, ...] | None:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not items or not isinstance(node, (yaml.SequenceNode, yaml.ScalarNode)):
            self.error(
                node, 'settings: digest_at must be a list of times such as ["08:00", "20:00"]'
            )
            return None
        out = []
        for item in items:
            # YAML 1.1 reads an unquoted 08:00 as a sexagesimal number; the raw text is what counts.
            raw = item.value if isinstance(item, yaml.ScalarNode) else None
            m = _CLOCK.match(raw.strip()) if isinstance(raw, str) else None
            if not m:
                self.error(
                    item, f'settings: digest_at: bad time "{raw}"; write HH:MM, as in "08:00"'
                )
                continue
            out.append(time(int(m.group(1)), int(m.group(2))))
        return tuple(sorted(set(out)))

    def int_list(self, node: yaml.Node, where: str, what: str) -> tuple[int, ...] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{where} must be a list, as in [123456789]")
            return None
        out = []
        for item in node.value:
            value = self.scalar(item)
            if isinstance(value, bool) or not isinstance(value, int):
                self.error(item, f'{where}: "{getattr(item, "value", item)}" is not {what}')
                continue
            out.append(value)
        return tuple(out)

    def feeds(self, node: yaml.Node | None) -> list[Feed]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, "feeds: expected a list of feeds, each with a name and a url")
            return []
        if not node.value:
            self.error(node, "feeds: the list is empty; add at least one feed")
        feeds: list[Feed] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(node.value, 1):
            label = _peek(item, "name")
            fields = self.mapping(
                item, _FEED_FIELDS, f'feed "{label}": ' if label else f"feed #{index}: "
            )
            name = (
                self.text(fields["name"], f"feed #{index}: ", "name") if "name" in fields else None
            )
            where = f'feed "{name}": ' if name else f"feed #{index}: "
            if "name" not in fields and isinstance(item, yaml.MappingNode):
                self.error(item, f"{where}missing name")
            if name is not None:
                name = name.strip()
                if not name:
                    self.error(fields["name"], f"{where}empty name")
                elif name in seen:
                    self.error(
                        fields["name"], f"{where}duplicate name (first at line {seen[name]})"
                    )
                    name = None
                else:
                    seen[name] = fields["name"].start_mark.line + 1
            url = location = None
            if "url" not in fields:
                if isinstance(item, yaml.MappingNode):
                    self.error(item, f"{where}missing url")
            else:
                url = self.text(fields["url"], where, "url")
                if url is not None:
                    location = self.location(url.strip(), fields["url"], where)
            every = self.duration(fields["every"], where, "every") if "every" in fields else None
            if name and location:
                feeds.append(Feed(name, url.strip(), location, every, item.start_mark.line + 1))
        return feeds

    def location(self, url: str, node: yaml.Node, where: str) -> str | None:
        """An http(s) URL as is; a local path (``file:`` or plain) resolved next to the rules file."""
        if re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
            return url
        if re.match(r"^[a-z][a-z0-9+.-]*://", url, re.IGNORECASE) and not url.startswith("file://"):
            self.error(node, f'{where}url "{url}": only http, https and local files are supported')
            return None
        path = Path(url.removeprefix("file://"))
        if not path.is_absolute():
            path = self.path.parent / path
        return str(path.resolve())

    def regions(
        self, node: yaml.Node | None, builtin: dict[str, tuple[Alias, ...]]
    ) -> dict[str, RegionDef]:
        """The ``regions:`` section: a list adds to a built-in region of the same name (or
        defines a new region); ``{add: [...]}`` and ``{replace: [...]}`` say so explicitly."""
        if node is None or (isinstance(node, yaml.ScalarNode) and node.value == ""):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.error(node, "regions: expected a mapping of region names to lists of aliases")
            return {}
        out: dict[str, RegionDef] = {}
        for key_node, value_node in node.value:
            name = self.text(key_node, "regions: ", "a region name")
            if name is None:
                continue
            where = f'region "{name}": '
            if "*" in name:
                self.error(
                    key_node,
                    f'{where}a region name cannot contain "*"; put prefixes in its aliases',
                )
                continue
            if self.term(key_node, "regions: ", f'region "{name}"') is None:
                continue
            line = key_node.start_mark.line + 1
            if name in out:
                self.error(key_node, f"{where}defined twice (first at line {out[name].line})")
                continue
            mode = "add" if name in builtin else "new"
            explicit = isinstance(value_node, yaml.MappingNode)
            if explicit:
                fields = self.mapping(value_node, _REGION_FIELDS, where)
                if len(fields) != 1:
                    if len(fields) > 1:
                        self.error(value_node, f"{where}give add or replace, not both")
                    elif not value_node.value:
                        self.error(value_node, f"{where}give add: [...] or replace: [...]")
                    continue
                ((mode, value_node),) = fields.items()
                if name not in builtin:
                    hint = difflib.get_close_matches(name, list(builtin), n=1)
                    suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
                    self.error(
                        key_node,
                        f'{where}{mode}: there is no built-in region "{name}"{suggestion}; '
                        "to define a region of your own, give its aliases as a list",
                    )
                    continue
            if isinstance(value_node, yaml.ScalarNode) and value_node.value == "":
                aliases: tuple[str, ...] | None = ()
            else:
                aliases = self.term_list(value_node, where, mode if explicit else "alias")
            if aliases is None:
                continue
            if mode == "add":
                self._note_addition(line, name, aliases, builtin[name], explicit)
            elif mode == "replace" and len(aliases) + 1 < len(builtin[name]):
                self.warnings.append(
                    (
                        line,
                        f'region "{name}" replaces the built-in one, which has '
                        f"{len(builtin[name])} names and forms, with {len(aliases) + 1}; "
                        "write add: instead of replace: to keep the built-in ones",
                    )
                )
            out[name] = RegionDef(name, aliases, mode, line)
        return out

    def _note_addition(
        self,
        line: int,
        name: str,
        aliases: tuple[str, ...],
        builtin: tuple[Alias, ...],
        explicit: bool,
    ) -> None:
        """Say what an addition to a built-in region does when it may surprise: a list that
        once replaced the region now adds to it, and names it already has add nothing."""
        known = {parse_term(a.term).words for a in builtin}
        new = [a for a in aliases if parse_term(a).words not in known]
        if not new:
            self.warnings.append(
                (
                    line,
                    f'region "{name}": the built-in region has every name given here already; '
                    "the entry can go",
                )
            )
        elif not explicit:
            self.warnings.append(
                (
                    line,
                    f'region "{name}": a list under a built-in region\'s name adds to it '
                    f"({len(new)} new of {len(aliases)}; the built-in has {len(builtin)} names "
                    "and forms); write add: to say so, or replace: to use only yours",
                )
            )

    def rules(self, node: yaml.Node | None, regions: dict[str, None]) -> list[Rule]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, "rules: expected a list of rules, each with an id")
            return []
        if not node.value:
            self.error(node, "rules: the list is empty; add at least one rule")
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(node.value, 1):
            label = _peek(item, "id")
            fields = self.mapping(
                item, _RULE_FIELDS, f'rule "{label}": ' if label else f"rule #{index}: "
            )
            rule_id = self.text(fields["id"], f"rule #{index}: ", "id") if "id" in fields else None
            where = f'rule "{rule_id}": ' if rule_id else f"rule #{index}: "
            ok = True
            if rule_id is None:
                ok = False
                if "id" not in fields and isinstance(item, yaml.MappingNode):
                    self.error(item, f"{where}missing id (a short slug such as nk-troops)")
            elif not _SLUG.match(rule_id):
                self.error(
                    fields["id"],
                    f'{where}bad id "{rule_id}": use lower-case letters, digits, "-" and "_"',
                )
                ok = False
            elif rule_id in seen:
                self.error(fields["id"], f"{where}duplicate id (first at line {seen[rule_id]})")
                ok = False
            else:
                seen[rule_id] = fields["id"].start_mark.line + 1
            name = rule_id or ""
            if "name" in fields:
                name = self.text(fields["name"], where, "name") or name
            all_groups: list[tuple[str, ...]] = []
            if "all" in fields:
                groups = fields["all"]
                if not isinstance(groups, yaml.SequenceNode) or not groups.value:
                    self.error(
                        groups, f"{where}all must be a non-empty list of terms or term lists"
                    )
                    ok = False
                else:
                    for entry in groups.value:
                        group = self.term_list(entry, where, "all")
                        if group is None:
                            ok = False
                        else:
                            all_groups.append(group)
            terms: dict[str, tuple[str, ...]] = {}
            for key in ("any", "none"):
                if key in fields:
                    got = self.term_list(fields[key], where, key)
                    if got is None:
                        ok = False
                    else:
                        terms[key] = got
            rule_regions: list[str] = []
            if "regions" in fields:
                rnode = fields["regions"]
                items = rnode.value if isinstance(rnode, yaml.SequenceNode) else [rnode]
                if not items or isinstance(rnode, yaml.MappingNode):
                    self.error(rnode, f"{where}regions must be a list of region names")
                    ok = False
                for r in items:
                    rname = self.text(r, where, "region")
                    if rname is None:
                        ok = False
                    elif rname not in regions:
                        hint = suggest(rname, regions)
                        suggestion = f' (did you mean "{hint}"?)' if hint else ""
                        self.error(
                            r,
                            f'{where}unknown region "{rname}"{suggestion}; define it under '
                            "regions:, or see the built-in ones with: check --regions",
                        )
                        ok = False
                    else:
                        rule_regions.append(rname)
            priority = "normal"
            if "priority" in fields:
                p = self.scalar(fields["priority"], where)
                if p not in PRIORITIES:
                    self.error(
                        fields["priority"],
                        f'{where}bad priority "{fields["priority"].value}"; use urgent or normal',
                    )
                    ok = False
                else:
                    priority = p
            near: int | None = DEFAULT_NEAR
            if "near" in fields:
                node = fields["near"]
                value = self.scalar(node, where)
                if isinstance(node, yaml.ScalarNode) and node.value.strip().lower() == "off":
                    near = None
                elif (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    or not (1 <= value <= MAX_NEAR)
                ):
                    self.error(
                        node,
                        f"{where}near must be a number of words from 1 to {MAX_NEAR}, or off, "
                        f'not "{getattr(node, "value", node)}"',
                    )
                    ok = False
                else:
                    near = value
            look = "text"
            if "where" in fields:
                node = fields["where"]
                value = self.scalar(node, where)
                if value not in WHERE:
                    self.error(
                        node,
                        f'{where}bad where "{getattr(node, "value", node)}"; use '
                        + ", ".join(WHERE),
                    )
                    ok = False
                else:
                    look = value
            if isinstance(item, yaml.MappingNode) and not (
                {"all", "any", "regions"} & fields.keys()
            ):
                self.error(item, f"{where}nothing to match: give at least one of all, any, regions")
                ok = False
            if ok:
                rules.append(
                    Rule(
                        id=rule_id,
                        name=name.strip() or rule_id,
                        all=tuple(all_groups),
                        any=terms.get("any", ()),
                        none=terms.get("none", ()),
                        regions=tuple(rule_regions),
                        priority=priority,
                        line=item.start_mark.line + 1,
                        near=near,
                        where=look,
                    )
                )
        return rules


def build_matcher(
    rules: list[Rule] | tuple[Rule, ...],
    region_terms: dict[str, tuple[Term, ...]],
    false_friends: tuple[FalseFriend, ...] = (),
) -> Matcher:
    """The matcher for validated rules and every region's compiled aliases, with the built-in
    false friends, teasers and capital (and ``false_friends``: the feeds' names, see
    :func:`feed_false_friends`)."""
    return Matcher(
        [
            RuleSpec(
                id=r.id,
                all=tuple(tuple(parse_term(t) for t in group) for group in r.all),
                any=tuple(parse_term(t) for t in r.any),
                none=tuple(parse_term(t) for t in r.none),
                regions=r.regions,
                near=r.near,
                where=r.where,
            )
            for r in rules
        ],
        {name: list(terms) for name, terms in region_terms.items()},
        builtin_false_friends() + false_friends,
        builtin_teasers(),
        builtin_capital(),
        builtin_notices(),
        builtin_not_places(),
    )


FEED_NAME = "the name of a feed, not a place"


def feed_false_friends(
    feeds: Iterable[Feed], matcher: Matcher, region_terms: dict[str, tuple[Term, ...]]
) -> tuple[FalseFriend, ...]:
    """The feeds' own names that contain a region's name ("Kharkiv Evening Courier", "The Kyiv
    Dispatch"), as false friends: an outlet names itself in bylines and credits ("By Olena
    Marchenko, Kharkiv Evening Courier"), which says who wrote, not where it happened. The
    built-in ones cover well-known outlets; these cover the outlets the operator follows.

    A name that says no more than a place ("Sumy", "Sumy region") hides nothing: hiding it
    would hide the place itself."""
    out: list[FalseFriend] = []
    for feed in feeds:
        name = _ARTICLE.sub("", feed.name).strip()
        try:
            parse_term(name)
        except TermError:
            continue
        match = matcher.match(name, forms=True)
        if not match.regions:
            continue
        from .lexicon import OBLAST_WORDS  # only for such a name: the module costs 10 ms

        aliases = {
            region: {parse_term(region), *region_terms.get(region, ())} for region in match.regions
        }
        names = set().union(*aliases.values())
        found = {w for term, form in match.found.items() if term in names for w in form.split()}
        if set(textmod.words(name).split()) <= found | OBLAST_WORDS:
            continue
        for region in match.regions:
            if any(term in aliases[region] for term in match.found):
                out.append(FalseFriend(FEED_NAME, region, None, (name,)))
    return tuple(out)


_ARTICLE = re.compile(r"^\s*the\s+", re.IGNORECASE)


def _region_terms(
    builtin: dict[str, tuple[Alias, ...]], regions: dict[str, RegionDef]
) -> dict[str, tuple[Term, ...]]:
    """Every region's compiled aliases: the built-in ones, extended or replaced by the file.

    An alias the file adds that the built-in region already has keeps the built-in handling:
    "Суми" written under Sumy still counts only capitalised, since "суми" is also "sums".
    """
    out: dict[str, tuple[Term, ...]] = {}
    for name, aliases in builtin.items():
        out[name] = tuple(parse_term(a.term, a.case_sensitive) for a in aliases)
    for name, spec in regions.items():
        own = [parse_term(a) for a in spec.aliases]
        if spec.mode != "add":  # the name itself always counts, as for the built-in regions
            out[name] = tuple(dict.fromkeys([parse_term(name), *own]))
            continue
        terms = dict.fromkeys(out[name])
        known = {(t.words, t.prefix) for t in terms}
        for term in own:
            if (term.words, term.prefix) not in known:
                known.add((term.words, term.prefix))
                terms[term] = None
        out[name] = tuple(terms)
    return out


# What the YAML parser's messages usually mean in a rules file: (words in its message, hint).
# The parser reports the token it tripped over, which says little to someone who wrote a list of
# keywords; these are the mistakes that produce each message. The first match wins.
_YAML_HINTS = (
    (
        "expected <block end>",
        'a line indented differently from the lines above it, or a list entry without its "-" '
        '(each feed and each rule starts with "- ")',
    ),
    ("did not find expected '-' indicator", 'a list entry without its "-", or indented apart'),
    ("did not find expected key", "a line indented differently from the lines above it"),
    (
        "mapping values are not allowed here",
        'a colon inside an unquoted term or name (quote it: any: ["Kharkiv: shelling"]), or '
        "a line indented further than the one above it",
    ),
    (
        "could not find expected ':'",
        'a field without its colon ("any [drone*]" for "any: [drone*]"), or a value '
        "continued on the next line",
    ),
    ("found character '\\t'", "a tab: indent with spaces only, and quote a term with a tab"),
    (
        "that cannot start any token",
        "a term that starts with a character YAML reserves (such as @, ` or %): quote it",
    ),
    ("scanning a quoted scalar", "a quote that is never closed"),
    (
        "expected ',' or ']'",
        "inside [...], terms are separated by commas; quote a term that contains a comma, "
        "a bracket, a colon or a quote",
    ),
    ("expected ',' or '}'", "inside {...}, fields are separated by commas"),
)


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """``LINE: YAML syntax error: <the parser's words>; usually <what that means here>``.

    The line is where the parser noticed, except for an unclosed quote and a missing colon,
    which it notices a line or more later: there it is the line the quote or key began on."""
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and ("quoted scalar" in context or "simple key" in context):
        mark = exc.context_mark
    line = mark.line + 1 if mark else 1
    what = exc.problem or exc.context or "invalid YAML"
    said = f"{context} {what}"
    hint = next((h for words, h in _YAML_HINTS if words in said), None)
    return f"{line}: YAML syntax error: {what}" + (f"; usually {hint}" if hint else "")


def _peek(node: yaml.Node, key: str) -> str | None:
    """A mapping's scalar field, read before validation so messages can name the entry."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.ScalarNode):
                return v.value or None
    return None
