"""The circle's place on an initiative's screen: its button for members, and the offer to
join made after "Je veux participer" (used by handlers/initiative_browsing.py)."""

from __future__ import annotations

from telegram import Update

from bot.context import AppContext
from bot.services.circles import CircleAction, CirclePress
from handlers.common import button, label, reply, t
from storage.members import Member
from storage.outbox import Rows


async def circle_rows(context: AppContext, lang: str, member: Member, initiative_id: int) -> Rows:
    """A "Le cercle" button for the initiative's circle members."""
    circle = await context.services.circles.member_of(member.telegram_id, initiative_id)
    if circle is None:
        return []
    press = CirclePress(CircleAction.OPEN, circle_id=circle.id)
    return [[button(label(context, lang, "circles.button.open"), press)]]


async def offer_circle(
    update: Update, context: AppContext, member: Member, lang: str, initiative_id: int
) -> None:
    """After "Je veux participer": join the circle? (one sentence on what the others see)."""
    circle = await context.services.circles.can_join(member.telegram_id, initiative_id)
    if circle is None:
        return
    join = CirclePress(CircleAction.JOIN, initiative_id=initiative_id)
    skip = CirclePress(CircleAction.SKIP, initiative_id=initiative_id)
    await reply(
        update,
        context,
        t(context, lang, "circles.offer.participant", title=circle.title)
        + "\n\n"
        + t(context, lang, "circles.offer.seen"),
        [
            [button(label(context, lang, "circles.button.join"), join)],
            [button(label(context, lang, "circles.button.not_now"), skip)],
        ],
    )
