"""What the /stats pictures show, decided apart from drawing them (bot/charts.py draws).

Every figure of the /stats text has its picture: an album of a few charts, each readable on a
phone, rather than one crowded image. Long lists keep their largest entries and gather the
rest in one bar; the weeks start at the first week with something to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.services.stats import CommunityStats, WeekFigure
from bot.texts import Texts, plain

# At most this many bars in a list of places or themes; the others share one bar.
MAX_BARS = 10
# The weeks axis never shows fewer weeks than this (a new community gets a short axis).
MIN_WEEKS = 4

PanelKind = Literal["bars", "columns", "rates"]


@dataclass
class Panel:
    """One chart of a picture: horizontal bars, columns per week, or a rate per week (%)."""

    kind: PanelKind
    title: str
    labels: list[str]
    values: list[float | None]
    colour: str = "#2f7d4f"
    note: str = ""
    others: bool = False  # the last bar gathers the entries that did not get their own


@dataclass
class ChartPage:
    """One picture of the album, and the words sent beside it."""

    caption: str
    panels: list[Panel] = field(default_factory=list)


def shown_weeks(weeks: list[WeekFigure]) -> list[WeekFigure]:
    """From the first week with an arrival or a call (at least the last MIN_WEEKS)."""
    first = next((i for i, w in enumerate(weeks) if w.arrivals or w.deliveries), len(weeks))
    return weeks[min(first, max(len(weeks) - MIN_WEEKS, 0)) :]


def top_bars(title: str, figures: dict[str, int], others: str, colour: str) -> Panel:
    """The largest entries, and one bar for the rest when there are more than MAX_BARS."""
    items = sorted(figures.items(), key=lambda kv: (-kv[1], kv[0]))
    gathered = len(items) > MAX_BARS
    if gathered:
        rest = items[MAX_BARS - 1 :]
        items = [*items[: MAX_BARS - 1], (f"{others} ({len(rest)})", sum(v for _, v in rest))]
    labels = [k for k, _ in items]
    values: list[float | None] = [float(v) for _, v in items]
    return Panel("bars", title, labels, values, colour, others=gathered)


class StatsAlbum:
    """The album's pages in one coordinator's language."""

    def __init__(self, texts: Texts, lang: str) -> None:
        self.texts = texts
        self.lang = lang

    def word(self, key: str, **params: object) -> str:
        return plain(self.texts.get(self.lang, key, **params))

    def labelled(
        self, prefix: str, figures: dict[str, int]
    ) -> tuple[list[str], list[float | None]]:
        labels = self.texts.choices(self.lang, prefix)
        return [plain(labels.get(k, k)) for k in figures], [float(v) for v in figures.values()]

    def pages(self, stats: CommunityStats) -> list[ChartPage]:
        weeks = shown_weeks(stats.weeks)
        days = [w.week.strftime("%d/%m") for w in weeks]
        pages = [self._members(stats, days, weeks), self._places(stats)]
        calls = stats.calls
        if calls.get("sent"):
            shown = ("recipients", "delivered", "blocked", "failed", "yes", "waiting", "no")
            figures = {k: calls[k] for k in shown if k in calls}
            labels, values = self.labelled("stats.calls.", figures)
            rates = [w.answer_rate * 100 if w.answer_rate is not None else None for w in weeks]
            answered = (
                calls.get("answered", 0) / calls["delivered"] if calls.get("delivered") else 0
            )
            pages.append(
                ChartPage(
                    self.word("stats.chart.calls"),
                    [
                        Panel(
                            "bars",
                            self.word("stats.section.calls"),
                            labels,
                            values,
                            "#d9822b",
                            self.word("stats.chart.calls_sent", count=calls["sent"]),
                        ),
                        Panel(
                            "rates",
                            self.word("stats.chart.answers"),
                            days,
                            rates,
                            "#d9822b",
                            self.word("stats.chart.rate_all", rate=round(answered * 100)),
                        ),
                    ],
                )
            )
        panels = []
        if stats.initiatives:
            labels, values = self.labelled("stats.initiatives.", stats.initiatives)
            panels.append(
                Panel("bars", self.word("stats.section.initiatives"), labels, values, "#6a4c93")
            )
        if stats.pairs:
            labels, values = self.labelled("stats.pairs.", stats.pairs)
            panels.append(
                Panel("bars", self.word("stats.section.pairs"), labels, values, "#1f6f8b")
            )
        if panels:
            pages.append(ChartPage(self.word("stats.chart.initiatives_pairs"), panels))
        # Nothing to draw is left out (a new community has no places or themes yet).
        for page in pages:
            page.panels = [p for p in page.panels if p.labels]
        return [page for page in pages if page.panels]

    def _members(
        self, stats: CommunityStats, days: list[str], weeks: list[WeekFigure]
    ) -> ChartPage:
        labels, values = self.labelled("stats.role.", stats.roles)
        return ChartPage(
            self.word("stats.chart.members"),
            [
                Panel("bars", self.word("stats.roles"), labels, values),
                Panel(
                    "columns",
                    self.word("stats.chart.arrivals"),
                    days,
                    [float(w.arrivals) for w in weeks],
                ),
            ],
        )

    def _places(self, stats: CommunityStats) -> ChartPage:
        others = self.word("stats.chart.others")
        return ChartPage(
            self.word("stats.chart.places"),
            [
                top_bars(self.word("stats.territories"), stats.territories, others, "#2f7d4f"),
                top_bars(self.word("stats.themes"), stats.themes, others, "#3a6ea5"),
            ],
        )
