-- Retention: when a member was warned that their data will be erased for inactivity.
CREATE TABLE retention_warnings (
    member_id   INTEGER PRIMARY KEY REFERENCES members (telegram_id) ON DELETE CASCADE,
    warned_at   TEXT NOT NULL
);

-- Supports of erased members stay counted, anonymously (their rows go with their profile).
ALTER TABLE initiatives ADD COLUMN erased_supporters INTEGER NOT NULL DEFAULT 0;
ALTER TABLE initiatives ADD COLUMN erased_participants INTEGER NOT NULL DEFAULT 0;

-- Answers of erased members stay counted (for answer rates), without pointing to anyone.
ALTER TABLE calls ADD COLUMN erased_answers INTEGER NOT NULL DEFAULT 0;
