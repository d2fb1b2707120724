"""Talking in a circle: a member's message reaches every other member, labelled with their
display name and the initiative's title, through the durable outbox; alerts to the
coordination; and the history's end.

Media are copied from the sender's chat (copyMessage: never forwarded, so nothing links back
to their account). Circle traffic as a whole keeps to its share of the sending budget
(`circles.budget_share`): every delivery takes the next slot of one shared pace stored in the
database (GCRA: a whole message to a full circle may go at once, then the pace holds), and
circle rows have the lowest priority, so a call for help is claimed first and a lively circle
never fills the dispatcher with rows waiting for their turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.inputs import Problem, check
from bot.services.circle_base import (
    CAPTION_MAX,
    PRIORITY_CIRCLE,
    TEXT_MAX,
    WRITE_FLOW,
    CircleAction,
    CirclePress,
    SendResult,
    log,
)
from bot.services.circle_membership import CircleMembership
from bot.services.outbox import Button, Copy, Location, NewDelivery, Payload
from storage.circle_messages import AlertStatus, CircleMessage, MessageKind, NewMessage
from storage.circles import Circle
from storage.members import Member

HISTORY_BATCH = 2000


@dataclass
class Content:
    """What a member sent to write in a circle (read from their Telegram message)."""

    kind: MessageKind | None
    """None: something a circle does not carry (a sticker, a document...)."""
    text: str | None = None
    message_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None


class CircleTalk(CircleMembership):
    # --- writing -----------------------------------------------------------------------

    async def start_writing(self, member_id: int, circle_id: int) -> Circle | None:
        """The member's next message goes to this circle (they must be in it)."""
        circle = await self.repo.get(circle_id)
        if circle is None or await self.repo.membership(circle_id, member_id) is None:
            return None
        await self.conversations.save(
            member_id, WRITE_FLOW, "message", {"circle_id": circle_id}, self.clock.now()
        )
        return circle

    async def cancel_writing(self, member_id: int) -> None:
        await self.conversations.clear(member_id, WRITE_FLOW)

    async def send(self, member_id: int, circle_id: int, content: Content) -> SendResult:
        if content.kind is None:
            return SendResult("wrong_kind")
        limit = TEXT_MAX if content.kind == "text" else CAPTION_MAX
        checked = check(content.text, limit)
        if checked.problem is Problem.TOO_LONG:
            return SendResult("too_long", limit=limit)
        if content.kind == "text" and checked.problem is Problem.EMPTY:
            return SendResult("empty")
        now = self.clock.now()
        async with self.db.transaction():
            circle = await self.repo.lock(circle_id)
            sender = await self.member_repo.get(member_id)
            if (
                circle is None
                or sender is None
                or not await self.repo.membership(circle_id, member_id)
            ):
                await self.conversations.clear(member_id, WRITE_FLOW)
                return SendResult("gone")
            slow = await self._flood(circle_id, member_id, now)
            if slow is not None:
                return SendResult(slow, circle)  # the writing stays open: they may retry
            message_id = await self.messages.add(
                NewMessage(
                    circle_id=circle_id,
                    sender_id=member_id,
                    kind=content.kind,
                    text=checked.value or None,
                    source_chat_id=member_id if content.kind in ("photo", "voice") else None,
                    source_message_id=content.message_id,
                    latitude=content.latitude,
                    longitude=content.longitude,
                ),
                now,
            )
            message = await self.messages.get(message_id)
            assert message is not None
            recipients = await self._deliver(circle, sender, message, now)
            await self.repo.touch(circle_id, now)
            await self.repo.mark_read(circle_id, member_id, now)
            await self.conversations.clear(member_id, WRITE_FLOW)
        log.info("circle %d: message %d from %d", circle_id, message_id, member_id)
        return SendResult("sent", circle, recipients=recipients)

    async def _flood(self, circle_id: int, member_id: int, now: datetime) -> str | None:
        minute = now - timedelta(minutes=1)
        limits = self.settings.circles
        if await self.messages.count_since(circle_id, minute, member_id) >= (
            limits.member_messages_per_minute
        ):
            return "slow_member"
        if await self.messages.count_since(circle_id, minute, None) >= (
            limits.circle_messages_per_minute
        ):
            return "slow_circle"
        return None

    async def _deliver(
        self, circle: Circle, sender: Member, message: CircleMessage, now: datetime
    ) -> int:
        """Queue the message for every other active member; the muted ones only count it."""
        audience = [
            s for s in await self.repo.audience(circle.id) if s.member_id != sender.telegram_id
        ]
        await self.repo.count_unread(circle.id, [s.member_id for s in audience if s.muted])
        listening = [s.member_id for s in audience if not s.muted]
        people = await self.member_repo.get_many(listening)
        payloads = [
            (chat_id, payload)
            for chat_id in listening
            if chat_id in people
            for payload in self._render(people[chat_id].language, circle, sender, message)
        ]
        slots = await self._slots(len(payloads), now)
        await self.outbox.enqueue(
            [
                NewDelivery(
                    chat_id=chat_id,
                    kind="circle.message",
                    ref_id=message.id,
                    priority=PRIORITY_CIRCLE,
                    payload=payload,
                    not_before=slot,
                )
                for (chat_id, payload), slot in zip(payloads, slots, strict=True)
            ]
        )
        return len(people)

    async def _slots(self, count: int, now: datetime) -> list[datetime]:
        """`count` instants on the shared pace of circle traffic (GCRA, stored: every worker
        draws from the same share; the pace row stays locked until the transaction ends)."""
        if count == 0:
            return []
        limits = self.settings.circles
        rate = limits.budget_share * self.settings.sending.messages_per_second
        interval = timedelta(seconds=1 / rate)
        tolerance = interval * limits.size_limit
        start = max(await self.messages.pace(), now - tolerance)
        await self.messages.set_pace(start + interval * count)
        return [max(now, start + interval * k) for k in range(count)]

    def _render(
        self, lang: str, circle: Circle, sender: Member, message: CircleMessage
    ) -> list[Payload]:
        """What one recipient receives: the sender's display name and the initiative's title,
        never their username or id; "Répondre" and "Alerter la coordination" buttons."""
        buttons = [
            [
                self._button(
                    lang,
                    "circles.button.reply",
                    CirclePress(CircleAction.REPLY, circle_id=circle.id),
                ),
                self._button(
                    lang,
                    "circles.button.alert",
                    CirclePress(CircleAction.ALERT, message_id=message.id),
                ),
            ]
        ]
        head = {"name": sender.display_name, "title": circle.title, "text": message.text or ""}
        key = f"circles.incoming.{message.kind}"
        if message.kind == "location":
            assert message.latitude is not None and message.longitude is not None
            where = Location(latitude=message.latitude, longitude=message.longitude)
            return [
                Payload(text=self.texts.get(lang, key, **head)),
                Payload(location=where, buttons=buttons),
            ]
        if message.kind == "text":
            return [Payload(text=self.texts.get(lang, key, **head), buttons=buttons)]
        assert message.source_chat_id is not None and message.source_message_id is not None
        source = Copy(from_chat_id=message.source_chat_id, message_id=message.source_message_id)
        return [Payload(copy_of=source, text=self.texts.get(lang, key, **head), buttons=buttons)]

    # --- alerts to the coordination ----------------------------------------------------

    async def alert(self, reporter_id: int, message_id: int) -> str:
        """ "sent", "already", "own" (their own message) or "stale"."""
        now = self.clock.now()
        async with self.db.transaction():
            message = await self.messages.get(message_id)
            circle = await self.repo.get(message.circle_id) if message else None
            if message is None or circle is None:
                return "stale"
            if await self.repo.membership(circle.id, reporter_id) is None:
                return "stale"
            if message.sender_id == reporter_id:
                return "own"
            alert_id = await self.messages.add_alert(message, reporter_id, now)
            if alert_id is None:
                return "already"
            author = await self.member_repo.get(message.sender_id)
            name = author.display_name if author else "—"
            coordinators = await self._coordinators()
            people = await self.member_repo.get_many(coordinators)
            deliveries = []
            for chat_id in coordinators:
                lang = self._lang(people, chat_id)
                rows = [
                    [
                        self._button(
                            lang,
                            "circles.button.alert_remove",
                            CirclePress(CircleAction.ALERT_REMOVE, alert_id=alert_id),
                        )
                    ],
                    [
                        self._button(
                            lang,
                            "circles.button.alert_dismiss",
                            CirclePress(CircleAction.ALERT_DISMISS, alert_id=alert_id),
                        )
                    ],
                ]
                intro = self.texts.get(lang, "circles.alert.notice", title=circle.title, name=name)
                deliveries += [
                    NewDelivery(chat_id=chat_id, kind="circle.alert", ref_id=alert_id, payload=p)
                    for p in self._alert_payloads(lang, intro, message, rows)
                ]
            await self.outbox.enqueue(deliveries)
        log.info("circle %d: message %d alerted by %d", circle.id, message_id, reporter_id)
        return "sent"

    def _alert_payloads(
        self, lang: str, intro: str, message: CircleMessage, rows: list[list[Button]]
    ) -> list[Payload]:
        """The coordinators see the message itself (a copy of a photo or voice message)."""
        if message.kind == "text":
            quote = self.texts.get(lang, "circles.quote", text=message.text or "")
            return [Payload(text=intro + "\n\n" + quote, buttons=rows)]
        if message.kind == "location":
            assert message.latitude is not None and message.longitude is not None
            where = Location(latitude=message.latitude, longitude=message.longitude)
            return [Payload(text=intro, buttons=rows), Payload(location=where)]
        assert message.source_chat_id is not None and message.source_message_id is not None
        source = Copy(from_chat_id=message.source_chat_id, message_id=message.source_message_id)
        return [Payload(text=intro, buttons=rows), Payload(copy_of=source)]

    async def handle_alert(self, coordinator_id: int, alert_id: int, remove: bool) -> str:
        """ "removed", "dismissed", "done" (handled already), "gone" (the author left meanwhile),
        "denied" or "stale"."""
        now = self.clock.now()
        async with self.db.transaction():
            if not await self.members.is_coordinator(coordinator_id):
                return "denied"
            alert = await self.messages.alert(alert_id)
            if alert is None:
                return "stale"
            if alert.status != "open":
                return "done"
            status: AlertStatus = "removed" if remove else "dismissed"
            await self.messages.handle_alert(alert_id, status, coordinator_id, now)
            circle = await self.repo.lock(alert.circle_id)
            if not remove or circle is None or alert.author_id is None:
                return status
            if await self.repo.membership(circle.id, alert.author_id) is None:
                return "gone"
            await self._take_out(
                circle, alert.author_id, coordinator_id, "circles.removed_by_coordination"
            )
            await self.messages.close_alerts_about(circle.id, alert.author_id, coordinator_id, now)
            await self.audit.record(
                coordinator_id, "circle.remove", str(circle.id), now, {"alert": alert_id}
            )
        return "removed"

    # --- the history's end -------------------------------------------------------------

    async def sweep(self) -> None:
        """Sweeper: what was said in circles is erased after `circles.history_days`."""
        cutoff = self.clock.now() - timedelta(days=self.settings.circles.history_days)
        erased = 0
        while True:
            async with self.db.transaction():
                batch = await self.messages.erase_before(cutoff, HISTORY_BATCH)
            erased += batch
            if batch < HISTORY_BATCH:
                break
        if erased:
            log.info("circles: %d messages past their history erased", erased)
