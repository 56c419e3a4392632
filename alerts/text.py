"""Turning feed markup into plain text, and plain text into the word stream rules match on.

Feeds mix HTML, entities, decomposed Unicode, soft hyphens and odd whitespace. Matching must
see through all of it, or an operator's rule silently misses a report because a publisher's CMS
inserted a ``&shy;`` into "Zaporizhzhia". Both the item text and the rule terms go through the
same :func:`words` so that they always agree on where words start and end.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Inline tags join the text around them ("Ky<b>iv</b>" is one word); every other tag separates.
_INLINE_TAG = re.compile(
    r"</?(?:a|abbr|b|big|cite|code|del|em|font|i|ins|mark|q|s|small|span|strike|strong|sub|sup|"
    r"time|u|wbr)\b[^>]*>",
    re.IGNORECASE,
)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")
# Soft hyphen, zero-width space/joiners, word joiner, BOM: invisible, yet they split words.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
# Combining marks left after NFC have no precomposed form: stress accents in Russian and
# Ukrainian text ("Су́ми"), which readers ignore and so must matching.
_MARKS = re.compile("[\u0300-\u036f]")
_SPACE = re.compile(r"\s+")
# A word is a run of letters and digits; apostrophes, hyphens and underscores separate words,
# so "Kyiv's" and "Sumy-based" contain the words "kyiv" and "sumy".
_NON_WORD = re.compile(r"[\W_]+")


def clean(text: str) -> str:
    """Unicode clean-up shared by display text and matching: NFC, no invisibles, no stray marks."""
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        text = _INVISIBLE.sub("", text)
        text = _MARKS.sub("", text)
    return text


def plain(markup: str | None) -> str:
    """Feed markup as one line of readable text: tags stripped, entities decoded, spaces folded."""
    if not markup:
        return ""
    text = markup
    if "<" in text:
        text = _COMMENT.sub(" ", text)
        text = _SCRIPT.sub(" ", text)
        text = _INLINE_TAG.sub("", text)
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = clean(text)
    return _SPACE.sub(" ", text).strip()


def words(text: str) -> str:
    """The word stream: casefolded words separated by single spaces, with a space at each end.

    The surrounding spaces let a rule term be looked up as `` kyiv `` so that it can only match
    whole words; a prefix term is looked up as `` deploy`` (no trailing space).
    """
    folded = clean(text).casefold()
    return " " + _NON_WORD.sub(" ", folded).strip() + " "
