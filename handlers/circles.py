"""/cercles: a member's initiative circles, writing to one, and every circle button (joining,
mute, leave, the owner's removals and requests to come back, alerts to the coordination)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.inputs import clean, utf16_len
from bot.services.circles import (
    WRITE_FLOW,
    CircleAction,
    CirclePress,
    Content,
    JoinOutcome,
)
from handlers import circle_admin
from handlers.circle_admin import Handled, press
from handlers.circle_screens import circle_screen, list_screen
from handlers.common import (
    answer,
    button,
    current_member,
    label,
    onboarded_member,
    reply,
    show,
    stale,
    t,
    your_text,
)
from storage.conversations import Conversation
from storage.members import Member

Act = CircleAction


async def cercles(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    lines = await context.services.circles.lines(member.telegram_id)
    text, rows = list_screen(context, lang, lines)
    await reply(update, context, text, rows)


# --- writing -------------------------------------------------------------------------------


async def _start_writing(
    update: Update, context: AppContext, member: Member, lang: str, circle_id: int
) -> bool:
    circle = await context.services.circles.start_writing(member.telegram_id, circle_id)
    if circle is None:
        return False
    cancel = button(label(context, lang, "common.button.cancel"), press(Act.CANCEL))
    await reply(
        update, context, t(context, lang, "circles.write.prompt", title=circle.title), [[cancel]]
    )
    return True


def _content(message: Message) -> Content:
    if message.text is not None:
        return Content("text", text=message.text)
    if message.photo:
        return Content("photo", text=message.caption, message_id=message.message_id)
    if message.voice is not None:
        return Content("voice", text=message.caption, message_id=message.message_id)
    if message.location is not None:
        where = message.location
        return Content("location", latitude=where.latitude, longitude=where.longitude)
    return Content(None)


async def write_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    lang = member.language
    if message is None:
        return
    content = _content(message)
    circle_id = int(conversation.data.get("circle_id", 0))
    result = await context.services.circles.send(member.telegram_id, circle_id, content)
    if result.status == "too_long":
        length = utf16_len(clean(content.text or ""))
        await reply(
            update,
            context,
            t(context, lang, "circles.write.too_long", limit=result.limit, length=length)
            + "\n\n"
            + your_text(context, lang, content.text),
        )
    elif result.status in ("empty", "wrong_kind", "gone", "slow_member", "slow_circle"):
        await reply(update, context, t(context, lang, f"circles.write.{result.status}"))
    else:
        assert result.circle is not None
        again = button(
            label(context, lang, "circles.button.write_again"),
            press(Act.WRITE, circle_id=circle_id),
        )
        await reply(
            update,
            context,
            t(
                context,
                lang,
                "circles.write.sent",
                title=result.circle.title,
                count=result.recipients,
            ),
            [[again]],
        )


async def resume_write(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    circle_id = int(conversation.data.get("circle_id", 0))
    if not await _start_writing(update, context, member, member.language, circle_id):
        await reply(update, context, t(context, member.language, "circles.write.gone"))


INPUTS = {WRITE_FLOW: write_input}
RESUMES = {WRITE_FLOW: resume_write}


# --- buttons -------------------------------------------------------------------------------


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = CirclePress.parse(query.data)
    member, lang = await current_member(update, context)
    if data is None or member is None or member.onboarded_at is None:
        await stale(update, context, lang)
        return
    done = await ROUTES[data.action](update, context, member, lang, data)
    if done is False:
        await stale(update, context, lang)
    else:
        await answer(query, done if isinstance(done, str) else None, alert=isinstance(done, str))


async def _join(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    outcome, circle = await context.services.circles.join(member.telegram_id, data.initiative_id)
    if outcome is JoinOutcome.STALE or circle is None:
        return False
    if outcome is JoinOutcome.FULL:
        return t(
            context, lang, "circles.join.full", count=context.services.settings.circles.size_limit
        )
    if outcome is JoinOutcome.REMOVED:
        ask = button(
            label(context, lang, "circles.button.ask_rejoin"),
            press(Act.ASK_REJOIN, circle_id=circle.id),
        )
        await show(
            update, context, t(context, lang, "circles.join.removed", title=circle.title), [[ask]]
        )
        return True
    key = "circles.join.done" if outcome is JoinOutcome.JOINED else "circles.join.already"
    open_row = [
        button(label(context, lang, "circles.button.open"), press(Act.OPEN, circle_id=circle.id))
    ]
    await show(update, context, t(context, lang, key, title=circle.title), [open_row])
    return True


async def _skip(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    await show(update, context, t(context, lang, "circles.join.skipped"))
    return True


async def _list(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    lines = await context.services.circles.lines(member.telegram_id)
    text, rows = list_screen(context, lang, lines)
    await show(update, context, text, rows)
    return True


async def _open(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    view = await context.services.circles.view(member.telegram_id, data.circle_id)
    if view is None:
        return False
    text, rows = circle_screen(context, lang, view)
    await show(update, context, text, rows)
    return True


async def _write(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    return await _start_writing(update, context, member, lang, data.circle_id)


async def _cancel(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    await context.services.circles.cancel_writing(member.telegram_id)
    await show(update, context, t(context, lang, "common.cancelled"))
    return True


async def _mute(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    service = context.services.circles
    if data.action is Act.MUTE:
        if await service.mute(member.telegram_id, data.circle_id) is None:
            return False
        notice = t(context, lang, "circles.muted")
    else:
        unmuted = await service.unmute(member.telegram_id, data.circle_id)
        if unmuted is None:
            return False
        notice = t(context, lang, "circles.unmuted", count=unmuted.unread)
    view = await service.view(member.telegram_id, data.circle_id)
    if view is None:
        return False
    text, rows = circle_screen(context, lang, view)
    await show(update, context, notice + "\n\n" + text, rows)
    return True


async def _leave(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    service = context.services.circles
    if data.action is Act.LEAVE:
        view = await service.view(member.telegram_id, data.circle_id)
        if view is None:
            return False
        rows = [
            [
                button(
                    label(context, lang, "circles.button.leave_ok"),
                    press(Act.LEAVE_OK, circle_id=data.circle_id),
                )
            ],
            [
                button(
                    label(context, lang, "common.button.back"),
                    press(Act.OPEN, circle_id=data.circle_id),
                )
            ],
        ]
        key = "circles.leave.confirm_owner" if view.is_owner else "circles.leave.confirm"
        await show(update, context, t(context, lang, key, title=view.circle.title), rows)
        return True
    circle = await service.leave(member.telegram_id, data.circle_id)
    if circle is None:
        await show(update, context, t(context, lang, "circles.leave.already"))
        return True
    await show(update, context, t(context, lang, "circles.leave.done", title=circle.title))
    return True


OnHandled = Callable[[Update, AppContext, Member, str, CirclePress], Awaitable[Handled]]
ROUTES: dict[CircleAction, OnHandled] = {
    Act.JOIN: _join,
    Act.SKIP: _skip,
    Act.LIST: _list,
    Act.OPEN: _open,
    Act.WRITE: _write,
    Act.REPLY: _write,
    Act.CANCEL: _cancel,
    Act.MUTE: _mute,
    Act.UNMUTE: _mute,
    Act.LEAVE: _leave,
    Act.LEAVE_OK: _leave,
    Act.MEMBERS: circle_admin.members,
    Act.REMOVE: circle_admin.remove,
    Act.REMOVE_OK: circle_admin.remove,
    Act.ASK_REJOIN: circle_admin.ask_rejoin,
    Act.ACCEPT: circle_admin.decide,
    Act.DECLINE: circle_admin.decide,
    Act.ALERT: circle_admin.alert,
    Act.ALERT_REMOVE: circle_admin.handle_alert,
    Act.ALERT_DISMISS: circle_admin.handle_alert,
}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler(["cercles", "circles"], cercles, filters=private),
        CallbackQueryHandler(on_button, pattern=CirclePress.pattern()),
    ]
