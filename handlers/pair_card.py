"""A pair's card for coordinators: its health and check-ins, nudge, interval, re-pair and end."""

from __future__ import annotations

from telegram import Update

from bot.context import AppContext
from bot.services.pairs import (
    INTERVAL_CHOICES,
    CheckinLine,
    PairAction,
    PairCard,
    PairPress,
    PairService,
)
from bot.texts import Raw
from handlers.common import (
    answer,
    button,
    label,
    reply,
    show,
    stale,
    t,
)
from storage.members import Member
from storage.outbox import Rows
from storage.pairs import EndReason


def _history_line(
    context: AppContext, lang: str, service: PairService, card: PairCard, line: CheckinLine
) -> str:
    """One check-in of the card: when it was sent, then each gardener's last answer."""
    parts = []
    for person in (card.citizen, card.technician):
        mine = [a for a in line.answers if a.member_id == person.telegram_id]
        answer_text = "—"
        if mine:
            last = mine[-1]
            answer_text = t(context, lang, f"pairs.answer.{last.answer}")
            if last.note:
                answer_text += " — " + t(context, lang, "pairs.card.note", note=last.note)
        name = person.display_name
        parts.append(t(context, lang, "pairs.card.answer", name=name, answer=Raw(answer_text)))
    when = service.local(line.checkin.sent_at)
    return t(context, lang, "pairs.card.checkin", when=when, answers=Raw(" · ".join(parts)))


def _card_screen(
    context: AppContext, lang: str, service: PairService, card: PairCard
) -> tuple[str, Rows]:
    pair = card.pair
    history = [_history_line(context, lang, service, card, line) for line in card.history]
    text = t(
        context,
        lang,
        "pairs.card.title",
        citizen=card.citizen.display_name,
        technician=card.technician.display_name,
        health=service.health_label(lang, pair.health),
        every=Raw(t(context, lang, "pairs.every", count=pair.interval_days)),
        next=service.local(pair.next_due_at) if pair.next_due_at else "—",
    )
    if pair.status != "active":
        text += "\n" + t(context, lang, "pairs.card.ended")
    if card.initiative is not None:
        text += "\n" + t(context, lang, "pairs.notice.initiative", title=card.initiative)
    text += "\n\n" + ("\n".join(history) if history else t(context, lang, "pairs.card.no_history"))
    rows: Rows = []
    if pair.status == "active":
        rows = [
            [
                button(
                    label(context, lang, "pairs.button.nudge"),
                    PairPress(PairAction.NUDGE, pair_id=pair.id),
                ),
                button(
                    label(context, lang, "pairs.button.interval"),
                    PairPress(PairAction.INTERVAL_MENU, pair_id=pair.id),
                ),
            ],
            [
                button(
                    label(context, lang, "pairs.button.repair"),
                    PairPress(PairAction.ASK_REPAIR, pair_id=pair.id),
                ),
                button(
                    label(context, lang, "pairs.button.end"),
                    PairPress(PairAction.ASK_END, pair_id=pair.id),
                ),
            ],
        ]
    return text, rows


async def open_card(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id = data.pair_id
    service = context.services.pairs
    card = await service.card(coord.telegram_id, pair_id)
    if card is None:
        await stale(update, context, lang)
        return
    await reply(update, context, *_card_screen(context, lang, service, card))
    await answer(query)


async def _refresh_card(
    update: Update, context: AppContext, coord: Member, lang: str, pair_id: int
) -> None:
    service = context.services.pairs
    card = await service.card(coord.telegram_id, pair_id)
    if card is not None:
        await show(update, context, *_card_screen(context, lang, service, card))


async def nudge(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id = data.pair_id
    if not await context.services.pairs.nudge(coord.telegram_id, pair_id):
        await stale(update, context, lang)
        return
    await answer(query, t(context, lang, "pairs.nudged"))


async def interval_menu(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id = data.pair_id
    card = await context.services.pairs.card(coord.telegram_id, pair_id) if pair_id else None
    if card is None or card.pair.status != "active":
        await stale(update, context, lang)
        return
    rows: Rows = [
        [
            button(
                label(context, lang, "pairs.button.days", days=d),
                PairPress(PairAction.INTERVAL_SET, pair_id=pair_id, days=d),
            )
            for d in INTERVAL_CHOICES
        ],
        [
            button(
                label(context, lang, "common.button.back"),
                PairPress(PairAction.CARD_BACK, pair_id=pair_id),
            )
        ],
    ]
    await show(update, context, t(context, lang, "pairs.interval.ask"), rows)
    await answer(query)


async def interval_set(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id, days = data.pair_id, data.days
    if not await context.services.pairs.set_interval(coord.telegram_id, pair_id, days):
        await stale(update, context, lang)
        return
    await _refresh_card(update, context, coord, lang, pair_id)
    await answer(query, t(context, lang, "pairs.interval.set", count=days))


async def card_back(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    await _refresh_card(update, context, coord, lang, data.pair_id)
    await answer(query)


async def ask_repair(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    await _ask(update, context, coord, lang, data.pair_id, "repair")


async def ask_end(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    await _ask(update, context, coord, lang, data.pair_id, "ended")


async def _ask(
    update: Update,
    context: AppContext,
    coord: Member,
    lang: str,
    pair_id: int,
    reason: EndReason,
) -> None:
    """Re-pair and end are asked once more before they happen (both gardeners are told)."""
    query = update.callback_query
    assert query is not None
    card = await context.services.pairs.card(coord.telegram_id, pair_id) if pair_id else None
    if card is None or card.pair.status != "active":
        await stale(update, context, lang)
        return
    key, action = (
        ("pairs.repair.ask", PairAction.REPAIR)
        if reason == "repair"
        else ("pairs.end.ask", PairAction.END)
    )
    rows: Rows = [
        [
            button(
                label(context, lang, "common.button.confirm"), PairPress(action, pair_id=pair_id)
            )
        ],
        [
            button(
                label(context, lang, "common.button.back"),
                PairPress(PairAction.CARD_BACK, pair_id=pair_id),
            )
        ],
    ]
    text = t(
        context,
        lang,
        key,
        citizen=card.citizen.display_name,
        technician=card.technician.display_name,
    )
    await show(update, context, text, rows)
    await answer(query)


async def repair(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    await _do(update, context, coord, lang, data.pair_id, "repair")


async def end(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    await _do(update, context, coord, lang, data.pair_id, "ended")


async def _do(
    update: Update,
    context: AppContext,
    coord: Member,
    lang: str,
    pair_id: int,
    reason: EndReason,
) -> None:
    query = update.callback_query
    assert query is not None
    if not await context.services.pairs.end_pair(coord.telegram_id, pair_id, reason):
        await stale(update, context, lang)
        return
    await show(update, context, t(context, lang, f"pairs.{reason}.done"))
    await answer(query)
