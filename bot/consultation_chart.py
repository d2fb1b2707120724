"""A consultation's results as one picture: a bar chart per question, with counts and
percentages, drawn tall and narrow so that it reads on a phone."""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from bot.services.consultation_engine import Results, share


def render_results(results: Results, other_label: str) -> bytes:
    questions = results.consultation.questions
    heights = [1.2 + 0.45 * (len(q.options) + int(q.other)) for q in questions]
    figure, axes = plt.subplots(
        len(questions),
        1,
        figsize=(6, max(3.0, sum(heights))),
        dpi=120,
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    try:
        for axis, question, result in zip(axes[:, 0], questions, results.questions, strict=True):
            labels = [textwrap.shorten(o, 32, placeholder="…") for o in question.options]
            counts = list(result.counts)
            if question.other:
                labels.append(other_label)
                counts.append(len(result.others))
            positions = list(range(len(labels)))[::-1]
            axis.barh(positions, counts, color="#2f7d4f")
            axis.set_yticks(positions, labels, fontsize=9)
            top = max([*counts, 1])
            axis.set_xlim(0, top * 1.35)
            for y, n in zip(positions, counts, strict=True):
                axis.text(
                    n + top * 0.02,
                    y,
                    f"{n} ({share(n, result.answered)} %)",
                    va="center",
                    fontsize=9,
                )
            axis.set_title(textwrap.fill(question.text, 60), fontsize=11, loc="left")
            axis.xaxis.set_visible(False)
            axis.spines[["top", "right", "bottom"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
