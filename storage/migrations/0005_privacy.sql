-- Retention: when a member was warned that their data will be erased for inactivity.
CREATE TABLE retention_warnings (
    member_id   INTEGER PRIMARY KEY REFERENCES members (telegram_id) ON DELETE CASCADE,
    warned_at   TEXT NOT NULL
);
