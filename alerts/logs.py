"""Logging set-up: one line per event on stderr, and secrets redacted wherever they appear.

httpx logs every request URL at INFO, and Telegram Bot API URLs carry the bot token
(``/bot123:ABC/sendMessage``). The redacting filter sits on the handler, so it covers every
logger, ours and our libraries', whatever level they log at.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time

_TOKEN_SHAPE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}\b")


# Loggers whose tracebacks say nothing an operator can act on.
_TRACEBACK_FREE = ("telegram.request",)


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with the bot token, and anything shaped like one, replaced by ``<token>``: for
    what the bot prints itself as well as what it logs."""
    text = _TOKEN_SHAPE.sub("<token>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<token>")
    return text


class Redact(logging.Filter):
    """Replaces the bot token (and anything shaped like a bot token) in every record."""

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.startswith(_TRACEBACK_FREE):
            # The Telegram client logs an unreadable answer with a traceback of its own JSON
            # parsing, then raises; the bot says what went wrong in its own line.
            record.exc_info = record.exc_text = None
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            # Format now so the traceback text passes through the redaction too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


_KV_START = re.compile(r"^[a-z_]+=")


class OneLine(logging.Formatter):
    """``ts=... level=... logger=... event=...``: one line per event, whatever is logged.

    Our own messages are already ``key=value`` (see :func:`kv`); a library's free text becomes
    ``msg="..."``, and a traceback is folded onto the same line as ``traceback="... | ..."`` so
    that a log shipper or ``grep`` never sees half an event.
    """

    converter = time.gmtime  # UTC, marked Z: logs of machines in different zones line up

    def format(self, record: logging.LogRecord) -> str:
        ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"
        message = record.getMessage()
        if not _KV_START.match(message) or "\n" in message:
            message = kv(msg=message)
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} {message}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            folded = " | ".join(x.strip() for x in record.exc_text.splitlines() if x.strip())
            line += " " + kv(traceback=folded)
        return line


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_WARNED: list[bool] = []  # said once per process


def setup(default_level: str = "INFO", secrets: list[str] | None = None) -> None:
    """Configure the root logger from ``LOG_LEVEL``; safe to call more than once."""
    level_name = os.environ.get("LOG_LEVEL", default_level).strip().upper()
    if level_name not in LEVELS:
        # A typo must not turn a quiet cron job chatty (or a busy one silent): the command's
        # own default, and a line that says so on every run until it is fixed.
        if not _WARNED:
            print(
                f"warning: LOG_LEVEL={os.environ.get('LOG_LEVEL')!r} is not one of "
                f"{', '.join(LEVELS)}; using {default_level}",
                file=sys.stderr,
            )
            _WARNED.append(True)
        level_name = default_level
    level = logging.getLevelName(level_name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLine())
    handler.addFilter(Redact(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Request lines from the HTTP stack are noise at INFO and carry the token in their URLs.
    for name in ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # The rate limiter logs every 429 as an error with a traceback before it hands it on;
    # the bot waits and resends, and says so in its own line (event=rate_limited).
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)


def kv(**fields: object) -> str:
    """``key=value`` pairs, quoting values with spaces so a log line stays machine-readable."""
    out = []
    for key, value in fields.items():
        text = str(value)
        if not text or any(c in text for c in ' "=\n'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
        out.append(f"{key}={text}")
    return " ".join(out)
