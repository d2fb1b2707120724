"""Check-ins: due ones sent inside the day window, one-tap answers, the optional note."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.inputs import Problem, check
from bot.services.outbox import Button, Payload
from bot.services.pair_base import (
    ANSWER_HEALTH,
    ESCALATING,
    NOTE_FLOW,
    NOTE_MAX,
    RELAY_FLOW,
    REPLY_CODES,
    SWEEP_BATCH,
    AnswerResult,
    NoteResult,
    PairAction,
    PairBase,
    PairPress,
    _ids,
    log,
)
from storage.pairs import (
    AnswerCode,
    CheckinKind,
    Pair,
)


class PairCheckins(PairBase):
    async def send_due_checkins(self) -> int:
        now = self.clock.now()
        sent = 0
        seen: set[int] = set()
        while True:
            due = [p for p in await self.repo.due(now, SWEEP_BATCH) if p.id not in seen]
            for candidate in due:
                seen.add(candidate.id)
                try:
                    sent += await self._checkin_if_due(candidate.id, now)
                except Exception:  # one broken pair must not hold back the others
                    log.exception("check-in of pair %s failed", candidate.id)
            if not due:
                return sent

    async def _checkin_if_due(self, pair_id: int, now: datetime) -> int:
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or pair.status != "active" or pair.next_due_at is None:
                return 0
            if pair.next_due_at > now:
                return 0
            opening = self._schedule(now)
            if opening > now:  # night: wait for the morning
                await self.repo.set_schedule(pair.id, opening)
                return 0
            await self._send_checkin(pair, "scheduled", now)
            return 1

    async def _send_checkin(self, pair: Pair, kind: CheckinKind, now: datetime) -> int:
        if kind == "scheduled":
            next_due = self._schedule(now + timedelta(days=pair.interval_days))
            await self.repo.set_schedule(pair.id, next_due)
        people = await self.member_repo.get_many(_ids(pair))
        citizen, tech = people.get(pair.citizen_id), people.get(pair.technician_id)
        if citizen is None or tech is None:
            return 0
        if kind == "scheduled":
            previous = await self.repo.last_checkin(pair.id)
            rounds = 0
            if previous is not None and not await self.repo.answered(previous.id):
                rounds = pair.silent_rounds + 1
            health = pair.health
            if rounds >= 2 and pair.health != "silent":
                health = "silent"
                await self._escalate(pair, citizen, tech, "pairs.escalate.silent", {})
            await self.repo.set_health(pair.id, health, rounds)
        checkin_id = await self.repo.add_checkin(pair.id, kind, now)

        def render(chat_id: int) -> Payload:
            me, other = (citizen, tech) if chat_id == citizen.telegram_id else (tech, citizen)
            lang = me.language
            key = "pairs.checkin.nudge" if kind == "nudge" else "pairs.checkin.ask"
            return Payload(
                text=self.texts.get(lang, key, name=other.display_name),
                buttons=[
                    [
                        Button(
                            text=self._label(lang, f"pairs.answer.{code}"),
                            data=PairPress(
                                PairAction.CHECKIN_ANSWER, checkin_id=checkin_id, reply=reply
                            ).pack(),
                        )
                    ]
                    for reply, code in REPLY_CODES.items()
                ],
            )

        await self.outbox.notify(
            [citizen.telegram_id, tech.telegram_id], "pair.checkin", render, ref_id=checkin_id
        )
        return checkin_id

    async def answer(
        self, member_id: int, checkin_id: int, code: AnswerCode
    ) -> AnswerResult | None:
        """One tap on a check-in; None when the press is stale or not this member's."""
        now = self.clock.now()
        async with self.db.transaction():
            checkin = await self.repo.checkin(checkin_id)
            if checkin is None:
                return None
            pair = await self.repo.get(checkin.pair_id)
            if pair is None or pair.status != "active" or member_id not in _ids(pair):
                return None
            last = await self.repo.last_checkin(pair.id)
            if last is None or last.id != checkin_id:
                return None
            answer_id = await self.repo.add_answer(checkin_id, member_id, code, now)
            if answer_id is None:  # the same answer again (a double tap): nothing new
                same = await self.repo.answer_of(checkin_id, member_id)
                note = await self.conversations.get(member_id, NOTE_FLOW)
                assert same is not None
                return AnswerResult(
                    same, note is not None and note.data.get("answer_id") == same.id
                )
            await self.repo.set_health(pair.id, ANSWER_HEALTH[code], 0)
            if code in ESCALATING:
                people = await self.member_repo.get_many(_ids(pair))
                await self._escalate(
                    pair,
                    people[pair.citizen_id],
                    people[pair.technician_id],
                    f"pairs.escalate.{code}",
                    {"name": people[member_id].display_name},
                )
            open_conv = await self.conversations.get(member_id)
            note_expected = open_conv is None or open_conv.flow in (NOTE_FLOW, RELAY_FLOW)
            if note_expected:
                await self.conversations.save(
                    member_id, NOTE_FLOW, "note", {"answer_id": answer_id}, now
                )
            saved = await self.repo.answer(answer_id)
        assert saved is not None
        return AnswerResult(saved, note_expected)

    async def add_note(self, member_id: int, text: str) -> NoteResult | None:
        """The optional short note after a tap; None if no note is expected."""
        checked = check(text, NOTE_MAX)
        note = checked.value
        if checked.problem is Problem.TOO_LONG:
            return NoteResult("too_long")
        if checked.problem is Problem.EMPTY:
            return NoteResult("empty")
        async with self.db.transaction():
            conv = await self.conversations.get(member_id, NOTE_FLOW)
            if conv is None or conv.flow != NOTE_FLOW:
                return None
            answer = await self.repo.answer(int(conv.data.get("answer_id", 0)))
            await self.conversations.clear(member_id, NOTE_FLOW)
            if answer is None or answer.member_id != member_id:
                return None
            await self.repo.set_note(answer.id, note)
            if answer.answer in ESCALATING and note:
                checkin = await self.repo.checkin(answer.checkin_id)
                pair = await self.repo.get(checkin.pair_id) if checkin else None
                if pair is not None:
                    people = await self.member_repo.get_many(_ids(pair))
                    await self._escalate(
                        pair,
                        people[pair.citizen_id],
                        people[pair.technician_id],
                        "pairs.escalate.note",
                        {"name": people[member_id].display_name, "note": note},
                    )
        return NoteResult("saved")

    async def skip_note(self, member_id: int, answer_id: int) -> bool:
        async with self.db.transaction():
            conv = await self.conversations.get(member_id, NOTE_FLOW)
            if conv is None or conv.flow != NOTE_FLOW or conv.data.get("answer_id") != answer_id:
                return False
            await self.conversations.clear(member_id, NOTE_FLOW)
        return True
