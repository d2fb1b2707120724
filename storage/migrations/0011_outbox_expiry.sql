-- Deliveries survive long outages: `due_at` keeps the instant a message was first due (while
-- `not_before` moves with each retry), so its age and its retry window are measured from it;
-- `expires_at` is when the message loses its point (a call's deadline, a call's event for a
-- reminder): past it, the message is recorded 'expired' instead of being sent late.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt, rows kept.
CREATE TABLE deliveries_new (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    ref_id      INTEGER,
    priority    INTEGER NOT NULL DEFAULT 5,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'blocked', 'dropped',
                                  'expired')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    expires_at  TEXT,
    message_id  INTEGER,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
INSERT INTO deliveries_new (id, chat_id, kind, ref_id, priority, payload, status, attempts,
    not_before, due_at, expires_at, message_id, last_error, created_at, sent_at)
SELECT id, chat_id, kind, ref_id, priority, payload, status, attempts,
    not_before, not_before, NULL, message_id, last_error, created_at, sent_at
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (priority, not_before, id)
    WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_ref ON deliveries (kind, ref_id, status);
CREATE INDEX deliveries_chat ON deliveries (chat_id);
