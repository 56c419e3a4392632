"""A local stand-in for the Telegram Bot API, for driving the real python-telegram-bot client.

Mocking ``telegram.Bot`` would only prove that our code calls the methods we think it calls.
Serving the HTTP API instead lets the *real* PTB stack (request encoding, error mapping,
``Application``/``Updater`` long polling, ``CommandHandler`` entity parsing) run unchanged, so
tests see the same exceptions (``RetryAfter``, ``Forbidden``, ``ChatMigrated``, ``BadRequest``)
and the same edge cases (HTML that Telegram refuses, over-long messages) as production.

Point PTB at it with ``base_url=fake.base_url``; PTB appends the token and ``/<method>``, so
requests arrive at ``/bot<TOKEN>/<method>``.

The HTML validation is a port of tdlib's ``parse_html`` (the parser behind the Bot API), so
error texts match Telegram's ("Bad Request: can't parse entities: Unsupported start tag ...").
One deliberate difference: with ``strict_entities=True`` (the default) a ``&`` that does not
start ``&lt;``/``&gt;``/``&amp;``/``&quot;``/``&#N;``/``&#xN;`` is rejected. Real Telegram lets
such an ampersand through literally, but its documentation requires escaping it, and code that
forgets to escape ``&`` usually also forgets ``<`` -- which Telegram does reject, but only when
a feed item happens to contain one. Being stricter here catches that bug on ordinary input.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = [
    "DEFAULT_TOKEN",
    "MAX_MESSAGE_LENGTH",
    "FakeTelegram",
    "HtmlParseError",
    "TelegramApiError",
    "WaitTimeout",
    "parse_html",
    "utf16_len",
]

_LOG = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456:TEST-token-abc"
MAX_MESSAGE_LENGTH = 4096  # UTF-16 code units of the visible text, as Telegram counts them
MAX_CALLBACK_DATA_BYTES = 64

_CONFLICT_DESCRIPTION = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_NOT_MODIFIED_DESCRIPTION = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Parameters whose form-encoded string values are really integers/booleans/JSON. Only these are
# converted, so that a message text such as "[1] 42" is never mistaken for JSON or a number.
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "user_id",
        "cache_time",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_web_page_preview",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "show_alert",
        "allow_sending_without_reply",
        "only_if_banned",
    }
)
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "link_preview_options",
        "reply_parameters",
        "commands",
        "scope",
        "allowed_updates",
        "entities",
        "caption_entities",
        "media",
    }
)
# Methods refused for a chat that block_chat()/migrate_chat() marked; Telegram refuses every
# write to such a chat, not only sendMessage.
_CHAT_WRITE_METHODS = frozenset({"sendMessage", "editMessageText", "sendChatAction"})
# Methods counted by rate_limit(): Telegram's flood limits are about outgoing messages.
_RATE_LIMITED_METHODS = frozenset({"sendMessage"})


class TelegramApiError(Exception):
    """An error answer in Telegram's wire shape, raised inside request handlers.

    Handlers raise it instead of building responses so that every refusal goes through one
    place that records it in ``FakeTelegram.errors`` and counts 429s.
    """

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class HtmlParseError(ValueError):
    """Raised by :func:`parse_html`; the text is what Telegram puts after "can't parse entities"."""


class WaitTimeout(AssertionError, TimeoutError):
    """Raised by ``wait_for``.

    It is an AssertionError so pytest reports it as a test failure with the full message, and a
    TimeoutError so callers that expect timeout semantics can catch it as such.
    """


# --------------------------------------------------------------------------------------------
# HTML parsing (port of tdlib td/telegram/MessageEntity.cpp: decode_html_entity / parse_html)
# --------------------------------------------------------------------------------------------

_ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
# tdlib's is_space() also treats NUL as space; NUL is our end-of-text sentinel.
_SPACE = frozenset(" \t\r\n\v\f\0")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TG_USER_LINK = re.compile(r"tg://user\?id=(\d+)$", re.IGNORECASE)
_URL_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for limits and entity offsets."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _is_ascii_alpha(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_ascii_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _is_hex_digit(ch: str) -> bool:
    return _is_ascii_digit(ch) or ("a" <= ch <= "f") or ("A" <= ch <= "F")


def _decode_entity(s: str, pos: int) -> tuple[int, int, bool] | None:
    """tdlib's decode_html_entity on NUL-terminated ``s``: (code point, end, had ';') or None.

    tdlib accepts a missing ';' and passes unknown names through literally; the caller decides
    whether that leniency applies.
    """
    end = pos + 1
    code = 0
    if s[pos + 1] == "#":
        end += 1
        if s[pos + 2] == "x":
            end += 1
            while _is_hex_digit(s[end]):
                code = code * 16 + int(s[end], 16)
                end += 1
        else:
            while _is_ascii_digit(s[end]):
                code = code * 10 + int(s[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
    else:
        while _is_ascii_alpha(s[end]):
            end += 1
        name = s[pos + 1 : end]
        if name not in _NAMED_ENTITIES:
            return None
        code = ord(_NAMED_ENTITIES[name])
    if s[end] == ";":
        return code, end + 1, True
    return code, end, False


def _checked_link(url: str) -> str | None:
    """A rough LinkManager::get_checked_link: Telegram silently drops links it can't use."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    match = _URL_SCHEME.match(url)
    if match is None or "://" not in url:
        if match is not None and match.group(1).lower() not in ("http", "https", "tg", "ton"):
            return None
        url = "http://" + url
    elif match.group(1).lower() not in ("http", "https", "tg", "ton"):
        return None
    return url


def parse_html(text: str, *, strict_entities: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (visible text, Bot API entities), or raise HtmlParseError.

    Follows tdlib's parser step by step so that what Telegram refuses is refused here with the
    same message (byte offsets are UTF-8 byte offsets into the original text, as in tdlib).
    ``strict_entities`` additionally refuses ampersands that are not complete entities; see the
    module docstring for why.
    """
    s = text + "\0"
    n = len(text)

    def byte_offset(pos: int) -> int:
        return len(text[:pos].encode("utf-8", "surrogatepass"))

    out: list[str] = []
    utf16 = 0
    saw_surrogate = False
    entities: list[dict[str, Any]] = []
    # (tag name, argument, utf16 offset at open, index into `out` at open)
    nested: list[tuple[str, str, int, int]] = []

    i = 0
    while i < n:
        c = s[i]
        if c == "&":
            decoded = _decode_entity(s, i)
            if strict_entities and (decoded is None or not decoded[2]):
                raise HtmlParseError(
                    f'Character "&" at byte offset {byte_offset(i)} does not start a complete '
                    'HTML entity; escape it as "&amp;" (fake-telegram strict_entities check)'
                )
            if decoded is not None:
                code, i, _ = decoded
                if 0xD800 <= code <= 0xDFFF:
                    saw_surrogate = True
                out.append(chr(code))
                utf16 += 2 if code > 0xFFFF else 1
                continue
        if c != "<":
            out.append(c)
            utf16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue

        begin = i
        i += 1
        if s[i] != "/":
            # start tag
            while s[i] not in _SPACE and s[i] != ">":
                i += 1
            if i >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _ALLOWED_TAGS:
                raise HtmlParseError(
                    f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}'
                )
            argument = ""
            while s[i] != ">":
                while i < n and s[i] in _SPACE:
                    i += 1
                if s[i] == ">":
                    break
                attr_begin = i
                while s[i] not in _SPACE and s[i] not in "=>/\"'":
                    i += 1
                attr_name = text[attr_begin:i]
                if not attr_name:
                    raise HtmlParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{byte_offset(begin)}"
                    )
                while i < n and s[i] in _SPACE:
                    i += 1
                if s[i] != "=":
                    if i >= n:
                        raise HtmlParseError(
                            f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                        )
                    if tag == "blockquote" and attr_name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while i < n and s[i] in _SPACE:
                    i += 1
                if i >= n:
                    raise HtmlParseError(
                        f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                if s[i] not in "'\"":
                    token_begin = i
                    while (s[i].isascii() and s[i].isalnum()) or s[i] in ".-":
                        i += 1
                    value = text[token_begin:i].lower()
                    if s[i] not in _SPACE and s[i] != ">":
                        offset = byte_offset(token_begin)
                        raise HtmlParseError(
                            f"Unexpected end of name token at byte offset {offset}"
                        )
                else:
                    quote = s[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and s[i] != quote:
                        if s[i] == "&":
                            decoded = _decode_entity(s, i)
                            if strict_entities and (decoded is None or not decoded[2]):
                                raise HtmlParseError(
                                    f'Character "&" at byte offset {byte_offset(i)} does not '
                                    'start a complete HTML entity; escape it as "&amp;" '
                                    "(fake-telegram strict_entities check)"
                                )
                            if decoded is not None:
                                chars.append(chr(decoded[0]))
                                i = decoded[1]
                                continue
                        chars.append(s[i])
                        i += 1
                    if s[i] == quote:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
                if tag == "a" and attr_name == "href":
                    argument = value
                elif tag == "code" and attr_name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr_name == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attr_name == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
                )
            nested.append((tag, argument, utf16, len(out)))
            i += 1  # skip '>'
            continue

        # end tag
        if not nested:
            raise HtmlParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        while s[i] not in _SPACE and s[i] != ">":
            i += 1
        end_tag = text[begin + 2 : i].lower()
        while i < n and s[i] in _SPACE:
            i += 1
        if s[i] != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        i += 1
        tag, argument, start, out_index = nested.pop()
        if end_tag and end_tag != tag:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {byte_offset(begin)}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        length = utf16 - start
        if length <= 0:
            continue
        entity: dict[str, Any] = {"offset": start, "length": length}
        if tag in _SIMPLE_TAG_TYPES:
            entity["type"] = _SIMPLE_TAG_TYPES[tag]
        elif tag == "tg-emoji":
            if not argument.lstrip("-").isdigit() or int(argument) == 0:
                raise HtmlParseError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=argument)
        elif tag == "a":
            url = argument or "".join(out[out_index:])
            user_match = _TG_USER_LINK.match(url)
            if user_match:
                user_id = int(user_match.group(1))
                entity.update(
                    type="text_mention",
                    user={"id": user_id, "is_bot": False, "first_name": f"User {user_id}"},
                )
            else:
                checked = _checked_link(url)
                if checked is None:
                    continue
                entity.update(type="text_link", url=checked)
        elif tag == "pre":
            last = entities[-1] if entities else None
            if (
                last is not None
                and last["type"] == "code"
                and (last["offset"], last["length"]) == (start, length)
                and last.get("language")
            ):
                last["type"] = "pre"
                continue
            entity["type"] = "pre"
        elif tag == "code":
            last = entities[-1] if entities else None
            if (
                last is not None
                and last["type"] == "pre"
                and (last["offset"], last["length"]) == (start, length)
                and argument
            ):
                last["language"] = argument
                continue
            entity["type"] = "code"
            if argument:
                entity["language"] = argument  # dropped below unless a <pre> claims it
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if argument else "blockquote"
        entities.append(entity)

    if nested:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    if saw_surrogate:
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like Telegram does, keeping entity offsets consistent."""
    stripped_left = text.lstrip()
    lead = utf16_len(text[: len(text) - len(stripped_left)])
    result = stripped_left.rstrip()
    total = utf16_len(result)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return result, kept


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class _Fault:
    method: str  # lower-case, Telegram method names are case-insensitive
    error: TelegramApiError
    remaining: int | None  # None: forever
    chat_id: int | str | None


@dataclass
class _Hold:
    method: str  # lower-case
    seconds: float
    after: bool  # True: the call takes effect first and only its answer is late
    remaining: int | None  # None: forever
    chat_id: int | str | None


def _chat_key(value: Any) -> int | str:
    if isinstance(value, bool):
        raise TelegramApiError(400, "Bad Request: chat not found")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _coerce(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _INT_FIELDS and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if key in _BOOL_FIELDS and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if key == "timeout":
        with contextlib.suppress(ValueError):
            number = float(value)
            return int(number) if number.is_integer() else number
    if key in _JSON_FIELDS and value.lstrip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


class FakeTelegram:
    """In-process Telegram Bot API server with recording, update injection and fault injection.

    All state is guarded by one lock because tests touch it from their own thread while the
    server may run on a background loop (``start_in_thread``), e.g. when the bot under test is a
    subprocess and the test thread blocks in ``wait_for_sync``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "fake_alert_bot",
        bot_first_name: str = "Fake Alert Bot",
        strict_entities: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.host = host
        self.strict_entities = strict_entities
        self._requested_port = port
        self.port: int | None = None
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 123456
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)

        # recordings
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._sent: list[dict[str, Any]] = []
        self._edits: list[dict[str, Any]] = []
        self._errors: list[dict[str, Any]] = []
        self.too_many_count = 0

        # world state
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._admins: dict[int | str, set[int]] = {}
        self._creators: dict[int | str, int] = {}
        self._message_ids: dict[int | str, int] = {}
        self._bot_messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._user_messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._username_ids: dict[str, int] = {}

        # faults
        self._faults: list[_Fault] = []
        self._holds: list[_Hold] = []
        self._held: list[dict[str, Any]] = []  # every call that was held, and how it ended
        self._holding = 0  # calls being held right now
        self._in_flight: dict[str, int] = {}  # calls being handled right now, by method
        self._blocked: dict[int | str, str] = {}
        self._migrated: dict[int | str, int] = {}
        self._per_second: int | None = None
        self._per_chat_per_second: int | None = None
        self._send_times: deque[float] = deque()
        self._chat_send_times: dict[int | str, deque[float]] = {}

        # updates
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000
        self._next_callback_id = 1
        self._update_waiters: set[asyncio.Future[str]] = set()

        # server plumbing
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

        self._handlers: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("close", self._true),
            ("logOut", self._true),
            ("sendChatAction", self._send_chat_action),
            ("answerCallbackQuery", self._true),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("deleteMessage", self._delete_message),
            ("getChat", self._get_chat),
            ("getChatMember", self._get_chat_member),
            ("getChatAdministrators", self._get_chat_administrators),
        ):
            self._handlers[name.lower()] = (name, handler)

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self.port}/bot"

    async def start(self) -> FakeTelegram:
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already running")
        self._loop = asyncio.get_running_loop()
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        # handler_cancellation: a client that gives up on a long poll should not leave a
        # waiter behind; shutdown_timeout: stop() must not wait a minute for stragglers.
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=2.0, access_log=None
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.host, self._requested_port))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner
        _LOG.debug("FakeTelegram listening on %s", self.base_url)
        return self

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing = True
        # Release long polls first: the runner waits for in-flight handlers before closing.
        self._wake_waiters("closing")
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 10.0) -> FakeTelegram:
        """Serve from a private event loop so a blocking test thread doesn't starve the server."""
        if self._thread is not None:
            raise RuntimeError("FakeTelegram thread already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="FakeTelegram", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("FakeTelegram did not start in time")
        if failure:
            thread.join(timeout)
            raise failure[0]
        self._thread = thread
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start_in_thread()

    def __exit__(self, *exc_info: object) -> None:
        self.stop_thread()

    # ---------------------------------------------------------------- configuration

    def set_chat(
        self,
        chat_id: int | str,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        is_forum: bool | None = None,
    ) -> dict[str, Any]:
        """Declare what kind of chat an id is, where the default guess from its sign is wrong."""
        key = _chat_key(chat_id)
        with self._lock:
            chat = self._chat_obj(key)
            if chat_type is not None:
                chat["type"] = chat_type
            if chat["type"] == "private":
                chat.pop("title", None)
                chat.setdefault("first_name", first_name or f"User {key}")
            else:
                chat.pop("first_name", None)
                chat.setdefault("title", f"Test {chat['type']} {key}")
            for field, value in (
                ("title", title),
                ("username", username),
                ("first_name", first_name),
                ("is_forum", is_forum),
            ):
                if value is not None:
                    chat[field] = value
            self._chats[key] = chat
            return dict(chat)

    def set_admins(
        self, chat_id: int | str, user_ids: list[int], *, creator_id: int | None = None
    ) -> None:
        with self._lock:
            key = _chat_key(chat_id)
            self._admins[key] = {int(u) for u in user_ids}
            if creator_id is not None:
                self._creators[key] = int(creator_id)
            else:
                self._creators.pop(key, None)

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        count: int | None = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Make the next ``count`` calls (None: all) of ``method`` answer with an error."""
        parameters: dict[str, Any] | None = None
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if retry_after is not None:
            parameters = {"retry_after": retry_after}
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code, f"Error {error_code}")
        fault = _Fault(
            method=method.lower(),
            error=TelegramApiError(error_code, description, parameters),
            remaining=count,
            chat_id=None if chat_id is None else _chat_key(chat_id),
        )
        with self._lock:
            self._faults.append(fault)

    def hold_next(
        self,
        method: str,
        seconds: float,
        *,
        after: bool = False,
        count: int | None = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Make the next ``count`` calls (None: all) of ``method`` wait ``seconds``: a slow
        Telegram, for killing a client in the middle of a call.

        By default the wait comes before the call takes effect, so a client that dies meanwhile
        changed nothing. With ``after=True`` the call takes effect first (a message is recorded
        in ``sent``) and only the answer is late: a client that dies meanwhile never learns that
        its message was delivered. ``held`` records how each held call ended.
        """
        hold = _Hold(
            method=method.lower(),
            seconds=seconds,
            after=after,
            remaining=count,
            chat_id=None if chat_id is None else _chat_key(chat_id),
        )
        with self._lock:
            self._holds.append(hold)

    @property
    def holding(self) -> int:
        """How many calls are being held by ``hold_next`` right now."""
        with self._lock:
            return self._holding

    @property
    def held(self) -> list[dict[str, Any]]:
        """Every held call: method, chat_id, after, seconds, and outcome ("holding" while it
        waits, then "answered", or "abandoned" when the client went away first)."""
        with self._lock:
            return [dict(h) for h in self._held]

    def wait_holding(self, timeout: float) -> bool:
        """Block until some call is being held; False if none was within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._holding == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def in_flight(self, method: str | None = None) -> int:
        """Calls (of ``method``, or all) received and not yet answered or abandoned."""
        with self._lock:
            if method is None:
                return sum(self._in_flight.values())
            return self._in_flight.get(method.lower(), 0)

    def wait_idle(self, method: str | None = None, timeout: float = 10.0) -> None:
        """Block until no call (of ``method``, or at all) is in flight: after a client was
        killed, whatever it had sent has then either taken effect or been dropped."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.in_flight(method):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(
                        f"{self.in_flight(method)} {method or 'calls'} still in flight after "
                        f"{timeout:g}s"
                    )
                self._cond.wait(min(remaining, 0.05))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._holds.clear()
            self._blocked.clear()
            self._migrated.clear()
            self._per_second = self._per_chat_per_second = None

    def block_chat(
        self, chat_id: int | str, description: str = "Forbidden: bot was blocked by the user"
    ) -> None:
        with self._lock:
            self._blocked[_chat_key(chat_id)] = description

    def unblock_chat(self, chat_id: int | str) -> None:
        with self._lock:
            self._blocked.pop(_chat_key(chat_id), None)

    def migrate_chat(self, old_id: int | str, new_id: int) -> None:
        key = _chat_key(old_id)
        with self._lock:
            self._migrated[key] = int(new_id)
            old = self._chat_obj(key)
            new = self._chat_obj(int(new_id))
            new["type"] = "supergroup"
            new.pop("first_name", None)
            new["title"] = old.get("title") or new.get("title") or f"Test supergroup {new_id}"
            self._chats[int(new_id)] = new

    def rate_limit(
        self, per_second: int | None = None, per_chat_per_second: int | None = None
    ) -> None:
        """Enforce flood limits on sendMessage; call with no arguments to switch them off."""
        with self._lock:
            self._per_second = per_second
            self._per_chat_per_second = per_chat_per_second
            self._send_times.clear()
            self._chat_send_times.clear()

    # ---------------------------------------------------------------- injecting updates

    def inject_message(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        chat_type: str | None = None,
        username: str | None = None,
        message_thread_id: int | None = None,
        *,
        first_name: str = "Tester",
        title: str | None = None,
    ) -> dict[str, Any]:
        """Queue an incoming text message as Telegram would deliver it; returns the Update.

        ``chat_type`` defaults to what set_chat() declared, else to a guess from the id
        (positive: private, -100...: supergroup, other negative: group).
        """
        key = _chat_key(chat_id)
        with self._lock:
            chat = self._chat_obj(key)
            if chat_type is not None and chat_type != chat["type"]:
                chat["type"] = chat_type
                chat.pop("first_name" if chat_type != "private" else "title", None)
            if chat["type"] == "private":
                chat.setdefault("first_name", first_name)
                if username:
                    chat["username"] = username
            else:
                chat["title"] = title or chat.get("title") or f"Test {chat['type']} {key}"
                if message_thread_id is not None and chat["type"] == "supergroup":
                    chat["is_forum"] = True
            self._chats[key] = chat
            if user_id is None:
                user_id = key if chat["type"] == "private" and isinstance(key, int) else 424242
            user: dict[str, Any] = {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name,
                "language_code": "en",
            }
            if username:
                user["username"] = username
            self._users[user_id] = user

            message: dict[str, Any] = {
                "message_id": self._new_message_id(key),
                "date": int(time.time()),
                "chat": dict(chat),
                "text": text,
            }
            if chat["type"] == "channel":
                message["sender_chat"] = dict(chat)
            else:
                message["from"] = dict(user)
            command = re.match(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_])", text)
            if command:
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))}
                ]
            if message_thread_id is not None:
                message["message_thread_id"] = message_thread_id
                message["is_topic_message"] = True
            self._user_messages[(key, message["message_id"])] = message
            kind = "channel_post" if chat["type"] == "channel" else "message"
            return self._push_update({kind: message})

    def inject_callback_query(
        self,
        chat_id: int | str,
        data: str,
        message_id: int | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        """Simulate a press on an inline button of a message the bot sent (default: its last)."""
        key = _chat_key(chat_id)
        with self._lock:
            if message_id is None:
                mine = [mid for (chat, mid) in self._bot_messages if chat == key]
                if not mine:
                    raise ValueError(f"the bot has sent no message to chat {chat_id}")
                message_id = max(mine)
            message = self._bot_messages.get((key, message_id))
            if message is None:
                raise ValueError(f"no bot message {message_id} in chat {chat_id}")
            if user_id is None:
                user_id = key if isinstance(key, int) and key > 0 else 424242
            user = self._users.get(
                user_id, {"id": user_id, "is_bot": False, "first_name": "Tester"}
            )
            query = {
                "id": str(self._next_callback_id),
                "from": dict(user),
                "message": json.loads(json.dumps(message)),
                "chat_instance": str(abs(hash(key))),
                "data": data,
            }
            self._next_callback_id += 1
            return self._push_update({"callback_query": query})

    def inject_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an arbitrary update dict (an update_id is assigned when missing)."""
        with self._lock:
            return self._push_update(dict(update))

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return list(self._updates)

    # ---------------------------------------------------------------- inspection

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._sent)

    def sent_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        key = _chat_key(chat_id)
        with self._lock:
            return [m for m in self._sent if m["chat_id"] == key]

    @property
    def edits(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._edits)

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        wanted = method.lower()
        with self._lock:
            return [params for name, params in self._calls if name.lower() == wanted]

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Every error answer given, so tests can see *why* an expected message never arrived."""
        with self._lock:
            return list(self._errors)

    @property
    def commands(self) -> list[dict[str, Any]]:
        """Commands registered for the default scope and language."""
        with self._lock:
            return list(self._commands.get(("default", ""), []))

    def clear(self) -> None:
        """Forget recordings (sent, edits, calls, errors) but keep chats, faults and updates."""
        with self._lock:
            self._sent.clear()
            self._edits.clear()
            self._calls.clear()
            self._errors.clear()
            self.too_many_count = 0

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool] | str | None = None,
        timeout: float = 5.0,
        *,
        chat_id: int | str | None = None,
        since: int = 0,
    ) -> dict[str, Any]:
        """Wait until a sent message (from index ``since`` of ``.sent``) matches ``predicate``.

        ``predicate`` may be a callable on the record, a substring of the text, or None (any).
        Polls instead of awaiting an event so it works whichever loop or thread serves.
        """
        match = self._matcher(predicate, chat_id)
        deadline = time.monotonic() + timeout
        while True:
            found = self._find(match, since)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise WaitTimeout(self._describe_miss(predicate, chat_id, timeout, since))
            await asyncio.sleep(0.01)

    def wait_for_sync(
        self,
        predicate: Callable[[dict[str, Any]], bool] | str | None = None,
        timeout: float = 5.0,
        *,
        chat_id: int | str | None = None,
        since: int = 0,
    ) -> dict[str, Any]:
        """Blocking variant of :meth:`wait_for` for tests whose bot runs in another process."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self._loop:
            raise RuntimeError(
                "wait_for_sync would block the loop that serves FakeTelegram; "
                "use 'await fake.wait_for(...)' or start_in_thread()"
            )
        match = self._matcher(predicate, chat_id)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._find(match, since)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(self._describe_miss(predicate, chat_id, timeout, since))
                self._cond.wait(remaining)

    def _matcher(
        self, predicate: Callable[[dict[str, Any]], bool] | str | None, chat_id: int | str | None
    ) -> Callable[[dict[str, Any]], bool]:
        key = None if chat_id is None else _chat_key(chat_id)

        def match(record: dict[str, Any]) -> bool:
            if key is not None and record["chat_id"] != key:
                return False
            if predicate is None:
                return True
            if isinstance(predicate, str):
                return predicate in record["text"] or predicate in record["plain_text"]
            return bool(predicate(record))

        return match

    def _find(self, match: Callable[[dict[str, Any]], bool], since: int) -> dict[str, Any] | None:
        with self._lock:
            candidates = list(self._sent[since:])
        for record in candidates:
            if match(record):
                return record
        return None

    def _describe_miss(
        self,
        predicate: Callable[[dict[str, Any]], bool] | str | None,
        chat_id: int | str | None,
        timeout: float,
        since: int,
    ) -> str:
        with self._lock:
            sent = list(self._sent[since:])
            errors = list(self._errors[-10:])
        what = repr(predicate) if isinstance(predicate, str) or predicate is None else "predicate"
        lines = [
            f"no sent message matched {what}"
            + (f" in chat {chat_id}" if chat_id is not None else "")
            + f" within {timeout}s; {len(sent)} message(s) sent"
            + (f" since index {since}" if since else "")
            + ":"
        ]
        for record in sent[-20:]:
            text = record["text"]
            if len(text) > 200:
                text = text[:200] + "..."
            lines.append(f"  chat={record['chat_id']} id={record['message_id']}: {text!r}")
        if errors:
            lines.append("recent error answers:")
            for err in errors:
                lines.append(
                    f"  {err['method']} chat={err.get('chat_id')}: "
                    f"{err['error_code']} {err['description']}"
                )
        return "\n".join(lines)

    # ---------------------------------------------------------------- internals: state

    def _chat_obj(self, key: int | str) -> dict[str, Any]:
        """Copy of the chat as Telegram would describe it; guesses the type from the id."""
        known = self._chats.get(key)
        if known is not None:
            return dict(known)
        if isinstance(key, str):
            chat_id = self._username_ids.setdefault(
                key, -1_009_000_000_000 - len(self._username_ids)
            )
            return {"id": chat_id, "type": "channel", "title": key, "username": key.lstrip("@")}
        if key > 0:
            user = self._users.get(key, {})
            return {"id": key, "type": "private", "first_name": user.get("first_name", "Tester")}
        chat_type = "supergroup" if key <= -1_000_000_000_000 else "group"
        return {"id": key, "type": chat_type, "title": f"Test {chat_type} {key}"}

    def _user_obj(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        return dict(
            self._users.get(
                user_id, {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
            )
        )

    def _new_message_id(self, key: int | str) -> int:
        # One counter per chat for both directions, as in private chats and basic groups.
        self._message_ids[key] = self._message_ids.get(key, 0) + 1
        return self._message_ids[key]

    def _push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        else:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._updates.append(update)
        self._notify_updates()
        return update

    def _notify_updates(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_soon(self._wake_waiters, "update")
        else:
            with contextlib.suppress(RuntimeError):  # loop closed between the check and now
                loop.call_soon_threadsafe(self._wake_waiters, "update")

    def _wake_waiters(self, reason: str) -> None:
        for waiter in list(self._update_waiters):
            if not waiter.done():
                waiter.set_result(reason)

    def _take_fault(self, method: str, params: dict[str, Any]) -> TelegramApiError | None:
        wanted = method.lower()
        with self._lock:
            for fault in self._faults:
                if fault.method != wanted:
                    continue
                if fault.chat_id is not None:
                    try:
                        if _chat_key(params.get("chat_id")) != fault.chat_id:
                            continue
                    except TelegramApiError:
                        continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault.error
        return None

    def _take_hold(self, method: str, params: dict[str, Any]) -> _Hold | None:
        wanted = method.lower()
        with self._lock:
            for hold in self._holds:
                if hold.method != wanted:
                    continue
                if hold.chat_id is not None:
                    try:
                        if _chat_key(params.get("chat_id")) != hold.chat_id:
                            continue
                    except TelegramApiError:
                        continue
                if hold.remaining is not None:
                    hold.remaining -= 1
                    if hold.remaining <= 0:
                        self._holds.remove(hold)
                return hold
        return None

    async def _hold(self, hold: _Hold, method: str, params: dict[str, Any]) -> None:
        record = {
            "method": method,
            "chat_id": params.get("chat_id"),
            "text": params.get("text"),
            "after": hold.after,
            "seconds": hold.seconds,
            "outcome": "holding",
            "time": time.time(),
        }
        with self._cond:
            self._held.append(record)
            self._holding += 1
            self._cond.notify_all()
        try:
            await asyncio.sleep(hold.seconds)
            record["outcome"] = "answered"
        except asyncio.CancelledError:  # the client hung up (or was killed) meanwhile
            record["outcome"] = "abandoned"
            raise
        finally:
            with self._cond:
                self._holding -= 1
                self._cond.notify_all()

    # ---------------------------------------------------------------- internals: HTTP

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response(TelegramApiError(404, "Not Found").payload(), status=404)

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError as exc:
                    raise TelegramApiError(400, "Bad Request: can't parse JSON object") from exc
                if not isinstance(body, dict):
                    raise TelegramApiError(400, "Bad Request: can't parse JSON object")
                params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        value = {
                            "filename": value.filename,
                            "content_type": value.content_type,
                            "content": value.file.read(),
                        }
                    params[name] = value
        return {name: _coerce(name, value) for name, value in params.items()}

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        raw_method = request.match_info["method"]
        canonical, handler = self._handlers.get(raw_method.lower(), (raw_method, None))
        try:
            params = await self._read_params(request)
        except TelegramApiError as err:
            params = {}
            with self._lock:
                self._calls.append((canonical, params))
            return self._error_response(canonical, params, err)
        key = canonical.lower()
        with self._cond:
            self._calls.append((canonical, params))
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        try:
            if token != self.token:
                raise TelegramApiError(401, "Unauthorized")
            if handler is None:
                raise TelegramApiError(404, "Not Found")
            hold = self._take_hold(canonical, params)
            if hold is not None and not hold.after:
                await self._hold(hold, canonical, params)
            fault = self._take_fault(canonical, params)
            if fault is not None:
                raise fault
            if "chat_id" in params:
                self._check_chat_state(canonical, params)
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
            if hold is not None and hold.after:
                await self._hold(hold, canonical, params)
        except TelegramApiError as err:
            return self._error_response(canonical, params, err)
        finally:
            with self._cond:
                self._in_flight[key] -= 1
                self._cond.notify_all()
        return web.json_response({"ok": True, "result": result})

    def _error_response(
        self, method: str, params: dict[str, Any], err: TelegramApiError
    ) -> web.Response:
        with self._lock:
            if err.error_code == 429:
                self.too_many_count += 1
            self._errors.append(
                {
                    "method": method,
                    "chat_id": params.get("chat_id"),
                    "params": params,
                    "error_code": err.error_code,
                    "description": err.description,
                    "parameters": err.parameters,
                    "time": time.time(),
                }
            )
        _LOG.debug("FakeTelegram %s -> %s %s", method, err.error_code, err.description)
        return web.json_response(err.payload(), status=err.error_code)

    def _check_chat_state(self, method: str, params: dict[str, Any]) -> None:
        key = _chat_key(params["chat_id"])
        with self._lock:
            new_id = self._migrated.get(key)
            blocked = self._blocked.get(key)
        if new_id is not None:
            raise TelegramApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_id},
            )
        if blocked is not None and method in _CHAT_WRITE_METHODS:
            raise TelegramApiError(403, blocked)

    # ---------------------------------------------------------------- internals: validation

    def _require_chat(self, params: dict[str, Any]) -> int | str:
        value = params.get("chat_id")
        if value is None or value == "":
            raise TelegramApiError(400, "Bad Request: chat_id is empty")
        return _chat_key(value)

    def _parse_text(self, text: Any, parse_mode: Any) -> tuple[str, list[dict[str, Any]]]:
        if text is None or text == "":
            raise TelegramApiError(400, "Bad Request: message text is empty")
        text = str(text)
        mode = (parse_mode or "").strip().lower() if isinstance(parse_mode, str) else ""
        if mode not in ("", "html", "markdown", "markdownv2"):
            raise TelegramApiError(400, "Bad Request: unsupported parse_mode")
        entities: list[dict[str, Any]] = []
        visible = text
        if mode == "html":
            try:
                visible, entities = parse_html(text, strict_entities=self.strict_entities)
            except HtmlParseError as exc:
                raise TelegramApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
        # Markdown modes are not validated; their raw length over-estimates the visible one.
        visible, entities = _trim(visible, entities)
        if not visible:
            raise TelegramApiError(400, "Bad Request: message text is empty")
        if utf16_len(visible) > MAX_MESSAGE_LENGTH:
            raise TelegramApiError(400, "Bad Request: message is too long")
        return visible, entities

    def _parse_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise TelegramApiError(
                400, "Bad Request: can't parse reply keyboard markup JSON object"
            )
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise TelegramApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _check_rate(self, key: int | str) -> None:
        """Sliding one-second window, globally and per chat; records the send when allowed."""
        if self._per_second is None and self._per_chat_per_second is None:
            return
        now = time.monotonic()
        window = self._send_times
        per_chat = self._chat_send_times.setdefault(key, deque())
        for times in (window, per_chat):
            while times and times[0] <= now - 1.0:
                times.popleft()
        blocking: list[float] = []
        if self._per_second is not None and len(window) >= self._per_second:
            blocking.append(window[0])
        if self._per_chat_per_second is not None and len(per_chat) >= self._per_chat_per_second:
            blocking.append(per_chat[0])
        if blocking:
            retry_after = max(1, math.ceil(max(blocking) + 1.0 - now))
            raise TelegramApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        window.append(now)
        per_chat.append(now)

    # ---------------------------------------------------------------- API methods

    def _true(self, params: dict[str, Any]) -> bool:
        return True

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.bot_user)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        limit = params.get("limit")
        limit = 100 if not isinstance(limit, int) or limit <= 0 else min(limit, 100)
        timeout = params.get("timeout") or 0
        timeout = max(0.0, float(timeout)) if isinstance(timeout, (int, float)) else 0.0

        def take() -> list[dict[str, Any]]:
            with self._lock:
                if isinstance(offset, int):
                    if offset < 0:
                        del self._updates[: max(0, len(self._updates) + offset)]
                    else:
                        self._updates = [u for u in self._updates if u["update_id"] >= offset]
                return [json.loads(json.dumps(u)) for u in self._updates[:limit]]

        # Like Telegram, a new long poll terminates an older one that is still waiting; this
        # surfaces two bot instances polling the same token as 409 Conflict.
        self._wake_waiters("conflict")
        updates = take()
        if updates or timeout <= 0 or self._closing:
            return updates
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._update_waiters.add(waiter)
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            self._update_waiters.discard(waiter)
        if waiter.done() and waiter.result() == "conflict":
            raise TelegramApiError(409, _CONFLICT_DESCRIPTION)
        return take()

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            pending = len(self._updates)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope")
        scope_key = "default"
        if isinstance(scope, dict) and scope.get("type", "default") != "default":
            scope_key = json.dumps(scope, sort_keys=True)
        return scope_key, str(params.get("language_code") or "")

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise TelegramApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name)):
                raise TelegramApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise TelegramApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        with self._lock:
            self._commands[self._commands_key(params)] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands.pop(self._commands_key(params), None)
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._require_chat(params)
        return True

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._require_chat(params)
        text = params.get("text")
        parse_mode = params.get("parse_mode")
        visible, entities = self._parse_text(text, parse_mode)
        reply_markup = self._parse_reply_markup(params)
        preview = params.get("link_preview_options")
        disable_preview = bool(params.get("disable_web_page_preview")) or (
            isinstance(preview, dict) and bool(preview.get("is_disabled"))
        )
        thread_id = params.get("message_thread_id")
        with self._cond:
            if "sendMessage" in _RATE_LIMITED_METHODS:
                self._check_rate(key)
            chat = self._chat_obj(key)
            message_id = self._new_message_id(key)
            message: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat,
                "text": visible,
            }
            if chat["type"] == "channel":
                message["sender_chat"] = dict(chat)
            else:
                message["from"] = self._user_obj(self.bot_id)
            if entities:
                message["entities"] = entities
            if thread_id is not None:
                message["message_thread_id"] = thread_id
                message["is_topic_message"] = True
            if reply_markup and "inline_keyboard" in reply_markup:
                message["reply_markup"] = reply_markup
            record = {
                "chat_id": key,
                "text": str(text),
                "plain_text": visible,
                "entities": entities,
                "parse_mode": parse_mode,
                "message_thread_id": thread_id,
                "disable_preview": disable_preview,
                "link_preview_options": preview,
                "reply_markup": reply_markup,
                "message_id": message_id,
                "time": time.time(),
                "edited": False,
                "deleted": False,
                "params": params,
            }
            self._sent.append(record)
            self._bot_messages[(key, message_id)] = message
            self._cond.notify_all()
        return message

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            self._parse_text(params.get("text"), params.get("parse_mode"))
            return True
        key = self._require_chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise TelegramApiError(400, "Bad Request: message identifier is not specified")
        visible, entities = self._parse_text(params.get("text"), params.get("parse_mode"))
        reply_markup = self._parse_reply_markup(params)
        with self._cond:
            message = self._bot_messages.get((key, message_id))
            if message is None:
                if (key, message_id) in self._user_messages:
                    raise TelegramApiError(400, "Bad Request: message can't be edited")
                raise TelegramApiError(400, "Bad Request: message to edit not found")
            new_markup = (
                reply_markup if reply_markup and "inline_keyboard" in reply_markup else None
            )
            if (
                message["text"] == visible
                and message.get("entities", []) == entities
                and message.get("reply_markup") == new_markup
            ):
                raise TelegramApiError(400, _NOT_MODIFIED_DESCRIPTION)
            message["text"] = visible
            message["edit_date"] = int(time.time())
            if entities:
                message["entities"] = entities
            else:
                message.pop("entities", None)
            if new_markup is not None:
                message["reply_markup"] = new_markup
            else:
                message.pop("reply_markup", None)
            record = next(
                (r for r in self._sent if r["chat_id"] == key and r["message_id"] == message_id),
                None,
            )
            edit = {
                "chat_id": key,
                "message_id": message_id,
                "text": str(params.get("text")),
                "plain_text": visible,
                "parse_mode": params.get("parse_mode"),
                "old_text": record["text"] if record else None,
                "time": time.time(),
            }
            self._edits.append(edit)
            if record is not None:
                record.update(
                    text=edit["text"],
                    plain_text=visible,
                    entities=entities,
                    parse_mode=params.get("parse_mode"),
                    reply_markup=reply_markup,
                    edited=True,
                )
            self._cond.notify_all()
            return json.loads(json.dumps(message))

    def _delete_message(self, params: dict[str, Any]) -> bool:
        key = self._require_chat(params)
        message_id = params.get("message_id")
        with self._lock:
            message = self._bot_messages.pop((key, message_id), None)
            if message is None and self._user_messages.pop((key, message_id), None) is None:
                raise TelegramApiError(400, "Bad Request: message to delete not found")
            for record in self._sent:
                if record["chat_id"] == key and record["message_id"] == message_id:
                    record["deleted"] = True
        return True

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._require_chat(params)
        with self._lock:
            chat = self._chat_obj(key)
        chat.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat

    def _member_obj(self, key: int | str, user_id: int) -> dict[str, Any]:
        user = self._user_obj(user_id)
        if self._creators.get(key) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self._admins.get(key, set()):
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
                "can_manage_topics": False,
            }
        return {"status": "member", "user": user}

    def _get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._require_chat(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise TelegramApiError(400, "Bad Request: user not found")
        with self._lock:
            return self._member_obj(key, user_id)

    def _get_chat_administrators(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        key = self._require_chat(params)
        with self._lock:
            if self._chat_obj(key)["type"] == "private":
                raise TelegramApiError(
                    400, "Bad Request: there are no administrators in the private chat"
                )
            ids: list[int] = []
            creator = self._creators.get(key)
            if creator is not None:
                ids.append(creator)
            ids.extend(sorted(self._admins.get(key, set()) - {creator}))
            return [self._member_obj(key, user_id) for user_id in ids]
