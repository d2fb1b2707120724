"""/proposer, /mesinitiatives and /initiatives: proposing, browsing, supporting, stages (flow 3).

The coordinators' moderation queue lives in handlers/moderation.py, under the same prefix.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.initiatives import (
    FLOW,
    LIMITS,
    NEEDS,
    OTHER_TERRITORY,
    PREFIX,
    BrowsePage,
    Detail,
    DraftView,
    InitiativeService,
    Outcome,
    Step,
)
from bot.texts import Raw
from handlers.common import (
    Cb,
    answer,
    cb,
    current_member,
    denied,
    label,
    language_for,
    onboarded_member,
    parse_cb,
    pattern,
    reply,
    show,
    stale,
    t,
    your_text,
)
from storage.conversations import Conversation
from storage.initiatives import Initiative, SupportKind
from storage.members import Member

FEATURE = PREFIX  # callback prefix, shared with the buttons the service queues
Rows = list[list[tuple[str, str]]]
ALL = "-"
# Shown back so the member can shorten it, but the whole message must stay under 4096.
# What a press helper did: False = does not apply (stale), True = done, str = alert to show.
Handled = bool | str

_PROMPTS = {
    Step.TITLE: "initiatives.ask.title",
    Step.DESCRIPTION: "initiatives.ask.description",
    Step.THEME: "initiatives.ask.theme",
    Step.TERRITORY: "initiatives.ask.territory",
    Step.NEEDS: "initiatives.ask.needs",
}


def service_of(context: AppContext) -> InitiativeService:
    service = context.services.initiatives
    if service is None:
        raise RuntimeError("initiatives service not built")
    return service


# --- the proposal draft --------------------------------------------------------------------


def draft_screen(context: AppContext, lang: str, view: DraftView) -> tuple[str, Rows]:
    service = service_of(context)
    settings = context.services.settings
    cancel = [(label(context, lang, "common.button.cancel"), cb(FEATURE, "cx"))]
    rows: Rows = []
    if view.step is Step.PREVIEW:
        text = (
            t(context, lang, "initiatives.preview")
            + "\n\n"
            + service.draft_card(lang, view.values)
        )
        rows = [[(label(context, lang, "initiatives.button.submit"), cb(FEATURE, "sub"))]]
        for step in (Step.TITLE, Step.DESCRIPTION, Step.THEME, Step.TERRITORY, Step.NEEDS):
            key = f"initiatives.button.edit_{step}"
            rows.append([(label(context, lang, key), cb(FEATURE, "ed", step))])
        rows.append(cancel)
    else:
        text = t(context, lang, _PROMPTS[view.step], limit=LIMITS.get(view.step, 0))
        if view.step is Step.THEME:
            rows = [[(name, cb(FEATURE, "th", i))] for i, name in enumerate(settings.themes)]
        elif view.step is Step.TERRITORY:
            rows = [[(name, cb(FEATURE, "te", i))] for i, name in enumerate(settings.territories)]
            rows.append([(service.territory_label(lang, OTHER_TERRITORY), cb(FEATURE, "te", "x"))])
        elif view.step is Step.NEEDS:
            for need in NEEDS:
                mark = "✅ " if need in view.needs else "▫️ "
                need_label = label(context, lang, f"initiatives.need.{need}")
                rows.append([(mark + need_label, cb(FEATURE, "nd", need))])
            rows.append([(label(context, lang, "common.button.confirm"), cb(FEATURE, "ndok"))])
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


async def _draft_action(context: AppContext, member_id: int, data: Cb) -> DraftView | None:
    service = service_of(context)
    try:
        if data.action == "th":
            return await service.choose(member_id, Step.THEME, int(data.args[0]))
        if data.action == "te":
            index = None if data.args[0] == "x" else int(data.args[0])
            return await service.choose(member_id, Step.TERRITORY, index)
        if data.action == "nd":
            return await service.toggle_need(member_id, data.args[0])
        if data.action == "ndok":
            return await service.confirm_needs(member_id)
        if data.action == "ed":
            return await service.edit(member_id, Step(data.args[0]))
    except (IndexError, ValueError):
        return None
    return None


async def _submit(update: Update, context: AppContext, member: Member, lang: str) -> None:
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


async def _cancel(update: Update, context: AppContext, member: Member, lang: str) -> None:
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
            rows.append([(text, cb(FEATURE, "rs", item.id))])
        elif item.status == "published":
            rows.append([("🔎 " + item.title[:40], cb(FEATURE, "op", item.id))])
    text = t(context, lang, "initiatives.mine_title") + "\n\n" + "\n\n".join(lines)
    await reply(update, context, text, rows)


# --- browsing, supports and stages ----------------------------------------------------------


def _state(args: tuple[str, ...]) -> tuple[str, str, int]:
    """The browse position (territory, theme, page) carried by list and detail buttons."""
    territory = args[0] if len(args) > 0 else ALL
    theme = args[1] if len(args) > 1 else ALL
    try:
        page = int(args[2]) if len(args) > 2 else 0
    except ValueError:
        page = 0
    return territory, theme, page


def _filter_value(options: list[str], raw: str, other: bool = False) -> str | None:
    """A filter button's value: "-" for all, an index into `options`, or "x" for autre."""
    if raw == ALL:
        return None
    if raw == "x" and other:
        return OTHER_TERRITORY
    index = int(raw)
    if not 0 <= index < len(options):
        raise ValueError(raw)
    return options[index]


def list_screen(
    context: AppContext, lang: str, found: BrowsePage, territory: str, theme: str
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
        rows.append(
            [("🔎 " + item.title[:40], cb(FEATURE, "op", item.id, territory, theme, found.page))]
        )
    nav: list[tuple[str, str]] = []
    if found.page > 0:
        prev = label(context, lang, "common.button.previous")
        nav.append((prev, cb(FEATURE, "br", territory, theme, found.page - 1)))
    if found.page + 1 < found.pages:
        nxt = label(context, lang, "common.button.next")
        nav.append((nxt, cb(FEATURE, "br", territory, theme, found.page + 1)))
    if nav:
        rows.append(nav)
    rows.append(
        [
            (
                label(context, lang, "initiatives.button.filter_territory"),
                cb(FEATURE, "ft", theme),
            ),
            (
                label(context, lang, "initiatives.button.filter_theme"),
                cb(FEATURE, "fh", territory),
            ),
        ]
    )
    return text, rows


def filter_screen(context: AppContext, lang: str, kind: str, other: str) -> tuple[str, Rows]:
    settings = context.services.settings
    service = service_of(context)
    everything = label(context, lang, "initiatives.filter.all")
    if kind == "ft":
        rows = [
            [(name, cb(FEATURE, "br", i, other, 0))] for i, name in enumerate(settings.territories)
        ]
        rows.append(
            [(service.territory_label(lang, OTHER_TERRITORY), cb(FEATURE, "br", "x", other, 0))]
        )
        rows.append([(everything, cb(FEATURE, "br", ALL, other, 0))])
        return t(context, lang, "initiatives.filter.pick_territory"), rows
    rows = [[(name, cb(FEATURE, "br", other, i, 0))] for i, name in enumerate(settings.themes)]
    rows.append([(everything, cb(FEATURE, "br", other, ALL, 0))])
    return t(context, lang, "initiatives.filter.pick_theme"), rows


async def browse(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    found = await service_of(context).browse(None, None, 0)
    text, rows = list_screen(context, lang, found, ALL, ALL)
    await reply(update, context, text, rows)


def detail_screen(
    context: AppContext, lang: str, found: Detail, back: tuple[str, str, int]
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
    state = (item.id, *back)
    if item.status == "published" and not found.is_author and found.next_stages:
        for kind, key in (("support", "sup"), ("participate", "par")):
            mark = "✅ " if kind in found.mine else ""
            text_label = mark + label(context, lang, f"initiatives.button.{kind}")
            rows.append([(text_label, cb(FEATURE, key, *state))])
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
                [(label(context, lang, key, stage=name), cb(FEATURE, "pst", item.id, stage))]
            )
    if found.is_coordinator:
        for stage in found.next_stages:
            name = service.stage_label(lang, stage)
            key = "initiatives.button.set_stage"
            rows.append(
                [(label(context, lang, key, stage=name), cb(FEATURE, "stg", item.id, stage))]
            )
    rows.append([(label(context, lang, "common.button.back"), cb(FEATURE, "br", *back))])
    return text, rows


async def _browse_action(
    update: Update, context: AppContext, member: Member, lang: str, data: Cb
) -> Handled:
    """List, filter, open and support presses; False when the press does not apply."""
    service = service_of(context)
    settings = context.services.settings
    try:
        if data.action == "br":
            territory, theme, page = _state(data.args)
            found = await service.browse(
                _filter_value(settings.territories, territory, other=True),
                _filter_value(settings.themes, theme),
                page,
            )
            text, rows = list_screen(context, lang, found, territory, theme)
            await show(update, context, text, rows)
            return True
        if data.action in ("ft", "fh"):
            other = data.args[0] if data.args else ALL
            if data.action == "ft":
                _filter_value(settings.themes, other)
            else:
                _filter_value(settings.territories, other, other=True)
            text, rows = filter_screen(context, lang, data.action, other)
            await show(update, context, text, rows)
            return True
        initiative_id = data.int_arg(0)
        if initiative_id is None:
            return False
        back = _state(data.args[1:])
        if data.action == "op":
            detail = await service.detail(member.telegram_id, initiative_id)
        elif data.action in ("sup", "par"):
            kind: SupportKind = "support" if data.action == "sup" else "participate"
            detail = await service.toggle_support(member.telegram_id, initiative_id, kind)
            if detail is not None and detail.outcome is Outcome.DENIED:
                return t(context, lang, "initiatives.own")
            if detail is not None and detail.outcome is Outcome.STALE:
                return t(context, lang, "initiatives.closed")
        else:
            return False
    except (ValueError, IndexError):
        return False
    if detail is None:
        return False
    text, rows = detail_screen(context, lang, detail, back)
    await show(update, context, text, rows)
    return True


async def _stage_action(
    update: Update, context: AppContext, member: Member, lang: str, data: Cb
) -> Handled:
    service = service_of(context)
    initiative_id = data.int_arg(0)
    if initiative_id is None:
        return False
    stage = data.args[1] if len(data.args) > 1 else ""
    if data.action == "stg":
        if not member.is_coordinator:
            return t(context, lang, "common.denied")
        detail = await service.set_stage(member.telegram_id, initiative_id, stage)
    elif data.action == "pst":
        detail = await service.propose_stage(member.telegram_id, initiative_id, stage)
        if detail is not None:
            text, rows = detail_screen(context, lang, detail, (ALL, ALL, 0))
            await show(update, context, text, rows)
            return t(context, lang, "initiatives.stage_proposed")
    else:
        if not member.is_coordinator:
            return t(context, lang, "common.denied")
        detail = await service.refuse_stage(member.telegram_id, initiative_id)
    if detail is None:
        return False
    text, rows = detail_screen(context, lang, detail, (ALL, ALL, 0))
    await show(update, context, text, rows)
    return True


async def _gardener(
    update: Update, context: AppContext, member: Member, lang: str, data: Cb
) -> bool:
    initiative_id = data.int_arg(0)
    if initiative_id is None:
        return False
    accept = data.action == "gy"
    outcome = await service_of(context).answer_gardener(member.telegram_id, initiative_id, accept)
    if outcome is Outcome.STALE:
        return False
    if outcome is Outcome.ALREADY:
        key = "initiatives.gardener.already"
    else:
        key = "initiatives.gardener.accepted" if accept else "initiatives.gardener.declined"
    await show(update, context, t(context, lang, key))
    return True


async def _reopen(
    update: Update, context: AppContext, member: Member, lang: str, data: Cb
) -> bool:
    initiative_id = data.int_arg(0)
    if initiative_id is None:
        return False
    view = await service_of(context).reopen(member.telegram_id, initiative_id)
    if view is None:
        return False
    text, rows = draft_screen(context, lang, view)
    await reply(update, context, text, rows)
    return True


DRAFT = ("th", "te", "nd", "ndok", "ed")
BROWSING = ("br", "ft", "fh", "op", "sup", "par")
STAGES = ("stg", "pst", "nst")


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = parse_cb(query.data, FEATURE)
    member, lang = await current_member(update, context)
    if data is None or member is None:
        await stale(update, context, lang)
        return
    if member.onboarded_at is None:
        await answer(query, t(context, lang, "common.start_first"), True)
        return
    if data.action == "sub":
        await _submit(update, context, member, lang)
        return
    if data.action == "cx":
        await _cancel(update, context, member, lang)
        return
    handled: Handled = False
    if data.action in DRAFT:
        view = await _draft_action(context, member.telegram_id, data)
        if view is not None:
            await render_draft(update, context, lang, view)
            handled = True
    elif data.action in BROWSING:
        handled = await _browse_action(update, context, member, lang, data)
    elif data.action in STAGES:
        handled = await _stage_action(update, context, member, lang, data)
    elif data.action in ("gy", "gn"):
        handled = await _gardener(update, context, member, lang, data)
    elif data.action == "rs":
        handled = await _reopen(update, context, member, lang, data)
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
        CallbackQueryHandler(on_button, pattern=pattern(FEATURE)),
    ]
