-- The update intake (PostgreSQL twin of ../0012_update_inbox.sql). The payload stays text:
-- it is the update as Telegram sent it, read back whole, never queried inside.
CREATE TABLE update_inbox (
    update_id   BIGINT PRIMARY KEY,
    user_id     BIGINT,
    payload     TEXT,
    state       TEXT NOT NULL DEFAULT 'received'
                CHECK (state IN ('received', 'applied', 'handled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    received_at TIMESTAMPTZ NOT NULL,
    handled_at  TIMESTAMPTZ
);
CREATE INDEX update_inbox_pending ON update_inbox (state, received_at);
CREATE INDEX update_inbox_handled ON update_inbox (handled_at);
