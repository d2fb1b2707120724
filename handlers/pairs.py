"""/binome (write to your pair, answer check-ins) and /binomes (coordinators: match, follow)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.inputs import clean, utf16_len
from bot.services.pairs import (
    INTERVAL_CHOICES,
    NOTE_FLOW,
    NOTE_MAX,
    RELAY_FLOW,
    REPLY_CODES,
    ConfirmOutcome,
    MatchView,
    Overview,
    PairAction,
    PairCard,
    PairPress,
    PairService,
)
from bot.texts import Raw
from handlers.common import (
    Routes,
    answer,
    button,
    coordinator,
    current_member,
    label,
    onboarded_member,
    reply,
    show,
    stale,
    t,
    your_text,
)
from storage.conversations import Conversation
from storage.members import Member
from storage.outbox import Rows
from storage.pairs import EndReason

SHOWN_PROPOSALS = 10
SHOWN_UNMATCHED = 30


def _service(context: AppContext) -> PairService:
    return context.services.pairs


# --- /binome: the private relay ------------------------------------------------------------


async def binome(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    service = _service(context)
    peers = await service.peers(member.telegram_id)
    if not peers:
        await reply(update, context, t(context, lang, "pairs.relay.none"))
        return
    if len(peers) == 1:
        await _start_relay(update, context, member, lang, peers[0].pair_id)
        return
    rows = [
        [
            button(
                f"{p.other.display_name} — {service.role(lang, p.other)}",
                PairPress(PairAction.CHOOSE_PEER, pair_id=p.pair_id),
            )
        ]
        for p in peers
    ]
    await reply(update, context, t(context, lang, "pairs.relay.choose"), rows)


async def _start_relay(
    update: Update, context: AppContext, member: Member, lang: str, pair_id: int
) -> bool:
    peer = await _service(context).start_relay(member.telegram_id, pair_id)
    if peer is None:
        return False
    await reply(
        update,
        context,
        t(context, lang, "pairs.relay.prompt", name=peer.other.display_name),
        [
            [
                button(
                    label(context, lang, "common.button.cancel"),
                    PairPress(PairAction.CANCEL_RELAY),
                )
            ]
        ],
    )
    return True


async def relay_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    lang = member.language
    if message is None:
        return
    photo = message.photo[-1].file_id if message.photo else None
    text = message.caption if photo else message.text
    if photo is None and text is None:
        await reply(update, context, t(context, lang, "pairs.relay.text_or_photo"))
        return
    result = await _service(context).relay(
        member.telegram_id, int(conversation.data.get("pair_id", 0)), text, photo
    )
    if result.status == "too_long":
        length = utf16_len(clean(text or ""))
        await reply(
            update,
            context,
            t(context, lang, "pairs.relay.too_long", limit=result.limit, length=length)
            + "\n\n"
            + your_text(context, lang, text),
        )
    elif result.status == "empty":
        await reply(update, context, t(context, lang, "inputs.empty"))
    elif result.status == "ended" or result.other is None:
        await reply(update, context, t(context, lang, "pairs.relay.ended"))
    else:
        await reply(
            update, context, t(context, lang, "pairs.relay.sent", name=result.other.display_name)
        )


async def note_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    lang = member.language
    if message is None:
        return
    if message.text is None:
        await reply(update, context, t(context, lang, "common.text_expected"))
        return
    result = await _service(context).add_note(member.telegram_id, message.text)
    if result is None:
        await reply(update, context, t(context, lang, "common.nothing_expected"))
    elif result.status == "too_long":
        length = utf16_len(clean(message.text))
        await reply(
            update,
            context,
            t(context, lang, "pairs.note.too_long", limit=NOTE_MAX, length=length)
            + "\n\n"
            + your_text(context, lang, message.text),
        )
    elif result.status == "empty":
        await reply(update, context, t(context, lang, "inputs.empty"))
    else:
        await reply(update, context, t(context, lang, "pairs.note.saved"))


async def resume_relay(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    pair_id = int(conversation.data.get("pair_id", 0))
    if not await _start_relay(update, context, member, member.language, pair_id):
        await reply(update, context, t(context, member.language, "pairs.relay.ended"))


async def resume_note(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    answer_id = int(conversation.data.get("answer_id", 0))
    skip = [
        [
            button(
                label(context, member.language, "common.button.skip"),
                PairPress(PairAction.SKIP_NOTE, answer_id=answer_id),
            )
        ]
    ]
    await reply(
        update, context, t(context, member.language, "pairs.note.ask", limit=NOTE_MAX), skip
    )


INPUTS = {RELAY_FLOW: relay_input, NOTE_FLOW: note_input}
RESUMES = {RELAY_FLOW: resume_relay, NOTE_FLOW: resume_note}


# --- /binomes: coordinators ----------------------------------------------------------------


async def binomes(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    service = _service(context)
    overview = await service.overview(member.telegram_id)
    if overview is not None:
        await reply(update, context, *_overview_screen(context, lang, overview))
    view = await service.propose(member.telegram_id)
    if view is None:
        return
    await reply(update, context, *_proposals_screen(context, lang, view))
    if view.unmatched:
        lines = [
            t(
                context,
                lang,
                "pairs.match.unmatched_line",
                name=u.citizen.display_name,
                reason=t(context, lang, f"pairs.match.reason.{u.reason.value}"),
            )
            for u in view.unmatched[:SHOWN_UNMATCHED]
        ]
        more = len(view.unmatched) - SHOWN_UNMATCHED
        if more > 0:
            lines.append(t(context, lang, "pairs.match.more", count=more))
        text = t(context, lang, "pairs.match.unmatched", count=len(view.unmatched))
        await reply(update, context, text + "\n" + "\n".join(lines))


def _overview_screen(context: AppContext, lang: str, overview: Overview) -> tuple[str, Rows]:
    counts = overview.counts
    text = t(
        context,
        lang,
        "pairs.overview",
        total=sum(counts.values()),
        on_track=counts.get("on_track", 0),
        needs_help=counts.get("needs_help", 0),
        blocked=counts.get("blocked", 0),
        silent=counts.get("silent", 0),
        waiting=counts.get("waiting", 0),
    )
    rows: Rows = [
        [
            button(
                f"{_icon(pair.health)} {citizen.display_name} ↔ {tech.display_name}",
                PairPress(PairAction.CARD, pair_id=pair.id),
            )
        ]
        for pair, citizen, tech in overview.pairs
    ]
    return text, rows


def _icon(health: str) -> str:
    icons = {
        "on_track": "🟢",
        "needs_help": "🟠",
        "blocked": "🔴",
        "silent": "⚪",
        "waiting": "🕓",
    }
    return icons.get(health, "")


def _proposals_screen(context: AppContext, lang: str, view: MatchView) -> tuple[str, Rows]:
    if not view.lines:
        return t(context, lang, "pairs.match.none"), []
    lines = []
    rows: Rows = []
    pending = 0
    for n, line in enumerate(view.lines, start=1):
        status = line.proposal.status
        lines.append(
            t(
                context,
                lang,
                f"pairs.match.line.{status}",
                n=n,
                citizen=line.citizen.display_name,
                technician=line.technician.display_name,
                themes=", ".join(line.proposal.shared_themes),
            )
        )
        if status == "proposed":
            pending += 1
            if pending <= SHOWN_PROPOSALS:
                rows.append(
                    [
                        button(
                            label(context, lang, "pairs.button.confirm_one", n=n),
                            PairPress(PairAction.CONFIRM_PROPOSAL, proposal_id=line.proposal.id),
                        ),
                        button(
                            label(context, lang, "pairs.button.skip_one", n=n),
                            PairPress(PairAction.SKIP_PROPOSAL, proposal_id=line.proposal.id),
                        ),
                    ]
                )
    if pending:
        rows.append(
            [
                button(
                    label(context, lang, "pairs.button.confirm_all", count=pending),
                    PairPress(PairAction.CONFIRM_BATCH, batch=view.batch),
                )
            ]
        )
    text = t(context, lang, "pairs.match.title", count=len(view.lines))
    return text + "\n" + "\n".join(lines[:40]), rows


def _card_screen(
    context: AppContext, lang: str, service: PairService, card: PairCard
) -> tuple[str, Rows]:
    pair = card.pair
    history = []
    for line in card.history:
        parts = []
        for person in (card.citizen, card.technician):
            mine = [a for a in line.answers if a.member_id == person.telegram_id]
            if mine:
                last = mine[-1]
                answer_text = t(context, lang, f"pairs.answer.{last.answer}")
                if last.note:
                    answer_text += " — " + t(context, lang, "pairs.card.note", note=last.note)
                parts.append(f"{_escape(person.display_name)} : {answer_text}")
            else:
                parts.append(f"{_escape(person.display_name)} : —")
        history.append(
            t(
                context,
                lang,
                "pairs.card.checkin",
                when=service.local(line.checkin.sent_at),
                answers=Raw(" · ".join(parts)),
            )
        )
    text = t(
        context,
        lang,
        "pairs.card.title",
        citizen=card.citizen.display_name,
        technician=card.technician.display_name,
        health=service.health_label(lang, pair.health),
        every=Raw(t(context, lang, "pairs.every", count=pair.interval_days)),
        next=service.local(pair.next_due_at) if pair.next_due_at else "—",
    )
    if pair.status != "active":
        text += "\n" + t(context, lang, "pairs.card.ended")
    if card.initiative is not None:
        text += "\n" + t(context, lang, "pairs.notice.initiative", title=card.initiative)
    text += "\n\n" + ("\n".join(history) if history else t(context, lang, "pairs.card.no_history"))
    rows: Rows = []
    if pair.status == "active":
        rows = [
            [
                button(
                    label(context, lang, "pairs.button.nudge"),
                    PairPress(PairAction.NUDGE, pair_id=pair.id),
                ),
                button(
                    label(context, lang, "pairs.button.interval"),
                    PairPress(PairAction.INTERVAL_MENU, pair_id=pair.id),
                ),
            ],
            [
                button(
                    label(context, lang, "pairs.button.repair"),
                    PairPress(PairAction.ASK_REPAIR, pair_id=pair.id),
                ),
                button(
                    label(context, lang, "pairs.button.end"),
                    PairPress(PairAction.ASK_END, pair_id=pair.id),
                ),
            ],
        ]
    return text, rows


def _escape(value: str) -> str:
    import html

    return html.escape(value, quote=False)


# --- buttons -------------------------------------------------------------------------------


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = PairPress.parse(query.data)
    member, lang = await current_member(update, context)
    if data is None or member is None or member.onboarded_at is None:
        await stale(update, context, lang)
        return
    if data.action in MEMBER_ROUTES:
        await MEMBER_ROUTES[data.action](update, context, member, lang, data)
        return
    coord, lang = await coordinator(update, context)  # re-checked on every press
    if coord is None:
        return
    await COORDINATOR_ROUTES[data.action](update, context, coord, lang, data)


async def _write(
    update: Update, context: AppContext, member: Member, lang: str, data: PairPress
) -> None:
    """The "write to my pair" button of the pairing notice: same as /binome."""
    query = update.callback_query
    assert query is not None
    peers = await _service(context).peers(member.telegram_id)
    if not peers:
        await stale(update, context, lang)
        return
    await binome(update, context)
    await answer(query)


async def _reply_to(
    update: Update, context: AppContext, member: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id = data.pair_id
    if not await _start_relay(update, context, member, lang, pair_id):
        await stale(update, context, lang)
        return
    await answer(query)


async def _cancel(
    update: Update, context: AppContext, member: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    await _service(context).cancel_relay(member.telegram_id)
    await show(update, context, t(context, lang, "common.cancelled"))
    await answer(query)


async def _answer(
    update: Update, context: AppContext, member: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    code = REPLY_CODES[data.reply]
    result = await _service(context).answer(member.telegram_id, data.checkin_id, code)
    if result is None:
        await stale(update, context, lang)
        return
    # "Bloqué" and "Besoin d'un coup de main" also say that the coordination was told.
    text = t(context, lang, f"pairs.checkin.thanks.{result.answer.answer}")
    rows: Rows = []
    if result.note_expected:
        text += "\n\n" + t(context, lang, "pairs.note.ask", limit=NOTE_MAX)
        rows = [
            [
                button(
                    label(context, lang, "common.button.skip"),
                    PairPress(PairAction.SKIP_NOTE, answer_id=result.answer.id),
                )
            ]
        ]
    await show(update, context, text, rows)
    await answer(query)


async def _skip_note(
    update: Update, context: AppContext, member: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    answer_id = data.answer_id
    if not await _service(context).skip_note(member.telegram_id, answer_id):
        await stale(update, context, lang)
        return
    await show(update, context, t(context, lang, "pairs.note.skipped"))
    await answer(query)


async def _choose(
    update: Update, context: AppContext, member: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id = data.pair_id
    if not await _start_relay(update, context, member, lang, pair_id):
        await stale(update, context, lang)
        return
    await answer(query)


async def _confirm(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    proposal_id = data.proposal_id
    service = _service(context)
    proposal = await service.repo.proposal(proposal_id)
    if proposal is None:
        await stale(update, context, lang)
        return
    done = await service.confirm_proposal(coord.telegram_id, proposal_id)
    if done.outcome is ConfirmOutcome.STALE:
        await stale(update, context, lang)
        return
    view = await service.batch_view(proposal.batch)
    await show(update, context, *_proposals_screen(context, lang, view))
    await answer(query, t(context, lang, f"pairs.confirm.{done.outcome.value}"))


async def _skip(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    proposal_id = data.proposal_id
    service = _service(context)
    proposal = await service.repo.proposal(proposal_id)
    if proposal is None:
        await stale(update, context, lang)
        return
    if not await service.skip_proposal(coord.telegram_id, proposal_id):
        await stale(update, context, lang)
        return
    view = await service.batch_view(proposal.batch)
    await show(update, context, *_proposals_screen(context, lang, view))
    await answer(query)


async def _confirm_all(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    batch = data.batch
    service = _service(context)
    results = await service.confirm_batch(coord.telegram_id, batch) if batch else None
    if not results:
        await stale(update, context, lang)
        return
    created = sum(r.outcome is ConfirmOutcome.CREATED for r in results)
    view = await service.batch_view(batch)
    await show(update, context, *_proposals_screen(context, lang, view))
    await answer(
        query,
        context.services.texts.counts(
            lang,
            ("pairs.confirm.all_created", created),
            ("pairs.confirm.all_failed", len(results) - created),
        ).value,
    )


async def _card(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id = data.pair_id
    service = _service(context)
    card = await service.card(coord.telegram_id, pair_id)
    if card is None:
        await stale(update, context, lang)
        return
    await reply(update, context, *_card_screen(context, lang, service, card))
    await answer(query)


async def _refresh_card(
    update: Update, context: AppContext, coord: Member, lang: str, pair_id: int
) -> None:
    service = _service(context)
    card = await service.card(coord.telegram_id, pair_id)
    if card is not None:
        await show(update, context, *_card_screen(context, lang, service, card))


async def _nudge(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id = data.pair_id
    if not await _service(context).nudge(coord.telegram_id, pair_id):
        await stale(update, context, lang)
        return
    await answer(query, t(context, lang, "pairs.nudged"))


async def _interval_menu(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id = data.pair_id
    card = await _service(context).card(coord.telegram_id, pair_id) if pair_id else None
    if card is None or card.pair.status != "active":
        await stale(update, context, lang)
        return
    rows: Rows = [
        [
            button(
                label(context, lang, "pairs.button.days", days=d),
                PairPress(PairAction.INTERVAL_SET, pair_id=pair_id, days=d),
            )
            for d in INTERVAL_CHOICES
        ],
        [
            button(
                label(context, lang, "common.button.back"),
                PairPress(PairAction.CARD_BACK, pair_id=pair_id),
            )
        ],
    ]
    await show(update, context, t(context, lang, "pairs.interval.ask"), rows)
    await answer(query)


async def _interval_set(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    pair_id, days = data.pair_id, data.days
    if not await _service(context).set_interval(coord.telegram_id, pair_id, days):
        await stale(update, context, lang)
        return
    await _refresh_card(update, context, coord, lang, pair_id)
    await answer(query, t(context, lang, "pairs.interval.set", count=days))


async def _card_back(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    await _refresh_card(update, context, coord, lang, data.pair_id)
    await answer(query)


async def _ask_repair(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    await _ask(update, context, coord, lang, data.pair_id, "repair")


async def _ask_end(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    await _ask(update, context, coord, lang, data.pair_id, "ended")


async def _ask(
    update: Update,
    context: AppContext,
    coord: Member,
    lang: str,
    pair_id: int,
    reason: EndReason,
) -> None:
    """Re-pair and end are asked once more before they happen (both gardeners are told)."""
    query = update.callback_query
    assert query is not None
    card = await _service(context).card(coord.telegram_id, pair_id) if pair_id else None
    if card is None or card.pair.status != "active":
        await stale(update, context, lang)
        return
    key, action = (
        ("pairs.repair.ask", PairAction.REPAIR)
        if reason == "repair"
        else ("pairs.end.ask", PairAction.END)
    )
    rows: Rows = [
        [
            button(
                label(context, lang, "common.button.confirm"), PairPress(action, pair_id=pair_id)
            )
        ],
        [
            button(
                label(context, lang, "common.button.back"),
                PairPress(PairAction.CARD_BACK, pair_id=pair_id),
            )
        ],
    ]
    text = t(
        context,
        lang,
        key,
        citizen=card.citizen.display_name,
        technician=card.technician.display_name,
    )
    await show(update, context, text, rows)
    await answer(query)


async def _do_repair(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    await _do(update, context, coord, lang, data.pair_id, "repair")


async def _do_end(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    await _do(update, context, coord, lang, data.pair_id, "ended")


async def _do(
    update: Update,
    context: AppContext,
    coord: Member,
    lang: str,
    pair_id: int,
    reason: EndReason,
) -> None:
    query = update.callback_query
    assert query is not None
    if not await _service(context).end_pair(coord.telegram_id, pair_id, reason):
        await stale(update, context, lang)
        return
    await show(update, context, t(context, lang, f"pairs.{reason}.done"))
    await answer(query)


MEMBER_ROUTES: Routes[PairPress] = {
    PairAction.WRITE: _write,
    PairAction.REPLY: _reply_to,
    PairAction.CHOOSE_PEER: _choose,
    PairAction.CANCEL_RELAY: _cancel,
    PairAction.CHECKIN_ANSWER: _answer,
    PairAction.SKIP_NOTE: _skip_note,
}
COORDINATOR_ROUTES: Routes[PairPress] = {
    PairAction.CONFIRM_PROPOSAL: _confirm,
    PairAction.SKIP_PROPOSAL: _skip,
    PairAction.CONFIRM_BATCH: _confirm_all,
    PairAction.CARD: _card,
    PairAction.CARD_BACK: _card_back,
    PairAction.NUDGE: _nudge,
    PairAction.INTERVAL_MENU: _interval_menu,
    PairAction.INTERVAL_SET: _interval_set,
    PairAction.ASK_REPAIR: _ask_repair,
    PairAction.ASK_END: _ask_end,
    PairAction.REPAIR: _do_repair,
    PairAction.END: _do_end,
}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("binome", binome, filters=private),
        CommandHandler("binomes", binomes, filters=private),
        CallbackQueryHandler(on_button, pattern=PairPress.pattern()),
    ]
