-- Signalements: a member tells the coordinators about a need or a person under the radar.
-- A report holds data about a third person who never chose to be here: its description,
-- location, photo and messages are erased some time after closing (`erased_at`), and the
-- row stays as a count (kind, territory, state, dates). `reporter_id` has no foreign key: an
-- erased reporter leaves a random negative id that links to nobody, like call answers.

CREATE TABLE reports (
    id                  INTEGER PRIMARY KEY,
    reporter_id         INTEGER,
    reporter_left       INTEGER NOT NULL DEFAULT 0,
    kind                TEXT NOT NULL CHECK (kind IN ('isolated', 'need', 'other')),
    urgent              INTEGER NOT NULL DEFAULT 0,
    territory           TEXT NOT NULL,
    description         TEXT,
    latitude            REAL,
    longitude           REAL,
    photo               TEXT,
    status              TEXT NOT NULL DEFAULT 'new'
                        CHECK (status IN ('new', 'taken', 'waiting', 'call', 'resolved',
                                          'closed')),
    assignee_id         INTEGER,
    call_id             INTEGER REFERENCES calls (id) ON DELETE SET NULL,
    close_reason        TEXT,
    created_at          TEXT NOT NULL,
    first_response_at   TEXT,
    touched_at          TEXT NOT NULL,
    closed_at           TEXT,
    noticed_at          TEXT,
    raised_at           TEXT,
    reminded_at         TEXT,
    outcome_told_at     TEXT,
    warned_at           TEXT,
    erased_at           TEXT
);
CREATE INDEX reports_queue ON reports (status, created_at, id);
CREATE INDEX reports_reporter ON reports (reporter_id, id);
CREATE INDEX reports_unnoticed ON reports (created_at) WHERE noticed_at IS NULL;

-- Questions of a coordinator and the reporter's answers, relayed through the bot.
CREATE TABLE report_messages (
    id              INTEGER PRIMARY KEY,
    report_id       INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    from_reporter   INTEGER NOT NULL,
    author_id       INTEGER,
    text            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX report_messages_report ON report_messages (report_id, id);
CREATE INDEX report_messages_author ON report_messages (author_id);

-- Hours during which a coordinator does not want urgent notices (local time, end excluded;
-- start > end wraps over midnight, e.g. 22 -> 7).
CREATE TABLE quiet_hours (
    member_id       INTEGER PRIMARY KEY REFERENCES members (telegram_id) ON DELETE CASCADE,
    start_hour      INTEGER NOT NULL CHECK (start_hour BETWEEN 0 AND 23),
    end_hour        INTEGER NOT NULL CHECK (end_hour BETWEEN 0 AND 23)
);
