"""Free messages (text, photos, stickers...) go to the conversation the member is in.

Each feature declares `INPUTS = {flow: handler}`; the flow is read from the database, so a
restart in the middle of a conversation changes nothing. A member may have several flows
open (a /proposer draft, then a relay reply): a typed message goes to the one whose question
the bot asked last, and when that one ends the other is offered back, through the feature's
`RESUMES = {flow: handler}` that shows its current question again. Outside any conversation,
the member is told what the bot can do instead of silence.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, TypeHandler, filters

from bot.context import AppContext
from bot.services.conversations import FlowAction, FlowPress
from handlers import menu
from handlers.common import (
    InputHandler,
    answer,
    button,
    current_member,
    label,
    reply,
    stale,
    t,
)

log = logging.getLogger(__name__)


def build_presence() -> BaseHandler[Update, AppContext, None]:
    """Runs before every handler (group -1): note that the member is around.

    Only noted in memory (bot/services/presence.py): the scheduler writes it later, so a
    locked database never delays or fails what the member came to do.
    """

    async def seen(update: Update, context: AppContext) -> None:
        user = update.effective_user
        if user is not None:
            context.services.presence.seen(user.id, user.username)

    return TypeHandler(Update, seen)


Handlers = list[tuple[int, BaseHandler[Update, AppContext, None]]]


def build_offers(resumes: dict[str, InputHandler]) -> Handlers:
    """When a flow ends while another is open, offer the other one back ("continue?").

    Before each update (group -2) what ended earlier is forgotten; after it (group 1), a flow
    that ended during it leads to the offer. The "Continuer" button shows that flow's
    question again, and makes it the one typed messages go to.
    """

    async def forget(update: Update, context: AppContext) -> None:
        if update.effective_user is not None:
            context.services.conversations.forget_ended(update.effective_user.id)

    async def offer(update: Update, context: AppContext) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or chat.type != ChatType.PRIVATE:
            return
        conversation, kept = await context.services.conversations.after_update(user.id)
        texts = context.services.texts
        if kept is not None and kept.flow in resumes and texts.has(f"flows.kept.{kept.flow}"):
            # Another flow started: say the open one is kept, and where the next answer goes.
            _, lang = await current_member(update, context)
            await reply(update, context, t(context, lang, f"flows.kept.{kept.flow}"))
            return
        if conversation is None or conversation.flow not in resumes:
            return
        if not texts.has(f"flows.offer.{conversation.flow}"):
            log.warning("flow %s has no offer text", conversation.flow)
            return
        _, lang = await current_member(update, context)
        text = label(context, lang, "flows.button.continue")
        await reply(
            update,
            context,
            t(context, lang, f"flows.offer.{conversation.flow}"),
            [[button(text, FlowPress(FlowAction.RESUME, flow=conversation.flow))]],
        )

    async def resume(update: Update, context: AppContext) -> None:
        query = update.callback_query
        member, lang = await current_member(update, context)
        data = FlowPress.parse(query.data if query else None)
        if query is None or member is None or data is None:
            await stale(update, context, lang)
            return
        handler = resumes.get(data.flow)
        conversations = context.services.conversations
        conversation = await conversations.bring_back(member.telegram_id, data.flow)
        if handler is None or conversation is None:
            await stale(update, context, lang)
            return
        await handler(update, context, member, conversation)
        await answer(query)

    return [
        (-2, TypeHandler(Update, forget)),
        (0, CallbackQueryHandler(resume, pattern=FlowPress.pattern())),
        (1, TypeHandler(Update, offer)),
    ]


def build_router(inputs: dict[str, InputHandler]) -> list[BaseHandler[Update, AppContext, None]]:
    async def route(update: Update, context: AppContext) -> None:
        member, lang = await current_member(update, context)
        if member is None:
            await reply(update, context, t(context, lang, "common.start_first"))
            return
        conversation = await context.services.conversations.current(member.telegram_id)
        handler = inputs.get(conversation.flow) if conversation else None
        if conversation is None or handler is None:
            contact = context.services.settings.organisation.contact
            text = t(context, lang, "common.free_text", contact=contact)
            await reply(update, context, text, menu.shortcut_rows(context, lang, member))
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
        CallbackQueryHandler(menu.go, pattern=menu.MenuPress.pattern()),
        CallbackQueryHandler(unknown_button),
        MessageHandler(
            filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL, route
        ),
        MessageHandler(unknown_command, unknown),
    ]
