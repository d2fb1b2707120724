"""/binomes for coordinators: the overview of pairs, and the proposals to confirm or skip."""

from __future__ import annotations

from telegram import Update

from bot.context import AppContext
from bot.services.pairs import (
    ConfirmOutcome,
    MatchView,
    Overview,
    PairAction,
    PairPress,
)
from handlers import pair_manual
from handlers.common import (
    answer,
    button,
    coordinator,
    label,
    reply,
    show,
    stale,
    t,
)
from storage.members import Member
from storage.outbox import Rows

SHOWN_PROPOSALS = 10


SHOWN_UNMATCHED = 30


async def binomes(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    service = context.services.pairs
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
        text += "\n" + "\n".join(lines) + "\n\n" + t(context, lang, "pairs.match.choose_hint")
        await reply(update, context, text, pair_manual.choose_rows(context, lang, view.unmatched))


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


async def confirm_proposal(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    proposal_id = data.proposal_id
    service = context.services.pairs
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


async def skip_proposal(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    proposal_id = data.proposal_id
    service = context.services.pairs
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


async def confirm_batch(
    update: Update, context: AppContext, coord: Member, lang: str, data: PairPress
) -> None:
    query = update.callback_query
    assert query is not None
    batch = data.batch
    service = context.services.pairs
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
