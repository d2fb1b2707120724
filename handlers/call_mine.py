"""/mesappels and the member's presses on calls: Je viens, Je ne peux plus venir (on the call,
on its reminder, in the list), Relayer.

The list shows the calls still to come that the member said yes to, soonest first, a page at
a time; each line fits whatever the titles, and each call has its "Je ne peux plus venir".
"""

from __future__ import annotations

from telegram import Update

from bot.context import AppContext
from bot.inputs import TEXT_LIMIT, fit_lines
from bot.services.call_answers import AnswerResult, Outcome
from bot.services.call_buttons import CallAction, CallPress, CallReply
from bot.services.call_mine import MemberCalls
from handlers.common import answer, button, label, onboarded_member, reply, show, stale, t
from storage.calls import Answer, Call
from storage.members import Member
from storage.outbox import Rows

Act = CallAction
MEMBER_ACTIONS = frozenset({Act.ANSWER, Act.RELAY, Act.MINE, Act.WITHDRAW, Act.WITHDRAW_REMINDED})
PAGE = 5
"""Calls per page of /mesappels: five lines and five buttons read well on a phone."""
TITLE_IN_BUTTON = 28

_ANSWERS = {
    Outcome.YES: ("calls.answer.yes", False),
    Outcome.WAITING: ("calls.answer.waiting", True),
    Outcome.NO: ("calls.answer.no", False),
    Outcome.CLOSED: ("calls.answer.closed", True),
    Outcome.CANCELLED: ("calls.answer.cancelled", True),
}


def _mine(context: AppContext) -> MemberCalls:
    return context.services.call_mine


def _line(context: AppContext, lang: str, call: Call, mine: Answer) -> str:
    calls = context.services.calls
    return t(
        context,
        lang,
        f"calls.mine.item_{mine}",
        title=calls.title(call),
        when=calls.local(call.event_at, lang),
        place=call.place,
    )


def mine_screen(
    context: AppContext, lang: str, found: list[tuple[Call, Answer]], page: int
) -> tuple[str, Rows]:
    if not found:
        return t(context, lang, "calls.mine.empty"), []
    pages = (len(found) + PAGE - 1) // PAGE
    page = min(max(page, 0), pages - 1)
    shown = found[page * PAGE : (page + 1) * PAGE]
    header = t(context, lang, "calls.mine.header", count=len(found))
    if pages > 1:
        header += "\n" + t(context, lang, "calls.mine.page", page=page + 1, pages=pages)
    lines, _ = fit_lines(
        [_line(context, lang, call, mine) for call, mine in shown], TEXT_LIMIT - 200
    )
    rows: Rows = []
    for call, _mine_answer in shown:
        title = context.services.calls.title(call)
        if len(title) > TITLE_IN_BUTTON:
            title = title[: TITLE_IN_BUTTON - 1] + "…"
        text = label(context, lang, "calls.button.withdraw_one", title=title)
        rows.append([button(text, CallPress(Act.WITHDRAW, call_id=call.id, page=page))])
    pager = []
    if page > 0:
        pager.append(button("◀️", CallPress(Act.MINE, page=page - 1)))
    if page < pages - 1:
        pager.append(button("▶️", CallPress(Act.MINE, page=page + 1)))
    if pager:
        rows.append(pager)
    return header + "\n\n" + "\n\n".join(lines), rows


async def my_calls(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    found = await _mine(context).upcoming(member.telegram_id)
    await reply(update, context, *mine_screen(context, lang, found, 0))


async def _show_page(
    update: Update, context: AppContext, lang: str, member_id: int, page: int
) -> None:
    found = await _mine(context).upcoming(member_id)
    await show(update, context, *mine_screen(context, lang, found, page))


async def _toast(update: Update, context: AppContext, lang: str, result: AnswerResult) -> None:
    query = update.callback_query
    if query is None:
        return
    if result.outcome is Outcome.SAME:
        await answer(query, t(context, lang, f"calls.answer.same_{result.answer}"))
        return
    key, alert = _ANSWERS.get(result.outcome, ("common.stale", True))
    await answer(query, t(context, lang, key), alert)


async def on_member_press(
    update: Update, context: AppContext, member: Member, lang: str, data: CallPress
) -> None:
    query = update.callback_query
    if query is None:
        return
    mine = _mine(context)
    who, call_id = member.telegram_id, data.call_id
    if data.action is Act.MINE:
        await show(
            update, context, *mine_screen(context, lang, await mine.upcoming(who), data.page)
        )
        await answer(query)
        return
    if data.action is Act.RELAY:
        await _relay(update, context, lang, member, call_id)
        return
    yes = data.action is Act.ANSWER and data.reply is CallReply.YES
    result = await mine.answer(call_id, who, yes)
    if result.outcome is Outcome.UNKNOWN:
        await stale(update, context, lang)
        return
    if data.action is Act.WITHDRAW:
        await show(
            update, context, *mine_screen(context, lang, await mine.upcoming(who), data.page)
        )
    elif data.action is Act.WITHDRAW_REMINDED and result.call is not None:
        await _reminder_done(update, context, lang, result)
    await _toast(update, context, lang, result)


async def _reminder_done(
    update: Update, context: AppContext, lang: str, result: AnswerResult
) -> None:
    """The reminder says the member withdrew, and drops its button."""
    call = result.call
    if call is None or result.outcome not in (Outcome.NO, Outcome.SAME):
        return
    calls = context.services.calls
    text = t(
        context,
        lang,
        "calls.mine.withdrawn",
        title=calls.title(call),
        when=calls.local(call.event_at, lang),
    )
    await show(update, context, text)


async def _relay(
    update: Update, context: AppContext, lang: str, member: Member, call_id: int
) -> None:
    query = update.callback_query
    service = context.services.calls
    found = await service.relay(call_id, member.telegram_id)
    if query is None or found is None:
        await stale(update, context, lang)
        return
    call, code = found
    link = f"https://t.me/{context.bot.username}?start=r-{code}"
    await reply(update, context, service.relay_text(call, lang, link))
    await answer(query)


async def on_button(update: Update, context: AppContext, data: CallPress) -> None:
    member, lang = await onboarded_member(update, context)
    if member is not None:
        await on_member_press(update, context, member, lang, data)
