"""/initiatives: the list and its filters, an initiative's screen, supports, stages, and the
gardener offer (routed from handlers/initiatives.py)."""

from __future__ import annotations

from typing import NamedTuple

from telegram import Update

from bot.callbacks import Pick
from bot.context import AppContext
from bot.services.initiatives import (
    OTHER_TERRITORY,
    BrowsePage,
    Detail,
    InitiativeAction,
    InitiativePress,
    Outcome,
)
from bot.texts import Raw
from handlers.circle_offers import circle_rows, offer_circle
from handlers.common import (
    button,
    label,
    onboarded_member,
    reply,
    show,
    t,
)
from storage.initiatives import SupportKind
from storage.members import Member
from storage.outbox import Button, Rows

Act = InitiativeAction
# What a press helper did: False = does not apply (stale), True = done, str = alert to show.
Handled = bool | str
Filter = int | Pick
"""A list filter as buttons carry it: an index into the settings' list, or a Pick."""


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
    service = context.services.initiatives
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
    service = context.services.initiatives
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
    found = await context.services.initiatives.browse(None, None, 0)
    text, rows = list_screen(context, lang, found, Pick.ALL, Pick.ALL)
    await reply(update, context, text, rows)


def detail_screen(
    context: AppContext, lang: str, found: Detail, back: Position
) -> tuple[str, Rows]:
    service = context.services.initiatives
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


async def browse_page(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    """A list page, with its territory and theme filters."""
    settings = context.services.settings
    try:
        territory = _filter_value(settings.territories, data.territory, other=True)
        theme = _filter_value(settings.themes, data.theme)
    except ValueError:
        return False
    found = await context.services.initiatives.browse(territory, theme, data.page)
    text, rows = list_screen(context, lang, found, data.territory, data.theme)
    await show(update, context, text, rows)
    return True


async def pick_filter(
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


async def open_detail(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    """Open an initiative, or support it / take part (a second tap takes it back)."""
    service = context.services.initiatives
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
    rows[-1:-1] = await circle_rows(context, lang, member, data.initiative_id)
    await show(update, context, text, rows)
    if data.action is Act.PARTICIPATE and "participate" in detail.mine:
        await offer_circle(update, context, member, lang, data.initiative_id)
    return True


async def stage_press(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    service = context.services.initiatives
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


async def gardener_press(
    update: Update, context: AppContext, member: Member, lang: str, data: InitiativePress
) -> Handled:
    accept = data.action is Act.GARDENER_YES
    service = context.services.initiatives
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
