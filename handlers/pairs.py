"""/binome (write to your pair, answer check-ins), and the routing of every pair button.

The coordinators' screens live beside it: handlers/pair_matching.py (/binomes, proposals) and
handlers/pair_card.py (one pair's card and its tools)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.inputs import clean, utf16_len
from bot.services.pairs import (
    NOTE_FLOW,
    NOTE_MAX,
    RELAY_FLOW,
    REPLY_CODES,
    PairAction,
    PairPress,
)
from handlers import pair_card, pair_manual, pair_matching
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

# --- /binome: the private relay ------------------------------------------------------------


async def binome(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    service = context.services.pairs
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
    peer = await context.services.pairs.start_relay(member.telegram_id, pair_id)
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
    result = await context.services.pairs.relay(
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
    result = await context.services.pairs.add_note(member.telegram_id, message.text)
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
    peers = await context.services.pairs.peers(member.telegram_id)
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
    await context.services.pairs.cancel_relay(member.telegram_id)
    await show(update, context, t(context, lang, "common.cancelled"))
    await answer(query)


async def _answer(
    update: Update, context: AppContext, member: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    code = REPLY_CODES[data.reply]
    result = await context.services.pairs.answer(member.telegram_id, data.checkin_id, code)
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
    if not await context.services.pairs.skip_note(member.telegram_id, answer_id):
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


MEMBER_ROUTES: Routes[PairPress] = {
    PairAction.WRITE: _write,
    PairAction.REPLY: _reply_to,
    PairAction.CHOOSE_PEER: _choose,
    PairAction.CANCEL_RELAY: _cancel,
    PairAction.CHECKIN_ANSWER: _answer,
    PairAction.SKIP_NOTE: _skip_note,
}
COORDINATOR_ROUTES: Routes[PairPress] = {
    PairAction.CONFIRM_PROPOSAL: pair_matching.confirm_proposal,
    PairAction.SKIP_PROPOSAL: pair_matching.skip_proposal,
    PairAction.CONFIRM_BATCH: pair_matching.confirm_batch,
    PairAction.CARD: pair_card.open_card,
    PairAction.CARD_BACK: pair_card.card_back,
    PairAction.NUDGE: pair_card.nudge,
    PairAction.INTERVAL_MENU: pair_card.interval_menu,
    PairAction.INTERVAL_SET: pair_card.interval_set,
    PairAction.ASK_REPAIR: pair_card.ask_repair,
    PairAction.ASK_END: pair_card.ask_end,
    PairAction.REPAIR: pair_card.repair,
    PairAction.END: pair_card.end,
    PairAction.PICK_TECHNICIAN: pair_manual.pick_technician,
    PairAction.MANUAL_MATCH: pair_manual.manual_match,
}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("binome", binome, filters=private),
        CommandHandler("binomes", pair_matching.binomes, filters=private),
        CallbackQueryHandler(on_button, pattern=PairPress.pattern()),
    ]
