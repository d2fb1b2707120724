"""/start: the consent notice, then one question at a time (flow 1 of PRODUCT.md)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.callbacks import CallbackError, Pick
from bot.context import AppContext
from bot.services.members import (
    FLOW,
    InviteOutcome,
    OnboardingAction,
    OnboardingPress,
    Progress,
    Step,
)
from bot.texts import Raw
from handlers import menu
from handlers.common import (
    answer,
    button,
    current_member,
    label,
    language_for,
    reply,
    show,
    stale,
    t,
    your_text,
)
from storage.conversations import Conversation
from storage.members import OTHER_TERRITORY, Member
from storage.outbox import Rows

Act = OnboardingAction

_PROMPTS = {
    Step.NAME: "onboarding.ask.name",
    Step.TERRITORY: "onboarding.ask.territory",
    Step.THEMES: "onboarding.ask.themes",
    Step.SERVICE: "onboarding.ask.service",
    Step.TECH_TERRITORIES: "onboarding.ask.tech_territories",
    Step.CAPACITY: "onboarding.ask.capacity",
    Step.AMBASSADOR: "onboarding.ask.ambassador",
    Step.GARDENER: "onboarding.ask.gardener",
}


def _press(
    action: OnboardingAction, step: Step, index: int = 0, yes: bool = False
) -> OnboardingPress:
    return OnboardingPress(action, step=step, index=index, yes=yes)


def step_screen(context: AppContext, lang: str, progress: Progress) -> tuple[str, Rows]:
    """The question for the member's current step, with its buttons."""
    step = progress.step
    if step is None:
        raise ValueError("no step to show")
    settings = context.services.settings
    text = t(context, lang, _PROMPTS[step], name=progress.member.display_name)
    rows: Rows = []
    if step is Step.NAME:
        keep = label(
            context, lang, "onboarding.button.keep_name", name=progress.member.display_name
        )
        rows = [[button(keep, OnboardingPress(Act.KEEP_NAME))]]
    elif step is Step.TERRITORY:
        places: list[tuple[str, int | Pick]] = [
            (name, i) for i, name in enumerate(settings.territories)
        ]
        places.append((label(context, lang, "onboarding.button.other"), Pick.OTHER))
        rows = [[button(name, OnboardingPress(Act.TERRITORY, territory=i))] for name, i in places]
    elif step in (Step.THEMES, Step.TECH_TERRITORIES):
        options = settings.themes if step is Step.THEMES else settings.territories
        rows = [
            [
                button(
                    ("✅ " if name in progress.selected else "▫️ ") + name,
                    _press(Act.TOGGLE, step, index=i),
                )
            ]
            for i, name in enumerate(options)
        ]
        rows.append(
            [button(label(context, lang, "common.button.confirm"), _press(Act.CONFIRM, step))]
        )
    elif step in (Step.AMBASSADOR, Step.GARDENER):
        rows = [
            [
                button(
                    label(context, lang, "common.button.yes"), _press(Act.YES_NO, step, yes=True)
                ),
                button(
                    label(context, lang, "common.button.no"), _press(Act.YES_NO, step, yes=False)
                ),
            ]
        ]
    if progress.error:
        limit = {"name_length": 64, "service_length": 80}.get(progress.error.rsplit(".", 1)[-1])
        error = t(context, lang, progress.error, limit=limit or 0)
        if progress.kept_text:
            error += "\n\n" + your_text(context, lang, progress.kept_text)
        text = error + "\n\n" + text
    return text, rows


def summary_text(context: AppContext, lang: str, member: Member, referrals: int) -> str:
    yes, no = t(context, lang, "common.yes"), t(context, lang, "common.no")
    text = t(
        context,
        lang,
        "profile.summary",
        name=member.display_name,
        territory=_territory(context, lang, member.territory),
        themes=", ".join(member.themes) or "—",
        ambassador=yes if member.is_ambassador else no,
        gardener=yes if member.is_citizen_gardener else no,
        language=t(context, lang, f"language.{member.language}"),
        status=t(context, lang, f"profile.status.{member.status}"),
    )
    if member.is_ambassador:
        text += "\n\n" + t(
            context,
            lang,
            "profile.referral",
            link=referral_link(context, member.referral_code),
            count=referrals,
        )
    return text


def _territory(context: AppContext, lang: str, territory: str | None) -> str:
    if territory in (None, OTHER_TERRITORY):
        return t(context, lang, "onboarding.other_territory")
    return territory


def referral_link(context: AppContext, code: str) -> str:
    return f"https://t.me/{context.bot.username}?start=r-{code}"


async def render(update: Update, context: AppContext, lang: str, progress: Progress) -> None:
    """Show the next step, or the end of onboarding / the updated profile."""
    if progress.step is not None:
        text, rows = step_screen(context, lang, progress)
        if update.callback_query is not None and not progress.error:
            await show(update, context, text, rows)
        else:
            await reply(update, context, text, rows)
        return
    member = progress.member
    referrals = await context.services.members.referrals(member.telegram_id)
    if progress.editing:
        from handlers.profile import profile_rows

        text = summary_text(context, lang, member, referrals)
        await show(update, context, text, profile_rows(context, lang, member))
        return
    text = t(context, lang, "onboarding.done", name=member.display_name) + "\n\n"
    text += summary_text(context, lang, member, referrals) + "\n\n"
    text += t(context, lang, "onboarding.next")
    await show(update, context, text)
    await menu.set_for_member(context, member)


async def start(update: Update, context: AppContext) -> None:
    user = update.effective_user
    if user is None:
        return
    services = context.services
    member, lang = await current_member(update, context)
    arg = context.args[0] if context.args else None
    if member is None:
        text = t(
            context,
            lang,
            "consent.notice",
            organisation=services.settings.organisation.name,
            contact=services.settings.organisation.contact,
            months=Raw(
                t(context, lang, "consent.months", count=services.settings.retention_months)
            ),
        )
        accept = OnboardingPress(Act.ACCEPT, start=arg or "")
        try:  # the /start payload rides on the button when it fits, else it is dropped
            accept.pack()
        except CallbackError:
            accept = OnboardingPress(Act.ACCEPT)
        rows = [
            [button(label(context, lang, "consent.button.accept"), accept)],
            [button(label(context, lang, "consent.button.refuse"), OnboardingPress(Act.REFUSE))],
        ]
        await reply(update, context, text, rows)
        return
    if arg:
        progress = await services.members.use_invite(user.id, arg)
        if progress is not None:
            await _tell_invite(update, context, lang, progress.invite)
            if progress.step is not None:
                await render(update, context, lang, progress)
            await menu.set_for_member(context, progress.member)
            return
    progress = await services.members.resume(user.id)
    if progress is not None and progress.step is not None:
        await reply(update, context, t(context, lang, "onboarding.resume"))
        await render(update, context, lang, progress)
        return
    await reply(
        update, context, t(context, lang, "onboarding.welcome_back", name=member.display_name)
    )


async def _tell_invite(
    update: Update, context: AppContext, lang: str, outcome: InviteOutcome
) -> None:
    if outcome is not InviteOutcome.NONE:
        await reply(update, context, t(context, lang, f"invite.{outcome.value}"))


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    data = OnboardingPress.parse(query.data)
    member, lang = await current_member(update, context)
    if data is None:
        await stale(update, context, lang)
        return
    services = context.services.members
    if data.action in (Act.ACCEPT, Act.REFUSE) and member is None:
        await _consent(update, context, lang, data)
        return
    progress = await _step_action(context, user.id, data)
    if progress is None:
        await stale(update, context, lang)
        return
    member = await services.get(user.id)
    lang = language_for(context, member, user)
    await render(update, context, lang, progress)
    await answer(query)


async def _step_action(
    context: AppContext, user_id: int, data: OnboardingPress
) -> Progress | None:
    services = context.services.members
    if data.action is Act.KEEP_NAME:
        return await services.keep_name(user_id)
    if data.action is Act.TERRITORY:
        if data.territory is Pick.ALL:
            return None
        index = data.territory if isinstance(data.territory, int) else None
        return await services.choose_territory(user_id, index)
    if data.action is Act.TOGGLE:
        return await services.toggle(user_id, data.step, data.index)
    if data.action is Act.CONFIRM:
        return await services.confirm_selection(user_id, data.step)
    if data.action is Act.YES_NO:
        return await services.answer_yes_no(user_id, data.step, data.yes)
    return None


async def _consent(update: Update, context: AppContext, lang: str, data: OnboardingPress) -> None:
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    services = context.services.members
    if data.action is Act.REFUSE:
        await services.refuse_consent(user.id)
        await show(update, context, t(context, lang, "consent.refused"))
        await answer(query)
        return
    start = data.start or None
    progress = await services.accept_consent(user.id, user.first_name, user.username, lang, start)
    await show(update, context, t(context, lang, "consent.accepted"))
    await _tell_invite(update, context, lang, progress.invite)
    if progress.step is not None:
        text, rows = step_screen(context, lang, progress)
        await reply(update, context, text, rows)
    await answer(query)


async def on_text(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    """Typed answers during onboarding (name, service, capacity)."""
    message = update.effective_message
    lang = language_for(context, member, update.effective_user)
    if message is None or message.text is None:
        progress = await context.services.members.resume(member.telegram_id)
        if progress is not None and progress.step is not None:
            progress.error = "common.text_expected"
            if progress.step not in (Step.NAME, Step.SERVICE, Step.CAPACITY):
                progress.error = "onboarding.error.use_buttons"
            await render(update, context, lang, progress)
        else:
            await reply(update, context, t(context, lang, "common.nothing_expected"))
        return
    progress = await context.services.members.submit_text(member.telegram_id, message.text)
    if progress is None:
        await reply(update, context, t(context, lang, "common.nothing_expected"))
        return
    await render(update, context, lang, progress)


async def resume(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    progress = await context.services.members.resume(member.telegram_id)
    if progress is not None and progress.step is not None:
        await render(
            update, context, language_for(context, member, update.effective_user), progress
        )


INPUTS = {FLOW: on_text}
RESUMES = {FLOW: resume}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("start", start, filters=private),
        CallbackQueryHandler(on_button, pattern=OnboardingPress.pattern()),
    ]
