"""Everything a feature sends goes through the outbox: text, photo, document, location, voice
message, or a copy of a member's message, stored durably and sent by the dispatcher."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.services.outbox import Button, Copy, Document, Location, NewDelivery, Payload
from sandbox.fakeapi import FakeTelegram
from sandbox.fakeapi.users import FAKE_OGG
from tests.conftest import BotHarness
from tests.helpers import seed_members


async def send(bot: BotHarness, chat_id: int, payload: Payload) -> None:
    async with bot.services.db.transaction():
        await bot.services.outbox.enqueue(
            [NewDelivery(chat_id=chat_id, kind="test", payload=payload)]
        )
    await bot.drain()


async def test_each_kind_of_payload_reaches_the_member(
    server: FakeTelegram, bot: BotHarness
) -> None:
    member = server.user(8100, "Lina")
    await seed_members(bot, [8100])
    buttons = [[Button(text="Voir", data="x:1")]]

    await send(
        bot,
        8100,
        Payload(
            document=Document(content=b"nom;lieu\n", filename="liste.csv"),
            text="<b>La liste</b>",
            buttons=buttons,
        ),
    )
    got = await member.receive()
    assert got.document == ("liste.csv", b"nom;lieu\n")
    assert (got.caption, got.all_buttons) == ("La liste", ["Voir"])

    known = server.files.add(b"%PDF", "documents", ".pdf", "application/pdf", "guide.pdf")
    await send(bot, 8100, Payload(document=Document(file=known.file_id)))
    assert (await member.receive()).document == ("guide.pdf", b"%PDF")

    await send(bot, 8100, Payload(location=Location(latitude=45.127, longitude=-0.662)))
    got = await member.receive()
    assert (got.kind, got.location) == ("location", (45.127, -0.662))

    note = server.files.add(FAKE_OGG, "voice", ".oga", "audio/ogg")
    await send(bot, 8100, Payload(voice=note.file_id, text="Message de l'équipe"))
    got = await member.receive()
    assert (got.kind, got.caption) == ("voice", "Message de l'équipe")

    rows = await bot.state.deliveries_of("test")
    assert [d.status for d in rows] == ["sent"] * 4
    assert all(d.payload == Payload() for d in rows)  # forgotten once delivered
    assert server.stats.client_errors == 0


async def test_a_members_message_is_copied_to_another(
    server: FakeTelegram, bot: BotHarness
) -> None:
    author = server.user(8200, "Sami")
    reader = server.user(8201, "Jeanne")
    await seed_members(bot, [8200, 8201])
    said = await author.send("On se retrouve à 14 h devant la mairie")
    await send(bot, 8201, Payload(copy_of=Copy(from_chat_id=8200, message_id=said.message_id)))
    got = await reader.receive()
    assert got.text == "On se retrouve à 14 h devant la mairie"

    photo = await author.send_photo(caption="avant")
    copy = Copy(from_chat_id=8200, message_id=photo.message_id)
    await send(bot, 8201, Payload(copy_of=copy, text="<i>de Sami</i>"))
    got = await reader.receive()
    assert (got.kind, got.caption) == ("photo", "de Sami")
    [first, second] = await bot.state.deliveries_of("test")
    assert first.message_id is not None and second.message_id == got.message_id


def test_a_payload_carries_one_thing_and_round_trips_through_json() -> None:
    with pytest.raises(ValidationError):
        Payload(photo="AgAD", voice="AwAD")
    with pytest.raises(ValidationError):
        Payload(location=Location(latitude=1, longitude=2), text="ici")
    with pytest.raises(ValidationError):
        Document(file="BQAD", content=b"x")
    with pytest.raises(ValidationError):
        Location(latitude=91, longitude=0)
    payload = Payload(document=Document(content=bytes(range(256)), filename="b.bin"))
    stored = payload.model_dump_json(exclude_defaults=True)
    assert Payload.model_validate_json(stored) == payload
    assert Payload.model_validate_json('{"text":"old row"}').kind == "text"
