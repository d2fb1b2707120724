"""The delivery outbox: one row per message that must reach someone."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storage.db import Database, Row, from_db_time, to_db_time

DeliveryStatus = Literal["queued", "sending", "sent", "failed", "blocked", "dropped", "expired"]
FINISHED: frozenset[str] = frozenset({"sent", "failed", "blocked", "expired"})
"""Outcomes after which the rendered text is forgotten (the message lives in the chat)."""


class Button(BaseModel):
    """The one button model: queued messages store it, handlers' screens build it."""

    text: str
    data: str | None = None
    url: str | None = None


Rows = list[list[Button]]
"""A keyboard: rows of buttons."""


class Document(BaseModel):
    """A file: a Telegram file_id or an HTTP URL, or bytes the bot made (kept small: they
    are stored in the outbox row until sent, base64 in its JSON)."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    file: str | None = None
    content: bytes | None = None
    filename: str = "document"

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.file is None) == (self.content is None):
            raise ValueError("a document is a file id/URL or generated content, not both")
        return self


class Location(BaseModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class Copy(BaseModel):
    """A message of a member, sent again as the bot's own (copyMessage: no "forwarded" tag)."""

    from_chat_id: int
    message_id: int


MEDIA = ("photo", "document", "voice", "location", "copy_of")
"""What a payload may carry besides text, at most one of them."""


class Payload(BaseModel):
    """What to send, already rendered in the recipient's language.

    `text` is HTML: the message itself, or the caption of a photo, document or voice message
    (a copy keeps its own caption when `text` is empty; a location has none).
    """

    text: str = ""
    buttons: Rows = Field(default_factory=list)
    photo: str | None = None
    document: Document | None = None
    voice: str | None = None
    location: Location | None = None
    copy_of: Copy | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        carried = [name for name in MEDIA if getattr(self, name) is not None]
        if len(carried) > 1:
            raise ValueError(f"a payload carries one of {MEDIA}, not {carried}")
        if self.location is not None and self.text:
            raise ValueError("a location has no text: send the text as its own payload")
        return self

    @property
    def kind(self) -> str:
        """'text' or the name of what it carries: how the dispatcher sends it."""
        return next((name for name in MEDIA if getattr(self, name) is not None), "text")


class NewDelivery(BaseModel):
    chat_id: int
    kind: str
    ref_id: int | None = None
    priority: int = 5
    payload: Payload
    not_before: datetime | None = None
    expires_at: datetime | None = None
    """When the message loses its point (a call's deadline): past it, it is not sent."""


class Delivery(BaseModel):
    id: int
    chat_id: int
    kind: str
    ref_id: int | None
    priority: int
    payload: Payload
    status: DeliveryStatus
    attempts: int
    not_before: datetime
    due_at: datetime
    expires_at: datetime | None
    message_id: int | None
    last_error: str | None


class DeliveryResult(BaseModel):
    id: int
    status: DeliveryStatus
    message_id: int | None = None
    error: str | None = None
    retry_at: datetime | None = None


_COLUMNS = (
    "id, chat_id, kind, ref_id, priority, payload, status, attempts, not_before, due_at, "
    "expires_at, message_id, last_error"
)


def _delivery(row: Row, payloads: _Payloads | None = None) -> Delivery:
    """A row as a model; with `payloads`, rows holding the same payload share one object."""
    raw = row["payload"]
    payload = payloads.get(raw) if payloads is not None else None
    if payload is None:
        payload = Payload.model_validate_json(raw)
        if payloads is not None:
            payloads.put(raw, payload)
    return Delivery(
        id=row["id"],
        chat_id=row["chat_id"],
        kind=row["kind"],
        ref_id=row["ref_id"],
        priority=row["priority"],
        payload=payload,
        status=row["status"],
        attempts=row["attempts"],
        not_before=from_db_time(row["not_before"]),
        due_at=from_db_time(row["due_at"]),
        expires_at=from_db_time(row["expires_at"]) if row["expires_at"] else None,
        message_id=row["message_id"],
        last_error=row["last_error"],
    )


class _Payloads:
    """The payloads claimed lately, by their stored JSON: a broadcast's rows hold one payload,
    parsed once and shared (read-only) by all its deliveries, so the sender prepares its
    request once (bot/sending.py)."""

    SIZE = 64

    def __init__(self) -> None:
        self._by_json: OrderedDict[str, Payload] = OrderedDict()

    def get(self, raw: str) -> Payload | None:
        payload = self._by_json.get(raw)
        if payload is not None:
            self._by_json.move_to_end(raw)
        return payload

    def put(self, raw: str, payload: Payload) -> None:
        self._by_json[raw] = payload
        if len(self._by_json) > self.SIZE:
            self._by_json.popitem(last=False)


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._claimed_payloads = _Payloads()

    async def enqueue(self, deliveries: Sequence[NewDelivery], now: datetime) -> None:
        stamp = to_db_time(now)
        # A broadcast shares one payload object (per language) and one deadline among its
        # copies: each is written out once, not once per copy (100,000 copies for a big call).
        payloads: dict[int, str] = {}
        times: dict[datetime, str] = {}

        def payload(d: NewDelivery) -> str:
            text = payloads.get(id(d.payload))
            if text is None:
                text = payloads[id(d.payload)] = d.payload.model_dump_json(exclude_defaults=True)
            return text

        def when(instant: datetime) -> str:
            text = times.get(instant)
            if text is None:
                text = times[instant] = to_db_time(instant)
            return text

        await self.db.executemany(
            "INSERT INTO deliveries (chat_id, kind, ref_id, priority, payload, not_before, "
            "due_at, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    d.chat_id,
                    d.kind,
                    d.ref_id,
                    d.priority,
                    payload(d),
                    due,
                    due,
                    when(d.expires_at) if d.expires_at else None,
                    stamp,
                )
                for d in deliveries
                for due in (when(d.not_before) if d.not_before else stamp,)
            ],
        )

    async def claim_due(
        self, now: datetime, limit: int, token: int | None = None
    ) -> list[Delivery]:
        """Mark up to `limit` due rows as being sent and return them, highest priority first.

        A row stays 'sending' until its result is recorded; after a crash those rows are sent
        again (see `requeue_in_flight`), which is the documented duplicate bound. `token` is
        the sender lease's fencing token (bot/lease.py), kept on the row.
        """
        # The redundant IN term lets SQLite use the partial index deliveries_due (walked in
        # order, no sort) instead of scanning the whole table on every claim.
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM deliveries WHERE status IN ('queued', 'sending') "
            "AND status = 'queued' AND not_before <= ? ORDER BY priority, not_before, id LIMIT ?",
            (to_db_time(now), limit),
        )
        if rows:
            await self.db.executemany(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, "
                "claim_token = ? WHERE id = ? AND status = 'queued'",
                [(token, r["id"]) for r in rows],
            )
        claimed = [_delivery(r, self._claimed_payloads) for r in rows]
        for item in claimed:
            item.status = "sending"
            item.attempts += 1
        return claimed

    async def record(
        self, results: Iterable[DeliveryResult], now: datetime, token: int | None = None
    ) -> None:
        """Store outcomes. A finished delivery forgets its text: once delivered (or given up)
        the message lives in the chat, and personal data is not kept twice. With a `token`,
        only rows still claimed under it: a newer lease holder's claim is never overwritten."""
        stamp = to_db_time(now)
        await self.db.executemany(
            "UPDATE deliveries SET status = ?, message_id = COALESCE(?, message_id), "
            "last_error = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, "
            "payload = CASE WHEN ? IN ('sent', 'failed', 'blocked', 'expired') "
            'THEN \'{"text":""}\' '
            "ELSE payload END, not_before = COALESCE(?, not_before) WHERE id = ?"
            + ("" if token is None else " AND claim_token = ?"),
            [
                (
                    r.status,
                    r.message_id,
                    r.error,
                    r.status,
                    stamp,
                    r.status,
                    to_db_time(r.retry_at) if r.retry_at else None,
                    r.id,
                    *(() if token is None else (token,)),
                )
                for r in results
            ],
        )

    async def requeue_in_flight(self, token: int | None = None) -> int:
        """At start: rows left 'sending' by a crash go back to the queue. At a stop, with the
        lease's `token`: only the rows this holder claimed."""
        if token is None:
            return await self.db.execute(
                "UPDATE deliveries SET status = 'queued' WHERE status = 'sending'"
            )
        return await self.db.execute(
            "UPDATE deliveries SET status = 'queued' WHERE status = 'sending' AND claim_token = ?",
            (token,),
        )

    async def drop_for_chat(self, chat_id: int) -> int:
        return await self.db.execute(
            "UPDATE deliveries SET status = 'dropped', payload = '{\"text\":\"\"}' "
            "WHERE chat_id = ? AND status IN ('queued', 'sending')",
            (chat_id,),
        )

    async def drop_for_ref(self, kind: str, ref_id: int) -> int:
        return await self.db.execute(
            "UPDATE deliveries SET status = 'dropped' "
            "WHERE kind = ? AND ref_id = ? AND status = 'queued'",
            (kind, ref_id),
        )

    async def counts(self, kind: str, ref_id: int) -> dict[str, int]:
        rows = await self.db.fetch_all(
            "SELECT status, COUNT(*) AS n FROM deliveries WHERE kind = ? AND ref_id = ? "
            "GROUP BY status",
            (kind, ref_id),
        )
        return {r["status"]: int(r["n"]) for r in rows}

    async def queue_depth(self, now: datetime) -> tuple[int, datetime | None]:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) AS n, MIN(not_before) AS oldest FROM deliveries "
            "WHERE status IN ('queued', 'sending') AND not_before <= ?",
            (to_db_time(now),),
        )
        if row is None:
            return 0, None
        return int(row["n"]), from_db_time(row["oldest"])

    async def backlog(self, now: datetime) -> tuple[int, datetime | None]:
        """Messages whose time has come and that are not delivered yet, those waiting for a
        retry included, and the instant the oldest of them was first due: what /healthz
        watches (a retried row's `not_before` moves on, its `due_at` does not)."""
        row = await self.db.fetch_one(
            "SELECT COUNT(*) AS n, MIN(due_at) AS oldest FROM deliveries "
            "WHERE status IN ('queued', 'sending') AND due_at <= ?",
            (to_db_time(now),),
        )
        if row is None:
            return 0, None
        return int(row["n"]), from_db_time(row["oldest"])

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` finished rows last touched before `before` (sent, or their
        last attempt); the caller repeats while a full batch went, so no lock is held long."""
        return await self.db.execute(
            "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries "
            "WHERE status IN ('sent', 'failed', 'blocked', 'dropped', 'expired') "
            "AND COALESCE(sent_at, not_before) < ? LIMIT ?)",
            (to_db_time(before), limit),
        )

    async def next_due(self) -> datetime | None:
        row = await self.db.fetch_one(
            "SELECT MIN(not_before) AS due FROM deliveries "
            "WHERE status IN ('queued', 'sending') AND status = 'queued'"
        )
        return from_db_time(row["due"]) if row else None

    async def all(self, kind: str | None = None) -> list[Delivery]:
        """Every delivery (of one kind), in order: what an audit (or a test) reads back."""
        if kind is None:
            rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM deliveries ORDER BY id")
        else:
            rows = await self.db.fetch_all(
                f"SELECT {_COLUMNS} FROM deliveries WHERE kind = ? ORDER BY id", (kind,)
            )
        return [_delivery(r) for r in rows]
