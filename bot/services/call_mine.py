"""A member's own side of the calls for help: their copy of a call shows their answer and how
to change it, the reminder lets them withdraw, and /mesappels lists the calls they said yes to.

The copy is edited wherever the answer was given (on the copy, on a reminder, in /mesappels,
or a promotion from the waiting list), through the dispatcher's edit on the bulk lane: the
same 30 messages a second as the broadcast itself, so a storm of answers during a big call
never pushes sending past Telegram's limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging

from bot.inputs import CAPTION_LIMIT, TEXT_LIMIT, utf16_len
from bot.services.call_answers import AnswerResult, Outcome
from bot.services.call_buttons import CallAction, CallPress, CallReply
from bot.services.calls import KIND_CALL, CallService
from bot.texts import plain
from storage.calls import Answer, Call
from storage.outbox import Button, Payload, Rows

log = logging.getLogger(__name__)

CHANGED = (Outcome.YES, Outcome.WAITING, Outcome.NO)
"""Outcomes after which the member's copy no longer shows the right answer."""


class MemberCalls:
    def __init__(self, calls: CallService) -> None:
        self.calls = calls
        self.repo = calls.repo
        self.clock = calls.clock
        self._tasks: set[asyncio.Task[None]] = set()
        calls.promoted_hooks.append(self._promoted)
        calls.stoppers.append(self.stop)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- the member's copy ---------------------------------------------------------------

    def _button(self, lang: str, key: str, press: CallPress) -> Button:
        return Button(text=plain(self.calls.texts.get(lang, key)), data=press.pack())

    def copy_payload(self, call: Call, answer: Answer, lang: str) -> Payload:
        """The call as the member sees it once they answered: their answer under the call,
        and the button that changes it (while answers are taken)."""
        text = self.calls.render_call(call, lang)
        status = self.calls.texts.get(lang, f"calls.mine.{answer}")
        limit = CAPTION_LIMIT if call.photo else TEXT_LIMIT
        if utf16_len(plain(text + "\n\n" + status)) <= limit:
            text += "\n\n" + status
        rows: Rows = []
        if call.status in ("open", "complete") and call.deadline_at > self.clock.now():
            if answer == "no":
                change = self._button(
                    lang,
                    "calls.button.yes",
                    CallPress(CallAction.ANSWER, call_id=call.id, reply=CallReply.YES),
                )
            else:
                change = self._button(
                    lang,
                    "calls.button.withdraw",
                    CallPress(CallAction.ANSWER, call_id=call.id, reply=CallReply.NO),
                )
            rows.append([change])
        if call.status in ("open", "complete"):
            relay = CallPress(CallAction.RELAY, call_id=call.id)
            rows.append([self._button(lang, "calls.button.relay", relay)])
        return Payload(text=text, photo=call.photo, buttons=rows)

    async def show_answer(
        self, call_id: int, member_id: int, answer: Answer | None = None
    ) -> None:
        """Edit the member's copy of the call to show their answer (read when not given)."""
        editor = self.calls.editor  # the dispatcher's, once the application started
        if editor is None:
            return
        call = await self.repo.get(call_id)
        message_id = await self.calls.broadcasts.recipients.message_id(
            KIND_CALL, call_id, member_id
        )
        if answer is None:
            known = await self.repo.member_answers([(call_id, member_id)])
            mine = known.get((call_id, member_id))
            answer = mine.answer if mine else None
        if call is None or message_id is None or answer is None:
            return
        member = await self.calls.members.get(member_id)
        lang = member.language if member else self.calls.settings.default_language
        try:
            await editor(member_id, message_id, self.copy_payload(call, answer, lang))
        except Exception:  # the answer is recorded: a copy left as it was is no reason to fail
            log.exception("copy of call %d not updated for %d", call_id, member_id)

    async def answer(self, call_id: int, member_id: int, yes: bool) -> AnswerResult:
        """Je viens / Je ne peux plus venir, from wherever it was pressed; the copy follows."""
        result = await self.calls.answer(call_id, member_id, yes)
        if result.outcome in CHANGED:
            await self.show_answer(call_id, member_id, result.answer)
        return result

    async def _promoted(self, call: Call, member_id: int) -> None:
        """Moved from the waiting list (inside the answers' transaction): the copy is edited
        once that transaction is over, in a task of its own."""
        task = asyncio.create_task(
            self.show_answer(call.id, member_id, "yes"),
            name="essaim-call-copy",
            context=contextvars.Context(),
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- /mesappels ----------------------------------------------------------------------

    async def upcoming(self, member_id: int) -> list[tuple[Call, Answer]]:
        """The calls to come the member said yes to, or waits for: soonest first."""
        return await self.repo.member_upcoming(member_id, self.clock.now())
