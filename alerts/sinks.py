"""Where messages go, and the few ways a destination can refuse one.

The service decides what to do about a refusal (wait, retry later, drop a chat, move it); a sink
only says which refusal it was. That keeps Telegram's error zoo inside :mod:`alerts.telegram`.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

from .store import Outgoing


class SendError(Exception):
    """Base of the refusals below; ``str()`` is the destination's own reason."""


class RetryAfter(SendError):
    """Flood control: wait ``seconds`` and send the same message again."""

    def __init__(self, seconds: float, reason: str = ""):
        super().__init__(reason or f"retry after {seconds:g}s")
        self.seconds = seconds


class ChatGone(SendError):
    """The chat blocked or removed the bot, or no longer exists: stop sending to it."""


class ChatMoved(SendError):
    """A group became a supergroup with a new id; send there instead."""

    def __init__(self, new_id: int):
        super().__init__(f"chat moved to {new_id}")
        self.new_id = new_id


class BadMarkup(SendError):
    """The message's HTML was refused; the same text without markup will be accepted."""


class Rejected(SendError):
    """Refused for good (a 400 other than markup): retrying the same message cannot help."""


class Transient(SendError):
    """Network trouble or a server error: try again later with backoff."""


class EditImpossible(SendError):
    """The message to edit is gone, too old, or was never sent: its new links go another way."""


class Sink(Protocol):
    format: str
    can_edit: bool

    async def send(self, msg: Outgoing) -> int | None:
        """Deliver a message (an ``edit`` changes the one it targets); returns the id the
        destination gave it, if any."""
        ...


class ConsoleSink:
    """Prints each message to stdout; the destination when no Telegram token is set.

    ``json`` prints one JSON object per delivered story per line (``once --json``); ``text``
    separates messages with a blank line. Printed text cannot be edited, so more coverage of a
    story comes in the next digest.
    """

    can_edit = False

    def __init__(self, stream: Any = None, format: str = "text"):
        self.stream = stream
        self.format = format

    async def send(self, msg: Outgoing) -> int | None:
        stream = self.stream or sys.stdout
        gap = "\n" if msg.format == "json" else "\n\n"
        stream.write(msg.body.rstrip("\n") + gap)
        stream.flush()
        return None
