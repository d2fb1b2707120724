"""The owner's and the coordination's circle buttons: removing a member, requests to come
back, and alerts about a message (routed from handlers/circles.py)."""

from __future__ import annotations

from telegram import Update

from bot.context import AppContext
from bot.inputs import utf16_cut
from bot.services.circles import CircleAction, CirclePress
from handlers.common import button, label, show, t
from storage.members import Member
from storage.outbox import Rows

Act = CircleAction
Handled = bool | str
"""What a press handler did: False = does not apply (stale), True = done, str = alert."""
TITLE_BUTTON = 40
MAX_BUTTONS = 20


def press(action: CircleAction, **fields: int) -> CirclePress:
    return CirclePress(action, **fields)


async def members(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    view = await context.services.circles.view(member.telegram_id, data.circle_id)
    if view is None or not view.is_owner:
        return False
    others = [s for s in view.seats if s.member.telegram_id != member.telegram_id]
    rows: Rows = [
        [
            button(
                "➖ " + utf16_cut(s.member.display_name, TITLE_BUTTON),
                press(Act.REMOVE, seat_id=s.seat.id),
            )
        ]
        for s in others[: MAX_BUTTONS * 2]
    ]
    rows.append(
        [
            button(
                label(context, lang, "common.button.back"),
                press(Act.OPEN, circle_id=data.circle_id),
            )
        ]
    )
    await show(
        update, context, t(context, lang, "circles.members.pick", title=view.circle.title), rows
    )
    return True


async def remove(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    service = context.services.circles
    if data.action is Act.REMOVE:
        seat = await service.repo.seat(data.seat_id)
        view = await service.view(member.telegram_id, seat.circle_id) if seat else None
        if seat is None or view is None or not view.is_owner:
            return False
        target = next((s for s in view.seats if s.seat.id == seat.id), None)
        if target is None:
            return False
        rows = [
            [
                button(
                    label(context, lang, "circles.button.remove_ok"),
                    press(Act.REMOVE_OK, seat_id=seat.id),
                )
            ],
            [
                button(
                    label(context, lang, "common.button.back"),
                    press(Act.MEMBERS, circle_id=seat.circle_id),
                )
            ],
        ]
        text = t(
            context,
            lang,
            "circles.remove.confirm",
            name=target.member.display_name,
            title=view.circle.title,
        )
        await show(update, context, text, rows)
        return True
    result = await service.remove(member.telegram_id, data.seat_id)
    if result.status == "denied":
        return t(context, lang, "circles.remove.denied")
    if result.status != "removed" or result.circle is None:
        await show(update, context, t(context, lang, "circles.remove.already"))
        return True
    await show(
        update,
        context,
        t(context, lang, "circles.remove.done", name=result.name, title=result.circle.title),
    )
    return True


async def ask_rejoin(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    status = await context.services.circles.ask_rejoin(member.telegram_id, data.circle_id)
    if status == "stale":
        return False
    await show(update, context, t(context, lang, f"circles.rejoin.{status}_member"))
    return True


async def decide(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    accept = data.action is Act.ACCEPT
    status = await context.services.circles.decide_rejoin(
        member.telegram_id, data.removal_id, accept
    )
    if status == "denied":
        return t(context, lang, "circles.remove.denied")
    if status == "full":
        return t(
            context, lang, "circles.join.full", count=context.services.settings.circles.size_limit
        )
    await show(update, context, t(context, lang, f"circles.rejoin.{status}_owner"))
    return True


async def alert(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    status = await context.services.circles.alert(member.telegram_id, data.message_id)
    if status == "stale":
        return False
    return t(context, lang, f"circles.alert.{status}")


async def handle_alert(
    update: Update, context: AppContext, member: Member, lang: str, data: CirclePress
) -> Handled:
    remove = data.action is Act.ALERT_REMOVE
    status = await context.services.circles.handle_alert(member.telegram_id, data.alert_id, remove)
    if status == "denied":
        return t(context, lang, "common.denied")
    if status == "stale":
        return False
    await show(update, context, t(context, lang, f"circles.alert.handled.{status}"))
    return True
