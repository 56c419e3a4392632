"""Telegram: sending through python-telegram-bot, and the commands subscribers and operators use.

Sending is paced rather than left to 429 answers: PTB's AIORateLimiter keeps the bot within
Telegram's overall limit (30 messages a second) and 20 a minute per group, and :class:`TelegramSink`
adds one message a second per private chat. A 429 that still happens is reported to the service,
which waits ``retry_after`` and sends the same message again.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Opt in to PTB's coming behaviour (durations as timedelta) instead of a warning per 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    TelegramError,
)
from telegram.error import RetryAfter as TgRetryAfter
from telegram.ext import AIORateLimiter, Application, CommandHandler, ContextTypes, MessageHandler
from telegram.ext import filters as tg_filters

from . import sinks
from .config import suggest
from .durations import format_duration, parse_duration
from .logs import kv
from .schedule import DIGEST_EVERY, MIN_DIGEST_EVERY, parse_clock, parse_quiet
from .store import Chat, Outgoing

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger("alerts.telegram")

OVERALL_RATE = 29  # messages a second to all chats together: Telegram allows 30
PRIVATE_INTERVAL = 1.0  # seconds between messages to one private chat
GROUP_INTERVAL = 3.0  # 20 a minute per group
MAX_PAUSE = 30 * 86400
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def build_application(token: str, base_url: str | None = None) -> Application:
    """The PTB application: rate-limited, no JobQueue (our scheduler runs the jobs)."""
    builder = (
        Application.builder()
        .token(token)
        # Evenly spaced, one at a time: PTB's default bucket lets 30 messages go at once and
        # 30 more within the same second, twice the limit, which Telegram answers with 429.
        .rate_limiter(
            AIORateLimiter(overall_max_rate=1, overall_time_period=1 / OVERALL_RATE, max_retries=0)
        )
        .job_queue(None)
    )
    if base_url:
        builder = builder.base_url(api_url(base_url))
    return builder.build()


def api_url(base_url: str) -> str:
    """A Bot API server's URL as the client takes it: the token is appended to it, so it
    must end in ``/bot`` (``http://127.0.0.1:8081/bot``); given the server's root
    (``http://127.0.0.1:8081``), ``/bot`` is added, or the token would be read as its port."""
    if "{token}" in base_url or base_url.endswith("/bot"):
        return base_url
    return base_url.rstrip("/") + "/bot"


def _seconds(exc: TgRetryAfter) -> float:
    value = getattr(exc, "_retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(
        exc.retry_after
        if not isinstance(exc.retry_after, timedelta)
        else exc.retry_after.total_seconds()
    )


def _zone_name(name: str) -> str | None:
    """The IANA zone ``name`` names, its case aside ("europe/kyiv" is Europe/Kyiv); None
    when there is none."""
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    folded = name.casefold()
    return next((z for z in available_timezones() if z.casefold() == folded), None)


class TelegramSink:
    """Sends outbox messages with the PTB bot, translating its errors into :mod:`alerts.sinks`."""

    format = "html"
    can_edit = True

    def __init__(self, bot):
        self.bot = bot
        self._next_slot: dict[int, float] = {}

    async def _pace(self, chat_id: int) -> None:
        interval = PRIVATE_INTERVAL if chat_id > 0 else GROUP_INTERVAL
        now = time.monotonic()
        slot = max(self._next_slot.get(chat_id, 0.0), now)
        self._next_slot[chat_id] = slot + interval
        if slot > now:
            await asyncio.sleep(slot - now)

    async def send(self, msg: Outgoing) -> int | None:
        """Send a message, or make an edit; returns the message's id in its chat."""
        if msg.kind == "edit":
            return await self._edit(msg)
        await self._pace(msg.chat_id)
        try:
            sent = await self.bot.send_message(
                chat_id=msg.chat_id,
                text=msg.body,
                parse_mode=ParseMode.HTML if msg.format == "html" else None,
                link_preview_options=NO_PREVIEW,
                message_thread_id=msg.thread_id,
            )
        except TelegramError as exc:
            raise _refusal(exc) from None
        return sent.message_id

    async def _edit(self, msg: Outgoing) -> int | None:
        """Edit an alert to carry more links. Edits are idempotent: Telegram's "message is not
        modified" (an edit made before a crash, made again) counts as done."""
        if msg.target_message is None:
            raise sinks.EditImpossible("the alert was never sent, or was sent before ids were kept")
        await self._pace(msg.chat_id)
        try:
            await self.bot.edit_message_text(
                chat_id=msg.chat_id,
                message_id=msg.target_message,
                text=msg.body,
                parse_mode=ParseMode.HTML if msg.format == "html" else None,
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            text = exc.message.lower()
            if "not modified" in text:
                return msg.target_message
            if "to edit not found" in text or "can't be edited" in text or "message_id" in text:
                raise sinks.EditImpossible(exc.message) from None
            raise _refusal(exc) from None
        except TelegramError as exc:
            raise _refusal(exc) from None
        return msg.target_message


def _refusal(exc: TelegramError) -> sinks.SendError:
    """A PTB error as the refusal the service knows how to handle."""
    if isinstance(exc, TgRetryAfter):
        return sinks.RetryAfter(_seconds(exc), str(exc))
    if isinstance(exc, ChatMigrated):
        return sinks.ChatMoved(exc.new_chat_id)
    if isinstance(exc, Forbidden):
        return sinks.ChatGone(exc.message)
    if isinstance(exc, BadRequest):
        text = exc.message.lower()
        if "parse entities" in text or "unsupported start tag" in text:
            return sinks.BadMarkup(exc.message)
        if "chat not found" in text or "kicked" in text or "not enough rights" in text:
            return sinks.ChatGone(exc.message)
        return sinks.Rejected(exc.message)
    if isinstance(exc, NetworkError):  # includes timeouts and 5xx answers
        return sinks.Transient(str(exc) or type(exc).__name__)
    return sinks.Transient(f"{type(exc).__name__}: {exc}")


# --- commands -------------------------------------------------------------------------------

HELP = """<b>Commands</b>
/start — subscribe this chat to every rule
/rules — the rules you can follow
/subscribe &lt;id…|all&gt; — follow rules
/unsubscribe &lt;id…|all&gt; — stop following rules
/list — what this chat follows, and when
/digest every 1h · /digest at 08:00 20:00 · /digest off — when digests come
/timezone Europe/Kyiv — the time zone for digest times
/quiet 23:00-07:00 · /quiet off — digests wait during quiet hours; urgent alerts still come
/now — send the pending digest now
/pause 2h · /resume — hold all messages for a while
/stop — unsubscribe and delete what the bot keeps about this chat"""

OPERATOR_HELP = """
<b>Operators</b>
/status — feeds, outbox and subscribers
/reload — re-read the rules file"""

COMMANDS = [
    ("start", "subscribe this chat to every rule"),
    ("help", "what the bot can do"),
    ("rules", "the rules you can follow"),
    ("subscribe", "follow rules: /subscribe <id…|all>"),
    ("unsubscribe", "stop following rules"),
    ("list", "what this chat follows, and when"),
    ("digest", "every 1h | at 08:00 20:00 | off"),
    ("timezone", "e.g. /timezone Europe/Kyiv"),
    ("quiet", "e.g. /quiet 23:00-07:00, or off"),
    ("now", "send the pending digest now"),
    ("pause", "e.g. /pause 2h"),
    ("resume", "end a pause"),
    ("stop", "unsubscribe and forget this chat"),
]

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


class Commands:
    """The bot's command handlers; every reply goes straight back to the chat that asked."""

    def __init__(self, service: Service):
        self.service = service
        self._admin_cache: dict[tuple[int, int], tuple[bool, float]] = {}

    @property
    def store(self):
        return self.service.store

    @property
    def config(self):
        return self.service.config

    def register(self, app: Application) -> None:
        changes = {
            "start": self.start,
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "digest": self.digest,
            "timezone": self.timezone,
            "quiet": self.quiet,
            "now": self.now,
            "pause": self.pause,
            "resume": self.resume,
            "stop": self.stop,
        }
        reads = {"help": self.help, "rules": self.rules, "list": self.list}
        # New messages only: an old message edited into a command ("/stop", ten minutes
        # later) is no new command, and channel posts are not commands (channels are
        # configured in rules.yaml).
        new = tg_filters.UpdateType.MESSAGE
        for name, fn in changes.items():
            app.add_handler(CommandHandler(name, self._guard(fn, change=True), filters=new))
        for name, fn in reads.items():
            app.add_handler(CommandHandler(name, self._guard(fn), filters=new))
        for name, fn in (("status", self.status), ("reload", self.reload)):
            app.add_handler(CommandHandler(name, self._guard(fn, operator=True), filters=new))
        app.add_handler(MessageHandler(tg_filters.COMMAND & new, self._guard(self.unknown)))

    def _guard(self, fn: Handler, change: bool = False, operator: bool = False) -> Handler:
        """Permission checks and error containment around every handler."""

        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            if update.effective_chat is None or update.effective_message is None:
                return
            user = update.effective_user
            try:
                if operator and (user is None or user.id not in self.config.settings.operators):
                    await self.reply(
                        update, "Not allowed: this command is for the bot's operators."
                    )
                    return
                if change and not await self._may_change(update, context):
                    await self.reply(
                        update, "Only this group's administrators can change its subscription."
                    )
                    return
                await fn(update, context)
            except Exception:
                log.exception(kv(event="command_failed", command=getattr(fn, "__name__", "?")))
                await self.reply(update, "Sorry, something went wrong. Please try again later.")

        return handler

    async def _may_change(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        chat = update.effective_chat
        if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            return True
        message = update.effective_message
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous administrator posting as the group
        user = update.effective_user
        if user is None:
            return False
        key = (chat.id, user.id)
        cached = self._admin_cache.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        try:
            member = await context.bot.get_chat_member(chat.id, user.id)
            allowed = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        except TelegramError as exc:
            log.warning(kv(event="admin_check_failed", chat=chat.id, error=str(exc)))
            return False
        self._admin_cache[key] = (allowed, time.monotonic() + 60)
        return allowed

    async def reply(self, update: Update, text: str) -> None:
        try:
            await update.effective_message.reply_text(
                text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW, do_quote=False
            )
        except TelegramError as exc:
            log.warning(kv(event="reply_failed", chat=update.effective_chat.id, error=str(exc)))

    async def _chat(self, update: Update) -> Chat | None:
        chat = await self.service.db(self.store.chat, update.effective_chat.id)
        if chat is None or not chat.active:
            await self.reply(update, "This chat is not subscribed. Send /start to subscribe.")
            return None
        return chat

    def _rule_ids(self) -> list[str]:
        return [r.id for r in self.config.rules]

    def _rules_of(self, chat: Chat) -> list[str]:
        ids = self._rule_ids()
        return ids if chat.rules is None else [r for r in ids if r in chat.rules]

    # -- subscriber commands --

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        tg_chat = update.effective_chat
        title = tg_chat.title or tg_chat.username or tg_chat.first_name
        chat = await self.service.db(
            self.store.start_chat, tg_chat.id, tg_chat.type, title, datetime.now(UTC)
        )
        rules = self.config.rules
        urgent = [r for r in rules if r.urgent]
        schedule = self.service.schedule_for(chat)
        tz = self.service.tz_name(chat)
        lines = [
            "Subscribed to " + ("the one rule." if len(rules) == 1 else f"all {len(rules)} rules."),
            f"• Urgent ({len(urgent)}): "
            + (", ".join(html.escape(r.name) for r in urgent) or "none")
            + " — alerted at once.",
            f"• Everything else: a digest {html.escape(schedule.describe(tz))}.",
            "",
            "Change it with /unsubscribe, /digest, /timezone and /quiet; /rules lists the rules "
            "and /help every command.",
        ]
        await self.reply(update, "\n".join(lines))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = HELP
        user = update.effective_user
        if user and user.id in self.config.settings.operators:
            text += OPERATOR_HELP
        await self.reply(update, text)

    async def rules(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lines = ["<b>Rules</b>"]
        for r in self.config.rules:
            flag = " · <b>urgent</b>" if r.urgent else ""
            lines.append(f"<code>{html.escape(r.id)}</code> — {html.escape(r.name)}{flag}")
        lines.append("\nFollow with /subscribe &lt;id&gt;, stop with /unsubscribe &lt;id&gt;.")
        await self.reply(update, "\n".join(lines))

    def _parse_ids(self, args: list[str]) -> tuple[list[str] | None, list[str]]:
        """(rule ids or None for "all", unknown ids)."""
        if [a.lower() for a in args] == ["all"]:
            return None, []
        known = self._rule_ids()
        wanted = [a.strip(",").lower() for a in args if a.strip(",")]
        return [a for a in wanted if a in known], [a for a in wanted if a not in known]

    async def _ids_or_usage(self, update: Update, args: list[str], command: str):
        if not args:
            await self.reply(
                update,
                f"Usage: /{command} &lt;id…|all&gt;, for example /{command} "
                f"{html.escape(self._rule_ids()[0]) if self.config.rules else 'all'}. "
                "/rules lists the ids.",
            )
            return None
        ids, unknown = self._parse_ids(args)
        if unknown:
            known = self._rule_ids()

            def named(word: str) -> str:
                hint = suggest(word, known)  # the same guess as `check` makes
                meant = f" (did you mean <code>{html.escape(hint)}</code>?)" if hint else ""
                return f"<code>{html.escape(word)}</code>{meant}"

            await self.reply(
                update,
                "Unknown rule " + ", ".join(named(u) for u in unknown) + ". /rules lists the ids.",
            )
            return None
        return ids, True

    async def subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        parsed = await self._ids_or_usage(update, context.args, "subscribe")
        if parsed is None:
            return
        ids, _ = parsed
        if ids is None or chat.rules is None:
            new = None  # every rule, including rules added later
        else:
            new = [r for r in self._rule_ids() if r in chat.rules or r in ids]
        await self.service.db(self.store.update_chat, chat.id, rules=new)
        await self._show_rules(update, new)

    async def unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        parsed = await self._ids_or_usage(update, context.args, "unsubscribe")
        if parsed is None:
            return
        ids, _ = parsed
        current = self._rules_of(chat)
        new = [] if ids is None else [r for r in current if r not in ids]
        await self.service.db(self.store.update_chat, chat.id, rules=new)
        await self._show_rules(update, new)

    async def _show_rules(self, update: Update, rules: list[str] | None) -> None:
        if rules is None:
            await self.reply(update, "This chat now follows every rule, including new ones.")
        elif not rules:
            await self.reply(
                update, "This chat now follows no rules. /subscribe &lt;id|all&gt; to follow some."
            )
        else:
            names = [html.escape(self.config.rule(r).name) for r in rules if self.config.rule(r)]
            await self.reply(update, "This chat now follows: " + "; ".join(names) + ".")

    async def list(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        now = datetime.now(UTC)
        tz = self.service.tz_name(chat)
        followed = self._rules_of(chat)
        lines = ["<b>This chat follows</b>"]
        for rule_id in followed:
            r = self.config.rule(rule_id)
            lines.append(
                f"• {html.escape(r.name)} (<code>{html.escape(r.id)}</code>)"
                + (" · urgent" if r.urgent else "")
            )
        if not followed:
            lines.append("nothing — /subscribe &lt;id|all&gt;")
        lines.append("")
        lines.append(f"Digest: {html.escape(self.service.schedule_for(chat).describe(tz))}")
        nxt = self.service.next_digest_at(chat)
        if nxt:
            lines.append(f"Next digest: {nxt.astimezone(ZoneInfo(tz)):%d %b %H:%M}")
        lines.append(f"Time zone: {html.escape(tz)}")
        lines.append(f"Quiet hours: {html.escape(chat.quiet) if chat.quiet else 'off'}")
        if chat.paused(now):
            lines.append(f"Paused until {chat.paused_until.astimezone(ZoneInfo(tz)):%d %b %H:%M}")
        pending = len(await self.service.db(self.store.pending, chat.id, False))
        lines.append(f"Waiting for the next digest: {pending}")
        await self.reply(update, "\n".join(lines))

    async def digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        args = [a.lower() for a in context.args]
        usage = "Usage: /digest every 1h · /digest at 08:00 20:00 · /digest off · /digest default"
        if not args:
            tz = self.service.tz_name(chat)
            await self.reply(
                update,
                f"Digest: {html.escape(self.service.schedule_for(chat).describe(tz))}.\n{usage}",
            )
            return
        if args == ["off"]:
            await self.service.db(self.store.update_chat, chat.id, digest_off=True)
            await self.reply(update, "Digests are off: this chat gets urgent alerts only.")
            return
        if args == ["default"]:
            await self.service.db(
                self.store.update_chat, chat.id, digest_off=False, digest_every=None, digest_at=None
            )
        elif args[0] == "every" and len(args) == 2:
            seconds = parse_duration(args[1])
            if seconds is None or seconds < MIN_DIGEST_EVERY:
                await self.reply(update, f"Give {DIGEST_EVERY}: /digest every 1h.\n{usage}")
                return
            await self.service.db(
                self.store.update_chat,
                chat.id,
                digest_off=False,
                digest_every=int(seconds),
                digest_at=None,
            )
        elif args[0] == "at" and len(args) >= 2:
            times = [parse_clock(a) for a in args[1:]]
            if any(t is None for t in times):
                await self.reply(
                    update, f"Give times as HH:MM, as in /digest at 08:00 20:00.\n{usage}"
                )
                return
            at = sorted({t.strftime("%H:%M") for t in times})
            await self.service.db(
                self.store.update_chat, chat.id, digest_off=False, digest_every=None, digest_at=at
            )
        else:
            await self.reply(update, usage)
            return
        chat = await self.service.db(self.store.chat, chat.id)
        tz = self.service.tz_name(chat)
        await self.reply(
            update, f"Digest: {html.escape(self.service.schedule_for(chat).describe(tz))}."
        )

    async def timezone(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        if len(context.args) != 1:
            await self.reply(
                update,
                f"Time zone: {html.escape(self.service.tz_name(chat))}. "
                "Change it with an IANA name, as in /timezone Europe/Kyiv.",
            )
            return
        name = _zone_name(context.args[0])
        if name is None:
            name = context.args[0]
            await self.reply(
                update,
                f"Unknown time zone “{html.escape(name)}”. Use an IANA name such as Europe/Kyiv, "
                "Europe/London or America/New_York.",
            )
            return
        await self.service.db(self.store.update_chat, chat.id, timezone=name)
        await self.reply(update, f"Time zone set to {html.escape(name)}.")

    async def quiet(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        arg = " ".join(context.args).strip().lower()
        if arg == "off":
            await self.service.db(self.store.update_chat, chat.id, quiet=None)
            await self.reply(update, "Quiet hours are off.")
            return
        window = parse_quiet(arg) if arg else None
        if window is None:
            await self.reply(
                update,
                "Usage: /quiet 23:00-07:00 (digests wait until the end; urgent alerts still "
                "come) or /quiet off.",
            )
            return
        text = f"{window[0]:%H:%M}-{window[1]:%H:%M}"
        await self.service.db(self.store.update_chat, chat.id, quiet=text)
        await self.reply(
            update,
            f"Quiet hours {text} ({html.escape(self.service.tz_name(chat))}): digests wait, "
            "urgent alerts still come.",
        )

    async def now(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        made = await self.service.digest_now(chat.id)
        if not made:
            await self.reply(update, "Nothing is waiting for the digest.")

    async def pause(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        seconds = parse_duration(context.args[0]) if len(context.args) == 1 else None
        if seconds is None or seconds > MAX_PAUSE:
            await self.reply(update, "Usage: /pause 2h (up to 30d); /resume ends it early.")
            return
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        await self.service.db(self.store.update_chat, chat.id, paused_until=until)
        await self.reply(
            update,
            f"Paused for {format_duration(seconds)}. Nothing is lost: what arrives meanwhile "
            "comes after the pause. /resume to end it early.",
        )

    async def resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._chat(update)
        if chat is None:
            return
        if not chat.paused(datetime.now(UTC)):
            await self.reply(update, "Not paused: messages come as they arrive.")
            return
        await self.service.db(self.store.update_chat, chat.id, paused_until=None)
        await self.reply(update, "Resumed.")
        await self.service.send_alerts()

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.service.db(self.store.forget_chat, update.effective_chat.id)
        await self.reply(
            update,
            "Unsubscribed, and everything the bot kept about this chat is deleted. "
            "Send /start to subscribe again.",
        )

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        word = (update.effective_message.text or "").split()[0]
        _, at, name = word.partition("@")
        ours = name.casefold() == (context.bot.username or "").casefold()
        if at and not ours:
            return  # another bot's command ("/help@otherbot")
        if update.effective_chat.type != "private" and not ours:
            return  # a group's members talk to other bots too ("/weather")
        await self.reply(
            update, f"Unknown command {html.escape(word)}. /help lists the commands that work."
        )

    # -- operator commands --

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.reply(update, await self.service.status_html())

    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        _ok, message = await self.service.reload(force=True, notify=False)
        await self.reply(update, html.escape(message))


class TelegramFrontend:
    """Owns the PTB application's lifecycle inside the service's event loop."""

    def __init__(self, app: Application, service: Service, polling: bool = True):
        self.app = app
        self.polling = polling
        self.commands = Commands(service)
        self.commands.register(app)
        app.add_error_handler(self._on_error)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.warning(
            kv(event="update_error", error=f"{type(context.error).__name__}: {context.error}")
        )

    async def start(self) -> None:
        await self.app.initialize()  # getMe: fails here on a bad token
        log.info(kv(event="telegram_ready", bot=f"@{self.app.bot.username}"))
        if self.polling:
            try:
                await self.app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
            except TelegramError as exc:
                log.warning(kv(event="set_commands_failed", error=str(exc)))
            await self.app.updater.start_polling(
                poll_interval=0.0,
                timeout=10,
                drop_pending_updates=False,
                allowed_updates=Update.ALL_TYPES,
            )
            await self.app.start()

    async def stop(self) -> None:
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
