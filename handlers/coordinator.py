"""/stats and /export for coordinators: the community at a glance, and its data as CSV."""

from __future__ import annotations

import asyncio

from telegram import InputFile, InputMediaPhoto, Message, Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.stats import CommunityStats
from bot.services.stats_album import StatsAlbum
from handlers.common import coordinator, reply, t


def _figure(context: AppContext, lang: str, label: str, value: int) -> str:
    return t(context, lang, "common.figure", label=label, value=value)


def _lines(context: AppContext, lang: str, prefix: str, figures: dict[str, int]) -> str:
    labels = context.services.texts.choices(lang, prefix)
    lines = (_figure(context, lang, labels.get(k, k), v) for k, v in figures.items())
    return "\n".join(lines) or "—"


def _plain_lines(context: AppContext, lang: str, figures: dict[str, int]) -> str:
    return "\n".join(_figure(context, lang, k, v) for k, v in figures.items()) or "—"


def summary(context: AppContext, lang: str, stats: CommunityStats) -> str:
    parts = [
        t(context, lang, "stats.title"),
        t(context, lang, "stats.roles") + "\n" + _lines(context, lang, "stats.role.", stats.roles),
    ]
    parts.append(
        t(context, lang, "stats.territories")
        + "\n"
        + _plain_lines(context, lang, stats.territories)
    )
    parts.append(
        t(context, lang, "stats.themes") + "\n" + _plain_lines(context, lang, stats.themes)
    )
    recent = stats.weeks[-4:]
    weeks = "\n".join(_figure(context, lang, w.week.strftime("%d/%m"), w.arrivals) for w in recent)
    parts.append(t(context, lang, "stats.arrivals") + "\n" + weeks)
    for section in ("calls", "initiatives", "pairs", "consultations"):
        figures: dict[str, int] = getattr(stats, section)
        if figures:
            body = _lines(context, lang, f"stats.{section}.", figures)
            parts.append(t(context, lang, f"stats.section.{section}") + "\n" + body)
    return "\n\n".join(parts)


async def stats(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    chat = update.effective_chat
    if member is None or chat is None:
        return
    figures = await context.services.stats.community()
    from handlers.report_queue import report_figures

    text = summary(context, lang, figures) + "\n\n" + await report_figures(context, lang)
    await reply(update, context, text)
    pages = StatsAlbum(context.services.texts, lang).pages(figures)
    # Imported on first use: matplotlib alone would add tens of MB to every idle bot.
    from bot.charts import render_album

    pictures = await asyncio.to_thread(render_album, pages)
    if len(pictures) == 1:
        await context.bot.send_photo(
            chat.id, InputFile(pictures[0], filename="stats.png"), caption=pages[0].caption
        )
        return
    # An album of a few pictures, each readable on a phone (Telegram takes 2 to 10).
    await context.bot.send_media_group(
        chat.id,
        [
            InputMediaPhoto(png, caption=page.caption, filename=f"stats-{n}.png")
            for n, (page, png) in enumerate(zip(pages, pictures, strict=True), start=1)
        ],
    )


async def export(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    chat = update.effective_chat
    if member is None or chat is None:
        return
    status: Message = await reply(update, context, t(context, lang, "export.started"))

    async def progress(name: str, done: int, total: int) -> None:
        text = t(context, lang, "export.progress", name=name, done=done, total=total)
        await status.edit_text(text)

    files = await context.services.stats.export(member.telegram_id, lang, progress)
    for file in files:
        await context.bot.send_document(
            chat.id,
            InputFile(file.content, filename=file.name),
            caption=t(context, lang, "export.file", name=file.name, count=file.rows),
        )
    await status.edit_text(t(context, lang, "export.done", count=len(files)))


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("stats", stats, filters=private),
        CommandHandler("export", export, filters=private),
    ]
