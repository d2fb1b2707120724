"""Gardener pairs (flow 4): matching, pairing notices, the private relay, check-ins, escalation.

The matcher itself is pure (`bot.services.matching`); this service feeds it from SQLite, keeps
what it proposed, and turns a confirmation into a pair inside one BEGIN IMMEDIATE transaction
that re-counts the technician's active pairs, so two coordinators confirming at once can never
push a technician over capacity.

Check-ins are driven by one sweeper reading `pairs.next_due_at` (indexed): SQLite is the
source of truth, so a restart loses nothing. A check-in only goes out inside the day window
(local time in `settings.zone`); one falling due at night waits for the next opening.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo

from bot.callbacks import Layout, Press
from bot.clock import Clock
from bot.config import Settings
from bot.inputs import Problem, check
from bot.services.base import FeatureService
from bot.services.matching import (
    CitizenCandidate,
    TechnicianCandidate,
    UnmatchedReason,
    match,
)
from bot.services.members import MemberService
from bot.services.outbox import Button, OutboxService, Payload
from bot.texts import Texts, plain
from storage.db import Database
from storage.members import Member, MemberRepository
from storage.pairs import (
    Answer,
    AnswerCode,
    Checkin,
    CheckinKind,
    EndReason,
    Health,
    Pair,
    PairRepository,
    ProposalRow,
    ProposalStatus,
)

log = logging.getLogger(__name__)

RELAY_FLOW = "pair_relay"
NOTE_FLOW = "pair_note"
NOTE_MAX = 300
RELAY_TEXT_MAX = 3000
RELAY_CAPTION_MAX = 800
INTERVAL_CHOICES = (7, 14, 21, 30)
SWEEP_BATCH = 200

ANSWER_HEALTH: dict[AnswerCode, Health] = {
    "progress": "on_track",
    "met": "on_track",
    "help": "needs_help",
    "blocked": "blocked",
}
ESCALATING: frozenset[AnswerCode] = frozenset({"help", "blocked"})


class PairAction(StrEnum):
    WRITE = "w"
    REPLY = "rep"
    CHOOSE_PEER = "to"
    CANCEL_RELAY = "x"
    CHECKIN_ANSWER = "a"
    SKIP_NOTE = "ns"
    CONFIRM_PROPOSAL = "ok"
    SKIP_PROPOSAL = "sk"
    CONFIRM_BATCH = "all"
    CARD = "c"
    CARD_BACK = "cr"
    NUDGE = "n"
    INTERVAL_MENU = "iv"
    INTERVAL_SET = "is"
    ASK_REPAIR = "rp"
    ASK_END = "en"
    REPAIR = "rpok"
    END = "enok"


class CheckinReply(StrEnum):
    PROGRESS = "p"
    MET = "m"
    HELP = "h"
    BLOCKED = "b"


REPLY_CODES: dict[CheckinReply, AnswerCode] = {
    CheckinReply.PROGRESS: "progress",
    CheckinReply.MET: "met",
    CheckinReply.HELP: "help",
    CheckinReply.BLOCKED: "blocked",
}


@dataclass(frozen=True)
class PairPress(Press):
    """A press on a pair button: the relay, check-ins, and the coordinators' pair tools."""

    PREFIX: ClassVar[str] = "pair"
    LAYOUT: ClassVar[Layout] = {
        PairAction.REPLY: "pair_id",
        PairAction.CHOOSE_PEER: "pair_id",
        PairAction.CHECKIN_ANSWER: "checkin_id reply",
        PairAction.SKIP_NOTE: "answer_id",
        PairAction.CONFIRM_PROPOSAL: "proposal_id",
        PairAction.SKIP_PROPOSAL: "proposal_id",
        PairAction.CONFIRM_BATCH: "batch",
        PairAction.CARD: "pair_id",
        PairAction.CARD_BACK: "pair_id",
        PairAction.NUDGE: "pair_id",
        PairAction.INTERVAL_MENU: "pair_id",
        PairAction.INTERVAL_SET: "pair_id days",
        PairAction.ASK_REPAIR: "pair_id",
        PairAction.ASK_END: "pair_id",
        PairAction.REPAIR: "pair_id",
        PairAction.END: "pair_id",
    }
    action: PairAction
    pair_id: int = 0
    checkin_id: int = 0
    reply: CheckinReply = CheckinReply.PROGRESS
    answer_id: int = 0
    proposal_id: int = 0
    batch: int = 0
    days: int = 0


# --- the day window ------------------------------------------------------------------------


def window_opening(instant: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """`instant` itself if it falls inside [start, end) local time, else the next opening.

    Computed on the local calendar (so 09:00 stays 09:00 across DST changes), returned in UTC.
    """
    local = instant.astimezone(zone)
    if start <= local.time().replace(tzinfo=None) < end:
        return instant.astimezone(UTC)
    day = local.date()
    if local.time().replace(tzinfo=None) >= end:
        day += timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone).astimezone(UTC)


# --- results -------------------------------------------------------------------------------


class ConfirmOutcome(StrEnum):
    CREATED = "created"
    CITIZEN_PAIRED = "citizen_paired"
    FULL = "full"
    UNAVAILABLE = "unavailable"
    STALE = "stale"


@dataclass
class Confirmation:
    outcome: ConfirmOutcome
    pair_id: int | None = None


@dataclass
class ProposalLine:
    proposal: ProposalRow
    citizen: Member
    technician: Member


@dataclass
class UnmatchedLine:
    citizen: Member
    reason: UnmatchedReason


@dataclass
class MatchView:
    batch: int
    lines: list[ProposalLine]
    unmatched: list[UnmatchedLine] = field(default_factory=list)


@dataclass
class Peer:
    pair_id: int
    other: Member


@dataclass
class RelayResult:
    status: str  # "sent", "too_long", "empty", "ended"
    other: Member | None = None
    limit: int = 0


@dataclass
class AnswerResult:
    answer: Answer
    note_expected: bool


@dataclass
class NoteResult:
    status: str  # "saved", "too_long", "empty"
    limit: int = NOTE_MAX


@dataclass
class CheckinLine:
    checkin: Checkin
    answers: list[Answer]


@dataclass
class PairCard:
    pair: Pair
    citizen: Member
    technician: Member
    history: list[CheckinLine]
    initiative: str | None = None
    """The title of the initiative the pair was made for, if any."""


@dataclass
class Overview:
    counts: dict[str, int]
    pairs: list[tuple[Pair, Member, Member]]


class PairService(FeatureService):
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        texts: Texts,
        outbox: OutboxService,
        members: MemberService,
    ) -> None:
        super().__init__(db, settings, clock, texts, outbox)
        self.member_service = members
        self.repo = PairRepository(db)
        self.members = MemberRepository(db)
        self._idle_signature: int | None = None

    # --- matching ----------------------------------------------------------------------

    async def propose(self, coordinator_id: int | None) -> MatchView | None:
        """Run the matcher and keep its proposals as a new batch; None if not a coordinator."""
        if coordinator_id is not None and not await self._is_coordinator(coordinator_id):
            return None
        now = self.clock.now()
        async with self.db.transaction():
            citizens = await self.repo.unpaired_citizens()
            technicians = await self.repo.technicians()
            result = match(
                [
                    CitizenCandidate(c.member_id, c.territory, c.themes, c.waiting_since)
                    for c in citizens
                ],
                [
                    TechnicianCandidate(t.member_id, t.territories, t.themes, t.capacity, t.load)
                    for t in technicians
                ],
            )
            batch = await self.repo.next_batch()
            await self.repo.add_proposals(
                batch,
                [
                    (p.citizen_id, p.technician_id, p.same_territory, p.shared_themes)
                    for p in result.proposals
                ],
                coordinator_id,
                now,
            )
        view = await self.batch_view(batch)
        people = await self.members.get_many(u.citizen_id for u in result.unmatched)
        view.unmatched = [
            UnmatchedLine(people[u.citizen_id], u.reason)
            for u in result.unmatched
            if u.citizen_id in people
        ]
        return view

    async def batch_view(self, batch: int) -> MatchView:
        proposals = await self.repo.batch(batch)
        people = await self.members.get_many(
            [p.citizen_id for p in proposals] + [p.technician_id for p in proposals]
        )
        lines = [
            ProposalLine(p, people[p.citizen_id], people[p.technician_id])
            for p in proposals
            if p.citizen_id in people and p.technician_id in people
        ]
        return MatchView(batch=batch, lines=lines)

    async def confirm_proposal(self, coordinator_id: int, proposal_id: int) -> Confirmation:
        if not await self._is_coordinator(coordinator_id):
            return Confirmation(ConfirmOutcome.STALE)
        async with self.db.transaction():
            return await self._confirm_proposal(proposal_id, coordinator_id)

    async def _confirm_proposal(self, proposal_id: int, by: int | None) -> Confirmation:
        proposal = await self.repo.proposal(proposal_id)
        if proposal is None or proposal.status != "proposed":
            return Confirmation(ConfirmOutcome.STALE)
        done = await self.confirm_match(proposal.citizen_id, proposal.technician_id, by=by)
        status: ProposalStatus = (
            "confirmed" if done.outcome is ConfirmOutcome.CREATED else "failed"
        )
        await self.repo.decide_proposal(proposal_id, status, self.clock.now())
        return done

    async def skip_proposal(self, coordinator_id: int, proposal_id: int) -> bool:
        if not await self._is_coordinator(coordinator_id):
            return False
        return await self.repo.decide_proposal(proposal_id, "skipped", self.clock.now())

    async def confirm_batch(self, coordinator_id: int, batch: int) -> list[Confirmation] | None:
        if not await self._is_coordinator(coordinator_id):
            return None
        results = []
        for proposal in await self.repo.batch(batch, "proposed"):
            async with self.db.transaction():
                results.append(await self._confirm_proposal(proposal.id, coordinator_id))
        return results

    async def confirm_match(
        self,
        citizen_id: int,
        technician_id: int,
        *,
        by: int | None = None,
        initiative_id: int | None = None,
    ) -> Confirmation:
        """Create the pair if the citizen has none and the technician has room; notify both.

        Runs in (or joins) one BEGIN IMMEDIATE transaction: the capacity count and the insert
        see the same state, whoever else is confirming.
        """
        now = self.clock.now()
        async with self.db.transaction():
            people = await self.members.get_many([citizen_id, technician_id])
            citizen, tech = people.get(citizen_id), people.get(technician_id)
            if (
                citizen is None
                or tech is None
                or not citizen.is_citizen_gardener
                or citizen.status != "active"
                or citizen.onboarded_at is None
                or not tech.is_technician
                or tech.status != "active"
                or tech.onboarded_at is None
            ):
                return Confirmation(ConfirmOutcome.UNAVAILABLE)
            if await self.repo.active_citizen_pair(citizen_id) is not None:
                return Confirmation(ConfirmOutcome.CITIZEN_PAIRED)
            capacity = await self.repo.capacity_of(technician_id)
            if capacity is None:
                return Confirmation(ConfirmOutcome.UNAVAILABLE)
            if await self.repo.load_of(technician_id) >= capacity:
                return Confirmation(ConfirmOutcome.FULL)
            if initiative_id is None:
                initiative_id = await self.repo.requested_initiative(citizen_id)
            title = await self.repo.initiative_title(initiative_id) if initiative_id else None
            interval = self.settings.checkins.interval_days
            pair_id = await self.repo.create(
                citizen_id=citizen_id,
                technician_id=technician_id,
                initiative_id=initiative_id,
                interval_days=interval,
                next_due_at=self._schedule(now + timedelta(days=interval)),
                created_by=by,
                now=now,
            )
            if by is not None:
                await self.audit.record(by, "pair.create", str(pair_id), now)
            await self._pairing_notices(pair_id, citizen, tech, title)
        log.info("pair %s created (citizen %s, technician %s)", pair_id, citizen_id, technician_id)
        return Confirmation(ConfirmOutcome.CREATED, pair_id)

    async def auto_confirm(self) -> int:
        """Sweeper duty when settings.pairs.auto_confirm: confirm whatever the matcher proposes."""
        if not self.settings.pairs.auto_confirm:
            return 0
        citizens = await self.repo.unpaired_citizens()
        if not citizens:
            return 0
        # Citizens nobody can take stay unpaired: do not re-run the matcher every tick
        # until someone joins, leaves or frees a place (kept in memory: a restart re-runs it).
        technicians = await self.repo.technicians()
        signature = hash(
            (
                frozenset((c.member_id, c.territory, c.themes) for c in citizens),
                frozenset(
                    (t.member_id, t.capacity, t.load, t.themes, t.territories) for t in technicians
                ),
            )
        )
        if signature == self._idle_signature:
            return 0
        view = await self.propose(None)
        if view is None:
            return 0
        if not view.lines:
            self._idle_signature = signature
        created = 0
        for line in view.lines:
            async with self.db.transaction():
                done = await self._confirm_proposal(line.proposal.id, None)
            created += done.outcome is ConfirmOutcome.CREATED
        return created

    # --- notices -----------------------------------------------------------------------

    def role(self, lang: str, member: Member) -> str:
        key = "pairs.role.technician" if member.is_technician else "pairs.role.citizen"
        return self.texts.get(lang, key)

    async def _pairing_notices(
        self, pair_id: int, citizen: Member, tech: Member, initiative: str | None
    ) -> None:
        profile = await self.members.technician(tech.telegram_id)
        days = self.settings.checkins.interval_days

        def render(chat_id: int) -> Payload:
            me, other = (citizen, tech) if chat_id == citizen.telegram_id else (tech, citizen)
            lang = me.language
            text = self.texts.get(
                lang,
                "pairs.notice.paired",
                name=other.display_name,
                role=self.role(lang, other),
                themes=", ".join(other.themes) or "—",
                territory=self._territory(lang, other, profile.territories if profile else []),
            )
            if other.is_technician and profile is not None:
                text += "\n" + self.texts.get(
                    lang, "pairs.notice.service", service=profile.service
                )
            if initiative is not None:
                text += "\n" + self.texts.get(lang, "pairs.notice.initiative", title=initiative)
            text += "\n\n" + self.texts.get(lang, "pairs.notice.next", count=days)
            return Payload(
                text=text,
                buttons=[
                    [
                        Button(
                            text=self._label(lang, "pairs.button.write"),
                            data=PairPress(PairAction.WRITE).pack(),
                        )
                    ]
                ],
            )

        await self.outbox.notify(
            [citizen.telegram_id, tech.telegram_id], "pair.notice", render, ref_id=pair_id
        )

    def _territory(self, lang: str, member: Member, covered: list[str]) -> str:
        if member.is_technician and covered:
            return ", ".join(covered)
        if member.territory in (None, "autre"):
            return self.texts.get(lang, "pairs.no_territory")
        return member.territory

    def _label(self, lang: str, key: str, **params: object) -> str:
        return plain(self.texts.get(lang, key, **params))

    # --- relay -------------------------------------------------------------------------

    async def peers(self, member_id: int) -> list[Peer]:
        """The member's active pairs, each with the other gardener."""
        pairs = await self.repo.active_of(member_id)
        others = await self.members.get_many(_other(p, member_id) for p in pairs)
        return [
            Peer(p.id, others[_other(p, member_id)])
            for p in pairs
            if _other(p, member_id) in others
        ]

    async def start_relay(self, member_id: int, pair_id: int) -> Peer | None:
        """The member's next message goes to the other gardener of this (active) pair."""
        for peer in await self.peers(member_id):
            if peer.pair_id == pair_id:
                await self.conversations.save(
                    member_id, RELAY_FLOW, "message", {"pair_id": pair_id}, self.clock.now()
                )
                return peer
        return None

    async def cancel_relay(self, member_id: int) -> None:
        await self.conversations.clear(member_id, RELAY_FLOW)

    async def relay(
        self, member_id: int, pair_id: int, text: str | None, photo: str | None
    ) -> RelayResult:
        """Deliver a copy labelled with the sender's first name and role, nothing else."""
        limit = RELAY_CAPTION_MAX if photo else RELAY_TEXT_MAX
        checked = check(text, limit)
        body = checked.value
        if checked.problem is Problem.TOO_LONG:
            return RelayResult("too_long", limit=limit)
        if checked.problem is Problem.EMPTY and photo is None:
            return RelayResult("empty")
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or pair.status != "active" or member_id not in _ids(pair):
                await self.conversations.clear(member_id, RELAY_FLOW)
                return RelayResult("ended")
            people = await self.members.get_many(_ids(pair))
            sender, other = people[member_id], people[_other(pair, member_id)]
            lang = other.language
            key = "pairs.relay.incoming_photo" if photo else "pairs.relay.incoming"
            payload = Payload(
                text=self.texts.get(
                    lang, key, name=sender.display_name, role=self.role(lang, sender), text=body
                ),
                photo=photo,
                buttons=[
                    [
                        Button(
                            text=self._label(lang, "pairs.button.reply"),
                            data=PairPress(PairAction.REPLY, pair_id=pair_id).pack(),
                        )
                    ]
                ],
            )
            await self.outbox.notify([other.telegram_id], "pair.relay", lambda _c: payload)
            await self.conversations.clear(member_id, RELAY_FLOW)
        log.info("pair %s: relayed a message from %s", pair_id, member_id)
        return RelayResult("sent", other=other)

    # --- check-ins ---------------------------------------------------------------------

    def _schedule(self, instant: datetime) -> datetime:
        checkins = self.settings.checkins
        return window_opening(instant, self.settings.zone, checkins.day_start, checkins.day_end)

    async def sweep(self) -> None:
        """The one periodic duty of this feature (registered in services.sweepers)."""
        for technician_id in await self.repo.with_blocked_technician():
            await self.release_member(technician_id)
        await self.auto_confirm()
        await self.send_due_checkins()

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
        people = await self.members.get_many(_ids(pair))
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
                people = await self.members.get_many(_ids(pair))
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
                    people = await self.members.get_many(_ids(pair))
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

    async def _escalate(
        self, pair: Pair, citizen: Member, tech: Member, key: str, params: dict[str, object]
    ) -> None:
        """Tell every coordinator, with a button to the pair's card (inside the caller's tx)."""
        coordinators = await self.member_service.coordinator_ids()
        people = await self.members.get_many(coordinators)
        log.info("pair %s escalated (%s)", pair.id, key)

        def render(chat_id: int) -> Payload:
            lang = people[chat_id].language if chat_id in people else self.texts.default
            text = self.texts.get(
                lang, key, citizen=citizen.display_name, technician=tech.display_name, **params
            )
            return Payload(
                text=text,
                buttons=[
                    [
                        Button(
                            text=self._label(lang, "pairs.button.card"),
                            data=PairPress(PairAction.CARD, pair_id=pair.id).pack(),
                        ),
                        Button(
                            text=self._label(lang, "pairs.button.nudge"),
                            data=PairPress(PairAction.NUDGE, pair_id=pair.id).pack(),
                        ),
                    ]
                ],
            )

        await self.outbox.notify(coordinators, "pair.escalation", render, ref_id=pair.id)

    # --- coordinator tools -------------------------------------------------------------

    async def overview(self, coordinator_id: int, limit: int = 15) -> Overview | None:
        if not await self._is_coordinator(coordinator_id):
            return None
        pairs = await self.repo.active(limit)
        people = await self.members.get_many([i for p in pairs for i in _ids(p)])
        return Overview(
            counts=await self.repo.health_counts(),
            pairs=[
                (p, people[p.citizen_id], people[p.technician_id])
                for p in pairs
                if p.citizen_id in people and p.technician_id in people
            ],
        )

    async def card(self, coordinator_id: int, pair_id: int, limit: int = 8) -> PairCard | None:
        """A pair's health and the history of its check-ins (newest first)."""
        if not await self._is_coordinator(coordinator_id):
            return None
        pair = await self.repo.get(pair_id)
        if pair is None:
            return None
        people = await self.members.get_many(_ids(pair))
        if pair.citizen_id not in people or pair.technician_id not in people:
            return None
        checkins = await self.repo.checkins(pair_id, limit)
        answers = await self.repo.answers_for([c.id for c in checkins])
        history = [CheckinLine(c, [a for a in answers if a.checkin_id == c.id]) for c in checkins]
        title = (
            await self.repo.initiative_title(pair.initiative_id) if pair.initiative_id else None
        )
        citizen, technician = people[pair.citizen_id], people[pair.technician_id]
        return PairCard(pair, citizen, technician, history, title)

    async def nudge(self, coordinator_id: int, pair_id: int) -> bool:
        if not await self._is_coordinator(coordinator_id):
            return False
        now = self.clock.now()
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or pair.status != "active":
                return False
            await self._send_checkin(pair, "nudge", now)
            await self.audit.record(coordinator_id, "pair.nudge", str(pair_id), now)
        return True

    async def set_interval(self, coordinator_id: int, pair_id: int, days: int) -> bool:
        if days not in INTERVAL_CHOICES or not await self._is_coordinator(coordinator_id):
            return False
        now = self.clock.now()
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or pair.status != "active":
                return False
            last = await self.repo.last_checkin(pair_id)
            base = last.sent_at if last else pair.created_at
            await self.repo.set_schedule(
                pair_id, self._schedule(max(base + timedelta(days=days), now)), days
            )
            await self.audit.record(coordinator_id, "pair.interval", str(pair_id), now)
        return True

    async def end_pair(self, coordinator_id: int, pair_id: int, reason: EndReason) -> bool:
        """`ended`: both told it ends; `repair`: the citizen goes back to matching."""
        if reason == "left" or not await self._is_coordinator(coordinator_id):
            return False
        now = self.clock.now()
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or not await self._end(pair, reason, pair.citizen_id):
                return False
            await self.audit.record(coordinator_id, f"pair.{reason}", str(pair_id), now)
        return True

    async def release_member(self, member_id: int) -> int:
        """A member leaves (blocked, erased): end their pairs, free the technicians' places,
        send the citizens back to matching and tell the other gardener. Returns pairs ended.

        Joins the caller's transaction if there is one (the privacy feature erases after)."""
        ended = 0
        async with self.db.transaction():
            for pair in await self.repo.active_of(member_id):
                ended += await self._end(pair, "left", member_id)
            await self.conversations.clear(member_id, RELAY_FLOW)
            await self.conversations.clear(member_id, NOTE_FLOW)
        if ended:
            log.info("member %s left: %s pairs released", member_id, ended)
        return ended

    async def _end(self, pair: Pair, reason: EndReason, leaving: int) -> bool:
        if not await self.repo.end(pair.id, reason, self.clock.now()):
            return False
        people = await self.members.get_many(_ids(pair))
        recipients = [i for i in _ids(pair) if i in people]
        if reason == "left":
            recipients = [i for i in recipients if i != leaving]

        def render(chat_id: int) -> Payload:
            me = people[chat_id]
            other = people.get(_other(pair, chat_id))
            name = other.display_name if other else "—"
            role = "citizen" if chat_id == pair.citizen_id else "technician"
            key = f"pairs.end.{reason}.{role}"
            return Payload(text=self.texts.get(me.language, key, name=name))

        await self.outbox.notify(recipients, "pair.end", render, ref_id=pair.id)
        return True

    async def _is_coordinator(self, member_id: int) -> bool:
        return await self.member_service.is_coordinator(member_id)

    def local(self, instant: datetime) -> str:
        return instant.astimezone(self.settings.zone).strftime("%d/%m %H:%M")

    def health_label(self, lang: str, health: Health) -> str:
        return self.texts.get(lang, f"pairs.health.{health}")


def _ids(pair: Pair) -> tuple[int, int]:
    return pair.citizen_id, pair.technician_id


def _other(pair: Pair, member_id: int) -> int:
    return pair.technician_id if member_id == pair.citizen_id else pair.citizen_id
