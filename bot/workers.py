"""One worker among several: what the sender lease starts and stops (see bot/lease.py).

On gaining the lease a worker starts the outbox dispatcher (which first requeues what a dead
holder left claimed) and sets the webhook; on losing it, the dispatcher stops at once. With
PostgreSQL, every worker's rate limiter also takes its slots from the shared budget.
"""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.lease import SoleLease
from bot.updater import DurableUpdater

LOST_GRACE_SECONDS = 1.0
"""Sends already on their way when the lease is lost may finish this long, then are dropped."""


async def start_worker(
    lease: SoleLease,
    dispatcher: Dispatcher,
    updater: DurableUpdater,
    limiter: Any,
    settings: Settings,
) -> None:
    share_budget(limiter, lease, settings)
    dispatcher.fence_with(lease)
    lease.on_gain(dispatcher.start)
    lease.on_gain(updater.ensure_webhook)
    lease.on_lose(lambda: dispatcher.stop(LOST_GRACE_SECONDS))
    updater.may_set_webhook = lambda: lease.held
    await lease.start()


def share_budget(limiter: Any, lease: SoleLease, settings: Settings) -> None:
    """On PostgreSQL, every worker's messages take their slots from one budget (per token)."""
    from bot.lease import SharedLease
    from bot.ratelimit import PriorityRateLimiter
    from bot.ratelimit.shared import SharedBudget
    from storage.leases import BudgetRepository

    if not isinstance(lease, SharedLease) or not settings.workers.shared_budget:
        return
    if not isinstance(limiter, PriorityRateLimiter):
        return
    sending = settings.sending
    repo = BudgetRepository(lease.db)
    free = SharedBudget(repo, "free", sending.messages_per_second * sending.rate_margin)
    paid = (
        SharedBudget(
            repo,
            "paid",
            sending.paid_messages_per_second * sending.rate_margin,
        )
        if sending.allow_paid_broadcast
        else None
    )
    limiter.share(free, paid)
