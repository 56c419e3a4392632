"""Why an item matched: the terms and region names found, rule by rule. Pure functions.

Operators use this to test a rule against a real feed before deploying it, so it reports the
form found in the text (``deploy*`` found as "deployed"), not only the rule's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Config, Rule
from .items import Item
from .matcher import Match, Term, parse_term
from .notices import builtin_notices
from .teasers import builtin_teasers
from .text import shorten


@dataclass
class RuleWhy:
    """The evidence for one matched rule: field -> [(term as written, form found)]."""

    rule: Rule
    found: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


@dataclass
class RuleBlocked:
    """A rule whose terms were found but that did not match, and why: a ``none`` term was
    found ("none: football"), its terms were too far apart, or not where it looks."""

    rule: Rule
    why: str


@dataclass
class StoryWhy:
    """The stored story an item resembles most, and whether it would join it."""

    story_id: int
    title: str
    joins: bool
    reason: str


@dataclass
class StoredWhy:
    """The item is in the state database already, so ``once`` would not deliver it: as itself
    (``already seen``: its feed gave it before), or as the same link, tracking parameters aside,
    from another item (``duplicate``). Either way there is no story for it to join."""

    kind: str  # "already seen" | "duplicate"
    item_id: int
    feed: str
    title: str
    link: str | None


@dataclass
class Explanation:
    item: Item
    match: Match
    why: list[RuleWhy]
    region_forms: dict[str, list[tuple[str, str]]]
    story: StoryWhy | None = None
    other_stories: list[StoryWhy] = field(default_factory=list)
    """The other stories it was compared with, best first: why it does not join them."""
    blocked: list[RuleBlocked] = field(default_factory=list)
    stored: StoredWhy | None = None
    notice: str | None = None
    """What the item is when it is not news ("a fundraiser"): nothing in it matches."""
    set_aside: list[str] = field(default_factory=list)
    """What matching read past as another article's or the site's (a teaser, a byline, a
    credit, an appeal to readers): an item that matched nothing may have lost its news there."""
    commentary: str | None = None
    """The label its title opens with to say it is comment ("Analysis"): never urgent."""

    def as_json(self) -> dict:
        item = self.item
        return {
            "link": item.link,
            "title": item.title,
            "feed": item.feed,
            "published": item.published.isoformat() if item.published else None,
            "rules": sorted(self.match.rules),
            "regions": sorted(self.match.regions),
            "why": {
                w.rule.id: {k: [{"term": t, "found": f} for t, f in v] for k, v in w.found.items()}
                for w in self.why
            },
            "region_forms": {
                name: [{"alias": a, "found": f} for a, f in forms]
                for name, forms in self.region_forms.items()
            },
            "blocked": {b.rule.id: b.why for b in self.blocked},
            "not_places": [
                {"name": r.found, "reason": r.reason, "region": r.region}
                for r in self.match.rejected
            ],
            "notice": self.notice,
            "set_aside": self.set_aside,
            "commentary": self.commentary,
            "stored": None
            if self.stored is None
            else {
                "as": self.stored.kind,
                "id": self.stored.item_id,
                "feed": self.stored.feed,
                "title": self.stored.title,
                "link": self.stored.link,
            },
            "story": None if self.story is None else _story_json(self.story),
            "other_stories": [_story_json(s) for s in self.other_stories],
        }


def _story_json(story: StoryWhy) -> dict:
    return {
        "id": story.story_id,
        "title": story.title,
        "joins": story.joins,
        "reason": story.reason,
    }


def _found(match: Match, terms: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each term found, once: a rule may write one twice (``дрон*`` is Ukrainian and Russian)."""
    out = []
    for raw in dict.fromkeys(terms):
        form = match.found.get(parse_term(raw))
        if form is not None:
            out.append((raw, form))
    return out


def _region_found(match: Match, name: str, terms: tuple[Term, ...]) -> list[tuple[str, str]]:
    """Which aliases of a region were found, as (alias, form found)."""
    out = []
    for term in dict.fromkeys((parse_term(name), *terms)):  # the name is often an alias too
        form = match.found.get(term)
        if form is not None:
            out.append((str(term), form))
    return out


def explain(config: Config, item: Item) -> Explanation:
    match = config.matcher.match(item.text, forms=True)
    region_forms = {
        name: _region_found(match, name, config.region_terms.get(name, ()))
        for name in match.regions
    }
    why = []
    for rule_id in match.rules:
        rule = config.rule(rule_id)
        entry = RuleWhy(rule)
        for index, group in enumerate(rule.all, 1):
            entry.found[f"all[{index}]"] = _found(match, group)
        if rule.any:
            entry.found["any"] = _found(match, rule.any)
        if rule.regions:
            entry.found["regions"] = [
                (name, form)
                for name in rule.regions
                if name in region_forms
                for _, form in region_forms[name][:1]
            ]
        why.append(entry)
    blocked = [RuleBlocked(config.rule(rule_id), reason) for rule_id, reason in match.blocked]
    return Explanation(
        item,
        match,
        why,
        region_forms,
        blocked=blocked,
        notice=builtin_notices().notice(item.text),
        set_aside=_set_aside(item.text),
        commentary=builtin_teasers().commentary(item.title),
    )


def _set_aside(text: str) -> list[str]:
    """The pieces the teasers' cut removes from ``text``, each shortened for a line."""
    removed: list[str] = []
    builtin_teasers().cut(text, removed)
    removed.sort(key=text.find)  # bylines and appeals are taken first, the rest in order
    return [shorten(" ".join(piece.split()), 120) for piece in removed if piece.strip()]


def render_text(exp: Explanation) -> str:
    item = exp.item
    lines = [item.title, f"  {item.link or '(no link)'}"]
    if exp.notice:
        lines.append(f"  matched: nothing: not news but {exp.notice} (alerts/notices.yaml)")
    elif not exp.why:
        lines.append("  matched: nothing")
    for w in exp.why:
        parts = []
        for key, pairs in w.found.items():
            if key == "regions":
                shown = ", ".join(f"{t} (“{f}”)" for t, f in pairs)
            else:
                shown = ", ".join(
                    f'"{t}"' + (f" as “{f}”" if f != t.casefold() else "") for t, f in pairs
                )
            parts.append(f"{key}: {shown}")
        lines.append(
            f"  matched {w.rule.id} ({w.rule.name}, {w.rule.priority}): " + "; ".join(parts)
        )
    if exp.commentary and any(w.rule.urgent for w in exp.why):
        lines.append(
            f"  not urgent: its title labels it comment (“{exp.commentary}”), which comes in "
            "the digest (alerts/teasers.yaml labels)"
        )
    for b in exp.blocked:
        why = f"blocked by {b.why}" if b.why.startswith("none:") else b.why
        lines.append(f"  not matched {b.rule.id} ({b.rule.name}): {why}")
    for r in exp.match.rejected:
        lines.append(f"  not a place: {r.found}: {r.reason} (not {r.region})")
    for piece in exp.set_aside:
        lines.append(f"  set aside (another article's or the site's): “{piece}”")
    stored = exp.stored
    if stored is not None and stored.kind == "already seen":
        lines.append(
            f"  already seen: stored as #{stored.item_id} from {stored.feed}; "
            "once would not deliver it again"
        )
    elif stored is not None:
        lines.append(
            f"  duplicate of #{stored.item_id} “{stored.title}” from {stored.feed} "
            f"({stored.link}): the same link, tracking parameters aside; "
            "once would record it, not deliver it"
        )
    if exp.story is not None:
        verb = "joins" if exp.story.joins else "closest, but does not join"
        lines.append(
            f"  story: {verb} #{exp.story.story_id} “{exp.story.title}”: {exp.story.reason}"
        )
    for other in exp.other_stories:
        lines.append(f"  also compared with #{other.story_id} “{other.title}”: {other.reason}")
    if exp.region_forms:
        shown = ", ".join(
            f"{name} (“{forms[0][1]}”)" if forms else name
            for name, forms in exp.region_forms.items()
        )
        lines.append(f"  regions: {shown}")
    return "\n".join(lines)
