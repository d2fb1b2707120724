"""The outbox's lean send path (requests prepared once per payload, answers read for the
message id only) puts on the member's screen exactly what PTB's methods put there."""

from __future__ import annotations

from typing import Any

import pytest

from bot import sending
from bot.sending import BulkSender, send_payload
from bot.services.outbox import Button, Copy, Document, Location, NewDelivery, Payload
from sandbox.fakeapi import FakeTelegram
from sandbox.fakeapi.models import ChatMessage
from sandbox.fakeapi.users import FAKE_OGG
from tests.conftest import BotHarness
from tests.helpers import seed_members

LEAN, PTB = 8300, 8301


def screen(message: ChatMessage) -> tuple[Any, ...]:
    """What the member sees, without what differs between two sends (id, date)."""
    return (
        message.kind,
        message.text,
        message.html,
        message.caption,
        message.entities,
        message.parse_mode,
        message.buttons,
        message.button_data,
        message.button_urls,
        message.photo,
        message.document,
        message.location,
    )


def payloads(server: FakeTelegram, copied: int) -> list[Payload]:
    buttons = [
        [Button(text="✅ Je viens", data="call:1:yes:7"), Button(text="Non", data="call:1:no:7")],
        [],
        [Button(text="Le plan & l'accès", url="https://example.org/plan?a=1&b=é")],
    ]
    text = "<b>Courses</b> pour les aînés de Blaye &amp; Cars : 100 % + 2 <i>bénévoles</i> 🙂"
    photo = server.files.add(b"\xff\xd8jpeg", "photos", ".jpg", "image/jpeg")
    known = server.files.add(b"%PDF", "documents", ".pdf", "application/pdf", "guide.pdf")
    note = server.files.add(FAKE_OGG, "voice", ".oga", "audio/ogg")
    return [
        Payload(text=text, buttons=buttons),
        Payload(text="Sans bouton"),
        Payload(photo=photo.file_id, text=text, buttons=buttons),
        Payload(photo=photo.file_id),
        Payload(document=Document(file=known.file_id), text="Le guide"),
        Payload(voice=note.file_id, text="Message de l'équipe"),
        Payload(location=Location(latitude=45.127, longitude=-0.662), buttons=buttons),
        Payload(copy_of=Copy(from_chat_id=8302, message_id=copied)),
        Payload(copy_of=Copy(from_chat_id=8302, message_id=copied), text="<i>de Sami</i>"),
    ]


async def test_lean_requests_show_what_ptb_methods_show(
    server: FakeTelegram, bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean, ptb = server.user(LEAN, "Lina"), server.user(PTB, "Paul")
    author = server.user(8302, "Sami")
    await seed_members(bot, [LEAN, PTB, 8302])
    said = await author.send("On se retrouve à 14 h devant la mairie")
    sent = payloads(server, said.message_id)

    async def no_ptb(*_args: Any, **_kwargs: Any) -> int:
        raise AssertionError("a plain payload took PTB's path")

    with monkeypatch.context() as patch:
        patch.setattr(sending, "send_payload", no_ptb)
        async with bot.services.db.transaction():
            await bot.services.outbox.enqueue(
                [NewDelivery(chat_id=LEAN, kind="test", payload=p) for p in sent]
            )
        await bot.drain()
    for payload in sent:
        await send_payload(bot.app.bot, PTB, payload)

    got_lean = [await lean.receive() for _ in sent]
    got_ptb = [await ptb.receive() for _ in sent]
    assert [screen(m) for m in got_lean] == [screen(m) for m in got_ptb]
    assert got_lean[0].button_urls == {"Le plan & l'accès": "https://example.org/plan?a=1&b=é"}
    rows = await bot.state.deliveries_of("test")
    assert [d.status for d in rows] == ["sent"] * len(sent)
    assert [d.message_id for d in rows] == [m.message_id for m in got_lean]
    assert server.stats.client_errors == 0


async def test_uploads_go_through_ptb(server: FakeTelegram, bot: BotHarness) -> None:
    member = server.user(LEAN, "Lina")
    await seed_members(bot, [LEAN])
    generated = Payload(document=Document(content=b"nom;lieu\n", filename="liste.csv"))
    assert sending.prepare(generated, paid=False) is None
    async with bot.services.db.transaction():
        await bot.services.outbox.enqueue(
            [NewDelivery(chat_id=LEAN, kind="test", payload=generated)]
        )
    await bot.drain()
    assert (await member.receive()).document == ("liste.csv", b"nom;lieu\n")


async def test_a_broadcast_is_prepared_once_per_payload(
    server: FakeTelegram, bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = list(range(8400, 8440))
    for chat_id in ids:
        server.user(chat_id, f"M{chat_id}")
    await seed_members(bot, ids)
    prepared: list[Payload] = []
    real = sending.prepare

    def counting(payload: Payload, *, paid: bool) -> Any:
        prepared.append(payload)
        return real(payload, paid=paid)

    monkeypatch.setattr(sending, "prepare", counting)
    call = Payload(text="Qui peut aider ?", buttons=[[Button(text="Je viens", data="c:1")]])
    async with bot.services.db.transaction():
        await bot.services.outbox.notify(ids, "test", lambda _chat: call)
    await bot.drain()
    assert len(prepared) == 1  # once for the broadcast, not once per message
    assert server.stats.delivered == len(ids)
    assert server.stats.client_errors == 0


async def test_paid_broadcasts_say_so_to_telegram(server: FakeTelegram, make_bot: Any) -> None:
    """Telegram lets a paid broadcast past the free 30/s only when the request says it."""
    server.configure(global_per_second=3, paid_broadcast_per_second=1000)
    bot = await make_bot(sending={"allow_paid_broadcast": True, "paid_messages_per_second": 1000})
    ids = list(range(8500, 8512))
    for chat_id in ids:
        server.user(chat_id, f"M{chat_id}")
    await seed_members(bot, ids)
    assert isinstance(bot.services.require_dispatcher().sender, BulkSender)
    async with bot.services.db.transaction():
        await bot.services.outbox.notify(ids, "test", lambda _chat: Payload(text="Appel"))
    await bot.drain()
    assert server.stats.delivered == len(ids)
    assert server.stats.too_many_requests == 0
