"""Where personal data lives, and what erasure does to it: one entry per table of the schema.

`/oublier` and the retention purge (which erases an inactive member exactly as `/oublier`
does) apply these entries; `/mesdonnees` gives back the rows they point to; `/export` records
which personal columns it handed out. A test fails when a table of the schema has no entry.

To declare a new table, add one `Table` to `TABLES`, before the tables it refers to (rows are
erased in this order, so children go before their parents and `members` is last):
- `personal`: the columns that hold personal data (a member's id, a name, a free text...);
- `links`: each column holding a member's Telegram id, with what erasing that member does
  to the row: `delete` it, `anonymise` it (the id becomes a random negative id that points to
  nobody, so counts stay right), `clear` the column (set it to NULL), or `keep` it (the
  schema's ON DELETE does the rest, e.g. SET NULL);
- `before`: statements run first, with the member's id as their only parameter, for what a
  plain delete cannot say: keep a count of rows about to go, delete drafts but keep what was
  published, scrub a text that names the person;
- `reached_by`: a query (the member's id as its only parameter) for rows that reach the
  member through another table, so that `/mesdonnees` gives them back too.
A link's rows are given back by `/mesdonnees` unless `given_back=False` (rows about other
people, such as the members someone referred).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Erase = Literal["delete", "anonymise", "clear", "keep"]


@dataclass(frozen=True)
class Link:
    column: str
    erase: Erase
    given_back: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    personal: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    before: tuple[str, ...] = ()
    reached_by: str | None = None


def _links(erase: Erase, *columns: str) -> tuple[Link, ...]:
    return tuple(Link(column, erase) for column in columns)


TABLES: tuple[Table, ...] = (
    # Only the id, to remember a refusal of the consent notice; it goes with an erasure.
    Table("consent_refusals", ("telegram_id",), _links("delete", "telegram_id")),
    Table("conversations", ("member_id", "data"), _links("delete", "member_id")),
    Table("member_themes", ("member_id",), _links("delete", "member_id")),
    Table("technician_territories", ("member_id",), _links("delete", "member_id")),
    Table("technician_profiles", ("member_id", "service"), _links("delete", "member_id")),
    Table("retention_warnings", ("member_id",), _links("delete", "member_id")),
    Table("invites", ("created_by", "used_by"), _links("anonymise", "used_by", "created_by")),
    # The log stays (who did what is the coordinators' accountability), without the person:
    # the details of entries about the member's proposals (a moderator's message may name
    # them) are emptied before those proposals go.
    Table(
        "audit_log",
        ("actor_id", "details"),
        _links("anonymise", "actor_id"),
        before=(
            "UPDATE audit_log SET details = '{}' WHERE action LIKE 'initiative.%' "
            "AND subject IN (SELECT CAST(id AS TEXT) FROM initiatives WHERE author_id = ?)",
        ),
    ),
    # Deliveries stay counted for the statistics; what they said to the member goes.
    Table(
        "deliveries",
        ("chat_id", "payload", "last_error"),
        _links("anonymise", "chat_id"),
        before=(
            'UPDATE deliveries SET payload = \'{"text":""}\', last_error = NULL WHERE chat_id = ?',
        ),
    ),
    # A consultation's answers stay counted, unlinked from the member: their id becomes a
    # random negative id (anonymise); where they were in it goes.
    Table("consultation_answers", ("member_id", "other"), _links("anonymise", "member_id")),
    Table("consultation_progress", ("member_id",), _links("delete", "member_id")),
    Table(
        "consultations",
        ("coordinator_id", "summary_chat_id", "title", "intro", "questions", "outcome"),
        (Link("coordinator_id", "anonymise"), Link("summary_chat_id", "clear")),
    ),
    # Initiative circles: the member leaves every circle (handed over first, see
    # CircleService.release_member) and what they said there goes; copies already delivered
    # stay in the others' chats. An alert keeps no one: its people are cleared.
    Table(
        "circle_alerts",
        ("reporter_id", "author_id", "handled_by"),
        (
            Link("reporter_id", "clear"),
            Link("author_id", "clear", given_back=False),
            Link("handled_by", "clear", given_back=False),
        ),
    ),
    Table(
        "circle_messages",
        ("sender_id", "text", "source_chat_id", "source_message_id", "latitude", "longitude"),
        _links("delete", "sender_id"),
        before=(
            # Their messages not sent yet go too (a queued copy would still name them).
            "UPDATE deliveries SET status = 'dropped', payload = '{\"text\":\"\"}' "
            "WHERE kind = 'circle.message' AND status = 'queued' AND ref_id IN "
            "(SELECT id FROM circle_messages WHERE sender_id = ?)",
        ),
    ),
    Table("circle_members", ("member_id",), _links("delete", "member_id")),
    Table(
        "circle_removals",
        ("member_id", "removed_by"),
        (Link("member_id", "delete"), Link("removed_by", "clear", given_back=False)),
    ),
    Table("circle_pace"),
    Table("circles", ("owner_id",), (Link("owner_id", "clear"),)),
    # Who a broadcast reached stays counted (sent, blocked) without pointing to anyone.
    Table("broadcast_recipients", ("member_id",), _links("anonymise", "member_id")),
    # Answers go, counted first so that answer rates stay right.
    Table(
        "call_answers",
        ("member_id",),
        _links("delete", "member_id"),
        before=(
            "UPDATE calls SET erased_answers = erased_answers + 1 WHERE id IN "
            "(SELECT call_id FROM call_answers WHERE member_id = ?)",
            # A "Je viens" still standing (open calls were withdrawn from first, promoting
            # the waiting list) stays counted: /appels and /stats keep it.
            "UPDATE calls SET erased_yes = erased_yes + 1 WHERE id IN "
            "(SELECT call_id FROM call_answers WHERE member_id = ? AND answer = 'yes')",
        ),
    ),
    Table("call_reminders"),
    # Which worker runs the sender and the shared sending pace: process names, no person.
    Table("leases"),
    Table("send_budget"),
    Table(
        "calls",
        ("coordinator_id", "summary_chat_id", "text", "place", "photo"),
        (Link("coordinator_id", "anonymise"), Link("summary_chat_id", "clear")),
    ),
    # Supports go, counted first on their initiative.
    Table(
        "initiative_supports",
        ("member_id",),
        _links("delete", "member_id"),
        before=(
            "UPDATE initiatives SET erased_supporters = erased_supporters + 1 WHERE id IN "
            "(SELECT initiative_id FROM initiative_supports WHERE member_id = ? "
            "AND kind = 'support')",
            "UPDATE initiatives SET erased_participants = erased_participants + 1 WHERE id IN "
            "(SELECT initiative_id FROM initiative_supports WHERE member_id = ? "
            "AND kind = 'participate')",
        ),
    ),
    Table("gardener_requests", ("member_id",), _links("delete", "member_id")),
    # Published initiatives stay, without their author (the schema sets author_id NULL);
    # declined proposals stay counted in the funnel, without their text; drafts and pending
    # proposals go.
    Table(
        "initiatives",
        ("author_id", "moderator_id", "title", "description", "moderation_message"),
        (Link("author_id", "keep"), Link("moderator_id", "clear")),
        before=(
            "UPDATE initiatives SET title = '', description = '', needs = '[]', "
            "moderation_message = NULL WHERE author_id = ? AND status = 'declined'",
            "DELETE FROM initiatives WHERE author_id = ? "
            "AND status NOT IN ('published', 'declined')",
        ),
    ),
    Table(
        "pair_checkin_answers",
        ("member_id", "note"),
        _links("delete", "member_id"),
    ),
    Table(
        "pair_checkins",
        reached_by="SELECT c.* FROM pair_checkins c JOIN pairs p ON p.id = c.pair_id "
        "WHERE ? IN (p.citizen_id, p.technician_id) ORDER BY c.id",
    ),
    Table(
        "pair_proposals",
        ("citizen_id", "technician_id", "created_by"),
        (*_links("delete", "citizen_id", "technician_id"), Link("created_by", "anonymise")),
    ),
    Table(
        "pairs",
        ("citizen_id", "technician_id", "created_by"),
        (*_links("delete", "citizen_id", "technician_id"), Link("created_by", "anonymise")),
    ),
    # Signalements stay workable (and counted) without their reporter (see ReportService);
    # what they say about a third person is erased some time after closing (reports'
    # retention, in ReportService), the row staying as a count.
    Table(
        "report_messages",
        ("author_id", "text"),
        _links("anonymise", "author_id"),
    ),
    Table(
        "reports",
        ("reporter_id", "assignee_id", "description", "latitude", "longitude", "photo"),
        _links("anonymise", "reporter_id", "assignee_id"),
    ),
    Table("quiet_hours", ("member_id",), _links("delete", "member_id")),
    # Updates being handled (bot/intake.py): the id stays, to recognise a redelivery; what
    # the member sent goes (a handled update keeps nothing else already).
    Table(
        "update_inbox",
        ("user_id", "payload"),
        (Link("user_id", "clear", given_back=False),),
        before=("UPDATE update_inbox SET payload = NULL WHERE user_id = ?",),
    ),
    # The profile itself, last (/mesdonnees gives it back as the profile): the people the
    # member brought in stay, without pointing to them.
    Table(
        "members",
        ("telegram_id", "display_name", "username", "referral_code", "referred_by"),
        (
            Link("referred_by", "clear", given_back=False),
            Link("telegram_id", "delete", given_back=False),
        ),
    ),
)

BY_NAME: dict[str, Table] = {table.name: table for table in TABLES}


def personal_columns(table: str) -> tuple[str, ...]:
    """The personal columns of a table; a table missing from the model is a programming error."""
    return BY_NAME[table].personal
