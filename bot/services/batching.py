"""Group commit: requests that arrive while a batch is being written join the next batch.

SQLite has one writer, and every statement is a trip to the database thread that waits for
the event loop's next turn (about a millisecond when the bot is busy). A press that needs four
trips (begin, read, write, commit) under the write lock caps a whole bot at a few hundred
presses a second, however many arrive. Deciding presses in batches, each batch in one
transaction with a constant number of trips, lets the work per press shrink as the load grows;
a press that arrives alone is still written at once (a batch of one).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Result = TypeVar("Result")


class Batcher(Generic[Request, Result]):
    """Runs `handle` on lists of requests, one list at a time, in submission order.

    `handle` returns one result per request, in order. If it raises for a batch of several,
    each request is retried alone, so that one bad request fails only its own caller; unless
    the error is `systemic` (the database is locked or full): retrying two hundred presses one
    by one would only hold every later press behind them, so the whole batch fails at once.
    """

    def __init__(
        self,
        handle: Callable[[list[Request]], Awaitable[Sequence[Result]]],
        *,
        max_size: int = 200,
        name: str = "essaim-batch",
        systemic: tuple[type[BaseException], ...] = (),
    ) -> None:
        self._handle = handle
        self._systemic = systemic
        self._max_size = max_size
        self._name = name
        self._queue: list[tuple[Request, asyncio.Future[Result]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        """How many batches were handled (for tests and metrics)."""

    async def submit(self, request: Request) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._task is None or self._task.done():
            # A fresh context: the submitter may be inside a transaction of its own (a
            # context variable), which the batch must not believe it has joined.
            self._task = asyncio.create_task(
                self._drain(), name=self._name, context=contextvars.Context()
            )
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_size]
            del self._queue[: self._max_size]
            live = [(request, future) for request, future in batch if not future.done()]
            if live:
                await self._run(live)

    async def _run(self, batch: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        self.batches += 1
        try:
            results = list(await self._handle([request for request, _ in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} requests")
        except Exception as error:
            if len(batch) == 1 or isinstance(error, self._systemic):
                for _, future in batch:
                    if not future.done():  # unless the caller gave up (cancelled)
                        future.set_exception(error)
                return
            log.warning("a batch of %d failed, retrying each alone", len(batch), exc_info=True)
            for one in batch:
                await self._run([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
