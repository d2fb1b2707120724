-- Consultations: a short questionnaire of one-tap questions put to an audience (or, later,
-- to an initiative circle: `owner_kind` / `owner_id`). The questions are fixed once sent and
-- kept as JSON: [{"text", "options": [...], "multiple": bool, "other": bool}].
-- Who it was sent to is `broadcast_recipients` (kind 'consultation').
CREATE TABLE consultations (
    id              INTEGER PRIMARY KEY,
    owner_kind      TEXT NOT NULL DEFAULT 'audience',
    owner_id        INTEGER,
    coordinator_id  INTEGER NOT NULL,
    title           TEXT NOT NULL,
    intro           TEXT,
    questions       TEXT NOT NULL,
    anonymous       INTEGER NOT NULL DEFAULT 0,
    closes_at       TEXT NOT NULL,
    territories     TEXT NOT NULL DEFAULT '[]',
    themes          TEXT NOT NULL DEFAULT '[]',
    roles           TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'open'
                    CHECK (status IN ('scheduled', 'open', 'closed')),
    scheduled_at    TEXT,
    sent_at         TEXT,
    recipients      INTEGER NOT NULL DEFAULT 0,
    summary_chat_id INTEGER,
    summary_message_id INTEGER,
    reminded_at     TEXT,
    closed_at       TEXT,
    -- What the coordination will do with the answers, sent with the results at closing.
    outcome         TEXT,
    results_file_id TEXT,
    results_sent_at TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX consultations_due ON consultations (status, closes_at);

-- One row per member and question: the options chosen (JSON list of indexes) and the
-- "another answer" text. Anonymous consultations keep the member id too (to allow changes,
-- resuming and sending the results) but never show or export it.
CREATE TABLE consultation_answers (
    consultation_id INTEGER NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    member_id       INTEGER NOT NULL,
    question        INTEGER NOT NULL,
    choices         TEXT NOT NULL DEFAULT '[]',
    other           TEXT,
    answered_at     TEXT NOT NULL,
    PRIMARY KEY (consultation_id, member_id, question)
);
CREATE INDEX consultation_answers_member ON consultation_answers (member_id);

-- Where each member is in the questionnaire (resumable after a restart): the question to
-- show next (= the number of questions once done), and when they finished.
CREATE TABLE consultation_progress (
    consultation_id INTEGER NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    member_id       INTEGER NOT NULL,
    current         INTEGER NOT NULL DEFAULT 0,
    finished_at     TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (consultation_id, member_id)
);
CREATE INDEX consultation_progress_member ON consultation_progress (member_id);
