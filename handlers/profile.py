"""/profil, /aide, /pause, /reprendre, /langue, and the command of the coordinators' /inviter
(handlers/invites.py)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.members import ProfileAction, ProfilePress, Step
from bot.texts import LANGUAGES
from handlers import invites, menu
from handlers.common import (
    Routes,
    answer,
    button,
    label,
    onboarded_member,
    reply,
    show,
    stale,
    t,
)
from handlers.onboarding import render, summary_text
from storage.members import Member
from storage.outbox import Button, Rows

Act = ProfileAction


def profile_rows(context: AppContext, lang: str, member: Member) -> Rows:
    def choice(key: str, action: ProfileAction, step: Step = Step.NAME) -> Button:
        return button(label(context, lang, key), ProfilePress(action, step=step))

    rows: Rows = [
        [choice("profile.button.name", Act.EDIT, Step.NAME)],
        [choice("profile.button.territory", Act.EDIT, Step.TERRITORY)],
        [choice("profile.button.themes", Act.EDIT, Step.THEMES)],
    ]
    if member.is_technician:
        rows += [
            [choice("profile.button.service", Act.EDIT, Step.SERVICE)],
            [choice("profile.button.tech_territories", Act.EDIT, Step.TECH_TERRITORIES)],
            [choice("profile.button.capacity", Act.EDIT, Step.CAPACITY)],
        ]
    else:
        rows += [
            [choice("profile.button.ambassador", Act.FLAG, Step.AMBASSADOR)],
            [choice("profile.button.gardener", Act.FLAG, Step.GARDENER)],
        ]
    rows.append([choice("profile.button.language", Act.LANGUAGE_MENU)])
    return rows


async def profile(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    referrals = await context.services.members.referrals(member.telegram_id)
    text = summary_text(context, lang, member, referrals)
    if member.is_technician:
        tech = await context.services.members.technician(member.telegram_id)
        if tech is not None:
            text += "\n" + t(
                context,
                lang,
                "profile.technician",
                service=tech.service,
                territories=", ".join(tech.territories) or "—",
                capacity=tech.capacity,
            )
    await reply(update, context, text, profile_rows(context, lang, member))


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    data = ProfilePress.parse(query.data)
    if data is None:
        await stale(update, context, lang)
        return
    await ROUTES[data.action](update, context, member, lang, data)


async def _language_menu(
    update: Update, context: AppContext, member: Member, lang: str, data: ProfilePress
) -> None:
    assert update.callback_query is not None
    await _language_choice(update, context, lang)
    await answer(update.callback_query)


async def _set_language(
    update: Update, context: AppContext, member: Member, lang: str, data: ProfilePress
) -> None:
    assert update.callback_query is not None
    updated = await context.services.members.set_language(member.telegram_id, data.language)
    if updated is None:
        await stale(update, context, lang)
        return
    await menu.set_for_member(context, updated, language_chosen=True)  # before saying so
    await show(update, context, t(context, updated.language, "language.changed"))
    await answer(update.callback_query)


async def _flag(
    update: Update, context: AppContext, member: Member, lang: str, data: ProfilePress
) -> None:
    assert update.callback_query is not None
    services = context.services.members
    toggled = await services.toggle_flag(member.telegram_id, data.step)
    if toggled is None:
        await stale(update, context, lang)
        return
    referrals = await services.referrals(member.telegram_id)
    text = summary_text(context, lang, toggled, referrals)
    await show(update, context, text, profile_rows(context, lang, toggled))
    await answer(update.callback_query, t(context, lang, "profile.saved"))


async def _edit(
    update: Update, context: AppContext, member: Member, lang: str, data: ProfilePress
) -> None:
    assert update.callback_query is not None
    progress = await context.services.members.start_edit(member.telegram_id, data.step)
    if progress is None:
        await stale(update, context, lang)
        return
    await render(update, context, lang, progress)
    await answer(update.callback_query)


ROUTES: Routes[ProfilePress] = {
    Act.LANGUAGE_MENU: _language_menu,
    Act.SET_LANGUAGE: _set_language,
    Act.FLAG: _flag,
    Act.EDIT: _edit,
}


def _language(code: str) -> ProfilePress:
    return ProfilePress(Act.SET_LANGUAGE, language=code)


async def _language_choice(update: Update, context: AppContext, lang: str) -> None:
    rows = [
        [button(label(context, lang, "language.fr"), _language("fr"))],
        [button(label(context, lang, "language.en"), _language("en"))],
    ]
    await show(update, context, t(context, lang, "language.choose"), rows)


async def language(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    if context.args and context.args[0].lower() in LANGUAGES:
        updated = await context.services.members.set_language(
            member.telegram_id, context.args[0].lower()
        )
        if updated is not None:
            await menu.set_for_member(context, updated, language_chosen=True)
            await reply(update, context, t(context, updated.language, "language.changed"))
        return
    await _language_choice(update, context, lang)


async def help_command(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    parts = [t(context, lang, "help.member")]
    if member.is_ambassador:
        parts.append(t(context, lang, "help.ambassador"))
    if member.is_citizen_gardener or member.is_technician:
        parts.append(t(context, lang, "help.gardener"))
    if member.is_technician:
        parts.append(t(context, lang, "help.technician"))
    if member.is_coordinator:
        parts.append(t(context, lang, "help.coordinator"))
    await reply(update, context, "\n\n".join(parts))


async def pause(update: Update, context: AppContext) -> None:
    await _set_paused(update, context, True)


async def resume(update: Update, context: AppContext) -> None:
    await _set_paused(update, context, False)


async def _set_paused(update: Update, context: AppContext, paused: bool) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    await context.services.members.set_paused(member.telegram_id, paused)
    await reply(update, context, t(context, lang, "pause.on" if paused else "pause.off"))


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("profil", profile, filters=private),
        CommandHandler(["aide", "help"], help_command, filters=private),
        CommandHandler("pause", pause, filters=private),
        CommandHandler("reprendre", resume, filters=private),
        CommandHandler(["langue", "language"], language, filters=private),
        CommandHandler("inviter", invites.invite, filters=private),
        CallbackQueryHandler(on_button, pattern=ProfilePress.pattern()),
        *invites.build_handlers(),
    ]
