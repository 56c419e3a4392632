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

TELEGRAM_LIMIT = 4096
OTHER = "Other matches"
_ALERT_SUMMARY = 400


@dataclass
class Section:
    """One rule's heading and the entries filed under it, each with the other rules it matched."""

    title: str
    entries: list[tuple[Entry, list[str]]] = field(default_factory=list)


def group(entries: Sequence[Entry], rules: Sequence[Rule]) -> list[Section]:
    """File entries under their first rule, sections in rules.yaml order, newest last.

    Entries whose rules no longer exist (the file changed since they were matched) are kept under
    "Other matches" rather than dropped: they were promised to the chat.
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
        section.entries.sort(key=lambda pair: (pair[0].when, pair[0].item_id))
    return [sections[i] for i in sorted(sections)]


def local_time(when: datetime, tz: tzinfo, now: datetime) -> str:
    """``09:42`` for today, ``24 Nov 09:42`` otherwise, in the reader's time zone."""
    local = when.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M")
    return f"{local.day} {local.strftime('%b %H:%M')}"


def _count(n: int) -> str:
    return f"{n} new item" + ("" if n == 1 else "s")


# --- console text ---------------------------------------------------------------------------


def digest_text(
    entries: Sequence[Entry], rules: Sequence[Rule], tz: tzinfo, now: datetime
) -> list[tuple[str, list[int]]]:
    """The digest as one plain-text message for the console."""
    zone = getattr(tz, "key", str(tz))
    stamp = now.astimezone(tz).strftime("%d %b %Y %H:%M")
    lines = [f"=== Digest: {_count(len(entries))} · {stamp} {zone} ==="]
    for section in group(entries, rules):
        lines.append("")
        lines.append(f"{section.title} ({len(section.entries)})")
        for entry, others in section.entries:
            lines.append(f"  • {entry.title}")
            lines.append(f"    {entry.feed} · {local_time(entry.when, tz, now)}")
            if entry.link:
                lines.append(f"    {entry.link}")
            if others:
                lines.append(f"    also: {', '.join(others)}")
    lines.append("")
    return [("\n".join(lines), [e.item_id for e in entries])]


def alerts_text(
    entries: Sequence[Entry], rules: Sequence[Rule], tz: tzinfo, now: datetime
) -> list[tuple[str, list[int]]]:
    """One console message per urgent item."""
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
            lines.append("")
            out.append(("\n".join(lines), [entry.item_id]))
    return out


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


# --- Telegram HTML --------------------------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _title_html(entry: Entry, limit: int = 300) -> str:
    title = esc(_shorten(entry.title, limit))
    link = safe_link(entry.link)
    if link and len(link) <= 2000:
        return f'<a href="{esc(link)}">{title}</a>'
    return title


def digest_html(
    entries: Sequence[Entry],
    rules: Sequence[Rule],
    tz: tzinfo,
    now: datetime,
    limit: int = TELEGRAM_LIMIT,
) -> list[tuple[str, list[int]]]:
    """The digest as Telegram HTML messages of at most ``limit`` characters each.

    Messages are cut only between items, and a section continued in the next message repeats
    its heading, so every message reads on its own and no tag is ever split.
    """
    header = f"<b>Digest</b> · {_count(len(entries))}"
    messages: list[tuple[str, list[int]]] = []
    parts: list[str] = [header]
    ids: list[int] = []
    size = len(header)

    def flush() -> None:
        nonlocal parts, ids, size
        if ids:
            messages.append(("\n".join(parts), ids))
        parts, ids, size = [], [], 0

    for section in group(entries, rules):
        heading = f"\n<b>{esc(section.title)}</b>"
        pending_heading = heading
        for entry, others in section.entries:
            block = f"• {_title_html(entry)}\n  <i>{esc(entry.feed)}, {local_time(entry.when, tz, now)}</i>"
            if others:
                block += f" · also: {esc(', '.join(others))}"
            need = len(block) + 1 + (len(pending_heading) + 1 if pending_heading else 0)
            if ids and size + need > limit:
                flush()
                pending_heading = f"<b>{esc(section.title)}</b> (continued)"
            if pending_heading:
                parts.append(pending_heading)
                size += len(pending_heading) + 1
                pending_heading = None
            parts.append(block)
            size += len(block) + 1
            ids.append(entry.item_id)
    flush()
    return messages


def alerts_html(
    entries: Sequence[Entry], rules: Sequence[Rule], tz: tzinfo, now: datetime
) -> list[tuple[str, list[int]]]:
    """One Telegram HTML message per urgent item."""
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
            out.append(("\n".join(lines), [entry.item_id]))
    return out


_ANCHOR = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]+>")


def html_to_text(body: str) -> str:
    """Our HTML as plain text, for a message Telegram refused to parse: links become
    "title (url)" and entities are decoded, so nothing the reader needs is lost."""
    text = _ANCHOR.sub(lambda m: f"{m.group(2)} ({m.group(1)})", body)
    text = _ANY_TAG.sub("", text)
    return html.unescape(text)
