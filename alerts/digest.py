"""Rendering alerts and digests, as console text and as Telegram HTML. Pure functions.

A digest groups items under the name of the first rule (in rules.yaml order) they matched, with
any other rules named beside the item, so an item that matched three rules is read once. Every
piece of feed text is escaped before it enters HTML, and only http(s) links become anchors.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from .config import Rule
from .items import safe_link
from .store import Entry
from .wording import plural

TELEGRAM_LIMIT = 4096
OTHER = "Other matches"
_ALERT_SUMMARY = 400


@dataclass
class Section:
    """One rule's heading and the stories filed under it, each with the other rules it matched.

    ``more`` counts the stories left out by the per-rule cap; they stay queued for later.
    """

    title: str
    entries: list[tuple[Entry, list[str]]] = field(default_factory=list)
    more: int = 0


def group(entries: Sequence[Entry], rules: Sequence[Rule], cap: int | None = None) -> list[Section]:
    """File stories under their first rule, sections in rules.yaml order.

    Within a section, stories carried by more outlets come first, then the newest, then by
    source and title: feeds are polled concurrently, so the order in which two stories of the
    same minute were stored must not decide their order in the digest. With a
    ``cap``, each section keeps that many and counts the rest in ``more``. Stories whose rules no
    longer exist (the file changed since they were matched) are kept under "Other matches"
    rather than dropped: they were promised to the chat.
    """
    order = {r.id: i for i, r in enumerate(rules)}
    names = {r.id: r.name for r in rules}
    sections: dict[int, Section] = {}
    for entry in entries:
        known = sorted((r for r in entry.rules if r in order), key=order.__getitem__)
        if known:
            index, title, others = order[known[0]], names[known[0]], [names[r] for r in known[1:]]
        else:
            index, title, others = len(order), OTHER, list(entry.rules[1:])
        sections.setdefault(index, Section(title)).entries.append((entry, others))
    for section in sections.values():
        section.entries.sort(
            key=lambda pair: (
                -pair[0].outlets,
                -(pair[0].last_at or pair[0].when).timestamp(),
                pair[0].feed,
                pair[0].title,
            )
        )
        if cap is not None and len(section.entries) > cap:
            section.more = len(section.entries) - cap
            del section.entries[cap:]
    return [sections[i] for i in sorted(sections)]


def _ids(sections: Sequence[Section]) -> list[int]:
    return [e.story_id for s in sections for e, _ in s.entries]


def _others(entry: Entry) -> list[tuple[str, str | None]]:
    """The other reports of a story, one per outlet and link (an outlet's own follow-up
    counts: its link is the news)."""
    seen = {(entry.feed, entry.link)}
    out = []
    for feed, link in entry.others:
        if (feed, link) not in seen:
            seen.add((feed, link))
            out.append((feed, link))
    return out


def local_time(when: datetime, tz: tzinfo, now: datetime) -> str:
    """``09:42`` for today, ``24 Nov 09:42`` otherwise, in the reader's time zone."""
    local = when.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M")
    return f"{local.day} {local.strftime('%b %H:%M')}"


def _count(sections: Sequence[Section]) -> str:
    """What a digest holds, for its heading: new stories, and stories shown again for the
    coverage added since their alert ("1 new story, more coverage of 2 stories")."""
    shown = [entry for section in sections for entry, _ in section.entries]
    again = sum(1 for entry in shown if entry.update)
    new = len(shown) - again
    parts = [plural(new, "new story", "new stories")] if new or not again else []
    if again:
        parts.append(f"more coverage of {plural(again, 'story', 'stories')}")
    return ", ".join(parts)


# --- console text ---------------------------------------------------------------------------


def digest_text(
    entries: Sequence[Entry],
    rules: Sequence[Rule],
    tz: tzinfo,
    now: datetime,
    cap: int | None = None,
    more_hint: str = "they come in the next digest",
) -> list[tuple[str, list[int]]]:
    """The digest as one plain-text message for the console."""
    sections = group(entries, rules, cap)
    zone = getattr(tz, "key", str(tz))
    stamp = now.astimezone(tz).strftime("%d %b %Y %H:%M")
    lines = [f"=== Digest: {_count(sections)} · {stamp} {zone} ==="]
    for section in sections:
        lines.append("")
        lines.append(f"{section.title} ({len(section.entries)})")
        for entry, others in section.entries:
            mark = " (more coverage)" if entry.update else ""
            lines.append(f"  • {entry.title}{mark}")
            lines.append(f"    {entry.feed} · {local_time(entry.when, tz, now)}")
            if entry.link:
                lines.append(f"    {entry.link}")
            for feed, link in _others(entry):
                lines.append(f"    also {feed}" + (f": {link}" if link else ""))
            if others:
                lines.append(f"    also matched: {', '.join(others)}")
        if section.more:
            lines.append(f"  … and {section.more} more; {more_hint}")
    lines.append("")
    return [("\n".join(lines), _ids(sections))]


def alerts_text(
    entries: Sequence[Entry], rules: Sequence[Rule], tz: tzinfo, now: datetime, **_: object
) -> list[tuple[str, list[int]]]:
    """One console message per urgent story."""
    out = []
    for section in group(entries, rules):
        for entry, others in section.entries:
            lines = [
                f"!!! URGENT · {section.title}"
                + (f" (also: {', '.join(others)})" if others else "")
            ]
            lines.append(entry.title)
            if entry.summary:
                lines.append(_shorten(entry.summary, _ALERT_SUMMARY))
            lines.append(f"{entry.feed} · {local_time(entry.when, tz, now)}")
            if entry.link:
                lines.append(entry.link)
            for feed, link in _others(entry):
                lines.append(f"also {feed}" + (f": {link}" if link else ""))
            lines.append("")
            out.append(("\n".join(lines), [entry.story_id]))
    return out


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


# --- Telegram HTML --------------------------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _link_html(text: str, url: str | None) -> str:
    link = safe_link(url)
    if link and len(link) <= 2000:
        return f'<a href="{esc(link)}">{text}</a>'
    return text


def _title_html(entry: Entry, limit: int = 300) -> str:
    return _link_html(esc(_shorten(entry.title, limit)), entry.link)


def _others_html(entry: Entry) -> str:
    """ "also: BBC, The Independent", each name linking to that outlet's report."""
    others = _others(entry)[:8]
    if not others:
        return ""
    return "also: " + ", ".join(_link_html(esc(feed), link) for feed, link in others)


def digest_html(
    entries: Sequence[Entry],
    rules: Sequence[Rule],
    tz: tzinfo,
    now: datetime,
    cap: int | None = None,
    more_hint: str = "send /now to see them",
    limit: int = TELEGRAM_LIMIT,
) -> list[tuple[str, list[int]]]:
    """The digest as Telegram HTML messages of at most ``limit`` characters each.

    Messages are cut only between stories, and a section continued in the next message repeats
    its heading, so every message reads on its own and no tag is ever split.
    """
    sections = group(entries, rules, cap)
    header = f"<b>Digest</b> · {_count(sections)}"
    messages: list[tuple[str, list[int]]] = []
    parts: list[str] = [header]
    ids: list[int] = []
    size = len(header)

    def flush() -> None:
        nonlocal parts, ids, size
        if ids:
            messages.append(("\n".join(parts), ids))
        parts, ids, size = [], [], 0

    def add(block: str, story_id: int | None, heading: str | None, title: str) -> str | None:
        nonlocal size
        need = len(block) + 1 + (len(heading) + 1 if heading else 0)
        if ids and size + need > limit:
            flush()
            heading = heading.lstrip("\n") if heading else f"<b>{esc(title)}</b> (continued)"
        if heading:
            parts.append(heading)
            size += len(heading) + 1
        parts.append(block)
        size += len(block) + 1
        if story_id is not None:
            ids.append(story_id)
        return None

    for section in sections:
        pending_heading: str | None = f"\n<b>{esc(section.title)}</b>"
        for entry, others in section.entries:
            block = f"• {_title_html(entry)}"
            if entry.update:
                block += " <i>(more coverage)</i>"
            block += f"\n  <i>{esc(entry.feed)}, {local_time(entry.when, tz, now)}</i>"
            also = _others_html(entry)
            if also:
                block += f" · {also}"
            if others:
                block += f" · also matched: {esc(', '.join(others))}"
            pending_heading = add(block, entry.story_id, pending_heading, section.title)
        if section.more:
            add(f"  <i>… and {section.more} more; {esc(more_hint)}</i>", None, None, section.title)
    flush()
    return messages


def alerts_html(
    entries: Sequence[Entry], rules: Sequence[Rule], tz: tzinfo, now: datetime, **_: object
) -> list[tuple[str, list[int]]]:
    """One Telegram HTML message per urgent story."""
    out = []
    for section in group(entries, rules):
        for entry, others in section.entries:
            lines = [f"🚨 <b>{esc(section.title)}</b>"]
            if others:
                lines[0] += f" · also: {esc(', '.join(others))}"
            lines.append(f"<b>{_title_html(entry)}</b>")
            if entry.summary:
                lines.append(esc(_shorten(entry.summary, _ALERT_SUMMARY)))
            lines.append(f"<i>{esc(entry.feed)}, {local_time(entry.when, tz, now)}</i>")
            also = _others_html(entry)
            if also:
                lines.append(also)
            out.append(("\n".join(lines), [entry.story_id]))
    return out


_ANCHOR = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]+>")


def html_to_text(body: str) -> str:
    """Our HTML as plain text, for a message Telegram refused to parse: links become
    "title (url)" and entities are decoded, so nothing the reader needs is lost."""
    text = _ANCHOR.sub(lambda m: f"{m.group(2)} ({m.group(1)})", body)
    text = _ANY_TAG.sub("", text)
    return html.unescape(text)
