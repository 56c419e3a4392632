"""conflict-alerts: a scheduled alerting bot for conflict developments."""

import os

__version__ = "0.1.0"


def switched_off(name: str) -> bool:
    """Whether a switch of the environment that is on by default is off: ``0``, ``false``,
    ``no`` or ``off``, as operators write it (``false`` had meant on)."""
    return os.environ.get(name, "").strip().lower() in {"0", "false", "no", "off"}
