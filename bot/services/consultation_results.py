"""Closing a consultation and giving its results back (issue 19).

At closing (its date, or a coordinator's "Clore maintenant") unsent copies are dropped and
the coordinator is asked what will be done with the answers. Everyone who answered then
receives the results picture with that message, or without it once
`consultations.results_wait_hours` have passed. The picture is uploaded once (to the
coordinator) and its file id reused for every copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.services.consultation_buttons import ConsultAction, ConsultPress
from bot.services.consultation_engine import BREAKDOWN_MIN, Results
from bot.services.consultations import (
    KIND,
    KIND_RESULTS,
    OUTCOME_FLOW,
    PRIORITY_MEMBER,
    PRIORITY_SUMMARY,
    ConsultationService,
)
from bot.texts import plain
from storage.consultations import Consultation
from storage.outbox import Button, NewDelivery, Payload

log = logging.getLogger(__name__)

TERRITORY_ROWS = 12
"""Territories drawn one per bar on the picture; the smaller ones share a last bar, so that
the picture stays readable on a phone whatever the number of territories."""


@dataclass(frozen=True)
class ChartText:
    """The words of the results picture, in the reader's language, and its territory rows:
    the same territories and counts as the text summary (only where at least
    `BREAKDOWN_MIN` answered), the largest first."""

    other: str
    territories_title: str = ""
    territories: list[tuple[str, int]] = field(default_factory=list)


def territory_rows(
    by_territory: dict[str, int], more: Callable[[int], str], limit: int = TERRITORY_ROWS
) -> list[tuple[str, int]]:
    """At most `limit` bars: the largest territories, then one bar "N autres territoires"
    holding the rest (each of them counted at least `BREAKDOWN_MIN`, so nobody stands out)."""
    ordered = sorted(by_territory.items(), key=lambda item: (-item[1], item[0]))
    if len(ordered) <= limit:
        return ordered
    kept, rest = ordered[: limit - 1], ordered[limit - 1 :]
    return [*kept, (more(len(rest)), sum(n for _, n in rest))]


Uploader = Callable[[int, bytes, str], Awaitable[str]]
"""Sends a picture to one chat and returns its file id (so that it is uploaded once)."""
Drawer = Callable[[Results, ChartText], bytes]


class ConsultationResults:
    def __init__(self, consultations: ConsultationService) -> None:
        self.service = consultations
        self.db = consultations.db
        self.clock = consultations.clock
        self.settings = consultations.settings
        self.repo = consultations.repo
        self.members = consultations.members
        self.outbox = consultations.outbox
        self.audit = consultations.audit
        self.conversations = consultations.conversations
        self.broadcasts = consultations.broadcasts
        self.summary = consultations.summary
        self.engine = consultations.engine
        self._uploader: Uploader | None = None
        self._drawer: Drawer | None = None

    def attach(self, uploader: Uploader, drawer: Drawer) -> None:
        self._uploader = uploader
        self._drawer = drawer

    def sweepers(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.close_expired, self.send_results]

    def _t(self, lang: str, key: str, **params: Any) -> str:
        return self.service.texts.get(lang, key, **params)

    async def language(self, member_id: int) -> str:
        return await self.service.language(member_id)

    async def close_expired(self) -> None:
        now = self.clock.now()
        for consultation in await self.repo.expired(now):
            await self._close(consultation, now)

    async def _close(self, consultation: Consultation, now: datetime) -> bool:
        """Close it, drop unsent copies and ask the coordinator for the outcome message."""
        async with self.db.transaction():
            if not await self.repo.close_if_open(consultation.id, now):
                return False
            await self.broadcasts.drop(KIND, consultation.id)
            coordinator = consultation.coordinator_id
            data = {"consultation_id": consultation.id}
            await self.conversations.save(coordinator, OUTCOME_FLOW, "text", data, now)
            lang = await self.language(coordinator)
            skip = ConsultPress(ConsultAction.NO_OUTCOME, consultation_id=consultation.id)
            button = Button(
                text=plain(self._t(lang, "consultations.button.no_outcome")), data=skip.pack()
            )
            text = self._t(
                lang,
                "consultations.ask_outcome",
                title=consultation.title,
                hours=self.settings.consultations.results_wait_hours,
            )
            await self.outbox.enqueue(
                [
                    NewDelivery(
                        chat_id=coordinator,
                        kind="consultation_notice",
                        ref_id=consultation.id,
                        priority=PRIORITY_SUMMARY,
                        payload=Payload(text=text, buttons=[[button]]),
                    )
                ]
            )
        self.summary.touch(consultation.id)
        return True

    async def close(self, consultation_id: int, coordinator_id: int) -> Consultation | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        consultation = await self.repo.get(consultation_id)
        if consultation is None or consultation.owner_kind != "audience":
            return None  # a circle's decision closes at its time, for its circle
        if not await self._close(consultation, self.clock.now()):
            return None
        await self.audit.record(
            coordinator_id,
            "consultation.close",
            f"consultation:{consultation_id}",
            self.clock.now(),
        )
        return await self.repo.get(consultation_id)

    async def set_outcome(
        self, coordinator_id: int, consultation_id: int | None, outcome: str | None
    ) -> Consultation | None:
        """The coordinator's "what we will do with it" (None: send the results without).
        The caller then runs `send_results`, after telling the coordinator: drawing the
        picture takes a while, the coordinator's screen should not wait for it."""
        if not await self.members.is_coordinator(coordinator_id):
            return None
        async with self.db.transaction():
            if consultation_id is None:
                conversation = await self.conversations.get(coordinator_id, OUTCOME_FLOW)
                if conversation is None:
                    return None
                consultation_id = int(conversation.data.get("consultation_id", 0))
            await self.conversations.clear(coordinator_id, OUTCOME_FLOW)
            if not await self.repo.set_outcome(consultation_id, outcome or ""):
                return None
        return await self.repo.get(consultation_id)

    async def send_results(self) -> None:
        """Results to everyone who answered: at the coordinator's message, or after the wait."""
        if self._uploader is None or self._drawer is None:
            return
        wait = timedelta(hours=self.settings.consultations.results_wait_hours)
        for consultation in await self.repo.results_due(self.clock.now() - wait):
            try:
                await self._send_results(consultation)
            except Exception:
                log.exception("results of consultation %d not sent", consultation.id)

    async def _send_results(self, consultation: Consultation) -> None:
        assert self._uploader is not None and self._drawer is not None
        results = await self.engine.results(consultation)
        coordinator = consultation.coordinator_id
        lang = await self.language(coordinator)
        png = await asyncio.to_thread(self._drawer, results, self.chart_text(lang, results))
        caption = self.caption(consultation, lang, results)
        file_id = consultation.results_file_id or await self._uploader(coordinator, png, caption)
        async with self.db.transaction():
            if not await self.repo.mark_results_sent(consultation.id, file_id, self.clock.now()):
                return
            people = [m for m in await self.repo.respondents(consultation.id) if m != coordinator]
            copies = []
            for member_id in people:
                member_lang = await self.language(member_id)
                copies.append(
                    NewDelivery(
                        chat_id=member_id,
                        kind=KIND_RESULTS,
                        ref_id=consultation.id,
                        priority=PRIORITY_MEMBER,
                        payload=Payload(
                            text=self.caption(consultation, member_lang, results),
                            photo=file_id,
                        ),
                    )
                )
            await self.outbox.enqueue(copies)

    def chart_text(self, lang: str, results: Results) -> ChartText:
        def more(count: int) -> str:
            return plain(self._t(lang, "consultations.chart_more_territories", count=count))

        return ChartText(
            other=plain(self._t(lang, "consultations.chart_other")),
            territories_title=plain(
                self._t(lang, "consultations.chart_territories", least=BREAKDOWN_MIN)
            ),
            territories=territory_rows(results.by_territory, more),
        )

    def caption(self, consultation: Consultation, lang: str, results: Results) -> str:
        text = self._t(
            lang,
            "consultations.results_caption",
            title=consultation.title,
            count=results.respondents,
        )
        if consultation.outcome:
            text += "\n\n" + self._t(lang, "consultations.outcome", outcome=consultation.outcome)
        return text
