"""The priority rate limiter, driven on virtual time.

Each test runs on an event loop whose clock only moves when every task is waiting: the loop
then jumps to the earliest pending wake-up. Start instants recorded by the fake callback are
therefore exact, and pacing is asserted to the microsecond without any wall-clock dependence.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import selectors
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.error import RetryAfter
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData

from bot.ratelimit import MESSAGE_ENDPOINTS, Lane, PriorityRateLimiter

T = TypeVar("T")
EPS = 1e-6


class Deadlock(RuntimeError):
    """Every task waits and nothing is scheduled: the test would hang on a real clock."""


class VirtualClock:
    """Virtual time plus a ``sleep`` that wakes when the loop has nothing else to do."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now + max(0.0, delay), next(self._seq), future))
        await future

    def idle(self, loop_timeout: float | None) -> None:
        """Called by the loop when no callback is ready: jump to the next wake-up."""
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)
        deadlines = [self._waiters[0][0]] if self._waiters else []
        if loop_timeout is not None:
            deadlines.append(self._now + loop_timeout)
        if not deadlines:
            raise Deadlock("all tasks are waiting and no wake-up is pending")
        self._now = max(self._now, min(deadlines))
        while self._waiters and self._waiters[0][0] <= self._now:
            future = heapq.heappop(self._waiters)[2]
            if not future.done():
                future.set_result(None)


class _VirtualSelector(selectors.BaseSelector):
    def __init__(self, clock: VirtualClock) -> None:
        self._inner = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._inner.select(0)
        if not events and timeout != 0:
            self._clock.idle(timeout)
        return events

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_VirtualSelector(clock))
        self._virtual_clock = clock

    def time(self) -> float:
        return self._virtual_clock.time()


def run(main: Callable[[VirtualClock], Coroutine[Any, Any, T]]) -> T:
    clock = VirtualClock()
    with asyncio.Runner(loop_factory=lambda: VirtualLoop(clock)) as runner:
        return runner.run(main(clock))


@dataclass
class Start:
    at: float
    endpoint: str
    data: dict[str, Any]


@dataclass
class FakeApi:
    """Records when each request starts; can add latency and answer 429 on chosen calls."""

    clock: VirtualClock
    latency: float = 0.0
    retry_after_on: dict[int, float] = field(default_factory=dict)
    starts: list[Start] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def callback(self, endpoint: str, data: dict[str, Any]) -> Any:
        async def call() -> bool:
            number = len(self.starts)
            self.starts.append(Start(self.clock.time(), endpoint, data))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if self.latency:
                    await self.clock.sleep(self.latency)
                if number in self.retry_after_on:
                    raise RetryAfter(self.retry_after_on.pop(number))
                return True
            finally:
                self.in_flight -= 1

        return call

    def times(self, **match: Any) -> list[float]:
        return [s.at for s in self.starts if all(s.data.get(k) == v for k, v in match.items())]


def make_limiter(clock: VirtualClock, **kwargs: Any) -> PriorityRateLimiter:
    return PriorityRateLimiter(time_source=clock.time, sleep=clock.sleep, **kwargs)


def request(
    limiter: PriorityRateLimiter,
    api: FakeApi,
    endpoint: str = "sendMessage",
    lane: str | None = None,
    **data: Any,
) -> asyncio.Task[Any]:
    args = None if lane is None else {"lane": lane}
    coro = limiter.process_request(api.callback(endpoint, data), (), {}, endpoint, data, args)
    return asyncio.ensure_future(coro)


def spacing(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


# -- lanes and pacing ------------------------------------------------------------------


def test_interactive_overtakes_a_queued_broadcast() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock)
        api = FakeApi(clock)
        bulk = [request(limiter, api, lane="bulk", chat_id=i, n=i) for i in range(300)]
        await clock.sleep(2.0)
        pressed_at = clock.time()
        reply = request(limiter, api, chat_id=9999, n=-1)
        await asyncio.gather(reply, *bulk)
        await limiter.shutdown()

        (reply_start,) = api.times(n=-1)
        assert reply_start - pressed_at <= 1 / 30 + EPS
        order = [s.data["n"] for s in api.starts]
        bulk_before = order.index(-1)
        assert bulk_before < 100  # about 60 had gone; 240 broadcast messages were overtaken
        assert order[:bulk_before] == list(range(bulk_before))  # broadcast keeps its order
        assert limiter.stats.requests == {Lane.INTERACTIVE: 1, Lane.BULK: 300}

    run(main)


def test_long_bulk_run_reaches_the_configured_rate_with_requests_in_flight() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock)
        api = FakeApi(clock, latency=0.08)
        slots = asyncio.Semaphore(16)  # as the outbox dispatcher keeps a few in flight

        async def deliver(chat_id: int) -> None:
            async with slots:
                await request(limiter, api, lane="bulk", chat_id=chat_id)

        await asyncio.gather(*(deliver(i) for i in range(3000)))
        assert limiter.stats.tracked_chats <= 40  # 3000 chats seen, only recent ones kept
        await limiter.shutdown()

        times = [s.at for s in api.starts]
        achieved = (len(times) - 1) / (times[-1] - times[0])
        assert achieved >= 0.97 * 30
        assert api.max_in_flight >= 3  # 80 ms latency at 30/s needs several at once
        burst = 3
        for i in range(len(times) - 32):
            # GCRA bound: any n+burst consecutive starts span at least n intervals.
            assert times[i + 30 + burst - 1] - times[i] >= 30 / 30 - EPS

    run(main)


def test_late_wake_ups_do_not_lower_the_rate() -> None:
    async def main(clock: VirtualClock) -> None:
        async def oversleep(delay: float) -> None:
            await clock.sleep(delay + 0.004)  # a busy event loop wakes us a little late

        limiter = PriorityRateLimiter(time_source=clock.time, sleep=oversleep)
        api = FakeApi(clock)
        await asyncio.gather(*(request(limiter, api, lane="bulk", chat_id=i) for i in range(900)))
        await limiter.shutdown()
        times = [s.at for s in api.starts]
        assert (len(times) - 1) / (times[-1] - times[0]) >= 0.97 * 30

    run(main)


def test_per_chat_spacing_for_bulk_and_small_burst_for_interactive() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock)
        api = FakeApi(clock)
        start = clock.time()
        tasks = [request(limiter, api, lane="bulk", chat_id=1, n=i) for i in range(4)]
        tasks += [request(limiter, api, lane="bulk", chat_id=100 + i) for i in range(60)]
        await asyncio.gather(*tasks)
        to_chat = [s for s in api.starts if s.data["chat_id"] == 1]
        assert [s.data["n"] for s in to_chat] == [0, 1, 2, 3]
        assert all(gap >= 1.0 - EPS for gap in spacing([s.at for s in to_chat]))
        # The other chats were not held up behind chat 1's spacing.
        others = [s.at for s in api.starts if s.data["chat_id"] != 1]
        assert max(others) - start <= 64 / 30

        api.starts.clear()
        await clock.sleep(10)
        t0 = clock.time()
        replies = [request(limiter, api, chat_id=2, n=i) for i in range(4)]
        await asyncio.gather(*replies)
        then_bulk = request(limiter, api, lane="bulk", chat_id=2, n=4)
        await then_bulk
        await limiter.shutdown()
        assert [s.at - t0 for s in api.starts] == pytest.approx([0, 0, 0, 1, 4])

    run(main)


def test_a_chats_burst_is_shared_by_both_lanes() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock)
        api = FakeApi(clock)
        t0 = clock.time()
        await request(limiter, api, lane="bulk", chat_id=5)
        await asyncio.gather(*(request(limiter, api, chat_id=5) for _ in range(3)))
        await limiter.shutdown()
        # Replies may burst right after a broadcast message, but the chat's three-message
        # allowance counts the broadcast one too.
        assert [s.at - t0 for s in api.starts] == pytest.approx([0, 0, 0, 1])

    run(main)


def test_paid_broadcast_uses_the_paid_rate_only_when_enabled() -> None:
    async def rate(clock: VirtualClock, paid_per_second: float | None) -> float:
        limiter = make_limiter(clock, paid_per_second=paid_per_second)
        api = FakeApi(clock)
        tasks = [
            request(limiter, api, lane="bulk", chat_id=i, allow_paid_broadcast=True)
            for i in range(3000)
        ]
        await asyncio.gather(*tasks)
        await limiter.shutdown()
        times = [s.at for s in api.starts]
        return (len(times) - 1) / (times[-1] - times[0])

    async def main(clock: VirtualClock) -> None:
        paid = await rate(clock, 1000.0)
        assert 0.97 * 1000 <= paid <= 1000 * 1.05
        free = await rate(clock, None)
        assert 0.97 * 30 <= free <= 30 * 1.05

    run(main)


def test_interactive_messages_do_not_use_the_paid_rate() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock, paid_per_second=1000.0)
        api = FakeApi(clock)
        tasks = [request(limiter, api, chat_id=i, allow_paid_broadcast=True) for i in range(90)]
        await asyncio.gather(*tasks)
        await limiter.shutdown()
        times = [s.at for s in api.starts]
        assert times[-1] - times[0] >= (90 - 3) / 30 - EPS

    run(main)


def test_non_message_endpoints_take_no_token() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock)
        api = FakeApi(clock)
        bulk = [request(limiter, api, lane="bulk", chat_id=i) for i in range(90)]
        await clock.sleep(1.0)
        asked_at = clock.time()
        answers = [
            request(limiter, api, "answerCallbackQuery", callback_query_id=str(i))
            for i in range(50)
        ]
        answers.append(request(limiter, api, "getMe"))
        await asyncio.gather(*answers)
        assert [s.at for s in api.starts if s.endpoint != "sendMessage"] == [asked_at] * 51
        await asyncio.gather(*bulk)
        await limiter.shutdown()
        times = [s.at for s in api.starts if s.endpoint == "sendMessage"]
        # The broadcast kept its own pace: 90 messages, 3 of them as the initial burst.
        assert times[-1] - times[0] == pytest.approx((90 - 3) / 30)

    run(main)


# -- 429 -------------------------------------------------------------------------------


def test_retry_after_pauses_everything_then_resumes_without_burst() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock, retry_margin=0.0)
        api = FakeApi(clock, latency=0.05, retry_after_on={10: 2})
        bulk = [request(limiter, api, lane="bulk", chat_id=i, n=i) for i in range(60)]
        await clock.sleep(0.5)  # the 429 arrives at about 10/30 + 0.05 s
        replies = [request(limiter, api, chat_id=1000 + i, n=1000 + i) for i in range(5)]
        answer = request(limiter, api, "answerCallbackQuery", callback_query_id="x")
        await asyncio.gather(*bulk, *replies, answer)
        await limiter.shutdown()

        failed = api.starts[10]
        pause_end = failed.at + 0.05 + 2
        assert not [s for s in api.starts if failed.at + 0.05 < s.at < pause_end - EPS]
        after = [s for s in api.starts if s.at >= pause_end - EPS]
        message_starts = [s.at for s in after if s.endpoint == "sendMessage"]
        assert message_starts[0] == pytest.approx(pause_end)
        assert min(spacing(message_starts)) >= 1 / 30 - EPS  # the bucket restarted empty
        resumed = [s.data["n"] for s in after if s.endpoint == "sendMessage"]
        assert resumed[:5] == [1000, 1001, 1002, 1003, 1004]  # interactive first
        assert resumed[5] == failed.data["n"]  # then the retried one, in broadcast order
        assert sorted(s.data["n"] for s in api.starts if s.data.get("n") == 10) == [10, 10]
        assert limiter.stats.retry_after_count == 1
        assert all(t.result() is True for t in bulk)

    run(main)


def test_retry_after_reaches_the_caller_when_retries_run_out() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock, max_retries=2)
        api = FakeApi(clock, retry_after_on={0: 1, 1: 1, 2: 1})
        with pytest.raises(RetryAfter):
            await request(limiter, api, lane="bulk", chat_id=1)
        assert len(api.starts) == 3
        assert limiter.stats.retry_after_count == 3
        assert limiter.stats.paused_until is not None
        await clock.sleep(2)
        assert limiter.stats.paused_until is None
        await limiter.shutdown()

    run(main)


def test_per_call_max_retries_overrides_the_default() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock, max_retries=3)
        api = FakeApi(clock, retry_after_on={0: 1})
        coro = limiter.process_request(
            api.callback("sendMessage", {"chat_id": 1}),
            (),
            {},
            "sendMessage",
            {"chat_id": 1},
            {"lane": "bulk", "max_retries": 0},
        )
        with pytest.raises(RetryAfter):
            await coro
        assert len(api.starts) == 1
        await limiter.shutdown()

    run(main)


# -- bookkeeping -----------------------------------------------------------------------


def test_stats_count_waiting_requests_and_cancelled_ones_leave() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock)
        api = FakeApi(clock)
        bulk = [request(limiter, api, lane="bulk", chat_id=i, n=i) for i in range(30)]
        await clock.sleep(0.11)
        stats = limiter.stats
        assert stats.waiting[Lane.BULK] == 30 - len(api.starts)
        assert stats.requests[Lane.BULK] == len(api.starts)
        bulk[20].cancel()
        await asyncio.gather(*bulk, return_exceptions=True)
        await limiter.shutdown()
        assert 20 not in [s.data["n"] for s in api.starts]
        assert len(api.starts) == 29
        assert limiter.stats.waiting == {Lane.INTERACTIVE: 0, Lane.BULK: 0}

    run(main)


def test_shutdown_fails_requests_still_waiting() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock)
        api = FakeApi(clock)
        bulk = [request(limiter, api, lane="bulk", chat_id=i) for i in range(10)]
        await clock.sleep(0.05)
        await limiter.shutdown()
        results = await asyncio.gather(*bulk, return_exceptions=True)
        assert sum(isinstance(r, RuntimeError) for r in results) == 10 - len(api.starts)
        assert len(api.starts) < 10

    run(main)


def test_unknown_lane_is_refused() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock)
        api = FakeApi(clock)
        with pytest.raises(ValueError, match="urgent"):
            await request(limiter, api, lane="urgent", chat_id=1)
        assert api.starts == []

    run(main)


def test_defaults_use_the_running_loop_clock() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = PriorityRateLimiter()
        await limiter.initialize()
        api = FakeApi(clock)
        await asyncio.gather(*(request(limiter, api, chat_id=i) for i in range(33)))
        await limiter.shutdown()
        times = [s.at for s in api.starts]
        assert times[-1] - times[0] == pytest.approx(30 / 30)

    run(main)


# -- through PTB's own bot -------------------------------------------------------------


class FakeRequest(BaseRequest):
    """A Bot API double: answers every call successfully and records the endpoint."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.calls: list[tuple[float, str, dict[str, Any]]] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        self.calls.append((self.clock.time(), endpoint, dict(params)))
        if endpoint == "getMe":
            result: Any = {"id": 1, "is_bot": True, "first_name": "Essaim", "username": "e_bot"}
        elif endpoint == "sendMessage":
            result = {
                "message_id": len(self.calls),
                "date": 0,
                "chat": {"id": params["chat_id"], "type": "private"},
                "text": params["text"],
            }
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()


def test_ptb_bot_passes_lanes_and_paid_flag_to_the_limiter() -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock, paid_per_second=1000.0)
        fake = FakeRequest(clock)
        bot = ExtBot("1:TOKEN", request=fake, get_updates_request=fake, rate_limiter=limiter)
        async with bot:
            start = clock.time()
            sends = [
                bot.send_message(
                    i, "hi", allow_paid_broadcast=True, rate_limit_args={"lane": "bulk"}
                )
                for i in range(200)
            ]
            await asyncio.gather(*sends)
            paid_elapsed = clock.time() - start
            await asyncio.gather(*(bot.send_message(i, "hi") for i in range(40)))
            await bot.answer_callback_query("1")
        assert {e for _, e, _ in fake.calls} <= MESSAGE_ENDPOINTS | {
            "getMe",
            "answerCallbackQuery",
        }
        assert paid_elapsed < 200 / 30 / 2  # paid pacing applied, not 30/s
        assert limiter.stats.requests[Lane.BULK] == 200
        assert limiter.stats.requests[Lane.INTERACTIVE] == 40 + 1 + 1  # + getMe, callback

    run(main)


# -- properties ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["interactive", "bulk"]),
            st.integers(min_value=0, max_value=4),
            st.floats(min_value=0, max_value=3, allow_nan=False).map(lambda x: round(x, 2)),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_pacing_invariants_hold_for_any_arrival_pattern(
    arrivals: list[tuple[str, int, float]],
) -> None:
    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock, messages_per_second=10.0, per_chat_per_second=1.0)
        api = FakeApi(clock, latency=0.03)
        t0 = clock.time()

        async def arrive(i: int, lane: str, chat: int, delay: float) -> None:
            await clock.sleep(delay)
            await request(limiter, api, lane=lane, chat_id=chat, n=i, lane_name=lane)

        await asyncio.gather(*(arrive(i, *a) for i, a in enumerate(arrivals)))
        await limiter.shutdown()

        times = [s.at for s in api.starts]
        assert len(times) == len(arrivals)
        for i in range(len(times) - 1):  # global bucket: 10/s with a burst of 1
            assert times[i + 1] - times[i] >= 0.1 - EPS
        for chat in range(5):
            starts = [s for s in api.starts if s.data["chat_id"] == chat]
            for a, b in itertools.pairwise(starts):
                if b.data["lane_name"] == "bulk":  # a broadcast message waits a full second
                    assert b.at - a.at >= 1.0 - EPS
            for k in range(len(starts) - 3):  # never more than the 3-message chat burst
                assert starts[k + 3].at - starts[k].at >= 1.0 - EPS
            for lane in ("interactive", "bulk"):
                order = [s.data["n"] for s in starts if s.data["lane_name"] == lane]
                arrived = sorted(order, key=lambda n: (round(t0 + arrivals[n][2], 9), n))
                assert order == arrived  # a chat's messages keep their order in a lane

    run(main)


def test_catch_up_keeps_the_grid_when_a_send_is_a_little_late() -> None:
    from bot.ratelimit.buckets import Gcra

    grid = Gcra(rate=10.0, burst=1, catch_up=1.0)
    grid.consume(0.0)
    assert grid.allowed_at() == pytest.approx(0.1)
    grid.consume(0.13)  # 30 ms late: the next slot stays on the grid
    assert grid.allowed_at() == pytest.approx(0.2)
    grid.consume(0.5)  # far later than one interval: start again from now, no burst
    assert grid.allowed_at() == pytest.approx(0.6)
    drifting = Gcra(rate=10.0, burst=1)
    drifting.consume(0.0)
    drifting.consume(0.13)
    assert drifting.allowed_at() == pytest.approx(0.23)


def test_window_counts_like_telegram_on_the_instants_requests_really_leave() -> None:
    from bot.ratelimit.buckets import Gcra

    window = Gcra(rate=3.0, burst=1, catch_up=1.0, window=(3, 1.0))
    starts = [window.consume(t) for t in (0.0, 0.5, 0.7)]  # the two last on catch-up slots
    assert window.allowed_at() == pytest.approx(1.0)  # 3 in the last second: wait for the 1st
    assert starts[0] is not None
    starts[0].at = 0.2  # its caller really resumed 200 ms late: the window follows it
    assert window.allowed_at() == pytest.approx(1.2)


def test_no_sliding_window_ever_holds_more_than_the_limit_even_when_callers_resume_late() -> None:
    lag = itertools.cycle([0.0, 0.0, 0.025, 0.0, 0.011, 0.0, 0.004])

    class BusyLoop(PriorityRateLimiter):
        """Callers resume a little after they were let go, as on a busy event loop."""

        async def _wait_turn(self, *args: Any) -> Any:
            starts = await super()._wait_turn(*args)
            await self._sleep(next(lag))
            return starts

    async def main(clock: VirtualClock) -> None:
        rate, margin = 30.0, 0.99
        limiter = BusyLoop(
            messages_per_second=rate * margin,
            burst=1,
            catch_up=1.0,
            window=(30, 1 / margin),
            time_source=clock.time,
            sleep=clock.sleep,
        )
        api = FakeApi(clock, latency=0.08)
        slots = asyncio.Semaphore(16)

        async def deliver(n: int) -> None:
            async with slots:
                await request(limiter, api, lane="bulk", chat_id=n)

        await asyncio.gather(*(deliver(n) for n in range(1500)))
        await limiter.shutdown()

        times = sorted(s.at for s in api.starts)
        for i in range(len(times) - 30):
            assert times[i + 30] - times[i] >= 1.0 - EPS  # Telegram would never say 429
        assert (len(times) - 1) / (times[-1] - times[0]) >= 0.97 * rate

    run(main)


def test_a_429_widens_the_window_once_per_pause_and_quiet_narrows_it_back() -> None:
    from bot.ratelimit.buckets import QUIET_SECONDS, Gcra

    bucket = Gcra(rate=30.0, burst=1, catch_up=1.0, window=(30, 1.0))
    bucket.widen(10.0)
    assert bucket.window == pytest.approx(1.01)
    for _ in range(20):
        bucket.widen(11.0)
    assert bucket.window == pytest.approx(1.05)  # capped
    bucket.consume(11.0 + QUIET_SECONDS / 2)
    assert bucket.window == pytest.approx(1.05)  # not quiet long enough
    bucket.consume(11.0 + QUIET_SECONDS)
    assert bucket.window == pytest.approx(1.05 * 0.99)

    async def main(clock: VirtualClock) -> None:
        limiter = make_limiter(clock, window=(30, 1.0))
        api = FakeApi(clock, retry_after_on={5: 1, 6: 1})  # both in flight get a 429
        api.latency = 0.05
        await asyncio.gather(*(request(limiter, api, lane="bulk", chat_id=i) for i in range(40)))
        await limiter.shutdown()
        assert limiter.stats.retry_after_count == 2
        assert limiter._global.window == pytest.approx(1.01)  # one pause, one widening

    run(main)


def test_the_default_limiter_window_follows_any_configured_rate() -> None:
    from bot.app import _window

    assert _window(30, 0.99) == (30, pytest.approx(30 / 29.7))
    assert _window(0.5, 0.99) == (1, pytest.approx(1 / (0.5 * 0.99)))  # below one a second
    assert _window(1000, 0.99, 0.03) == (1000, pytest.approx(1000 / 990 + 0.03))
