"""The application's rate limiter (see bot.ratelimit.limiter for how it works)."""

from bot.ratelimit.lanes import MESSAGE_ENDPOINTS, PAID_BROADCAST_MAX_RATE, Lane, RateLimiterStats
from bot.ratelimit.limiter import PriorityRateLimiter

__all__ = [
    "MESSAGE_ENDPOINTS",
    "PAID_BROADCAST_MAX_RATE",
    "Lane",
    "PriorityRateLimiter",
    "RateLimiterStats",
]
