"""Pairing by hand, from /binomes: a citizen gardener the matcher could not pair, and the
technicians to choose from, a page of buttons at a time, each with their load and capacity."""

from __future__ import annotations

from telegram import Update

from bot.context import AppContext
from bot.inputs import utf16_cut
from bot.services.pairs import (
    ConfirmOutcome,
    ManualChoices,
    PairAction,
    PairPress,
    UnmatchedLine,
)
from handlers.common import answer, button, label, reply, show, stale, t
from storage.members import Member
from storage.outbox import Button, Rows

# Citizens offered a "choose for" button under the list of those without a possible pair.
SHOWN_BUTTONS = 10
# A button shows the technician's territories up to this many characters.
TERRITORIES_SHOWN = 30


def choose_rows(context: AppContext, lang: str, unmatched: list[UnmatchedLine]) -> Rows:
    return [
        [
            button(
                label(context, lang, "pairs.button.choose_for", name=u.citizen.display_name),
                PairPress(PairAction.PICK_TECHNICIAN, citizen_id=u.citizen.telegram_id),
            )
        ]
        for u in unmatched[:SHOWN_BUTTONS]
    ]


def _choices_screen(context: AppContext, lang: str, view: ManualChoices) -> tuple[str, Rows]:
    citizen = view.citizen
    text = t(
        context,
        lang,
        "pairs.manual.title",
        name=citizen.display_name,
        territory=citizen.territory or "—",
        themes=", ".join(citizen.themes) or "—",
    )
    if not view.choices:
        return text + "\n\n" + t(context, lang, "pairs.manual.nobody"), []
    rows: Rows = []
    for choice in view.choices:
        key = "pairs.manual.choice_full" if choice.full else "pairs.manual.choice"
        places = utf16_cut(", ".join(choice.territories) or "—", TERRITORIES_SHOWN)
        text_ = label(
            context,
            lang,
            key,
            name=choice.technician.display_name,
            load=choice.load,
            capacity=choice.capacity,
            territories=places,
        )
        press = PairPress(
            PairAction.MANUAL_MATCH,
            citizen_id=citizen.telegram_id,
            technician_id=choice.technician.telegram_id,
        )
        rows.append([button(text_, press)])
    nav: list[Button] = []
    for step, key in ((-1, "common.button.previous"), (1, "common.button.next")):
        if 0 <= view.page + step < view.pages:
            # Pages are counted from 1 in the button: 0 is the press from the /binomes list.
            press = PairPress(
                PairAction.PICK_TECHNICIAN,
                citizen_id=citizen.telegram_id,
                page=view.page + step + 1,
            )
            nav.append(button(label(context, lang, key), press))
    if nav:
        rows.append(nav)
    if view.pages > 1:
        text += "\n" + t(context, lang, "pairs.manual.page", page=view.page + 1, pages=view.pages)
    return text, rows


async def pick_technician(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    service = context.services.pairs
    page = max(data.page - 1, 0)
    view = await service.technician_choices(coord.telegram_id, data.citizen_id, page)
    if view is None:
        await stale(update, context, lang)
        return
    # From the /binomes list: a new message, so the list stays for the next citizen.
    if data.page == 0:
        await reply(update, context, *_choices_screen(context, lang, view))
    else:
        await show(update, context, *_choices_screen(context, lang, view))
    await answer(query)


async def manual_match(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    service = context.services.pairs
    done = await service.confirm_manual(coord.telegram_id, data.citizen_id, data.technician_id)
    if done.outcome is ConfirmOutcome.CREATED:
        people = await service.member_repo.get_many([data.citizen_id, data.technician_id])
        citizen, tech = people.get(data.citizen_id), people.get(data.technician_id)
        text = t(
            context,
            lang,
            "pairs.manual.done",
            citizen=citizen.display_name if citizen else "—",
            technician=tech.display_name if tech else "—",
        )
        await show(update, context, text)
        await answer(query, t(context, lang, "pairs.confirm.created"))
        return
    if done.outcome is ConfirmOutcome.STALE:
        await stale(update, context, lang)
        return
    # Full, paired meanwhile, or gone: say why, and leave the list as it is.
    await answer(query, t(context, lang, f"pairs.confirm.{done.outcome.value}"), alert=True)
