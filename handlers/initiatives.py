"""/proposer, /mesinitiatives and /initiatives: proposing, browsing, supporting, stages (flow 3).

The coordinators' moderation queue lives in handlers/moderation.py, under the same prefix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

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
    BrowsePage,
    Detail,
    DraftView,
    InitiativeAction,
    InitiativePress,
    InitiativeService,
    Outcome,
    Step,
)
from bot.texts import Raw
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
from storage.conversations import Conversation
from storage.initiatives import Initiative, SupportKind
from storage.members import Member
from storage.outbox import Button, Rows

Filter = int | Pick
"""A list filter as buttons carry it: an index into the settings' list, or a Pick."""
# Shown back so the member can shorten it, but the whole message must stay under 4096.
# What a press helper did: False = does not apply (stale), True = done, str = alert to show.
Handled = bool | str
OnHandled = Callable[[Update, AppContext, Member, str, InitiativePress], Awaitable[Handled]]
Act = InitiativeAction


class Position(NamedTuple):
    """Where in the list a detail screen was opened from, to go back there."""

    territory: Filter = Pick.ALL
    theme: Filter = Pick.ALL
    page: int = 0

    @classmethod
    def of(cls, data: InitiativePress) -> Position:
        return cls(data.territory, data.theme, data.page)


def press(
    action: InitiativeAction, initiative_id: int = 0, at: Position | None = None
) -> InitiativePress:
    """A list or detail button: the initiative (if any) and the list position it keeps."""
    at = at or Position()
    return InitiativePress(
        action, initiative_id=initiative_id, territory=at.territory, theme=at.theme, page=at.page
    )


_PROMPTS = {
    Step.TITLE: "initiatives.ask.title",
    Step.DESCRIPTION: "initiatives.ask.description",
    Step.THEME: "initiatives.ask.theme",
    Step.TERRITORY: "initiatives.ask.territory",
    Step.NEEDS: "initiatives.ask.needs",
}


def service_of(context: AppContext) -> InitiativeService:
    return context.services.initiatives


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
    service = service_of(context)
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
    result = await service_of(context).open_draft(member.telegram_id)
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
    service = service_of(context)
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
    service = service_of(context)
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
    result = await service_of(context).submit(member.telegram_id)
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
    service = service_of(context)
    if await service.cancel_draft(member.telegram_id):
        await show(update, context, t(context, lang, "common.cancelled"))
        await answer(query)
        return
    await stale(update, context, lang)


# --- the member's own proposals ------------------------------------------------------------


def _status_line(context: AppContext, lang: str, item: Initiative) -> str:
    service = service_of(context)
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
    items = await service_of(context).mine(member.telegram_id)
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


# --- browsing, supports and stages ----------------------------------------------------------


def _filter_value(options: list[str], value: Filter, other: bool = False) -> str | None:
    """A filter's meaning: None for all, an option of `options`, or autre when `other`."""
    if value is Pick.ALL:
        return None
    if value is Pick.OTHER and other:
        return OTHER_TERRITORY
    if not isinstance(value, int) or not 0 <= value < len(options):
        raise ValueError(value)
    return options[value]


def list_screen(
    context: AppContext, lang: str, found: BrowsePage, territory: Filter, theme: Filter
) -> tuple[str, Rows]:
    service = service_of(context)
    settings = context.services.settings
    territory_name = _filter_value(settings.territories, territory, other=True)
    theme_name = _filter_value(settings.themes, theme)
    text = t(
        context,
        lang,
        "initiatives.browse_head",
        territory=service.territory_label(lang, territory_name)
        if territory_name
        else t(context, lang, "initiatives.filter.all"),
        theme=theme_name or t(context, lang, "initiatives.filter.all"),
        page=found.page + 1,
        pages=found.pages,
    )
    rows: Rows = []
    if not found.items:
        text += "\n\n" + t(context, lang, "initiatives.browse_empty")
    for item in found.items:
        text += "\n\n" + t(
            context,
            lang,
            "initiatives.browse_line",
            title=item.title,
            stage=service.stage_label(lang, item.stage),
            territory=service.territory_label(lang, item.territory),
            needs=service.needs_label(lang, item.needs),
            supporters=item.supporters,
        )
        here = Position(territory, theme, found.page)
        rows.append([button("🔎 " + item.title[:40], press(Act.OPEN, item.id, here))])
    nav: list[Button] = []
    if found.page > 0:
        prev = label(context, lang, "common.button.previous")
        nav.append(button(prev, press(Act.BROWSE, at=Position(territory, theme, found.page - 1))))
    if found.page + 1 < found.pages:
        nxt = label(context, lang, "common.button.next")
        nav.append(button(nxt, press(Act.BROWSE, at=Position(territory, theme, found.page + 1))))
    if nav:
        rows.append(nav)
    rows.append(
        [
            button(
                label(context, lang, "initiatives.button.filter_territory"),
                press(Act.FILTER_TERRITORY, at=Position(theme=theme)),
            ),
            button(
                label(context, lang, "initiatives.button.filter_theme"),
                press(Act.FILTER_THEME, at=Position(territory=territory)),
            ),
        ]
    )
    return text, rows


def filter_screen(
    context: AppContext, lang: str, kind: InitiativeAction, other: Filter
) -> tuple[str, Rows]:
    """Pick a territory (keeping the theme filter `other`) or a theme (keeping the territory)."""
    settings = context.services.settings
    service = service_of(context)
    everything = label(context, lang, "initiatives.filter.all")
    if kind is Act.FILTER_TERRITORY:
        places: list[tuple[str, Filter]] = [(n, i) for i, n in enumerate(settings.territories)]
        places.append((service.territory_label(lang, OTHER_TERRITORY), Pick.OTHER))
        places.append((everything, Pick.ALL))
        rows = [[button(name, press(Act.BROWSE, at=Position(i, other)))] for name, i in places]
        return t(context, lang, "initiatives.filter.pick_territory"), rows
    themes: list[tuple[str, Filter]] = [(n, i) for i, n in enumerate(settings.themes)]
    themes.append((everything, Pick.ALL))
    rows = [[button(name, press(Act.BROWSE, at=Position(other, i)))] for name, i in themes]
    return t(context, lang, "initiatives.filter.pick_theme"), rows


async def browse(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    found = await service_of(context).browse(None, None, 0)
    text, rows = list_screen(context, lang, found, Pick.ALL, Pick.ALL)
    await reply(update, context, text, rows)


def detail_screen(
    context: AppContext, lang: str, found: Detail, back: Position
) -> tuple[str, Rows]:
    service = service_of(context)
    item = found.initiative
    text = (
        service.card(lang, item)
        + "\n\n"
        + t(
            context,
            lang,
            "initiatives.detail_counts",
            stage=service.stage_label(lang, item.stage),
            supporters=Raw(
                t(context, lang, "initiatives.count.supporters", count=item.supporters)
            ),
            participants=Raw(
                t(context, lang, "initiatives.count.participants", count=item.participants)
            ),
        )
    )
    rows: Rows = []
    if item.status == "published" and not found.is_author and found.next_stages:
        for kind, action in (("support", Act.SUPPORT), ("participate", Act.PARTICIPATE)):
            mark = "✅ " if kind in found.mine else ""
            text_label = mark + label(context, lang, f"initiatives.button.{kind}")
            rows.append([button(text_label, press(action, item.id, back))])
    if found.is_author:
        if item.proposed_stage:
            text += "\n" + t(
                context,
                lang,
                "initiatives.stage_waiting",
                stage=service.stage_label(lang, item.proposed_stage),
            )
        for stage in found.next_stages:
            name = service.stage_label(lang, stage)
            key = "initiatives.button.propose_stage"
            rows.append(
                [
                    button(
                        label(context, lang, key, stage=name),
                        _stage(Act.PROPOSE_STAGE, item.id, stage),
                    )
                ]
            )
    if found.is_coordinator:
        for stage in found.next_stages:
            name = service.stage_label(lang, stage)
            key = "initiatives.button.set_stage"
            rows.append(
                [
                    button(
                        label(context, lang, key, stage=name),
                        _stage(Act.SET_STAGE, item.id, stage),
                    )
                ]
            )
    rows.append([button(label(context, lang, "common.button.back"), press(Act.BROWSE, at=back))])
    return text, rows


def _stage(action: InitiativeAction, initiative_id: int, stage: str) -> InitiativePress:
    return InitiativePress(action, initiative_id=initiative_id, stage=stage)


async def _browse(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    """A list page, with its territory and theme filters."""
    settings = context.services.settings
    try:
        territory = _filter_value(settings.territories, data.territory, other=True)
        theme = _filter_value(settings.themes, data.theme)
    except ValueError:
        return False
    found = await service_of(context).browse(territory, theme, data.page)
    text, rows = list_screen(context, lang, found, data.territory, data.theme)
    await show(update, context, text, rows)
    return True


async def _filter(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    """The choice of a territory (keeping the theme filter) or of a theme (keeping the other)."""
    settings = context.services.settings
    try:
        if data.action is Act.FILTER_TERRITORY:
            _filter_value(settings.themes, data.theme)
            other = data.theme
        else:
            _filter_value(settings.territories, data.territory, other=True)
            other = data.territory
    except ValueError:
        return False
    text, rows = filter_screen(context, lang, data.action, other)
    await show(update, context, text, rows)
    return True


async def _detail(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    """Open an initiative, or support it / take part (a second tap takes it back)."""
    service = service_of(context)
    if data.action is Act.OPEN:
        detail = await service.detail(member.telegram_id, data.initiative_id)
    else:
        kind: SupportKind = "support" if data.action is Act.SUPPORT else "participate"
        detail = await service.toggle_support(member.telegram_id, data.initiative_id, kind)
        if detail is not None and detail.outcome is Outcome.DENIED:
            return t(context, lang, "initiatives.own")
        if detail is not None and detail.outcome is Outcome.STALE:
            return t(context, lang, "initiatives.closed")
    if detail is None:
        return False
    text, rows = detail_screen(context, lang, detail, Position.of(data))
    await show(update, context, text, rows)
    return True


async def _stage_action(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    service = service_of(context)
    initiative_id = data.initiative_id
    if data.action is Act.SET_STAGE:
        if not member.is_coordinator:
            return t(context, lang, "common.denied")
        detail = await service.set_stage(member.telegram_id, initiative_id, data.stage)
    elif data.action is Act.PROPOSE_STAGE:
        detail = await service.propose_stage(member.telegram_id, initiative_id, data.stage)
        if detail is not None:
            text, rows = detail_screen(context, lang, detail, Position())
            await show(update, context, text, rows)
            return t(context, lang, "initiatives.stage_proposed")
    else:
        if not member.is_coordinator:
            return t(context, lang, "common.denied")
        detail = await service.refuse_stage(member.telegram_id, initiative_id)
    if detail is None:
        return False
    text, rows = detail_screen(context, lang, detail, Position())
    await show(update, context, text, rows)
    return True


async def _gardener(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    accept = data.action is Act.GARDENER_YES
    service = service_of(context)
    outcome = await service.answer_gardener(member.telegram_id, data.initiative_id, accept)
    if outcome is Outcome.STALE:
        return False
    if outcome is Outcome.ALREADY:
        key = "initiatives.gardener.already"
    elif not accept:
        key = "initiatives.gardener.declined"
    elif member.is_citizen_gardener:  # read before the answer: nothing new to announce
        key = "initiatives.gardener.accepted_again"
    else:
        key = "initiatives.gardener.accepted"
    await show(update, context, t(context, lang, key))
    return True


async def _reopen(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    view = await service_of(context).reopen(member.telegram_id, data.initiative_id)
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
    Act.BROWSE: _browse,
    Act.FILTER_TERRITORY: _filter,
    Act.FILTER_THEME: _filter,
    Act.OPEN: _detail,
    Act.SUPPORT: _detail,
    Act.PARTICIPATE: _detail,
    Act.SET_STAGE: _stage_action,
    Act.PROPOSE_STAGE: _stage_action,
    Act.REFUSE_STAGE: _stage_action,
    Act.GARDENER_YES: _gardener,
    Act.GARDENER_NO: _gardener,
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
    view = await service_of(context).draft(member.telegram_id)
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
