"""The application factory: the one place that wires settings, storage, services and handlers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import ModuleType
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    ContextTypes,
    Defaults,
)

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.context import AppContext, AppData, Services
from bot.dispatcher import Dispatcher
from bot.http import ShardedRequest
from bot.services.calls import CallService
from bot.services.members import MemberService
from bot.services.outbox import OutboxService
from bot.texts import Texts
from storage.db import SqliteDatabase

log = logging.getLogger(__name__)

Sweeper = Callable[[], Awaitable[None]]


def feature_modules() -> list[ModuleType]:
    """Every feature's handler module, in registration order (commands before free text)."""
    from handlers import calls, onboarding, profile

    return [onboarding, profile, calls]


def build_services(settings: Settings, clock: Clock, db: SqliteDatabase) -> Services:
    texts = Texts.load(settings.default_language)
    members = MemberService(db, settings, clock)
    outbox = OutboxService(db, clock)
    services = Services(
        settings=settings,
        clock=clock,
        db=db,
        texts=texts,
        members=members,
        outbox=outbox,
    )
    services.calls = CallService(db, settings, clock, texts, outbox, members)
    services.sweepers.extend(services.calls.sweepers())
    return services


async def run_sweepers(services: Services) -> None:
    """One pass of every periodic duty (scheduled calls, reminders, check-ins, retention).

    The scheduler job calls this every `scheduler.tick_seconds`; tests call it right after
    moving the injected clock. Each sweeper reads what is due from SQLite, so nothing is
    lost when the bot restarts.
    """
    for sweeper in services.sweepers:
        try:
            await sweeper()
        except Exception:
            log.exception("sweeper %s failed", getattr(sweeper, "__qualname__", sweeper))


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
    builder = (
        ApplicationBuilder()
        .token(settings.telegram.token.get_secret_value())
        .base_url(settings.telegram.base_url)
        .base_file_url(settings.telegram.base_file_url)
        .context_types(context_types)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .concurrent_updates(64)
        # Several small pools: one big httpcore pool costs CPU quadratically (bot/http.py).
        .request(ShardedRequest(settings.sending.max_in_flight + 16))
        .post_init(lambda app: _post_init(app, settings, the_clock))
        .post_shutdown(_post_shutdown)
    )
    if rate_limiter is None:
        rate_limiter = _default_limiter(settings)
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    application = builder.build()

    inputs: dict[str, Any] = {}
    for module in feature_modules():
        for handler in module.build_handlers():
            application.add_handler(handler)
        inputs.update(getattr(module, "INPUTS", {}))
    from handlers.router import build_router

    for handler in build_router(inputs):
        application.add_handler(handler)
    application.add_error_handler(_on_error)
    return application


def _default_limiter(settings: Settings) -> BaseRateLimiter[Any] | None:
    try:
        from bot.ratelimit import PriorityRateLimiter
    except ImportError:
        return None
    return PriorityRateLimiter(
        messages_per_second=settings.sending.messages_per_second,
        per_chat_per_second=settings.sending.per_chat_per_second,
        paid_per_second=(
            settings.sending.paid_messages_per_second
            if settings.sending.allow_paid_broadcast
            else None
        ),
        # Replies answer a person's own taps, which humans space out by themselves; a
        # generous burst keeps a fast tapper from waiting a second per screen.
        interactive_chat_burst=20,
    )


async def _post_init(
    application: Application[Any, Any, Any, Any, Any, Any], settings: Settings, clock: Clock
) -> None:
    db = SqliteDatabase(settings.database.path)
    await db.connect()
    services = build_services(settings, clock, db)
    application.bot_data.services = services
    dispatcher = Dispatcher(db, clock, application.bot, settings.sending)
    services.dispatcher = dispatcher
    services.outbox.on_enqueue(dispatcher.wake)
    if services.calls is not None:
        services.calls.attach(dispatcher.observe, dispatcher.edit_message)
    await dispatcher.start()
    from handlers import menu

    await menu.set_default(application.bot, services.texts)
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            lambda _ctx: run_sweepers(services),
            interval=timedelta(seconds=settings.scheduler.tick_seconds),
            first=timedelta(seconds=1),
            name="essaim-sweep",
            job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
    log.info("essaim started as @%s", application.bot.username)


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    data: AppData = application.bot_data
    try:
        services = data.services
    except RuntimeError:
        return
    if services.calls is not None:
        await services.calls.stop()
    if services.dispatcher is not None:
        await services.dispatcher.stop()
    await services.db.close()


async def _on_error(update: object, context: AppContext) -> None:
    """Log the failure (ids only) and tell the member something went wrong."""
    user_id = (
        update.effective_user.id if isinstance(update, Update) and update.effective_user else None
    )
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
