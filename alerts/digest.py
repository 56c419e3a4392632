"""Rendering alerts, edits of alerts and digests, as console text, Telegram HTML or JSON lines.
Pure functions.

A digest groups stories under the name of the first rule (in rules.yaml order) they matched,
with any other rules named beside the story, so a story that matched three rules is read once.
A story's entry links every report it carries: the headline, then "also" each other outlet, so
grouping hides no report. Every piece of feed text is escaped before it enters HTML, and only
http(s) links become anchors.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from .config import Rule
from .items import safe_link
from .store import Entry, Piece
from .teasers import cut_text
from .text import shorten
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
    order, names = _rule_order(rules)
    filed: dict[int, list[Entry]] = {}
    for entry in entries:
        # Only the section here: the other rules' names are read for the stories shown. A
        # backlog of thousands of stories, each matched by dozens of broad rules, is mostly
        # left for later by the cap.
        index = min([order[r] for r in entry.rules if r in order], default=len(order))
        filed.setdefault(index, []).append(entry)
    sections = []
    for index in sorted(filed):
        stories = filed[index]
        stories.sort(
            key=lambda e: (-e.outlets, -(e.last_at or e.when).timestamp(), e.feed, e.title)
        )
        more = len(stories) - cap if cap is not None and len(stories) > cap else 0
        shown = stories[: len(stories) - more]
        title = names[rules[index].id] if index < len(order) else OTHER
        sections.append(Section(title, [(e, _heading(e, rules)[2]) for e in shown], more))
    return sections


def _ids(sections: Sequence[Section]) -> list[int]:
    return [e.story_id for s in sections for e, _ in s.entries]


def _others(entry: Entry) -> list[Piece]:
    """The other reports an entry carries, one per outlet and link (an outlet's own follow-up
    counts: its link is the news)."""
    seen = set() if entry.coverage else {(entry.feed, entry.link)}
    out = []
    for other in entry.others:
        if (other.feed, other.link) not in seen:
            seen.add((other.feed, other.link))
            out.append(other)
    return out


def _heading(
    entry: Entry, rules: Sequence[Rule], *, alert: bool = False
) -> tuple[int, str, list[str]]:
    """The first rule (in rules.yaml order) an entry matched: its place and name, and the
    names of the others. Rules no longer in the file go under "Other matches".

    An ``alert`` is headed by the urgent rule that made it one, the first in the order of the
    entry's rules: its earliest reports' first (an edit lists the alert's own reports' rules
    before those of the reports it adds), so that an alert keeps its heading when later reports
    bring rules that come earlier in the file ("Attacks on Sumy region" had come to head a
    missile alert on Kyiv)."""
    order, names = _rule_order(rules)
    known = sorted((r for r in entry.rules if r in order), key=order.__getitem__)
    if alert:
        urgent = _urgent_ids(rules)
        first = next((r for r in entry.rules if r in urgent), None)
        if first is not None:
            return order[first], names[first], [names[r] for r in known if r != first]
    if known:
        return order[known[0]], names[known[0]], [names[r] for r in known[1:]]
    return len(order), OTHER, list(entry.rules[1:])


def _urgent_ids(rules: Sequence[Rule]) -> frozenset[str]:
    return frozenset(r.id for r in rules if r.urgent)


_ORDER: list[tuple[Sequence[Rule], dict[str, int], dict[str, str]]] = []


def _rule_order(rules: Sequence[Rule]) -> tuple[dict[str, int], dict[str, str]]:
    """Each rule's place in rules.yaml and its name, once per rules file (by identity: the
    config's tuple), not once per story: a digest pass weighs every pending story, thousands
    after a first poll."""
    for known, order, names in _ORDER:
        if known is rules:
            return order, names
    order, names = {r.id: i for i, r in enumerate(rules)}, {r.id: r.name for r in rules}
    if isinstance(rules, tuple):  # a list could change under the cache
        _ORDER[:] = [(rules, order, names), *_ORDER[:3]]
    return order, names


def local_time(when: datetime, tz: tzinfo, now: datetime) -> str:
    """``09:42`` for today, ``24 Nov 09:42`` otherwise, in the reader's time zone, and
    ``13 Mar 2019 12:00`` for a report of another year (an archive item a feed brings up late
    would read as this year's news)."""
    local = when.astimezone(tz)
    today = now.astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.year != today.year and abs((local.date() - today).days) > 31:
        return f"{local.day} {local.strftime('%b %Y %H:%M')}"
    return f"{local.day} {local.strftime('%b %H:%M')}"


def _count(sections: Sequence[Section]) -> str:
    """What a digest holds, for its heading: new stories, and stories shown again for the
    coverage added since ("1 new story, more coverage of 2 stories")."""
    shown = [entry for section in sections for entry, _ in section.entries]
    again = sum(1 for entry in shown if entry.coverage)
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
            if entry.coverage:
                # Which story, by its headline as the chat had it: one template's titles recur.
                when = local_time(entry.when, tz, now)
                lines.append(f"  • {entry.title} (more coverage · {entry.feed}, {when})")
            else:
                lines.append(f"  • {entry.title}")
                lines.append(f"    {entry.feed} · {local_time(entry.when, tz, now)}")
                if entry.link:
                    lines.append(f"    {entry.link}")
            lines.extend(f"    {line}" for line in _others_text(entry))
            if others:
                lines.append(f"    also matched: {', '.join(others)}")
        if section.more:
            lines.append(f"  … and {section.more} more; {more_hint}")
    lines.append("")
    return [("\n".join(lines), _ids(sections))]


def _others_text(entry: Entry) -> list[str]:
    """The other reports, each as "also <outlet>: <title>" with its link on the next line."""
    out = []
    for o in _others(entry):
        out.append(f"also {o.feed}: {o.title}" if o.title else f"also {o.feed}")
        if o.link:
            out.append(f"  {o.link}")
    return out


def alerts_text(
    entries: Sequence[Entry], rules: Sequence[Rule], tz: tzinfo, now: datetime, **_: object
) -> list[tuple[str, list[int]]]:
    """One console message per urgent story, in the order given (oldest first)."""
    out = []
    for entry in entries:
        _, title, others = _heading(entry, rules, alert=True)
        lines = [f"!!! URGENT · {title}" + (f" (also: {', '.join(others)})" if others else "")]
        lines.append(entry.title)
        snippet = _snippet(entry.summary, entry.title) if entry.summary else ""
        if snippet:
            lines.append(snippet)
        lines.append(f"{entry.feed} · {local_time(entry.when, tz, now)}")
        if entry.link:
            lines.append(entry.link)
        lines.extend(_others_text(entry))
        lines.append("")
        out.append(("\n".join(lines), [entry.story_id]))
    return out


def coverage_text(entry: Entry, rules: Sequence[Rule]) -> str:
    """A story the chat already had, as a console message: only its new reports."""
    _, title, _ = _heading(entry, rules, alert=True)
    return "\n".join([f"+++ More coverage · {title}", entry.title, *_others_text(entry), ""])


def _snippet(summary: str, title: str = "") -> str:
    """An alert's excerpt of the summary, without the headlines of other articles a
    full-article feed embeds ("Read also: ...", "Related: ..."): they are not this news; and
    without the title where the text opens with it (a Telegram channel's post, whose title is
    its first line; an untitled item, titled by its first words), which the alert shows above."""
    # Cut first: an untitled post's title is its first paragraph after a "Forwarded from" line.
    return shorten(_without_title(cut_text(summary), title), _ALERT_SUMMARY)


def _without_title(summary: str, title: str) -> str:
    words = title.rstrip(" .…").split()
    if len(words) < 3:
        return summary
    if words[-1].endswith("..."):
        words[-1] = words[-1][:-3]
    # Up to a word's end: a bridge that cut the title inside a word ("…районі: п…") leaves that
    # word whole in the text, where it stays.
    cut_short = title.rstrip().endswith(("…", "..."))
    for count in (len(words), len(words) - 1) if cut_short else (len(words),):
        pattern = r"\s*" + r"\s+".join(map(re.escape, words[:count])) + r"(?!\w)"
        opening = re.match(pattern, summary, re.IGNORECASE)
        if opening is not None:
            return summary[opening.end() :].lstrip(" .,:;!?…—–-\n\t")
    return summary


# --- Telegram HTML --------------------------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _link_html(text: str, url: str | None) -> str:
    link = safe_link(url)
    if link and len(link) <= 2000:
        return f'<a href="{esc(link)}">{text}</a>'
    return text


def _title_html(entry: Entry, limit: int = 300) -> str:
    text = esc(shorten(entry.title, limit))
    return text if entry.coverage else _link_html(text, entry.link)


def _others_html(entry: Entry) -> str:
    """ "also: BBC, The Independent", each name linking to that outlet's report: every one,
    since a report a subscriber wanted must not be hidden behind a "+3 more"."""
    links = _other_links(entry)
    return "also: " + ", ".join(links) if links else ""


def _other_links(entry: Entry) -> list[str]:
    """Each other outlet's name, linking to its report."""
    return [_link_html(esc(o.feed), o.link) for o in _others(entry)]


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
    size = _units(header)

    def flush() -> None:
        nonlocal parts, ids, size
        if ids:
            messages.append(("\n".join(parts), ids))
        parts, ids, size = [], [], 0

    def add(block: str, story_id: int | None, heading: str | None, title: str) -> str | None:
        nonlocal size
        # Telegram counts UTF-16 units of the text; the HTML's own count is never less.
        need = _units(block) + 1 + (_units(heading) + 1 if heading else 0)
        if ids and size + need > limit:
            flush()
            heading = heading.lstrip("\n") if heading else f"<b>{esc(title)}</b> (continued)"
        if heading:
            parts.append(heading)
            size += _units(heading) + 1
        parts.append(block)
        size += _units(block) + 1
        if story_id is not None:
            ids.append(story_id)
        return None

    for section in sections:
        pending_heading: str | None = f"\n<b>{esc(section.title)}</b>"
        for entry, others in section.entries:
            block = f"• {_title_html(entry)}"
            when = local_time(entry.when, tz, now)
            line: list[str] = []  # the line under the title, its parts joined by " · "
            if entry.coverage:
                block += f" <i>(more coverage · {esc(entry.feed)}, {when})</i>"
            else:
                line.append(f"<i>{esc(entry.feed)}, {when}</i>")
            if others:
                line.append(f"also matched: {esc(', '.join(others))}")
            links = _other_links(entry)
            # Every outlet's link, in as many lines (and messages) as they take: a story
            # carried by a hundred outlets is longer than one message.
            room = limit - _units(block) - _units(" · ".join(line)) - 400
            chunks = _chunks(links, max(room, 1000))
            if chunks:
                line.insert(len(line) - bool(others), "also: " + ", ".join(chunks[0]))
            if line:
                block += "\n  " + " · ".join(line)
            pending_heading = add(block, entry.story_id, pending_heading, section.title)
            for chunk in chunks[1:]:
                more = "  also: " + ", ".join(chunk)
                pending_heading = add(more, entry.story_id, pending_heading, section.title)
        if section.more:
            add(f"  <i>… and {section.more} more; {esc(more_hint)}</i>", None, None, section.title)
    flush()
    return messages


def _units(html_text: str) -> int:
    """UTF-16 code units, as Telegram counts a message's length (an emoji is two)."""
    return len(html_text.encode("utf-16-le")) // 2


def _chunks(links: list[str], room: int) -> list[list[str]]:
    """Links in groups whose joined length stays within ``room`` units."""
    out: list[list[str]] = []
    size = room
    for link in links:
        units = _units(link) + 2
        if size + units > room:
            out.append([])
            size = 0
        out[-1].append(link)
        size += units
    return out


def alert_html(entry: Entry, rules: Sequence[Rule], tz: tzinfo, now: datetime) -> str | None:
    """One story as a Telegram alert, or None when even without its summary the text would be
    longer than Telegram takes (the links then go another way)."""
    _, title, others = _heading(entry, rules, alert=True)
    head = f"🚨 <b>{esc(title)}</b>" + (f" · also: {esc(', '.join(others))}" if others else "")
    tail = [f"<i>{esc(entry.feed)}, {local_time(entry.when, tz, now)}</i>"]
    also = _others_html(entry)
    if also:
        tail.append(also)
    snippet = _snippet(entry.summary, entry.title) if entry.summary else ""
    summary = [esc(snippet)] if snippet else []
    for middle in (summary, []):
        body = "\n".join([head, f"<b>{_title_html(entry)}</b>", *middle, *tail])
        if visible_length(body) <= TELEGRAM_LIMIT:
            return body
    return None


def alerts_html(
    entries: Sequence[Entry], rules: Sequence[Rule], tz: tzinfo, now: datetime, **_: object
) -> list[tuple[str, list[int]]]:
    """One Telegram HTML message per urgent story, in the order given (oldest first)."""
    return [(alert_html(e, rules, tz, now) or "", [e.story_id]) for e in entries]


def coverage_html(entry: Entry, rules: Sequence[Rule]) -> str | None:
    """A story the chat was alerted to but whose alert could not be edited, as a Telegram
    message of its own: only its new reports (None when they would not fit in one)."""
    _, title, _ = _heading(entry, rules, alert=True)
    body = "\n".join(
        [
            f"➕ <b>More coverage</b> · {esc(title)}",
            f"<b>{_title_html(entry)}</b>",
            _others_html(entry),
        ]
    )
    return body if visible_length(body) <= TELEGRAM_LIMIT else None


_ANCHOR = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]+>")


def html_to_text(body: str) -> str:
    """Our HTML as plain text, for a message Telegram refused to parse: links become
    "title (url)" and entities are decoded, so nothing the reader needs is lost."""
    text = _ANCHOR.sub(lambda m: f"{m.group(2)} ({m.group(1)})", body)
    text = _ANY_TAG.sub("", text)
    return html.unescape(text)


def visible_length(body: str) -> int:
    """The length Telegram counts for an HTML message: its text without tags, entities
    decoded, in UTF-16 code units."""
    return _units(html.unescape(_ANY_TAG.sub("", body)))


# --- JSON lines -----------------------------------------------------------------------------


def _piece_json(piece: Piece) -> dict:
    return {"source": piece.feed, "title": piece.title, "link": safe_link(piece.link)}


def entry_json(entry: Entry, kind: str, rules: Sequence[Rule]) -> str:
    """One delivered story as a JSON object on one line (``once --json``, for scripts).

    ``title``, ``link``, ``source`` and ``published`` are the story's headline report and
    ``also`` its other reports. For ``coverage`` (reports joining a story delivered before),
    they are the first new report and ``also`` the other new ones, so that every report is
    printed once; ``story`` then names the headline that was delivered before.
    """
    order = {r.id: i for i, r in enumerate(rules)}
    ids = sorted(entry.rules, key=lambda r: (order.get(r, len(order)), r))
    others = _others(entry)
    head = Piece(entry.feed, entry.title, entry.link, entry.when)
    if entry.coverage:
        head, others = others[0], others[1:]
    data = {
        "kind": "coverage" if entry.coverage else kind,
        "rules": ids,
        "title": head.title,
        "link": safe_link(head.link),
        "source": head.feed,
        "published": (head.published or entry.when).astimezone(UTC).isoformat(timespec="seconds"),
        "also": [_piece_json(o) for o in others],
    }
    if entry.coverage:
        data["story"] = {"title": entry.title, "link": safe_link(entry.link)}
    return json.dumps(data, ensure_ascii=False)


# --- what the service calls -----------------------------------------------------------------


@dataclass(frozen=True)
class Renderer:
    """How one chat's messages are written: the format (``text`` for the console, ``html`` for
    Telegram, ``json`` for ``once --json``), the rules for headings, the chat's time zone and
    the digest's cap.

    An alert, an edit or a coverage message is None when its text would be longer than Telegram
    takes: the caller then gives it fewer links and owes the rest.
    """

    fmt: str
    rules: Sequence[Rule]
    tz: tzinfo
    cap: int | None = None
    more_hint: str = "they come in the next digest"

    def alert(self, entry: Entry, now: datetime) -> str | None:
        if self.fmt == "json":
            return entry_json(entry, "alert", self.rules)
        if self.fmt == "html":
            return alert_html(entry, self.rules, self.tz, now)
        return alerts_text([entry], self.rules, self.tz, now)[0][0]

    def coverage(self, entry: Entry, now: datetime) -> str | None:
        if self.fmt == "json":
            return entry_json(entry, "coverage", self.rules)
        if self.fmt == "html":
            return coverage_html(entry, self.rules)
        return coverage_text(entry, self.rules)

    def edit(self, entry: Entry, made_at: datetime) -> str | None:
        """The text an alert is edited to, as it read when made but with every link it now
        carries; None when that would be too long (or the format has no edits)."""
        if self.fmt != "html":
            return None
        return alert_html(entry, self.rules, self.tz, made_at)

    def digest(self, entries: Sequence[Entry], now: datetime) -> list[tuple[str, list[int]]]:
        """The digest's messages, each with the stories it carries (those over the cap wait)."""
        if self.fmt == "json":
            sections = group(entries, self.rules, self.cap)
            shown = [e for s in sections for e, _ in s.entries]
            if not shown:
                return []
            body = "\n".join(entry_json(e, "digest", self.rules) for e in shown)
            return [(body, [e.story_id for e in shown])]
        render = digest_html if self.fmt == "html" else digest_text
        return render(entries, self.rules, self.tz, now, cap=self.cap, more_hint=self.more_hint)
