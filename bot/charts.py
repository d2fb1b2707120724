"""The /stats chart: arrivals per week and answer rates, drawn for a phone screen."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from bot.services.stats import CommunityStats


def render_chart(stats: CommunityStats, titles: tuple[str, str, str]) -> bytes:
    """A tall PNG (two panels) that stays readable at phone width."""
    arrivals_title, rate_title, week_label = titles
    labels = [w.week.strftime("%d/%m") for w in stats.weeks]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6, 7.5), dpi=120)
    try:
        # Numeric positions with explicit labels: weeks without calls (no rate) must not
        # shift the categories of the lower panel.
        positions = list(range(len(labels)))
        top.bar(positions, [w.arrivals for w in stats.weeks], color="#2f7d4f")
        top.set_title(arrivals_title, fontsize=14)
        top.tick_params(axis="x", rotation=60, labelsize=9)
        top.yaxis.get_major_locator().set_params(integer=True)
        rates = [
            (w.answer_rate * 100 if w.answer_rate is not None else float("nan"))
            for w in stats.weeks
        ]
        bottom.plot(positions, rates, marker="o", color="#d9822b", linewidth=2)
        bottom.set_ylim(0, 100)
        bottom.set_ylabel("%")
        bottom.set_title(rate_title, fontsize=14)
        bottom.set_xlabel(week_label)
        bottom.tick_params(axis="x", rotation=60, labelsize=9)
        for axis in (top, bottom):
            axis.set_xticks(positions, labels)
            axis.grid(axis="y", alpha=0.3)
            axis.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
