"""What each chat was shown, as the chat itself would see it: the delivery contract's referee.

Every matched report must reach every chat that wants it exactly once (as a headline or as a
link under its story), and no message may consist only of links the chat already had. A test
feeds every message and every edit it saw (through the store's outbox, or from the local Bot
API) into a :class:`Ledger`, which keeps each message's latest text as Telegram would (an edit
replaces the text of the message it targets) and counts how often each link *newly* appeared in
each chat. An edit that drops a link, or a message or edit that brings nothing new, is recorded
as a violation.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter, defaultdict

_HREF = re.compile(r'href="([^"]+)"')
_URL = re.compile(r"https?://[^\s\"<>)]+")


def links(body: str) -> set[str]:
    """The links a message shows: anchors in HTML, reports' links in JSON lines (``story`` only
    names one shown before), bare URLs in plain text."""
    if body.startswith("{"):
        out = set()
        for line in body.splitlines():
            data = json.loads(line)
            out |= {x["link"] for x in [data, *data["also"]] if x["link"]}
        return out
    found = _HREF.findall(body)
    if found:
        return {html.unescape(u) for u in found}
    return set(_URL.findall(body))


class Ledger:
    def __init__(self) -> None:
        self.texts: dict[tuple[int, object], str] = {}
        self.shown: dict[int, Counter[str]] = defaultdict(Counter)
        self.violations: list[str] = []

    def _had(self, chat: int) -> set[str]:
        return set(self.shown[chat])

    def send(self, chat: int, key: object, body: str) -> None:
        """A new message ``key`` in ``chat``."""
        new = links(body)
        if new and not new - self._had(chat):
            self.violations.append(f"chat {chat}: message {key} brings no new link: {body!r}")
        self.shown[chat].update(new)
        self.texts[(chat, key)] = body

    def edit(self, chat: int, key: object, body: str) -> None:
        """The text of message ``key`` in ``chat`` becomes ``body``."""
        old = links(self.texts.get((chat, key), ""))
        now = links(body)
        if old - now:
            self.violations.append(f"chat {chat}: edit of {key} drops {sorted(old - now)}")
        if not now - old:
            self.violations.append(f"chat {chat}: edit of {key} brings no new link")
        self.shown[chat].update(now - old)
        self.texts[(chat, key)] = body

    def repeated(self, chat: int) -> list[str]:
        """Links the chat was shown more than once."""
        return sorted(link for link, n in self.shown[chat].items() if n > 1)
