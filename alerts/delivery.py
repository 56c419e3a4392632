"""What a chat is sent for a story, decided without I/O.

The contract (README, "What gets delivered"): every matched report reaches every chat that wants
it exactly once, as its story's headline or as a link under its story. Grouping reports into
stories must never hide one. So the store owes each chat each report (one ``queue`` row per chat
and item), and when a chat is owed reports of a story, :func:`plan` says how they go out:

- ``alert``: the story is urgent for the chat and the chat has had no alert of it: a new alert,
  with every owed report of the story (the earliest as headline).
- ``edit``: the chat had an alert of the story: that alert is edited to carry the new links too
  (Telegram's ``editMessageText``). One development, one alert, every outlet's link.
- ``coverage``: as ``edit``, where the alert cannot be edited (the console, a message Telegram
  will not edit, or the links would make it too long) and the chat takes no digests: a short
  message of its own, listing only the new links.
- ``digest``: a story the chat has not had: an entry in its next digest.
- ``more``: a story the chat already had: "more coverage" in its next digest, with only the new
  links.

The urgent pass (right after a poll) sends the first three; the digest pass (on the chat's
schedule) the last two. A story is in exactly one pass's hands at a time, so a digest tick that
runs while a poll is being delivered can neither take an alert's report into a digest nor send
a report twice.
"""

from __future__ import annotations

from dataclasses import dataclass

ALERT = "alert"
EDIT = "edit"
COVERAGE = "coverage"
DIGEST = "digest"
MORE = "more"

URGENT_PASS = frozenset({ALERT, EDIT, COVERAGE})
DIGEST_PASS = frozenset({DIGEST, MORE})


@dataclass(frozen=True)
class Owed:
    """What one chat has had of one story, and what it is owed."""

    urgent: bool
    """One of the owed reports matched a rule that is urgent for the chat."""
    reached: bool
    """Some report of the story was already put in a message for the chat."""
    alert: int | None
    """The outbox id of the alert that brought the story, if it can still be edited."""
    no_edit: bool = False
    """An edit was tried for one of the owed reports and could not carry it."""


def plan(owed: Owed, *, digest_off: bool, can_edit: bool) -> str:
    """How the reports a chat is owed of one story go out: one of the kinds above.

    A chat that takes no digests is only owed reports of urgent rules, or more coverage of a
    story it was alerted to; whatever else it is owed (an alert that Telegram refused for good
    left its story without one) goes out in the urgent pass rather than wait for a digest that
    never comes.
    """
    if owed.alert is not None and can_edit and not owed.no_edit:
        return EDIT
    if owed.alert is None and (owed.urgent or (digest_off and not owed.reached)):
        return ALERT
    if digest_off:
        return COVERAGE
    return MORE if owed.reached else DIGEST
