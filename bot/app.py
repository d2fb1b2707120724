"""The application factory: the one place that wires settings, storage, services and handlers."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
from datetime import timedelta
from types import ModuleType
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    ContextTypes,
    Defaults,
    ExtBot,
)

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.context import AppContext, AppData, Services
from bot.dispatcher import Dispatcher
from bot.http import AiohttpRequest
from bot.intake import UpdateIntake
from bot.lease import DutyGuard, make_lease
from bot.services.audience import AudienceService
from bot.services.broadcasts import Broadcasts
from bot.services.call_drafts import CallDrafts
from bot.services.call_management import CallManagement
from bot.services.call_mine import MemberCalls
from bot.services.calls import CallService
from bot.services.circle_decision_drafts import DecisionDrafts
from bot.services.circle_decisions import CircleDecisions
from bot.services.circles import CircleService
from bot.services.consultation_admin import ConsultationAdmin
from bot.services.consultation_drafts import ConsultationDrafts
from bot.services.consultation_results import ConsultationResults
from bot.services.consultations import ConsultationService
from bot.services.conversations import ConversationService
from bot.services.initiatives import InitiativeService
from bot.services.members import MemberService
from bot.services.outbox import OutboxService
from bot.services.pairs import PairService
from bot.services.presence import Presence
from bot.services.privacy import PrivacyService
from bot.services.report_duties import ReportDuties
from bot.services.report_followup import ReportFollowUp
from bot.services.reports import ReportService
from bot.services.stats import StatsService
from bot.texts import Texts
from bot.updater import DurableUpdater
from bot.workers import start_worker
from storage.db import Database, commit_guard, open_database

log = logging.getLogger(__name__)


def feature_modules() -> list[ModuleType]:
    """Every feature's handler module, in registration order (commands before free text)."""
    from handlers import (
        calls,
        circle_decisions,
        circles,
        consultations,
        coordinator,
        initiatives,
        moderation,
        onboarding,
        pairs,
        privacy,
        profile,
        report_queue,
        reports,
    )

    # moderation before initiatives: its callback pattern is the narrower one.
    return [
        onboarding,
        profile,
        calls,
        consultations,
        circle_decisions,
        moderation,
        initiatives,
        pairs,
        circles,
        reports,
        report_queue,
        privacy,
        coordinator,
    ]


def build_services(settings: Settings, clock: Clock, db: Database) -> Services:
    texts = Texts.load(settings.default_language)
    members = MemberService(db, settings, clock)
    outbox = OutboxService(db, clock, settings.sending.keep_finished_days)
    broadcasts = Broadcasts(db, clock, outbox)
    audience = AudienceService(db, settings)
    calls = CallService(db, settings, clock, texts, outbox, members, broadcasts, audience)
    consultations = ConsultationService(
        db, settings, clock, texts, outbox, members, broadcasts, audience
    )
    decisions = CircleDecisions(consultations)
    services = Services(
        settings=settings,
        clock=clock,
        db=db,
        texts=texts,
        members=members,
        outbox=outbox,
        broadcasts=broadcasts,
        audience=audience,
        privacy=PrivacyService(db, settings, clock, outbox, texts),
        stats=StatsService(db, settings, clock, texts),
        calls=calls,
        call_drafts=CallDrafts(db, settings, clock, texts, outbox, calls),
        call_management=CallManagement(calls),
        call_mine=MemberCalls(calls),
        consultations=consultations,
        consultation_drafts=ConsultationDrafts(consultations),
        consultation_admin=ConsultationAdmin(consultations),
        consultation_results=ConsultationResults(consultations),
        circle_decisions=decisions,
        decision_drafts=DecisionDrafts(decisions),
        initiatives=InitiativeService(db, settings, clock, texts, outbox, members),
        pairs=PairService(db, settings, clock, texts, outbox, members),
        conversations=ConversationService(db, clock),
        reports=ReportService(db, settings, clock, texts, outbox, members),
        report_followup=ReportFollowUp(db, settings, clock, texts, outbox, members),
        presence=Presence(db, clock),
        circles=CircleService(db, settings, clock, texts, outbox, members),
    )
    services.report_followup.open_call_draft = services.call_drafts.start_draft
    services.call_drafts.after_publish.append(services.report_followup.call_published)
    services.privacy.before_erase += [
        services.calls.release_member,
        services.pairs.release_member,
        services.reports.release_member,
    ]
    services.sweepers += [
        services.presence.flush,  # first: the retention purge reads last_seen_at
        *services.calls.sweepers(),
        *services.call_management.sweepers(),
        *services.consultations.sweepers(),
        *services.consultation_results.sweepers(),
        *services.circle_decisions.sweepers(),
        services.initiatives.announce_new_proposals,
        services.initiatives.send_digests,
        services.pairs.sweep,
        ReportDuties(services.reports).sweep,
        services.privacy.sweep,
        services.outbox.prune,
    ]
    _wire_circles(services)
    return services


def _wire_circles(services: Services) -> None:
    """Circles open at publication, welcome the paired technician, pass on at erasure, and
    forget what was said after their history's days."""
    circles = services.circles
    services.initiatives.on_published.append(circles.open_for)
    services.pairs.on_paired.append(circles.offer_technician)
    services.privacy.before_erase.append(circles.release_member)
    services.sweepers.insert(services.sweepers.index(services.outbox.prune), circles.sweep)
    # Decisions are put to a circle's members; stage changes are told to it once.
    services.circle_decisions.attach(circles)
    services.initiatives.circle_people = circles.circle_people


async def run_sweepers(services: Services) -> None:
    """One pass of every periodic duty (scheduled calls, reminders, check-ins, retention).

    The scheduler job calls this every `scheduler.tick_seconds`; tests call it right after
    moving the injected clock. Each reads what is due from the database. Only the lease
    holder runs them, their commits refused once it lost the lease (bot/lease.py).
    """
    lease = services.lease
    if lease is not None and not lease.held:
        await services.presence.flush()
        return
    guard = commit_guard.set(DutyGuard(lease, services.db)) if lease and lease.shared else None
    try:
        for sweeper in services.sweepers:
            try:
                await sweeper()
            except Exception:
                log.exception("sweeper %s failed", getattr(sweeper, "__qualname__", sweeper))
    finally:
        if guard is not None:
            commit_guard.reset(guard)


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> Application[Any, AppContext, Any, Any, AppData, Any]:
    """Build the bot; the database opens and the dispatcher starts in post_init."""
    if settings.telegram.token is None:
        raise ValueError("telegram.token is required to build the application")
    the_clock = clock or SystemClock()
    context_types = ContextTypes(context=AppContext, bot_data=AppData)
    bot: ExtBot[Any] = ExtBot(
        settings.telegram.token.get_secret_value(),
        base_url=settings.telegram.base_url,
        base_file_url=settings.telegram.base_file_url,
        defaults=Defaults(parse_mode=ParseMode.HTML),
        # aiohttp rather than httpx: a fraction of the CPU per request (bot/http.py).
        request=AiohttpRequest(settings.sending.max_in_flight + 16),
        get_updates_request=AiohttpRequest(1),
        rate_limiter=rate_limiter or _default_limiter(settings),
    )
    # Our own updater: updates are stored before they are confirmed (bot/intake.py).
    updater = DurableUpdater(bot, asyncio.Queue())
    application = (
        ApplicationBuilder()
        .updater(updater)
        .context_types(context_types)
        .post_init(lambda app: _post_init(app, settings, the_clock, updater))
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )

    inputs: dict[str, Any] = {}
    resumes: dict[str, Any] = {}
    for module in feature_modules():
        for handler in module.build_handlers():
            application.add_handler(handler)
        inputs.update(getattr(module, "INPUTS", {}))
        resumes.update(getattr(module, "RESUMES", {}))
    from handlers.router import build_offers, build_presence, build_router

    application.add_handler(build_presence(), group=-1)
    for group, handler in build_offers(resumes):
        application.add_handler(handler, group=group)
    for handler in build_router(inputs):
        application.add_handler(handler)
    application.add_error_handler(_on_error)
    return application


PAID_SLACK_SECONDS = 0.01
PER_CHAT_GUARD_SECONDS = 0.05
PAID_GUARD_SECONDS = 0.03


def _window(rate: float, margin: float, guard: float = 0.0) -> tuple[int, float]:
    """Telegram's count as (messages, seconds), stretched by the margin: 30/s gives 30 in
    1.0101 s at 0.99; 0.5/s gives 1 in 2.02 s."""
    count = max(1, math.floor(rate))
    return count, count / (rate * margin) + guard


def _default_limiter(settings: Settings) -> BaseRateLimiter[Any]:
    """Pace every Bot API call: interactive replies first, broadcasts at the allowed rate.

    Sends are spaced evenly a little under the limit (`sending.rate_margin`): Telegram counts
    in sliding windows, and a request that leaves on time may still arrive a few milliseconds
    early relative to the previous one; each 429 costs a full second of silence, far more
    than the margin. No burst: a send is never earlier than its slot; but a send a little late
    does not push the following slots back (catch_up), so lateness is not lost either. And
    the limiter counts like Telegram, on the instants requests really leave: never the
    limit's number of messages within 1/rate_margin seconds (`window`), so catching up can
    never put one message too many in a sliding second.
    """
    from bot.ratelimit import PriorityRateLimiter

    sending = settings.sending
    return PriorityRateLimiter(
        messages_per_second=sending.messages_per_second * sending.rate_margin,
        # One message a second to a chat, with 50 ms to spare: a summary edit that reached
        # Telegram 4 ms early was enough for a 429, and each 429 silences the whole bot.
        per_chat_per_second=1.0 / (1.0 / sending.per_chat_per_second + PER_CHAT_GUARD_SECONDS),
        paid_per_second=(
            sending.paid_messages_per_second * sending.rate_margin
            if sending.allow_paid_broadcast
            else None
        ),
        burst=1,
        catch_up=1.0,
        window=_window(sending.messages_per_second, sending.rate_margin),
        # At paid rates an interval (1 ms) is shorter than an event-loop turn: let 10 ms of
        # tokens accumulate, or every late wake-up would lose them (the window still counts).
        paid_burst=max(1.0, sending.paid_messages_per_second * PAID_SLACK_SECONDS),
        paid_catch_up=max(1.0, sending.paid_messages_per_second * PAID_SLACK_SECONDS),
        paid_window=_window(
            sending.paid_messages_per_second, sending.rate_margin, PAID_GUARD_SECONDS
        ),
        # Replies keep the per-chat pace too: a burst of replies to one fast tapper earned
        # 429s, and each 429 pauses every chat.
        interactive_chat_burst=sending.interactive_chat_burst,
    )


async def _post_init(
    application: Application[Any, Any, Any, Any, Any, Any],
    settings: Settings,
    clock: Clock,
    updater: DurableUpdater,
) -> None:
    db = await open_database(settings.database.target)
    services = build_services(settings, clock, db)
    application.bot_data.services = services
    dispatcher = Dispatcher(db, clock, application.bot, settings.sending)
    services.dispatcher = dispatcher
    services.outbox.on_enqueue(dispatcher.wake)
    dispatcher.record_with(services.broadcasts.record)
    services.calls.attach(dispatcher.observe, dispatcher.edit_message)
    services.consultations.attach(dispatcher.observe, dispatcher.edit_message)
    services.consultation_results.attach(_uploader(application), _draw_results)
    lease = services.lease = make_lease(db, settings.workers)
    # Polling is one process per token (Telegram refuses a second getUpdates); webhooks may
    # feed several workers, each of which may hold recent updates in flight.
    several = lease.shared and settings.telegram.mode == "webhook"
    intake = UpdateIntake(db, clock, application.bot, application.process_update, shared=several)
    updater.attach(intake)
    services.sweepers += [intake.prune, intake.replay_stale]
    await start_worker(lease, dispatcher, updater, application.bot.rate_limiter, settings)
    from handlers import menu

    await menu.set_default(application.bot, services.texts)
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            lambda _ctx: run_sweepers(services),
            interval=timedelta(seconds=settings.scheduler.tick_seconds),
            first=timedelta(seconds=settings.scheduler.tick_seconds),
            name="essaim-sweep",
            job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
    if settings.health.enabled:
        from bot.health import HealthServer

        services.health = HealthServer(services, settings.health, application.bot.rate_limiter)
        await services.health.start()
    # Everything built at start (PTB, handlers, catalogues) lives as long as the process:
    # out of the garbage collector's generations, its full passes stay short, so they do not
    # stall the event loop in the middle of a broadcast.
    gc.freeze()
    log.info("essaim started as @%s", application.bot.username)


def _uploader(application: Application[Any, Any, Any, Any, Any, Any]) -> Any:
    """Sends a picture once and returns its file id, so that every copy reuses the upload."""
    from telegram import InputFile

    async def upload(chat_id: int, png: bytes, caption: str) -> str:
        message = await application.bot.send_photo(
            chat_id, InputFile(png, filename="resultats.png"), caption=caption
        )
        return str(message.photo[-1].file_id)

    return upload


def _draw_results(results: Any, text: Any) -> bytes:
    # Imported on first use: matplotlib alone would add tens of MB to every idle bot.
    from bot.consultation_chart import render_results

    return render_results(results, text)


async def _post_stop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """After a stop signal and the last handler, before the HTTP client closes: let in-flight
    deliveries finish (bounded by `sending.shutdown_grace_seconds`) and record them."""
    data: AppData = application.bot_data
    try:
        services = data.services
    except RuntimeError:
        return
    # The live summaries stop first: an edit started now would meet a closed HTTP client.
    await services.calls.stop()
    await services.consultations.stop()
    await services.presence.flush()
    if services.dispatcher is not None:
        await services.dispatcher.stop(services.settings.sending.shutdown_grace_seconds)
    if services.lease is not None:
        await services.lease.stop()  # released: another worker takes over at once


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    data: AppData = application.bot_data
    try:
        services = data.services
    except RuntimeError:
        return
    if services.health is not None:
        await services.health.stop()
    await services.calls.stop()
    await services.consultations.stop()
    if services.dispatcher is not None:
        # Already stopped in post_stop when PTB ran it; a no-op then.
        await services.dispatcher.stop(services.settings.sending.shutdown_grace_seconds)
    if services.lease is not None:
        await services.lease.stop()
    await services.db.close()


async def _on_error(update: object, context: AppContext) -> None:
    """Log the failure (ids only) and tell the member something went wrong."""
    user_id = (
        update.effective_user.id if isinstance(update, Update) and update.effective_user else None
    )
    if isinstance(context.error, BadRequest) and "query is too old" in str(context.error).lower():
        # Only the button's spinner could not be stopped (an answer after a restart, or after
        # a long wait): what the press did is done, so nobody is told to try again.
        log.info("press of user %s answered too late", user_id)
        return
    log.error("update from user %s failed", user_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            services = context.services
            member = await services.members.get(update.effective_chat.id)
            lang = member.language if member else services.settings.default_language
            await context.bot.send_message(
                update.effective_chat.id, services.texts.get(lang, "common.error")
            )
        except Exception:
            log.exception("could not tell user %s about the failure", user_id)
