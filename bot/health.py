"""A small HTTP endpoint for monitoring: `/healthz` (JSON) and `/metrics` (Prometheus text).

It listens on loopback by default (`[health]` settings) and is started in post_init and
stopped in post_shutdown. `/healthz` answers 200 while the database answers and the outbox
moves; 503 when the database cannot be read, when every send has failed to reach Telegram
for longer than `health.max_failing_seconds` (an outage), or when the oldest undelivered
message has been due for longer than `health.max_queue_age_seconds` (retries included: the
dispatcher is stuck or Telegram refuses us).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel

from bot.config import HealthSettings
from storage.outbox import OutboxRepository

if TYPE_CHECKING:
    from bot.context import Services

log = logging.getLogger(__name__)


class Health(BaseModel):
    """What /healthz reports; ages are in seconds on the bot's clock."""

    status: str
    uptime_seconds: float
    database: str
    last_success: str | None
    last_success_age_seconds: float | None
    queue_depth: int | None
    oldest_due_age_seconds: float | None
    sent: int
    failed: int
    blocked: int
    expired: int
    unreachable: int
    failing_seconds: float | None
    retry_after: int
    worker: str
    lease: str
    """'held': this worker runs the dispatcher and the duties; 'standby': it takes updates."""
    lease_token: int | None

    @property
    def healthy(self) -> bool:
        return self.status == "ok"


class HealthServer:
    def __init__(self, services: Services, settings: HealthSettings, limiter: Any = None) -> None:
        self.services = services
        self.settings = settings
        self.limiter = limiter
        self.started = time.monotonic()
        self.port = settings.port
        self._runner: web.AppRunner | None = None

    async def snapshot(self) -> Health:
        services = self.services
        now = services.clock.now()
        depth: int | None = None
        oldest_age: float | None = None
        database = "ok"
        try:
            depth, oldest = await OutboxRepository(services.db).backlog(now)
            if oldest is not None:
                oldest_age = max(0.0, (now - oldest).total_seconds())
        except Exception as error:
            log.warning("health: database unreachable (%s)", type(error).__name__)
            database = "unreachable"
        dispatcher = services.dispatcher
        last = dispatcher.last_success if dispatcher is not None else None
        failing = dispatcher.failing_since if dispatcher is not None else None
        failing_seconds = max(0.0, (now - failing).total_seconds()) if failing else None
        stats = getattr(self.limiter, "stats", None)
        lease = services.lease
        held = lease is None or lease.held
        if database != "ok":
            status = "database unreachable"
        elif not held:
            status = "ok"  # the sender is another worker's business: this one takes updates
        elif dispatcher is None:
            status = "dispatcher stopped"
        elif failing_seconds is not None and failing_seconds >= self.settings.max_failing_seconds:
            status = "sends failing"
        elif oldest_age is not None and oldest_age > self.settings.max_queue_age_seconds:
            status = "queue stuck"
        else:
            status = "ok"
        return Health(
            status=status,
            uptime_seconds=round(time.monotonic() - self.started, 3),
            database=database,
            last_success=last.isoformat() if last else None,
            last_success_age_seconds=(now - last).total_seconds() if last else None,
            queue_depth=depth,
            oldest_due_age_seconds=oldest_age,
            sent=dispatcher.sent_total if dispatcher else 0,
            failed=dispatcher.failed_total if dispatcher else 0,
            blocked=dispatcher.blocked_total if dispatcher else 0,
            expired=dispatcher.expired_total if dispatcher else 0,
            unreachable=dispatcher.unreachable_total if dispatcher else 0,
            failing_seconds=failing_seconds,
            retry_after=int(getattr(stats, "retry_after_count", 0)),
            worker=lease.name if lease is not None else "",
            lease="held" if held else "standby",
            lease_token=lease.token if lease is not None and held else None,
        )

    async def _healthz(self, _request: web.Request) -> web.Response:
        health = await self.snapshot()
        return web.json_response(health.model_dump(), status=200 if health.healthy else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(text=render_metrics(await self.snapshot()), content_type="text/plain")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        if self.settings.metrics:
            app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("health endpoint on %s:%d", self.settings.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def render_metrics(health: Health) -> str:
    """The same figures in Prometheus' text exposition format."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, value: float | None) -> None:
        if value is None:
            return
        lines.append(f"# HELP essaim_{name} {help_text}")
        lines.append(f"# TYPE essaim_{name} {kind}")
        lines.append(f"essaim_{name} {value:g}")

    metric("up", "gauge", "1 when /healthz is ok.", 1 if health.healthy else 0)
    metric("uptime_seconds", "gauge", "Seconds since the bot started.", health.uptime_seconds)
    metric("database_up", "gauge", "1 when the database answers.", int(health.database == "ok"))
    metric(
        "queue_depth",
        "gauge",
        "Deliveries due and not yet sent, retries included.",
        health.queue_depth,
    )
    metric(
        "oldest_due_age_seconds",
        "gauge",
        "Age of the oldest due delivery.",
        health.oldest_due_age_seconds if health.oldest_due_age_seconds is not None else 0,
    )
    metric(
        "last_success_age_seconds",
        "gauge",
        "Seconds since the last delivery Telegram accepted.",
        health.last_success_age_seconds,
    )
    metric("deliveries_sent_total", "counter", "Deliveries sent.", health.sent)
    metric("deliveries_failed_total", "counter", "Deliveries given up.", health.failed)
    metric(
        "deliveries_blocked_total", "counter", "Recipients who blocked the bot.", health.blocked
    )
    metric(
        "deliveries_expired_total", "counter", "Deliveries that lost their point.", health.expired
    )
    metric(
        "send_unreachable_total",
        "counter",
        "Sends that could not reach Telegram (network, 5xx), to be retried.",
        health.unreachable,
    )
    metric(
        "sends_failing_seconds",
        "gauge",
        "Seconds since sends started failing to reach Telegram (0 when they succeed).",
        health.failing_seconds or 0,
    )
    metric("retry_after_total", "counter", "429 answers from Telegram.", health.retry_after)
    return "\n".join(lines + lease_metrics(health)) + "\n"


def lease_metrics(health: Health) -> list[str]:
    """Which worker sends: the lease holder says 1, the others 0."""
    held = int(health.lease == "held")
    lines = [
        "# HELP essaim_lease_held 1 when this worker holds the sender lease (outbox, duties).",
        "# TYPE essaim_lease_held gauge",
        f'essaim_lease_held{{worker="{health.worker}"}} {held}',
    ]
    if health.lease_token is not None:
        lines += [
            "# HELP essaim_lease_token Fencing token of the lease held.",
            "# TYPE essaim_lease_token gauge",
            f"essaim_lease_token {health.lease_token}",
        ]
    return lines
