"""/consultations: the coordinator's consultations, each one's results (a picture, free-text
answers as a document), close now, remind once, and a CSV export."""

from __future__ import annotations

import asyncio

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.consultation_admin import ConsultationAdmin
from bot.services.consultation_buttons import ConsultAction, ConsultPress
from handlers.common import answer, button, coordinator, label, reply, show, stale, t
from storage.consultations import Consultation
from storage.members import Member
from storage.outbox import Rows

Act = ConsultAction
ADMIN_ACTIONS = frozenset(
    {Act.LIST, Act.VIEW, Act.CLOSE, Act.REMIND, Act.EXPORT, Act.RESULTS, Act.NO_OUTCOME}
)


def _admin(context: AppContext) -> ConsultationAdmin:
    return context.services.consultation_admin


def _on(action: ConsultAction, cid: int) -> ConsultPress:
    return ConsultPress(action, consultation_id=cid)


def _list_screen(
    context: AppContext, lang: str, found: list[tuple[Consultation, int]]
) -> tuple[str, Rows]:
    if not found:
        return t(context, lang, "consultations.list.empty"), []
    service = context.services.consultations
    lines = [t(context, lang, "consultations.list.header")]
    rows: Rows = []
    for consultation, answered in found:
        lines.append(
            t(
                context,
                lang,
                "consultations.list.item",
                id=consultation.id,
                title=consultation.title,
                status=t(context, lang, f"consultations.status.{consultation.status}"),
                closes=service.local(consultation.closes_at, lang),
                count=answered,
            )
        )
        rows.append(
            [
                button(
                    f"#{consultation.id} · {consultation.title[:40]}",
                    _on(Act.VIEW, consultation.id),
                )
            ]
        )
    return "\n\n".join(lines), rows


async def _detail_screen(
    context: AppContext, lang: str, cid: int, coord: Member
) -> tuple[str, Rows] | None:
    consultation = await _admin(context).get(cid, coord.telegram_id)
    if consultation is None:
        return None
    text = await context.services.consultations.summary_text(consultation, lang)
    rows: Rows = [
        [
            button(label(context, lang, "consultations.button.results"), _on(Act.RESULTS, cid)),
            button(label(context, lang, "consultations.button.export"), _on(Act.EXPORT, cid)),
        ]
    ]
    if consultation.status == "open":
        actions = [button(label(context, lang, "consultations.button.close"), _on(Act.CLOSE, cid))]
        if consultation.reminded_at is None:
            actions.insert(
                0,
                button(label(context, lang, "consultations.button.remind"), _on(Act.REMIND, cid)),
            )
        rows.append(actions)
    rows.append([button(label(context, lang, "common.button.back"), ConsultPress(Act.LIST))])
    return text, rows


async def list_command(update: Update, context: AppContext) -> None:
    coord, lang = await coordinator(update, context)
    if coord is None:
        return
    found = await _admin(context).list(coord.telegram_id)
    if found is not None:
        await reply(update, context, *_list_screen(context, lang, found))


async def _send_results(
    update: Update, context: AppContext, lang: str, cid: int, coord: Member
) -> bool:
    chat = update.effective_chat
    admin = _admin(context)
    found = await admin.results(cid, coord.telegram_id)
    if found is None or chat is None:
        return False
    from bot.consultation_chart import render_results

    results = context.services.consultation_results
    png = await asyncio.to_thread(render_results, found, results.chart_text(lang, found))
    caption = results.caption(found.consultation, lang, found)
    await context.bot.send_photo(
        chat.id, InputFile(png, filename=f"consultation-{cid}.png"), caption=caption
    )
    texts = admin.free_texts(found)
    if texts:
        await context.bot.send_document(
            chat.id,
            InputFile(texts.encode(), filename=f"consultation-{cid}-reponses.txt"),
            caption=t(context, lang, "consultations.free_texts"),
        )
    return True


async def on_admin_button(
    update: Update, context: AppContext, coord: Member, lang: str, data: ConsultPress
) -> None:
    query = update.callback_query
    if query is None:
        return
    admin = _admin(context)
    cid, who = data.consultation_id, coord.telegram_id
    note: str | None = None
    if data.action is Act.LIST:
        found = await admin.list(who)
        if found is None:
            await stale(update, context, lang)
            return
        await show(update, context, *_list_screen(context, lang, found))
        await answer(query)
        return
    if data.action is Act.RESULTS:
        if not await _send_results(update, context, lang, cid, coord):
            await stale(update, context, lang)
            return
        await answer(query)
        return
    if data.action is Act.EXPORT:
        export = await admin.export(cid, who)
        chat = update.effective_chat
        if export is None or chat is None:
            await stale(update, context, lang)
            return
        await context.bot.send_document(chat.id, InputFile(export.content, filename=export.name))
        await answer(query)
        return
    if data.action is Act.NO_OUTCOME:
        results = context.services.consultation_results
        if await results.set_outcome(who, cid, None) is None:
            await stale(update, context, lang)
            return
        await show(update, context, t(context, lang, "consultations.results_sent"))
        await answer(query)
        await results.send_results()
        return
    if data.action is Act.CLOSE:
        if await context.services.consultation_results.close(cid, who) is None:
            await stale(update, context, lang)
            return
        note = t(context, lang, "consultations.closed_done")
    elif data.action is Act.REMIND:
        count = await admin.remind(cid, who)
        if count is None:
            await stale(update, context, lang)
            return
        note = t(context, lang, "consultations.remind_done", count=count)
    screen = await _detail_screen(context, lang, cid, coord)
    if screen is None:
        await stale(update, context, lang)
        return
    await show(update, context, *screen)
    await answer(query, note)


def build_handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, AppContext, None]]:
    return [CommandHandler("consultations", list_command, filters=private)]
