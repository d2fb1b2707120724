"""What circle screens show: /cercles' list (it fits whatever the number of circles and the
length of names) and one circle's screen with its buttons."""

from __future__ import annotations

from bot.context import AppContext
from bot.inputs import fit_lines, utf16_cut
from bot.services.circles import CircleAction, CircleLine, CircleView
from handlers.circle_admin import MAX_BUTTONS, TITLE_BUTTON, press
from handlers.common import button, label, t
from storage.outbox import Rows

Act = CircleAction
LIST_BUDGET = 3500
"""UTF-16 units of /cercles' lines: the rest of the 4,096 is its head and foot."""
NAMES_MAX = 300


def _when(context: AppContext, line: CircleLine) -> str:
    zone = context.services.settings.zone
    return line.circle.last_activity_at.astimezone(zone).strftime("%d/%m %H:%M")


def list_screen(context: AppContext, lang: str, lines: list[CircleLine]) -> tuple[str, Rows]:
    if not lines:
        return t(context, lang, "circles.none"), []
    blocks = []
    for line in lines:
        names = utf16_cut(", ".join(line.names), NAMES_MAX)
        key = "circles.line.muted" if line.muted else "circles.line"
        blocks.append(
            t(
                context,
                lang,
                key,
                title=line.circle.title,
                names=names,
                when=_when(context, line),
                unread=line.unread,
            )
        )
    shown, rest = fit_lines(blocks, LIST_BUDGET)
    text = t(context, lang, "circles.list_head") + "\n\n" + "\n".join(shown)
    if rest:
        text += "\n\n" + t(context, lang, "circles.list_more", count=rest)
    rows = [
        [
            button(
                "💬 " + utf16_cut(line.circle.title, TITLE_BUTTON),
                press(Act.OPEN, circle_id=line.circle.id),
            )
        ]
        for line in lines[: min(len(shown), MAX_BUTTONS)]
    ]
    return text, rows


def circle_screen(context: AppContext, lang: str, view: CircleView) -> tuple[str, Rows]:
    circle_id = view.circle.id
    names = utf16_cut(", ".join(view.names), NAMES_MAX * 4)
    text = t(
        context,
        lang,
        "circles.screen",
        title=view.circle.title,
        count=len(view.seats),
        names=names,
    )
    if view.me.muted:
        text += "\n\n" + t(context, lang, "circles.screen.muted", count=view.me.unread)
    rows: Rows = [
        [
            button(
                label(context, lang, "circles.button.write"),
                press(Act.WRITE, circle_id=circle_id),
            )
        ]
    ]
    if view.me.muted:
        rows.append(
            [
                button(
                    label(context, lang, "circles.button.unmute"),
                    press(Act.UNMUTE, circle_id=circle_id),
                )
            ]
        )
    else:
        rows.append(
            [
                button(
                    label(context, lang, "circles.button.mute"),
                    press(Act.MUTE, circle_id=circle_id),
                )
            ]
        )
    if view.is_owner and len(view.seats) > 1:
        rows.append(
            [
                button(
                    label(context, lang, "circles.button.members"),
                    press(Act.MEMBERS, circle_id=circle_id),
                )
            ]
        )
    rows.append(
        [
            button(
                label(context, lang, "circles.button.leave"),
                press(Act.LEAVE, circle_id=circle_id),
            )
        ]
    )
    rows.append([button(label(context, lang, "circles.button.list"), press(Act.LIST))])
    return text, rows
