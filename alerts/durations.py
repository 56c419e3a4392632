"""Human durations ("30s", "5m", "2h", "1d", "1h30m") used in rules.yaml and in commands."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")


def parse_duration(text: object) -> float | None:
    """Seconds, or None when the text is not a positive duration such as ``5m`` or ``1h30m``."""
    if not isinstance(text, str):
        return None
    text = text.strip().lower().replace(" ", "")
    if not _WHOLE.fullmatch(text):
        return None
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    return seconds if seconds > 0 else None


def format_duration(seconds: float) -> str:
    """The shortest way to write a duration back, for messages: 5400 -> ``1h30m``."""
    seconds = round(seconds)
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)
