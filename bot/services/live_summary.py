"""A broadcast's live summary: the sender's message that edits itself while copies go out
and answers come in, at most once every `every` seconds, whatever the rate of changes.

The owner (calls, consultations) says which outbox kind carries the summary and which kinds
change it, how to remember where the summary message is once it is sent, and how to render
it. Changes only mark a broadcast dirty; one task edits every dirty summary, then sleeps
until the interval has passed, so a storm of results costs one edit per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence

from storage.outbox import Delivery, DeliveryResult, Payload

log = logging.getLogger(__name__)

Editor = Callable[[int, int, Payload], Awaitable[None]]
Located = tuple[int, int, Payload]
"""Where the summary is (chat id, message id) and what it should say now."""


class LiveSummary:
    def __init__(
        self,
        *,
        name: str,
        summary_kind: str,
        item_kinds: Sequence[str],
        every: float,
        remember: Callable[[int, int, int], Awaitable[None]],
        render: Callable[[int], Awaitable[Located | None]],
    ) -> None:
        self.name = name
        self.summary_kind = summary_kind
        self.item_kinds = frozenset(item_kinds)
        self.every = every
        self._remember = remember
        self._render = render
        self._editor: Editor | None = None
        self._dirty: set[int] = set()
        self._last_edit = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def attach(self, editor: Editor) -> None:
        self._editor = editor

    async def on_results(self, results: Sequence[tuple[Delivery, DeliveryResult]]) -> None:
        """The dispatcher's observer: a summary just sent is remembered; copies that changed
        mark their broadcast dirty."""
        for delivery, result in results:
            if delivery.ref_id is None:
                continue
            if delivery.kind == self.summary_kind:
                if result.status == "sent" and result.message_id:
                    await self._remember(delivery.ref_id, delivery.chat_id, result.message_id)
                    self._dirty.add(delivery.ref_id)
            elif delivery.kind in self.item_kinds:
                self._dirty.add(delivery.ref_id)
        self._kick()

    def touch(self, ref_id: int) -> None:
        """Something the summary shows changed (an answer, a closing)."""
        self._dirty.add(ref_id)
        self._kick()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _kick(self) -> None:
        if self._dirty and self._editor and (self._task is None or self._task.done()):
            # A fresh context: `touch` may run inside a transaction, which this long-lived
            # task must not believe it has joined.
            self._task = asyncio.create_task(
                self._loop(), name=f"essaim-{self.name}-summary", context=contextvars.Context()
            )

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._dirty and self._editor is not None:
            wait = self._last_edit + self.every - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            dirty, self._dirty = self._dirty, set()
            self._last_edit = loop.time()
            for ref_id in sorted(dirty):
                try:
                    located = await self._render(ref_id)
                    if located is not None and self._editor is not None:
                        await self._editor(*located)
                except Exception:
                    log.exception("%s summary %d not updated", self.name, ref_id)
