"""The state of the community at a glance (/stats) and its data as CSV files (/export).

Only coordinators reach these (checked by the caller and again here); every export is written
to the audit log, because it hands personal data to a person.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from bot.clock import Clock
from bot.config import Settings
from bot.services.export_format import CellFormat, separator
from bot.texts import Texts
from storage.audit import AuditRepository
from storage.consultations import ConsultationRepository
from storage.db import Database, from_db_time, to_db_time
from storage.privacy_model import personal_columns
from storage.stats import EXPORT_KINDS, EXPORT_TABLES, EXPORTS, StatsRepository

WEEKS = 12

Progress = Callable[[str, int, int], Awaitable[None]]


class WeekFigure(BaseModel):
    week: date
    arrivals: int = 0
    answers: int = 0
    deliveries: int = 0

    @property
    def answer_rate(self) -> float | None:
        return self.answers / self.deliveries if self.deliveries else None


class CommunityStats(BaseModel):
    roles: dict[str, int]
    territories: dict[str, int]
    themes: dict[str, int]
    weeks: list[WeekFigure]
    calls: dict[str, int] = Field(default_factory=dict)
    initiatives: dict[str, int] = Field(default_factory=dict)
    pairs: dict[str, int] = Field(default_factory=dict)
    consultations: dict[str, int] = Field(default_factory=dict)


class ExportFile(BaseModel):
    name: str
    content: bytes
    rows: int


class StatsService:
    def __init__(self, db: Database, settings: Settings, clock: Clock, texts: Texts) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.texts = texts
        self.repo = StatsRepository(db)
        self.audit = AuditRepository(db)
        self.exports = dict(EXPORTS)

    def personal_tables(self) -> list[str]:
        """The tables holding personal data that the exports read, from the privacy model."""
        tables = {t for name in self.exports for t in EXPORT_TABLES[name]}
        return sorted(t for t in tables if personal_columns(t))

    def week_of(self, instant: datetime) -> date:
        local = instant.astimezone(self.settings.zone).date()
        return local - timedelta(days=local.weekday())

    async def community(self) -> CommunityStats:
        now = self.clock.now()
        first_week = self.week_of(now) - timedelta(weeks=WEEKS - 1)
        weeks = [WeekFigure(week=first_week + timedelta(weeks=i)) for i in range(WEEKS)]
        index = {w.week: w for w in weeks}
        since = datetime.combine(first_week, datetime.min.time(), self.settings.zone)
        for stamp in await self.repo.arrivals(to_db_time(since)):
            instant = from_db_time(stamp)
            if instant is not None and self.week_of(instant) in index:
                index[self.week_of(instant)].arrivals += 1
        stats = CommunityStats(
            roles=await self.repo.roles(),
            territories=await self.repo.by_territory(),
            themes=await self.repo.by_theme(),
            weeks=weeks,
        )
        stats.calls = await self.repo.calls_figures()
        for sent_at, delivered, answers in await self.repo.weekly_answers(to_db_time(since)):
            instant = from_db_time(sent_at)
            if instant is not None and self.week_of(instant) in index:
                index[self.week_of(instant)].deliveries += delivered
                index[self.week_of(instant)].answers += answers
        stats.initiatives = await self.repo.initiatives_funnel()
        stats.pairs = await self.repo.pairs_health()
        stats.consultations = await self.repo.consultations_figures()
        return stats

    async def export(
        self, actor_id: int, lang: str, progress: Progress | None = None
    ) -> list[ExportFile]:
        """One CSV per table family, for a spreadsheet in the coordinator's language.

        UTF-8 with a BOM (French spreadsheets need it to read accents), `;` between columns in
        French, times in the organisation's zone, words instead of codes.
        """
        questions = {c.id: c.questions for c in await ConsultationRepository(self.db).all()}
        cells = CellFormat(self.texts, lang, self.settings.zone, questions)
        files = []
        total = len(self.exports)
        for done, (name, (header, sql)) in enumerate(self.exports.items()):
            if progress is not None:
                await progress(name, done, total)
            kinds = EXPORT_KINDS.get(name, {})
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=separator(lang), lineterminator="\r\n")
            writer.writerow(header)
            count = 0
            async for chunk in self.repo.stream(sql):
                for values in chunk:
                    row = dict(zip(header, values, strict=True))
                    writer.writerow(
                        [
                            csv_cell(cells.cell(kinds[k], v, row) if k in kinds else v)
                            for k, v in row.items()
                        ]
                    )
                count += len(chunk)
            files.append(
                ExportFile(
                    name=f"{name}.csv", content=buffer.getvalue().encode("utf-8-sig"), rows=count
                )
            )
        async with self.db.transaction():
            await self.audit.record(
                actor_id,
                "export",
                ",".join(self.exports),
                self.clock.now(),
                {"rows": {f.name: f.rows for f in files}, "personal": self.personal_tables()},
            )
        return files


# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value no column kind reshaped: nothing as an empty cell, booleans as 0/1.

    Texts come from members (names, titles, descriptions): one that a spreadsheet would run
    as a formula is prefixed with a quote, as OWASP recommends, so that it shows as text.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
