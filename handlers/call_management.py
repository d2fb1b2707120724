"""/appels: the coordinator's calls, each call's volunteers, and close, cancel, remind.

The detail screen stays within Telegram's 4,096 units whatever the names: it shows as many
volunteers as fit, says how many more there are, and offers the complete list as a file.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InputFile, Update

from bot.context import AppContext
from bot.inputs import TEXT_LIMIT, utf16_len
from bot.services.call_buttons import CallAction, CallPress
from bot.services.call_management import CallDetail, CallManagement
from bot.services.calls import CallCounts
from bot.texts import Raw
from handlers.common import answer, button, label, reply, show, stale, t
from storage.calls import Call, Volunteer
from storage.members import Member
from storage.outbox import Rows

Act = CallAction
MANAGE_ACTIONS = frozenset(
    {Act.LIST, Act.VIEW, Act.REMIND, Act.CLOSE, Act.ASK_CANCEL, Act.CANCEL, Act.FULL_LIST}
)
VOLUNTEERS_SHOWN = 60


def _on(action: CallAction, call_id: int) -> CallPress:
    return CallPress(action, call_id=call_id)


def _manager(context: AppContext) -> CallManagement:
    return context.services.call_management


def _list_screen(
    context: AppContext, lang: str, calls: Sequence[tuple[Call, CallCounts]]
) -> tuple[str, Rows]:
    service = context.services.calls
    if not calls:
        return t(context, lang, "calls.list.empty"), []
    lines = [t(context, lang, "calls.list.header")]
    rows: Rows = []
    for call, counts in calls:
        lines.append(
            t(
                context,
                lang,
                "calls.list.item",
                id=call.id,
                title=service.title(call),
                when=service.local(call.event_at, lang),
                status=t(context, lang, f"calls.status.{call.status}"),
                yes=counts.yes,
                needed=call.needed,
            )
        )
        rows.append([button(f"#{call.id} · {service.title(call)[:40]}", _on(Act.VIEW, call.id))])
    return "\n\n".join(lines), rows


def _people(context: AppContext, lang: str, people: Sequence[Volunteer], shown: int) -> Raw:
    lines = _manager(context).volunteer_lines(people[:shown])
    if len(people) > shown:
        lines.append(t(context, lang, "calls.more", count=len(people) - shown))
    return Raw("\n".join(lines) or "—")


def _detail_text(
    context: AppContext, lang: str, detail: CallDetail, shown: tuple[int, int]
) -> str:
    service = context.services.calls
    call, c = detail.call, detail.counts
    return t(
        context,
        lang,
        "calls.detail",
        id=call.id,
        title=service.title(call),
        place=call.place,
        when=service.local(call.event_at, lang),
        deadline=service.local(call.deadline_at, lang),
        status=t(context, lang, f"calls.status.{call.status}"),
        recipients=c.recipients,
        sent=c.sent,
        failed=c.failed,
        blocked=c.blocked,
        yes=c.yes,
        needed=call.needed,
        no=c.no,
        waiting=c.waiting,
        volunteers=_people(context, lang, detail.volunteers, shown[0]),
        waiting_list=_people(context, lang, detail.waiting, shown[1]),
    )


def fit_detail(context: AppContext, lang: str, detail: CallDetail) -> tuple[str, bool]:
    """The detail text with as many names as fit in one message, and whether some were
    left out (long names, long lists)."""
    yes = min(len(detail.volunteers), VOLUNTEERS_SHOWN)
    waiting = min(len(detail.waiting), VOLUNTEERS_SHOWN)
    while True:
        text = _detail_text(context, lang, detail, (yes, waiting))
        if utf16_len(text) <= TEXT_LIMIT or yes + waiting == 0:
            cut = yes < len(detail.volunteers) or waiting < len(detail.waiting)
            return text, cut
        if waiting >= yes:
            waiting = max(0, waiting - 5)
        else:
            yes = max(0, yes - 5)


async def _detail_screen(
    context: AppContext, lang: str, call_id: int, coord: Member
) -> tuple[str, Rows] | None:
    manager = _manager(context)
    detail = await manager.detail(call_id, coord.telegram_id)
    if detail is None:
        return None
    call = detail.call
    text, cut = fit_detail(context, lang, detail)
    rows: Rows = []
    if cut:
        rows.append(
            [button(label(context, lang, "calls.button.full_list"), _on(Act.FULL_LIST, call.id))]
        )
    if call.status in ("open", "complete"):
        rows.append(
            [
                button(label(context, lang, "calls.button.remind"), _on(Act.REMIND, call.id)),
                button(label(context, lang, "calls.button.close"), _on(Act.CLOSE, call.id)),
            ]
        )
    elif call.status == "closed" and call.event_at > manager.clock.now():
        rows.append(
            [button(label(context, lang, "calls.button.remind"), _on(Act.REMIND, call.id))]
        )
    if manager.cancellable(call):
        rows.append(
            [
                button(
                    label(context, lang, "calls.button.cancel_call"), _on(Act.ASK_CANCEL, call.id)
                )
            ]
        )
    rows.append([button(label(context, lang, "common.button.back"), CallPress(Act.LIST))])
    return text, rows


async def _cancel_screen(
    context: AppContext, lang: str, call_id: int, coord: Member
) -> tuple[str, Rows] | None:
    manager = _manager(context)
    detail = await manager.detail(call_id, coord.telegram_id)
    if detail is None or not manager.cancellable(detail.call):
        return None
    waiting = detail.counts.waiting if detail.call.status != "closed" else 0  # told already
    count = detail.counts.yes + waiting
    key = "calls.cancel_confirm" if count else "calls.cancel_confirm_nobody"
    title = context.services.calls.title(detail.call)
    text = t(context, lang, key, title=title, count=count)
    rows: Rows = [
        [button(label(context, lang, "calls.button.cancel_confirm"), _on(Act.CANCEL, call_id))],
        [button(label(context, lang, "common.button.back"), _on(Act.VIEW, call_id))],
    ]
    return text, rows


async def _send_full_list(
    update: Update, context: AppContext, lang: str, call_id: int, coord: Member
) -> bool:
    detail = await _manager(context).detail(call_id, coord.telegram_id)
    chat = update.effective_chat
    if detail is None or chat is None:
        return False

    def block(key: str, people: Sequence[Volunteer]) -> str:
        names = [p.display_name + (f" (@{p.username})" if p.username else "") for p in people]
        return "\n".join([label(context, lang, key), *names, ""])

    content = (
        block("calls.file.volunteers", detail.volunteers)
        + "\n"
        + block("calls.file.waiting", detail.waiting)
    )
    await context.bot.send_document(
        chat.id,
        InputFile(content.encode(), filename=f"appel-{call_id}.txt"),
        caption=t(context, lang, "calls.file.caption", id=call_id),
    )
    return True


async def list_calls(update: Update, context: AppContext, coord: Member, lang: str) -> None:
    calls = await _manager(context).list_calls(coord.telegram_id)
    if calls is None:
        return
    await reply(update, context, *_list_screen(context, lang, calls))


async def on_manage_button(
    update: Update,
    context: AppContext,
    coord: Member,
    lang: str,
    data: CallPress,
) -> None:
    query = update.callback_query
    if query is None:
        return
    manager = _manager(context)
    action = data.action
    if action is Act.LIST:
        calls = await manager.list_calls(coord.telegram_id)
        if calls is None:
            await stale(update, context, lang)
            return
        await show(update, context, *_list_screen(context, lang, calls))
        await answer(query)
        return
    call_id = data.call_id
    note: str | None = None
    if action is Act.FULL_LIST:
        if not await _send_full_list(update, context, lang, call_id, coord):
            await stale(update, context, lang)
            return
        await answer(query)
        return
    if action is Act.CLOSE:
        if await manager.close(call_id, coord.telegram_id) is None:
            await stale(update, context, lang)
            return
        note = t(context, lang, "calls.closed_done")
    elif action is Act.ASK_CANCEL:
        # Cancelling tells everyone who answered: one more tap to be sure.
        confirm = await _cancel_screen(context, lang, call_id, coord)
        if confirm is None:
            await stale(update, context, lang)
            return
        await show(update, context, *confirm)
        await answer(query)
        return
    elif action is Act.CANCEL:
        if await manager.cancel(call_id, coord.telegram_id) is None:
            await stale(update, context, lang)
            return
        note = t(context, lang, "calls.cancel_done")
    elif action is Act.REMIND:
        count = await manager.remind(call_id, coord.telegram_id)
        if count is None:
            await stale(update, context, lang)
            return
        note = t(context, lang, "calls.remind_done", count=count)
    screen = await _detail_screen(context, lang, call_id, coord)
    if screen is None:
        await stale(update, context, lang)
        return
    await show(update, context, *screen)
    await answer(query, note)
