-- Retention and erased counts (PostgreSQL twin of ../0005_privacy.sql).
CREATE TABLE retention_warnings (
    member_id   BIGINT PRIMARY KEY REFERENCES members (telegram_id) ON DELETE CASCADE,
    warned_at   TIMESTAMPTZ NOT NULL
);

ALTER TABLE initiatives ADD COLUMN erased_supporters INTEGER NOT NULL DEFAULT 0;
ALTER TABLE initiatives ADD COLUMN erased_participants INTEGER NOT NULL DEFAULT 0;

ALTER TABLE calls ADD COLUMN erased_answers INTEGER NOT NULL DEFAULT 0;
