"""The fake Bot API's albums (sendMediaGroup), checked with the real python-telegram-bot client:
/stats sends its charts as one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import Bot, InputMediaDocument, InputMediaPhoto
from telegram.error import BadRequest

from sandbox.fakeapi import FakeTelegram

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


async def test_an_album_of_photos_arrives_as_one_group(server: FakeTelegram, bot: Bot) -> None:
    alice = server.user(1001, "Alice")
    pictures = [b"\x89PNG first", b"\x89PNG second", b"\x89PNG third"]
    sent = await bot.send_media_group(
        alice.id,
        [
            InputMediaPhoto(data, caption=f"<b>Page {n}</b>", parse_mode="HTML")
            for n, data in enumerate(pictures, start=1)
        ],
    )
    assert [m.caption for m in sent] == ["Page 1", "Page 2", "Page 3"]
    assert len({m.media_group_id for m in sent}) == 1 and sent[0].media_group_id
    shown = [await alice.receive() for _ in pictures]
    assert [m.caption for m in shown] == ["Page 1", "Page 2", "Page 3"]
    assert {m.album for m in shown} == {sent[0].media_group_id}
    for message, data in zip(sent, pictures, strict=True):
        file = await bot.get_file(message.photo[-1].file_id)
        assert bytes(await file.download_as_bytearray()) == data
    # A reused file id works; one picture, eleven, or photos mixed with documents do not.
    again = await bot.send_media_group(
        alice.id, [InputMediaPhoto(sent[0].photo[-1].file_id), InputMediaPhoto(b"\x89PNG")]
    )
    assert len(again) == 2 and again[0].media_group_id != sent[0].media_group_id
    with pytest.raises(BadRequest):
        await bot.send_media_group(alice.id, [InputMediaPhoto(b"\x89PNG")])
    with pytest.raises(BadRequest, match=r"(?i)too many"):
        await bot.send_media_group(alice.id, [InputMediaPhoto(b"x") for _ in range(11)])
    with pytest.raises(BadRequest, match=r"(?i)mixed"):
        await bot.send_media_group(
            alice.id, [InputMediaPhoto(b"x"), InputMediaDocument(b"y", filename="y.csv")]
        )
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_media_group(
            alice.id, [InputMediaPhoto(b"x", caption="é" * 1025), InputMediaPhoto(b"y")]
        )
    assert len(alice.messages) == 5  # nothing of the refused albums was shown
