"""Free messages (text, photos, stickers...) go to the conversation the member is in.

Each feature declares `INPUTS = {flow: handler}`; the flow is read from SQLite, so a restart
in the middle of a conversation changes nothing. Outside any conversation, the member is told
what the bot can do instead of silence.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, TypeHandler, filters

from bot.context import AppContext
from handlers.common import InputHandler, current_member, reply, stale, t

log = logging.getLogger(__name__)


TOUCH_EVERY_SECONDS = 3600.0


def build_presence() -> BaseHandler[Update, AppContext, None]:
    """Runs before every handler (group -1): remember that the member is around.

    `last_seen_at` drives the retention purge, and a member who had blocked the bot and
    writes again is active again. Written at most once an hour per member.
    """
    last_touch: dict[int, float] = {}

    async def touch(update: Update, context: AppContext) -> None:
        user = update.effective_user
        if user is None:
            return
        now = context.services.clock.now().timestamp()
        if now - last_touch.get(user.id, float("-inf")) < TOUCH_EVERY_SECONDS:
            return
        last_touch[user.id] = now
        if len(last_touch) > 100_000:
            last_touch.clear()
        await context.services.members.touch(user.id, user.username)

    return TypeHandler(Update, touch)


def build_router(inputs: dict[str, InputHandler]) -> list[BaseHandler[Update, AppContext, None]]:
    async def route(update: Update, context: AppContext) -> None:
        member, lang = await current_member(update, context)
        if member is None:
            await reply(update, context, t(context, lang, "common.start_first"))
            return
        conversation = await context.services.members.conversation(member.telegram_id)
        handler = inputs.get(conversation.flow) if conversation else None
        if conversation is None or handler is None:
            await reply(update, context, t(context, lang, "common.nothing_expected"))
            return
        await handler(update, context, member, conversation)

    unknown_command = filters.COMMAND & filters.ChatType.PRIVATE

    async def unknown(update: Update, context: AppContext) -> None:
        _, lang = await current_member(update, context)
        await reply(update, context, t(context, lang, "common.unknown_command"))

    async def unknown_button(update: Update, context: AppContext) -> None:
        _, lang = await current_member(update, context)
        await stale(update, context, lang)

    return [
        CallbackQueryHandler(unknown_button),
        MessageHandler(
            filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL, route
        ),
        MessageHandler(unknown_command, unknown),
    ]
