"""What every feature's handlers share: routing of presses, language, replies, buttons.

Callback data is packed and parsed by each feature's model (bot/callbacks.py); a press whose
data does not parse is answered as stale and changes nothing. Authorisation is never read from
callback data: services re-check every press.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from telegram import (
    CallbackQuery,
    Message,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.callbacks import Press
from bot.context import AppContext
from bot.inputs import echo
from bot.sending import markup
from bot.texts import pick_language
from storage.conversations import Conversation
from storage.members import Member
from storage.outbox import Button

InputHandler = Callable[[Update, AppContext, Member, Conversation], Awaitable[None]]

P = TypeVar("P", bound=Press)
OnPress = Callable[[Update, AppContext, Member, str, P], Awaitable[None]]
"""A feature's handler for one action: the member behind the press, their language, the data."""
Routes = Mapping[Any, OnPress[P]]
"""A feature's table from action to handler (a test checks every action has one)."""


def language_for(context: AppContext, member: Member | None, user: User | None) -> str:
    stored = member.language if member else None
    code = user.language_code if user else None
    return pick_language(stored, code, context.services.settings.default_language)


def t(context: AppContext, lang: str, key: str, **params: Any) -> str:
    return context.services.texts.get(lang, key, **params)


def your_text(context: AppContext, lang: str, text: str | None) -> str:
    """A member's own text shown back to shorten it, cut to fit in one message (UTF-16)."""
    return t(context, lang, "common.your_text", text=echo(text))


def label(context: AppContext, lang: str, key: str, **params: Any) -> str:
    """Button labels: catalogue text without HTML (buttons show no formatting)."""
    from bot.texts import plain

    return plain(t(context, lang, key, **params))


def button(text: str, press: Press) -> Button:
    """A button that sends this press back when tapped."""
    return Button(text=text, data=press.pack())


async def reply(
    update: Update,
    context: AppContext,
    text: str,
    rows: Sequence[Sequence[Button]] = (),
) -> Message:
    """A new message in the chat of this update (interactive lane: no rate_limit_args)."""
    chat = update.effective_chat
    if chat is None:
        raise RuntimeError("update without chat")
    return await context.bot.send_message(
        chat.id,
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup(rows),
    )


async def show(
    update: Update,
    context: AppContext,
    text: str,
    rows: Sequence[Sequence[Button]] = (),
) -> None:
    """Answer a button press by editing its message in place, or reply to a text message."""
    query = update.callback_query
    if query is not None and query.message is not None and isinstance(query.message, Message):
        try:
            await query.message.edit_text(
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(rows),
            )
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return
            raise
    await reply(update, context, text, rows)


async def answer(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Answer a press last, once its screen has changed: the spinner stops on the new screen
    (and tests that wait for the answer see the new screen)."""
    await query.answer(text, show_alert=alert)


async def stale(update: Update, context: AppContext, lang: str) -> None:
    """A press that no longer applies (or was forged): say so briefly, change nothing."""
    if update.callback_query is not None:
        await answer(update.callback_query, t(context, lang, "common.stale"), alert=True)


async def denied(update: Update, context: AppContext, lang: str) -> None:
    if update.callback_query is not None:
        await answer(update.callback_query, t(context, lang, "common.denied"), alert=True)
    else:
        await reply(update, context, t(context, lang, "common.denied"))


async def current_member(update: Update, context: AppContext) -> tuple[Member | None, str]:
    user = update.effective_user
    if user is None:
        return None, context.services.settings.default_language
    member = await context.services.members.get(user.id)
    return member, language_for(context, member, user)


async def onboarded_member(update: Update, context: AppContext) -> tuple[Member | None, str]:
    """The member behind this update if they finished onboarding; else tells them to /start."""
    member, lang = await current_member(update, context)
    if member is None or member.onboarded_at is None:
        if update.callback_query is not None:
            await answer(update.callback_query, t(context, lang, "common.start_first"), True)
        else:
            await reply(update, context, t(context, lang, "common.start_first"))
        return None, lang
    return member, lang


async def coordinator(update: Update, context: AppContext) -> tuple[Member | None, str]:
    """The member if they are a coordinator (checked on the server, for every update)."""
    member, lang = await current_member(update, context)
    if member is None or not member.is_coordinator or member.status == "blocked":
        await denied(update, context, lang)
        return None, lang
    return member, lang
