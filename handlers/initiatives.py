"""/proposer and /mesinitiatives (the proposal draft, a member's own proposals), and the
routing of every initiative button (flow 3).

Browsing, supports and stages live in handlers/initiative_browsing.py; the coordinators'
moderation queue in handlers/moderation.py, under the same prefix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.callbacks import Pick
from bot.context import AppContext
from bot.inputs import echo
from bot.services.initiatives import (
    FLOW,
    LIMITS,
    NEEDS,
    OTHER_TERRITORY,
    DraftView,
    InitiativeAction,
    InitiativePress,
    Outcome,
    Step,
)
from handlers.common import (
    Routes,
    answer,
    button,
    current_member,
    denied,
    label,
    language_for,
    onboarded_member,
    reply,
    show,
    stale,
    t,
    your_text,
)
from handlers.initiative_browsing import (
    Filter,
    Handled,
    browse,
    browse_page,
    gardener_press,
    open_detail,
    pick_filter,
    press,
    stage_press,
)
from storage.conversations import Conversation
from storage.initiatives import Initiative
from storage.members import Member
from storage.outbox import Rows

# Shown back so the member can shorten it, but the whole message must stay under 4096.
OnHandled = Callable[[Update, AppContext, Member, str, InitiativePress], Awaitable[Handled]]
Act = InitiativeAction


_PROMPTS = {
    Step.TITLE: "initiatives.ask.title",
    Step.DESCRIPTION: "initiatives.ask.description",
    Step.THEME: "initiatives.ask.theme",
    Step.TERRITORY: "initiatives.ask.territory",
    Step.NEEDS: "initiatives.ask.needs",
}


# --- the proposal draft --------------------------------------------------------------------


def _draft(
    action: InitiativeAction,
    step: Step = Step.PREVIEW,
    theme: Filter = Pick.ALL,
    territory: Filter = Pick.ALL,
    need: str = "",
) -> InitiativePress:
    return InitiativePress(action, step=step, theme=theme, territory=territory, need=need)


def draft_screen(context: AppContext, lang: str, view: DraftView) -> tuple[str, Rows]:
    service = context.services.initiatives
    settings = context.services.settings
    cancel = [button(label(context, lang, "common.button.cancel"), _draft(Act.CANCEL_DRAFT))]
    rows: Rows = []
    if view.step is Step.PREVIEW:
        text = (
            t(context, lang, "initiatives.preview")
            + "\n\n"
            + service.draft_card(lang, view.values)
        )
        rows = [[button(label(context, lang, "initiatives.button.submit"), _draft(Act.SUBMIT))]]
        for step in (Step.TITLE, Step.DESCRIPTION, Step.THEME, Step.TERRITORY, Step.NEEDS):
            key = f"initiatives.button.edit_{step}"
            rows.append([button(label(context, lang, key), _draft(Act.EDIT, step=step))])
        rows.append(cancel)
    else:
        text = t(context, lang, _PROMPTS[view.step], limit=LIMITS.get(view.step, 0))
        current = view.values.get(str(view.step)) if view.values.get("editing") else None
        if isinstance(current, str) and current:
            # Editing a field: the current text, to copy and change rather than retype.
            text += "\n\n" + t(context, lang, "initiatives.current_text", text=echo(current))
        if view.step is Step.THEME:
            themes = enumerate(settings.themes)
            rows = [[button(name, _draft(Act.THEME, theme=i))] for i, name in themes]
        elif view.step is Step.TERRITORY:
            places = enumerate(settings.territories)
            rows = [[button(name, _draft(Act.TERRITORY, territory=i))] for i, name in places]
            other = service.territory_label(lang, OTHER_TERRITORY)
            rows.append([button(other, _draft(Act.TERRITORY, territory=Pick.OTHER))])
        elif view.step is Step.NEEDS:
            for need in NEEDS:
                mark = "✅ " if need in view.needs else "▫️ "
                need_label = label(context, lang, f"initiatives.need.{need}")
                rows.append([button(mark + need_label, _draft(Act.NEED, need=need))])
            rows.append(
                [button(label(context, lang, "common.button.confirm"), _draft(Act.NEEDS_DONE))]
            )
        rows.append(cancel)
    if view.error:
        error = t(context, lang, view.error, limit=view.limit)
        if view.kept_text:
            error += "\n\n" + your_text(context, lang, view.kept_text)
        text = error + "\n\n" + text
    return text, rows


async def render_draft(update: Update, context: AppContext, lang: str, view: DraftView) -> None:
    text, rows = draft_screen(context, lang, view)
    if update.callback_query is not None and not view.error:
        await show(update, context, text, rows)
    else:
        await reply(update, context, text, rows)


async def propose(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    result = await context.services.initiatives.open_draft(member.telegram_id)
    if result.outcome is Outcome.TOO_MANY:
        await reply(update, context, t(context, lang, "initiatives.too_many", count=result.limit))
        return
    if result.draft is None:
        await denied(update, context, lang)
        return
    if result.resumed:
        await reply(update, context, t(context, lang, "initiatives.resume"))
    else:
        await reply(update, context, t(context, lang, "initiatives.intro"))
    await render_draft(update, context, lang, result.draft)


async def on_draft_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    lang = language_for(context, member, update.effective_user)
    service = context.services.initiatives
    if message is None:
        return
    if message.text is None:
        view = await service.draft(member.telegram_id)
        if view is None:
            await reply(update, context, t(context, lang, "common.nothing_expected"))
            return
        view.error = (
            "common.text_expected" if view.step in LIMITS else "initiatives.error.use_buttons"
        )
        await render_draft(update, context, lang, view)
        return
    found = await service.type_text(member.telegram_id, message.text)
    if found is None:
        await reply(update, context, t(context, lang, "common.nothing_expected"))
        return
    await render_draft(update, context, lang, found)


async def _draft_action(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    service = context.services.initiatives
    member_id = member.telegram_id
    view: DraftView | None = None
    if data.action is Act.THEME and isinstance(data.theme, int):
        view = await service.choose(member_id, Step.THEME, data.theme)
    elif data.action is Act.TERRITORY and data.territory is not Pick.ALL:
        index = data.territory if isinstance(data.territory, int) else None
        view = await service.choose(member_id, Step.TERRITORY, index)
    elif data.action is Act.NEED:
        view = await service.toggle_need(member_id, data.need)
    elif data.action is Act.NEEDS_DONE:
        view = await service.confirm_needs(member_id)
    elif data.action is Act.EDIT:
        view = await service.edit(member_id, data.step)
    if view is None:
        return False
    await render_draft(update, context, lang, view)
    return True


async def _submit(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> None:
    query = update.callback_query
    assert query is not None
    result = await context.services.initiatives.submit(member.telegram_id)
    if result.outcome is Outcome.TOO_MANY:
        await reply(update, context, t(context, lang, "initiatives.too_many", count=result.limit))
        await answer(query)
        return
    if result.outcome is not Outcome.DONE:
        await stale(update, context, lang)
        return
    await show(update, context, t(context, lang, "initiatives.submitted"))
    await answer(query)


async def _cancel(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> None:
    query = update.callback_query
    assert query is not None
    service = context.services.initiatives
    if await service.cancel_draft(member.telegram_id):
        await show(update, context, t(context, lang, "common.cancelled"))
        await answer(query)
        return
    await stale(update, context, lang)


# --- the member's own proposals ------------------------------------------------------------


def _status_line(context: AppContext, lang: str, item: Initiative) -> str:
    service = context.services.initiatives
    status = t(context, lang, f"initiatives.status.{item.status}")
    if item.status == "published":
        status += " · " + service.stage_label(lang, item.stage)
    line = t(context, lang, "initiatives.mine_line", title=item.title, status=status)
    if item.status in ("changes", "declined") and item.moderation_message:
        key = f"initiatives.mine_{item.status}"
        line += "\n" + t(context, lang, key, message=item.moderation_message)
    return line


async def my_initiatives(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    items = await context.services.initiatives.mine(member.telegram_id)
    if not items:
        await reply(update, context, t(context, lang, "initiatives.mine_empty"))
        return
    lines = [_status_line(context, lang, item) for item in items]
    rows: Rows = []
    for item in items:
        if item.status == "changes":
            text = label(context, lang, "initiatives.button.edit_item", title=item.title[:40])
            rows.append([button(text, press(Act.REOPEN, item.id))])
        elif item.status == "published":
            rows.append([button("🔎 " + item.title[:40], press(Act.OPEN, item.id))])
    text = t(context, lang, "initiatives.mine_title") + "\n\n" + "\n\n".join(lines)
    await reply(update, context, text, rows)


# --- buttons -------------------------------------------------------------------------------


async def _reopen(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    view = await context.services.initiatives.reopen(member.telegram_id, data.initiative_id)
    if view is None:
        return False
    text, rows = draft_screen(context, lang, view)
    await reply(update, context, text, rows)
    return True


ANSWERED: Routes[InitiativePress] = {Act.SUBMIT: _submit, Act.CANCEL_DRAFT: _cancel}
"""Presses whose handler answers the press itself."""
ROUTES: dict[InitiativeAction, OnHandled] = {
    Act.THEME: _draft_action,
    Act.TERRITORY: _draft_action,
    Act.NEED: _draft_action,
    Act.NEEDS_DONE: _draft_action,
    Act.EDIT: _draft_action,
    Act.BROWSE: browse_page,
    Act.FILTER_TERRITORY: pick_filter,
    Act.FILTER_THEME: pick_filter,
    Act.OPEN: open_detail,
    Act.SUPPORT: open_detail,
    Act.PARTICIPATE: open_detail,
    Act.SET_STAGE: stage_press,
    Act.PROPOSE_STAGE: stage_press,
    Act.REFUSE_STAGE: stage_press,
    Act.GARDENER_YES: gardener_press,
    Act.GARDENER_NO: gardener_press,
    Act.REOPEN: _reopen,
}
"""Presses answered here: stale when their handler returns False, an alert for a text."""


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = InitiativePress.parse(query.data)
    member, lang = await current_member(update, context)
    if data is None or member is None:
        await stale(update, context, lang)
        return
    if member.onboarded_at is None:
        await answer(query, t(context, lang, "common.start_first"), True)
        return
    if data.action in ANSWERED:
        await ANSWERED[data.action](update, context, member, lang, data)
        return
    handled = await ROUTES[data.action](update, context, member, lang, data)
    if handled is False:
        await stale(update, context, lang)
        return
    if isinstance(handled, str):
        await answer(query, handled, alert=True)
        return
    await answer(query)


async def resume_draft(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    view = await context.services.initiatives.draft(member.telegram_id)
    if view is not None:
        await render_draft(
            update, context, language_for(context, member, update.effective_user), view
        )


INPUTS = {FLOW: on_draft_input}
RESUMES = {FLOW: resume_draft}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("proposer", propose, filters=private),
        CommandHandler("mesinitiatives", my_initiatives, filters=private),
        CommandHandler("initiatives", browse, filters=private),
        CallbackQueryHandler(on_button, pattern=InitiativePress.pattern()),
    ]
