"""Self-test of tests/fake_telegram.py, driven through the real python-telegram-bot client.

Other tests trust the fake to behave like Telegram; these checks make sure that PTB, talking to
it over HTTP, really raises the exceptions and sees the objects our bot code will meet.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import threading
import time
import warnings

import pytest
import pytest_asyncio
import telegram
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application, CommandHandler

from tests.fake_telegram import FakeTelegram, WaitTimeout, parse_html

CHAT = 4242


@pytest_asyncio.fixture
async def fake():
    async with FakeTelegram() as server:
        yield server


@pytest_asyncio.fixture
async def bot(fake):
    async with telegram.Bot(fake.token, base_url=fake.base_url) as client:
        yield client


def _seconds(exc: RetryAfter) -> float:
    # PTB 22 returns int or timedelta depending on PTB_TIMEDELTA and warns about the change.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.mark.asyncio
async def test_get_me_and_send_message_is_recorded(fake, bot):
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot is True
    assert me.username == "fake_alert_bot"

    first = await bot.send_message(
        CHAT,
        "<b>Alert</b> &amp; more",
        parse_mode="HTML",
        link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
    )
    second = await bot.send_message(CHAT, "plain")

    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.id == CHAT and first.chat.type == "private"
    assert first.text == "Alert & more"
    assert [(e.type, e.offset, e.length) for e in first.entities] == [("bold", 0, 5)]
    assert [m["text"] for m in fake.sent_to(CHAT)] == ["<b>Alert</b> &amp; more", "plain"]
    record = fake.sent[0]
    assert record["parse_mode"] == "HTML"
    assert record["disable_preview"] is True
    assert fake.sent[1]["disable_preview"] is False
    assert ("sendMessage", fake.sent[1]["params"]) in fake.calls


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("AT&T", 'Character "&" at byte offset 2'),
    ],
)
async def test_html_that_telegram_refuses_raises_bad_request(fake, bot, text, expected):
    with pytest.raises(BadRequest) as info:
        await bot.send_message(CHAT, text, parse_mode="HTML")
    assert str(info.value).startswith("Can't parse entities: ")
    # PTB re-capitalises the text, so compare Telegram's exact wording as sent on the wire.
    error = fake.errors[-1]
    assert error["error_code"] == 400
    assert error["description"].startswith(f"Bad Request: can't parse entities: {expected}")
    assert fake.sent == []


@pytest.mark.asyncio
async def test_valid_html_with_every_supported_tag_is_accepted(fake, bot):
    text = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        '<strike>k</strike><del>d</del><span class="tg-spoiler">p</span><tg-spoiler>t</tg-spoiler>'
        '<a href="https://example.org/?a=1&amp;b=2">link</a><code>c</code>'
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote>q</blockquote><blockquote expandable>w</blockquote>&#128512;&quot;"
    )
    message = await bot.send_message(CHAT, text, parse_mode="HTML")
    types = [entity.type for entity in message.entities]
    assert "text_link" in types and "expandable_blockquote" in types and "spoiler" in types
    pre = next(entity for entity in message.entities if entity.type == "pre")
    assert pre.language == "python"
    link = next(entity for entity in message.entities if entity.type == "text_link")
    assert link.url == "https://example.org/?a=1&b=2"
    assert message.text.endswith('x = 1qw\U0001f600"')
    assert len(fake.sent) == 1


@pytest.mark.asyncio
async def test_length_limit_counts_visible_utf16_units(fake, bot):
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    # 2049 astral characters are 4098 UTF-16 code units although only 2049 code points.
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "\U0001f600" * 2049)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(CHAT, "<b> </b>", parse_mode="HTML")

    await bot.send_message(CHAT, "x" * 4096)
    # Markup does not count: 4096 visible characters wrapped in tags are fine.
    await bot.send_message(CHAT, "<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    assert [len(m["plain_text"]) for m in fake.sent] == [4096, 4096]


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_next_429_raises_retry_after_once(fake, bot):
    fake.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "first")
    assert _seconds(info.value) == 3
    assert fake.errors[-1]["description"] == "Too Many Requests: retry after 3"
    assert fake.too_many_count == 1

    await bot.send_message(CHAT, "second")
    assert [m["text"] for m in fake.sent] == ["second"]


@pytest.mark.asyncio
async def test_fail_next_server_error_only_for_given_chat(fake, bot):
    fake.fail_next("sendMessage", 502, chat_id=CHAT, count=2)
    await bot.send_message(CHAT + 1, "other chat unaffected")
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "recovered")
    assert [m["text"] for m in fake.sent] == ["other chat unaffected", "recovered"]


@pytest.mark.asyncio
async def test_block_chat_raises_forbidden_until_unblocked(fake, bot):
    fake.block_chat(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hello")
    fake.unblock_chat(CHAT)
    await bot.send_message(CHAT, "hello again")
    assert [m["text"] for m in fake.sent] == ["hello again"]


@pytest.mark.asyncio
async def test_migrate_chat_raises_chat_migrated(fake, bot):
    fake.migrate_chat(-4001, -1009876543210)
    with pytest.raises(ChatMigrated) as info:
        await bot.send_message(-4001, "hello group")
    assert info.value.new_chat_id == -1009876543210
    message = await bot.send_message(-1009876543210, "hello supergroup")
    assert message.chat.type == "supergroup"


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit_per_chat_answers_429(fake, bot):
    fake.rate_limit(per_chat_per_second=2)
    await bot.send_message(CHAT, "1")
    await bot.send_message(CHAT, "2")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "3")
    assert _seconds(info.value) == 1
    await bot.send_message(CHAT + 1, "other chat has its own budget")
    assert fake.too_many_count == 1
    assert len(fake.sent) == 3


@pytest.mark.asyncio
async def test_wrong_token_and_unknown_method(fake):
    # Entering the Bot calls getMe, which must be refused for the wrong token; the context
    # manager also shuts PTB's HTTP client down when that fails.
    with pytest.raises(InvalidToken):
        async with telegram.Bot("999:wrong-token", base_url=fake.base_url):
            pass
    assert fake.errors[-1]["error_code"] == 401
    async with telegram.Bot(fake.token, base_url=fake.base_url) as good:
        with pytest.raises(telegram.error.EndPointNotFound):
            await good.do_api_request("noSuchMethod")


@pytest.mark.asyncio
async def test_admin_status_and_edit(fake, bot):
    group = -1001234567890
    fake.set_admins(group, [7], creator_id=8)
    statuses = [(await bot.get_chat_member(group, uid)).status for uid in (7, 8, 9)]
    assert statuses == ["administrator", "creator", "member"]
    admins = await bot.get_chat_administrators(group)
    assert sorted(member.user.id for member in admins) == [7, 8]

    sent = await bot.send_message(group, "draft")
    edited = await bot.edit_message_text("final", chat_id=group, message_id=sent.message_id)
    assert edited.text == "final"
    assert fake.sent_to(group)[0]["text"] == "final"
    assert fake.edits[0]["old_text"] == "draft"
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("final", chat_id=group, message_id=sent.message_id)


@pytest.mark.asyncio
async def test_application_answers_start_command(fake):
    async def start(update, context):
        await update.effective_message.reply_text(f"Hello {update.effective_user.first_name}")

    app = Application.builder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        try:
            fake.inject_message(CHAT, "/start", first_name="Olena")
            reply = await fake.wait_for(lambda m: m["chat_id"] == CHAT, timeout=5)
            assert reply["text"] == "Hello Olena"
            fake.inject_message(CHAT, "no command here")
            fake.inject_message(CHAT, "/start@fake_alert_bot", first_name="Taras")
            await fake.wait_for("Hello Taras", timeout=5)
            assert [m["text"] for m in fake.sent] == ["Hello Olena", "Hello Taras"]
        finally:
            await app.updater.stop()
            await app.stop()
    # The updater's final getUpdates confirmed everything it consumed.
    assert fake.pending_updates == []


@pytest.mark.asyncio
async def test_wait_for_timeout_lists_what_was_sent(fake, bot):
    await bot.send_message(CHAT, "something else")
    with pytest.raises(WaitTimeout) as info:
        await fake.wait_for("never sent", timeout=0.2)
    assert "something else" in str(info.value)
    assert isinstance(info.value, AssertionError) and isinstance(info.value, TimeoutError)


def test_threaded_server_long_poll_wakes_on_injection():
    with FakeTelegram() as fake:
        # Started once the client is ready (getMe done), so the message arrives while the
        # long poll waits, however slowly a busy machine starts the client.
        timer = threading.Timer(0.3, fake.inject_message, args=(CHAT, "ping"))

        async def poll():
            async with telegram.Bot(fake.token, base_url=fake.base_url) as client:
                started = time.monotonic()
                timer.start()
                updates = await client.get_updates(timeout=5)
                elapsed = time.monotonic() - started
                await client.send_message(CHAT, "from another loop")
                return updates, elapsed

        try:
            updates, elapsed = asyncio.run(poll())
        finally:
            timer.cancel()
        assert [u.message.text for u in updates] == ["ping"]
        assert 0.2 < elapsed < 3
        assert fake.wait_for_sync("from another loop", timeout=2)["chat_id"] == CHAT


def test_parse_html_offsets_are_utf16():
    text, entities = parse_html("\U0001f3df <b>x</b>")
    assert text == "\U0001f3df x"
    assert entities == [{"offset": 3, "length": 1, "type": "bold"}]


@pytest.mark.asyncio
async def test_held_calls_and_a_client_that_gives_up(fake, bot):
    # Held before taking effect: a client that gives up meanwhile sent nothing.
    fake.hold_next("sendMessage", 30)
    with pytest.raises(NetworkError):  # PTB's TimedOut
        await bot.send_message(CHAT, "never", read_timeout=0.3)
    # Held after taking effect: the message is delivered, but the client never hears so.
    fake.hold_next("sendMessage", 30, after=True)
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "delivered, unconfirmed", read_timeout=0.3)
    deadline = time.monotonic() + 10
    while fake.in_flight("sendMessage") and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert fake.in_flight("sendMessage") == 0 and fake.holding == 0
    assert [m["text"] for m in fake.sent_to(CHAT)] == ["delivered, unconfirmed"]
    assert [(h["text"], h["after"], h["outcome"]) for h in fake.held] == [
        ("never", False, "abandoned"),
        ("delivered, unconfirmed", True, "abandoned"),
    ]
    # A short hold is simply a slow answer.
    fake.hold_next("sendMessage", 0.1, after=True)
    await bot.send_message(CHAT, "slow")
    assert fake.held[-1]["outcome"] == "answered"
