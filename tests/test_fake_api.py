"""End-to-end checks of the fake Bot API with the real python-telegram-bot client.

If these pass, bot tests built on FakeTelegram exercise the same HTTP shapes, errors and
limits the bot will meet in production.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from sandbox.fakeapi import FakeTelegram, ServerEvent, parse_html, utf16_len

ROOT = str(Path(__file__).resolve().parent.parent)

pytestmark = [
    pytest.mark.asyncio,
    # PTB 22 warns that RetryAfter.retry_after will become a timedelta; both are handled below.
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "123456:TEST"


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(token=TOKEN, bot_username="essaim_bot", bot_first_name="Essaim")
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture
async def bot(server: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


class TinyBot:
    """A minimal real PTB application: /start shows two buttons, presses get answered."""

    def __init__(self) -> None:
        self.pressed: list[str] = []

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_message is not None
        args = " ".join(context.args or [])
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Je viens", callback_data="rsvp:yes")],
                [InlineKeyboardButton("Non", callback_data="rsvp:no")],
            ]
        )
        await update.effective_message.reply_html(
            f"Bienvenue <b>{update.effective_user.first_name}</b> ({args or 'no args'})",
            reply_markup=keyboard,
        )

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        self.pressed.append(query.data)
        if query.data == "rsvp:yes":
            await query.edit_message_text("Inscrit !")
            await query.answer("C'est noté")
        elif query.data.startswith("call:"):
            await query.answer("Lien expiré", show_alert=True)
        else:
            await query.answer()


@pytest_asyncio.fixture
async def app(server: FakeTelegram) -> AsyncIterator[TinyBot]:
    tiny = TinyBot()
    application: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", tiny.start))
    application.add_handler(CallbackQueryHandler(tiny.on_press))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield tiny
        finally:
            await application.updater.stop()
            await application.stop()


async def test_get_me_returns_the_configured_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "essaim_bot" and me.first_name == "Essaim"
    assert me.id == 123456


async def test_wrong_token_is_unauthorized(server: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.base_url}999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with session.post(f"{server.base_url}{TOKEN}/sendTeleport") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found"


async def test_user_sends_start_and_receives_welcome_with_buttons(
    server: FakeTelegram, app: TinyBot
) -> None:
    alice = server.user(1001, "Alice", username="alice", language_code="fr")
    await alice.send("/start r-abc")
    welcome = await alice.receive(contains="Bienvenue")
    assert welcome.text == "Bienvenue Alice (r-abc)"
    assert welcome.html == "Bienvenue <b>Alice</b> (r-abc)"
    assert welcome.buttons == [["Je viens"], ["Non"]]
    assert welcome.button_data["Je viens"] == "rsvp:yes"
    assert alice.last == welcome and alice.messages == [welcome]


async def test_receive_timeout_explains_what_the_user_saw(server: FakeTelegram, bot: Bot) -> None:
    bob = server.user(1002, "Bob")
    await bot.send_message(bob.id, "Unrelated")
    with pytest.raises(AssertionError, match="Unrelated"):
        await bob.receive(contains="Welcome", timeout=0.2)


async def test_html_accepted_and_rejected(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    sent = await bot.send_message(
        alice.id,
        '<b>Gras</b> &lt;3 <a href="https://essaim.example">lien</a> <tg-spoiler>x</tg-spoiler>',
        parse_mode="HTML",
    )
    assert sent.text == "Gras <3 lien x"
    assert [e.type for e in sent.entities] == ["bold", "text_link", "spoiler"]
    assert alice.last.text == "Gras <3 lien x"
    for bad in ("<div>x</div>", "1 < 2 > 0", "<b>open", "<b><i>x</b></i>"):
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(alice.id, bad, parse_mode="HTML")
    assert len(alice.messages) == 1


async def test_text_limit_counts_utf16_units(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    await bot.send_message(alice.id, "a" * 4096)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, "a" * 4097)
    # An emoji is two UTF-16 units: 2048 of them fit, 2049 do not.
    await bot.send_message(alice.id, "\U0001f41d" * 2048)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, "\U0001f41d" * 2049)
    # Tags do not count, only visible text does.
    await bot.send_message(alice.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, "<b> </b>", parse_mode="HTML")
    assert len(alice.messages) == 3


async def test_callback_data_over_64_bytes_is_refused(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="é" * 32)]])
    await bot.send_message(alice.id, "fits", reply_markup=ok)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="a" * 65)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(alice.id, "nope", reply_markup=too_long)
    assert [m.text for m in alice.messages] == ["fits"]


async def test_unknown_chat_is_not_found(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hello?")


async def test_blocked_user_gives_forbidden_then_unblock(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    alice.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "hello")
    alice.unblock()
    await bot.send_message(alice.id, "hello again")
    assert [m.text for m in alice.messages] == ["hello again"]
    assert server.stats.delivered_chat_ids == [alice.id]


async def test_edit_applies_in_place_and_identical_edit_is_not_modified(
    server: FakeTelegram, bot: Bot
) -> None:
    alice = server.user(1001, "Alice")
    sent = await bot.send_message(alice.id, "v1")
    first = await alice.receive()
    edited = await bot.edit_message_text("<i>v2</i>", alice.id, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, Message) and edited.edit_date is not None
    update = await alice.receive()
    assert update.edited and update.text == "v2" and update.message_id == first.message_id
    assert [m.text for m in alice.messages] == ["v2"]
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<i>v2</i>", alice.id, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("v3", alice.id, 9999)
    assert await bot.delete_message(alice.id, sent.message_id)
    assert alice.messages == []


async def test_press_returns_the_bot_answer_and_the_edit(
    server: FakeTelegram, app: TinyBot
) -> None:
    alice = server.user(1001, "Alice")
    await alice.send("/start")
    welcome = await alice.receive(contains="Bienvenue")
    answer = await alice.press("Je viens", message=welcome)
    assert answer.text == "C'est noté" and not answer.show_alert
    edited = await alice.receive()
    assert edited.edited and edited.text == "Inscrit !" and edited.buttons == []
    assert app.pressed == ["rsvp:yes"]
    with pytest.raises(AssertionError, match=r"Available buttons|no inline buttons"):
        await alice.press("Je viens")


async def test_press_unknown_button_lists_available_ones(
    server: FakeTelegram, app: TinyBot
) -> None:
    alice = server.user(1001, "Alice")
    await alice.send("/start")
    await alice.receive(contains="Bienvenue")
    with pytest.raises(AssertionError, match=r"'je viens'.*\n.*Je viens"):
        await alice.press("je viens")


async def test_forged_press_data_reaches_the_bot(server: FakeTelegram, app: TinyBot) -> None:
    alice = server.user(1001, "Alice")
    await alice.send("/start")
    welcome = await alice.receive(contains="Bienvenue")
    answer = await alice.press_data("call:1:yes:999", message_id=welcome.message_id)
    assert app.pressed == ["call:1:yes:999"]
    assert answer.show_alert and answer.text == "Lien expiré"


async def test_answering_an_unknown_query_is_too_old(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")


async def test_per_chat_limit_gives_retry_after(server: FakeTelegram, bot: Bot) -> None:
    server.configure(per_chat_per_second=1)
    alice = server.user(1001, "Alice")
    bob = server.user(1002, "Bob")
    await bot.send_message(alice.id, "one")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice.id, "two")
    retry_after = caught.value.retry_after
    seconds = retry_after if isinstance(retry_after, int) else retry_after.total_seconds()
    assert seconds >= 1
    await bot.send_message(bob.id, "other chat is fine")
    assert server.stats.too_many_requests == 1
    assert [m.text for m in alice.messages] == ["one"]
    server.configure(per_chat_per_second=None)
    await bot.send_message(alice.id, "limit lifted")
    assert len(alice.messages) == 2


async def test_global_limit_and_paid_broadcast(server: FakeTelegram, bot: Bot) -> None:
    server.configure(global_per_second=3, paid_broadcast_per_second=10)
    server.add_users(range(5000, 5010))
    for chat_id in range(5000, 5003):
        await bot.send_message(chat_id, "hi")
    with pytest.raises(RetryAfter):
        await bot.send_message(5003, "hi")
    for chat_id in range(5003, 5008):
        await bot.send_message(chat_id, "paid", allow_paid_broadcast=True)
    assert server.stats.delivered == 8
    assert server.stats.missing(range(5000, 5008)) == set()
    assert server.stats.duplicates() == {}


async def test_5xx_injection_has_no_effect(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    server.configure(error_rate_5xx=1.0)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(alice.id, "lost")
    assert alice.messages == [] and server.stats.server_errors == 1
    server.configure(error_rate_5xx=0.0)
    await bot.send_message(alice.id, "through")
    assert [m.text for m in alice.messages] == ["through"]


async def test_timeout_can_still_deliver(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    server.configure(timeout_rate=1.0, timeout_delay=0.1, deliver_on_timeout=True)
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "maybe")
    assert [m.text for m in alice.messages] == ["maybe"]
    server.configure(deliver_on_timeout=False)
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "lost")
    assert len(alice.messages) == 1 and server.stats.timeouts == 2


async def test_photo_upload_and_download(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    payload = b"\xff\xd8\xff\xe0 fake jpeg bytes"
    sent = await bot.send_photo(alice.id, payload, caption="<b>Affiche</b>", parse_mode="HTML")
    assert sent.caption == "Affiche" and len(sent.photo) == 3
    shown = await alice.receive()
    assert shown.photo == sent.photo[-1].file_id and shown.caption == "Affiche"
    file = await bot.get_file(sent.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == payload
    again = await bot.send_photo(alice.id, sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(alice.id, "nonexistent-file-id")


async def test_user_photo_reaches_the_bot_and_can_be_downloaded(
    server: FakeTelegram, bot: Bot
) -> None:
    alice = server.user(1001, "Alice")
    await alice.send_photo(caption="hi")
    updates = await bot.get_updates(timeout=1)
    message = updates[-1].message
    assert message is not None and message.caption == "hi" and message.photo
    file = await message.photo[-1].get_file()
    assert (await file.download_as_bytearray()).startswith(b"\xff\xd8")


async def test_document_round_trip(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    await alice.send_document(b"%PDF-1.4 minutes", "ag.pdf", "application/pdf")
    updates = await bot.get_updates(timeout=1)
    document = updates[-1].message.document  # type: ignore[union-attr]
    assert document is not None and document.file_name == "ag.pdf"
    data = await (await document.get_file()).download_as_bytearray()
    assert bytes(data) == b"%PDF-1.4 minutes"
    await bot.send_document(alice.id, b"col1,col2\n", filename="export.csv")
    assert alice.last.document == ("export.csv", b"col1,col2\n")
    copied = await bot.copy_message(alice.id, alice.id, alice.last.message_id)
    assert alice.last.message_id == copied.message_id
    assert alice.last.document == ("export.csv", b"col1,col2\n")


async def test_get_updates_confirms_with_offset(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    await alice.send("one")
    await alice.send("two")
    first = await bot.get_updates()
    assert [u.message.text for u in first] == ["one", "two"]  # type: ignore[union-attr]
    again = await bot.get_updates(offset=first[-1].update_id)
    assert len(again) == 1
    assert await bot.get_updates(offset=first[-1].update_id + 1) == ()
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiter = asyncio.create_task(bot.get_updates(offset=first[-1].update_id + 1, timeout=3))
    await asyncio.sleep(0.1)
    await alice.send("three")
    woken = await waiter
    assert [u.message.text for u in woken] == ["three"]  # type: ignore[union-attr]
    assert loop.time() - started < 2


async def test_commands_per_chat_scope_only_for_that_user(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice", language_code="fr")
    bob = server.user(1002, "Bob", language_code="en")
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands([BotCommand("start", "Démarrer")], language_code="fr")
    await bot.set_my_commands(
        [BotCommand("admin", "Admin panel")], scope=BotCommandScopeChat(alice.id)
    )
    assert alice.commands == [("admin", "Admin panel")]
    assert bob.commands == [("start", "Start")]
    fetched = await bot.get_my_commands(scope=BotCommandScopeChat(alice.id))
    assert [c.command for c in fetched] == ["admin"]
    await bot.delete_my_commands(scope=BotCommandScopeChat(alice.id))
    assert alice.commands == [("start", "Démarrer")]


async def test_webhook_delivery_with_secret_and_getupdates_conflict(
    server: FakeTelegram, bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    failures = {"left": 1}

    async def hook(request: web.Request) -> web.Response:
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500)
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(text="ok")

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        alice = server.user(1001, "Alice")
        await alice.send("/start")
        await server.wait_until(lambda: received, timeout=3)
        secret, update = received[0]
        assert secret == "s3cr3t"
        assert update["message"]["text"] == "/start"
        assert update["message"]["chat"]["id"] == alice.id
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert info.last_error_message is not None  # the first attempt got a 500
        assert await bot.delete_webhook()
        assert await bot.get_updates() == ()
    finally:
        await runner.cleanup()


async def test_subscribers_and_control_api(server: FakeTelegram, bot: Bot) -> None:
    events: list[ServerEvent] = []

    async def collect(event: ServerEvent) -> None:
        events.append(event)

    unsubscribe = server.subscribe(collect)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.control_url}/users", json={"range": [7000, 7100]}) as r:
            assert (await r.json())["count"] == 100
        async with http.post(f"{server.control_url}/config", json={"latency": 0.01}) as r:
            assert (await r.json())["latency"] == 0.01
        await bot.send_message(7050, "bulk user reachable")
        async with http.get(f"{server.control_url}/users/7050") as r:
            screen = await r.json()
        assert [m["text"] for m in screen["messages"]] == ["bulk user reachable"]
        async with http.get(f"{server.control_url}/stats?full=1") as r:
            stats = await r.json()
        assert stats["delivered"] == 1 and stats["delivered_chat_ids"] == [7050]
        assert stats["method_counts"]["sendMessage"] == 1
    await server.wait_until(lambda: any(e.kind == "message" for e in events))
    assert next(e for e in events if e.kind == "message").chat_id == 7050
    unsubscribe()
    assert json.dumps(server.stats.to_json())  # serializable for the web UI


async def test_second_getupdates_terminates_the_first(server: FakeTelegram, bot: Bot) -> None:
    # A second bot instance, as when the bot is accidentally started twice.
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.1)
    async with Bot(TOKEN, base_url=server.base_url) as twin:
        assert await twin.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


async def test_markdown_v2_and_reply_keyboard(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    sent = await bot.send_message(
        alice.id,
        "*Réunion* demain \\(10h\\)",
        parse_mode="MarkdownV2",
        reply_markup=ReplyKeyboardMarkup([["Oui", "Non"]]),
    )
    assert sent.text == "Réunion demain (10h)" and sent.entities[0].type == "bold"
    assert alice.reply_keyboard == [["Oui", "Non"]]
    with pytest.raises(BadRequest, match=r"character '\.' is reserved"):
        await bot.send_message(alice.id, "Fin.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="Unsupported parse_mode"):
        await bot.send_message(alice.id, "x", parse_mode="BBCode")
    tapped = await alice.tap_keyboard("Oui")
    assert tapped.text == "Oui" and not tapped.from_bot
    with pytest.raises(AssertionError, match="no reply-keyboard key 'Peut-être'"):
        await alice.tap_keyboard("Peut-être")
    await bot.send_message(alice.id, "ok", reply_markup=ReplyKeyboardRemove())
    assert alice.reply_keyboard is None


async def test_reply_to_unknown_message_is_refused(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    question = await alice.send("Quand ?")
    answer = await bot.send_message(alice.id, "Demain", reply_to_message_id=question.message_id)
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "Quand ?"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(alice.id, "?", reply_to_message_id=9999)


async def test_sticker_and_voice_updates_parse_in_ptb(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    await alice.send_sticker()
    await alice.send_voice(duration=4)
    updates = await bot.get_updates()
    sticker = updates[0].message.sticker  # type: ignore[union-attr]
    voice = updates[1].message.voice  # type: ignore[union-attr]
    assert sticker is not None and sticker.emoji == "\N{THUMBS UP SIGN}"
    assert voice is not None
    duration = voice.duration  # int today, timedelta once PTB_TIMEDELTA becomes the default
    assert (duration if isinstance(duration, int) else duration.total_seconds()) == 4
    assert updates[0].message.from_user.id == alice.id  # type: ignore[union-attr]


async def test_latency_overlaps_concurrent_requests(server: FakeTelegram, bot: Bot) -> None:
    server.add_users(range(100, 120))
    server.configure(latency=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(bot.send_message(cid, "hi") for cid in range(100, 120)))
    elapsed = loop.time() - started
    assert 0.3 <= elapsed < 1.5  # 20 x 0.3 s would be 6 s if requests were serialized
    assert server.stats.delivered == 20 and server.stats.max_per_window() == 20


async def test_standalone_process_with_control_api() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.fakeapi",
        "--port",
        "0",
        "--per-chat",
        "1",
        "--users",
        "10-20",
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        base_url = line.split()[4]
        control = base_url.removesuffix("/bot") + "/_control"
        async with Bot(TOKEN, base_url=base_url) as remote_bot:
            await remote_bot.send_message(15, "hello")
            with pytest.raises(RetryAfter):
                await remote_bot.send_message(15, "again")
        async with aiohttp.ClientSession() as http, http.get(f"{control}/stats") as response:
            stats = await response.json()
        assert stats["delivered"] == 1 and stats["too_many_requests"] == 1
    finally:
        process.terminate()
        await process.wait()


async def test_html_offsets_are_utf16_units() -> None:
    text, entities = parse_html("\U0001f41d <b>abeille</b> &amp; <i>&#233;t&#xE9;</i>")
    assert text == "\U0001f41d abeille & été"
    # The bee emoji is one code point but two UTF-16 units, so "abeille" starts at 3.
    assert entities == [
        {"type": "bold", "offset": 3, "length": 7},
        {"type": "italic", "offset": 13, "length": 3},
    ]
    assert utf16_len(text) == 16


async def test_callback_answered_twice_is_too_old(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    await bot.send_message(
        alice.id,
        "q",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]),
    )
    press = asyncio.create_task(alice.press("A"))
    updates = await bot.get_updates(timeout=2)
    query = updates[-1].callback_query
    assert query is not None and query.data == "a" and query.from_user.id == alice.id
    assert query.message is not None and query.message.message_id == alice.last.message_id
    assert await query.answer("first", show_alert=True)
    answer = await press
    assert answer.text == "first" and answer.show_alert
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer("second")


async def test_webhook_gives_up_after_retries(server: FakeTelegram, bot: Bot) -> None:
    server.webhook_retry_delay = 0.01
    alice = server.user(1001, "Alice")
    # Nothing listens on this port: every delivery attempt fails.
    assert await bot.set_webhook("http://127.0.0.1:9/hook")
    await alice.send("lost")
    await server.wait_until(lambda: server.webhook_dropped == 1, timeout=5)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0 and info.last_error_message


async def test_subscriber_sees_user_and_bot_events_in_order(
    server: FakeTelegram, bot: Bot
) -> None:
    seen: list[str] = []

    async def on_event(event: ServerEvent) -> None:
        seen.append(event.kind)

    server.subscribe(on_event)
    alice = server.user(1001, "Alice")
    await alice.send("hi")
    sent = await bot.send_message(alice.id, "hello")
    await bot.edit_message_text("hello!", alice.id, sent.message_id)
    await bot.delete_message(alice.id, sent.message_id)
    await server.wait_until(lambda: "delete" in seen)
    assert [k for k in seen if k != "delivery"] == ["user_message", "message", "edit", "delete"]


async def test_location_and_voice_are_shown_and_checked(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    sent = await bot.send_location(1001, 44.84, -0.58)
    assert sent.location is not None and sent.location.latitude == 44.84
    assert (alice.last.kind, alice.last.location) == ("location", (44.84, -0.58))
    with pytest.raises(BadRequest, match="Wrong latitude"):
        await bot.send_location(1001, 95.0, 0.0)
    voice = await bot.send_voice(1001, b"OggS-note", caption="<b>Écoutez</b>", parse_mode="HTML")
    assert voice.voice is not None and voice.voice.duration >= 1
    assert (alice.last.kind, alice.last.caption) == ("voice", "Écoutez")
    copied = await bot.copy_message(1001, 1001, sent.message_id)
    assert alice.last.message_id == copied.message_id and alice.last.kind == "location"


async def test_refused_connections_reach_the_client_as_network_errors(
    server: FakeTelegram, bot: Bot
) -> None:
    server.user(1001, "Alice")
    server.configure(refuse_connections=True)
    with pytest.raises(NetworkError):
        await bot.send_message(1001, "hello")
    assert (await bot.get_me()).username  # polling and setup are spared
    server.configure(refuse_connections=False)
    assert (await bot.send_message(1001, "back")).text == "back"
    assert server.stats.refused == 1
