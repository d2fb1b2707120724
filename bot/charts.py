"""The /stats pictures, drawn for a phone screen (what they show: bot/services/stats_album.py).

Each picture is 720 pixels wide, the width a phone shows without zooming; texts are at least
11 points there. Bars carry their value at their end, so nobody reads numbers off an axis;
big numbers get a thin space every three digits, long names wrap on two lines.
"""

from __future__ import annotations

import io
import math
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bot.services.stats_album import ChartPage, Panel

WIDTH_INCHES = 6.0
DPI = 120
NAME_WIDTH = 64
NOTE_WIDTH = 44
OTHERS_COLOUR = "#9a9a9a"


def number(value: float) -> str:
    """12345 -> '12 345' (a narrow no-break space, as French typography writes it)."""
    return f"{round(value):,}".replace(",", "\u202f")


def short_name(name: str) -> str:
    """The name on one line above its bar; a very long one ends with '…'."""
    return textwrap.shorten(name, NAME_WIDTH, placeholder="…") if len(name) > NAME_WIDTH else name


def _height(panel: Panel) -> float:
    if panel.kind == "bars":
        return 0.6 + 0.55 * max(len(panel.labels), 1)
    return 3.2


def _bars(axis: Axes, panel: Panel) -> None:
    """Each name written above its bar across the whole width, so long names stay whole."""
    values = [v or 0.0 for v in panel.values]
    top = max(values, default=0.0) or 1.0
    last = len(values) - 1
    for y, (label, value) in enumerate(zip(panel.labels, values, strict=True)):
        axis.text(0, y - 0.12, short_name(label), va="bottom", ha="left", fontsize=12)
        # The bar that gathers the smaller entries is grey: it is not one place or theme.
        colour = OTHERS_COLOUR if panel.others and y == last else panel.colour
        axis.barh(y + 0.2, value, color=colour, height=0.42)
        axis.text(value + top * 0.015, y + 0.2, number(value), va="center", fontsize=12)
    axis.set_ylim(len(values) - 0.4, -0.75)
    # Room on the right for the biggest value's label.
    axis.set_xlim(0, top * 1.18)
    axis.xaxis.set_visible(False)
    axis.yaxis.set_visible(False)
    axis.spines[["top", "right", "bottom", "left"]].set_visible(False)


def _weeks(axis: Axes, panel: Panel) -> None:
    positions = list(range(len(panel.labels)))
    if panel.kind == "columns":
        values = [v or 0.0 for v in panel.values]
        axis.bar(positions, values, color=panel.colour)
        axis.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: number(v)))
    else:
        # Weeks without calls have no rate: a gap in the line, not a zero.
        rates = [math.nan if v is None else v for v in panel.values]
        axis.plot(positions, rates, marker="o", color=panel.colour, linewidth=2)
        axis.set_ylim(0, 100)
        axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f} %"))
    step = max(1, math.ceil(len(positions) / 8))  # at most 8 dates under the axis
    axis.set_xticks(positions[::step], panel.labels[::step], fontsize=10)
    axis.tick_params(axis="y", labelsize=10)
    axis.grid(axis="y", alpha=0.3)
    axis.spines[["top", "right"]].set_visible(False)


def render_page(page: ChartPage) -> bytes:
    heights = [_height(p) for p in page.panels]
    figure, axes = plt.subplots(
        len(page.panels),
        1,
        figsize=(WIDTH_INCHES, sum(heights) + 0.6 * len(heights)),
        dpi=DPI,
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    try:
        for axis, panel in zip(axes[:, 0], page.panels, strict=True):
            (_bars if panel.kind == "bars" else _weeks)(axis, panel)
            title = panel.title
            if panel.note:
                title += "\n" + "\n".join(textwrap.wrap(panel.note, NOTE_WIDTH))
            axis.set_title(title, fontsize=14, loc="left", fontweight="bold")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def render_album(pages: list[ChartPage]) -> list[bytes]:
    """Every picture of the album (run it off the event loop: it takes a few hundred ms)."""
    return [render_page(page) for page in pages]
