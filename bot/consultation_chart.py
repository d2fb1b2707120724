"""A consultation's results as one picture: a bar chart per question, with counts and
percentages, then who answered by territory (where enough did), drawn tall and narrow so
that it reads on a phone."""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bot.services.consultation_engine import Results, share
from bot.services.consultation_results import ChartText

LABEL_WIDTH = 30
"""Characters per line of a bar's label (two lines at most): more would squeeze the bars at
phone width (720 px). Options (60) and territory names fit whole in two lines."""
TITLE_WIDTH = 42
ROW_HEIGHT = 0.45
PANEL_HEIGHT = 1.2
COLOR = "#2f7d4f"


def fit(label: str, width: int = LABEL_WIDTH) -> str:
    """At most two lines of `width` characters. A longer label loses its middle, not its
    end: names that share a long beginning ("Commune nouvelle de ...") stay distinct."""
    label = " ".join(label.split())
    if len(label) > 2 * width:
        keep = 2 * width - 1
        label = label[: keep // 2].rstrip() + "…" + label[-(keep - keep // 2) :].lstrip()
    lines = textwrap.wrap(label, width)
    if len(lines) > 2:  # wrapping at spaces wasted room: cut the characters evenly
        lines = [label[:width], label[width:]]
    return "\n".join(lines)


def _bars(axis: Axes, title: str, labels: list[str], counts: list[int], total: int) -> None:
    positions = list(range(len(labels)))[::-1]
    axis.barh(positions, counts, color=COLOR)
    axis.set_yticks(positions, [fit(label) for label in labels], fontsize=9)
    top = max([*counts, 1])
    axis.set_xlim(0, top * 1.35)
    for y, n in zip(positions, counts, strict=True):
        axis.text(n + top * 0.02, y, f"{n} ({share(n, total)} %)", va="center", fontsize=9)
    axis.set_title(textwrap.fill(title, TITLE_WIDTH), fontsize=11, loc="left")
    axis.xaxis.set_visible(False)
    axis.spines[["top", "right", "bottom"]].set_visible(False)


def render_results(results: Results, text: ChartText) -> bytes:
    questions = results.consultation.questions
    panels: list[tuple[str, list[str], list[int], int]] = []
    for question, result in zip(questions, results.questions, strict=True):
        labels, counts = list(question.options), list(result.counts)
        if question.other:
            labels.append(text.other)
            counts.append(len(result.others))
        panels.append((question.text, labels, counts, result.answered))
    if text.territories:
        names = [name for name, _ in text.territories]
        counts = [n for _, n in text.territories]
        panels.append((text.territories_title, names, counts, results.respondents))
    heights = [PANEL_HEIGHT + ROW_HEIGHT * len(labels) for _, labels, _, _ in panels]
    figure, axes = plt.subplots(
        len(panels),
        1,
        figsize=(6, max(3.0, sum(heights))),
        dpi=120,
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    try:
        for axis, (title, labels, counts, total) in zip(axes[:, 0], panels, strict=True):
            _bars(axis, title, labels, counts, total)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
