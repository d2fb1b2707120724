-- Calls for help (appels): the call, who answered what, and the reminders still to send.
-- Deliveries of a call are rows of `deliveries` with kind 'call' and ref_id = calls.id.

CREATE TABLE calls (
    id              INTEGER PRIMARY KEY,
    coordinator_id  INTEGER NOT NULL,
    text            TEXT NOT NULL,
    photo           TEXT,
    place           TEXT NOT NULL,
    event_at        TEXT NOT NULL,
    needed          INTEGER NOT NULL CHECK (needed BETWEEN 1 AND 500),
    deadline_at     TEXT NOT NULL,
    -- JSON lists of names; an empty list means every territory / every theme.
    territories     TEXT NOT NULL DEFAULT '[]',
    themes          TEXT NOT NULL DEFAULT '[]',
    ambassadors_only INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'open'
                    CHECK (status IN ('scheduled', 'open', 'complete', 'closed', 'cancelled')),
    scheduled_at    TEXT,
    sent_at         TEXT,
    recipients      INTEGER NOT NULL DEFAULT 0,
    summary_chat_id INTEGER,
    summary_message_id INTEGER,
    created_at      TEXT NOT NULL,
    closed_at       TEXT
);
CREATE INDEX calls_scheduled ON calls (scheduled_at) WHERE status = 'scheduled';
CREATE INDEX calls_coordinator ON calls (coordinator_id, id);

-- One answer per member and call. 'waiting' = said yes once the call was complete;
-- `answered_at` orders the waiting list.
CREATE TABLE call_answers (
    call_id     INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    member_id   INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    answer      TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'waiting')),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (call_id, member_id)
) WITHOUT ROWID;
CREATE INDEX call_answers_by_answer ON call_answers (call_id, answer, answered_at);
CREATE INDEX call_answers_member ON call_answers (member_id);

-- Reminders to those who said yes, already moved into the day window.
CREATE TABLE call_reminders (
    call_id     INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    due_at      TEXT NOT NULL,
    sent_at     TEXT,
    PRIMARY KEY (call_id, due_at)
) WITHOUT ROWID;
CREATE INDEX call_reminders_due ON call_reminders (due_at) WHERE sent_at IS NULL;
